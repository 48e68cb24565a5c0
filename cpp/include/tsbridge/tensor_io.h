#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "tsbridge/version.h"

namespace tsbridge {

// Tensor files: numpy's .npy and .npz, and a tensor saved with torch.save
// (.pt). Failures are Error(InvalidInputFile) naming the file and what is
// wrong with it (missing, corrupt header, unsupported dtype, ...); a tensor
// that cannot be written (a dtype numpy lacks, such as bfloat16) or a misused
// NpyStreamWriter is Error(InvalidArgument).
//
// .npy dtypes: float16/32/64, int8/16/32/64, uint8, bool, complex64/128,
// little-endian (numpy's default). Big-endian, string, object, structured
// and other dtypes are refused, never guessed at. Sizes in a header are
// checked against the file's size before anything is allocated.

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Reads a .npy or .pt file by its extension (a .pt must hold one tensor),
// into a CPU tensor that owns its memory. A .npy comes back C-contiguous,
// a fortran-order one transposed into C order.
TSBRIDGE_API at::Tensor read_tensor(const std::string& path);

// Every array of an .npz, by name (without ".npy"), in file order, as
// read_tensor reads a .npy. Members may be stored (np.savez) or deflated
// (np.savez_compressed).
TSBRIDGE_API NamedTensors read_npz(const std::string& path);

// Maps a .npy into memory: the tensor views the file's pages, so only what
// is touched is read. The mapping lives as long as the tensor (and its views).
// The file is never written: the mapping is private (copy-on-write), so an
// in-place op on the tensor changes this process's copy of the pages it
// touches, not the file, and cannot crash the process as a read-only
// mapping would. A fortran-order file gives a column-major (non-contiguous)
// view, as np.load does. Bool bytes are not checked (read_tensor does).
TSBRIDGE_API at::Tensor map_npy(const std::string& path);

// Writes exactly what np.save writes for the same array (byte for byte).
// Any device or layout is taken; it is copied to the CPU as needed. The file
// is written under a temporary name and renamed over `path`, so readers
// (and tensors map_npy made of an older file there) never see it half-done.
TSBRIDGE_API void write_npy(const std::string& path, const at::Tensor& tensor);
// Writes what np.savez writes: NAME.npy members, stored, in the given order.
// Names must be unique and non-empty.
TSBRIDGE_API void write_npz(const std::string& path, const NamedTensors& arrays);

// Writes one .npy whose first dim grows batch by batch, so results of a long
// stream never need to sit in memory at once. `rows` is the final size of
// dim 0; the other dims and the dtype come from the first batch appended.
// The file np.save would write for the whole array results. It is written
// under a temporary name next to `path` and put in place by a successful
// finish(), so an interrupted stream never leaves a file that claims rows
// it lacks.
class TSBRIDGE_API NpyStreamWriter {
 public:
  NpyStreamWriter(const std::string& path, int64_t rows);
  ~NpyStreamWriter();
  NpyStreamWriter(const NpyStreamWriter&) = delete;
  NpyStreamWriter& operator=(const NpyStreamWriter&) = delete;

  // Appends a batch: its trailing dims and dtype must match the first batch.
  void append(const at::Tensor& batch);
  // Checks that exactly `rows` rows were written, then puts the file in
  // place (a mismatch discards it). Calling it again does nothing.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tsbridge
