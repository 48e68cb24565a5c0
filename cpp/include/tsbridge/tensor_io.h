#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "tsbridge/export.h"

namespace tsbridge {

// Tensor files: numpy's .npy and .npz, and a tensor saved with torch.save
// (.pt). Failures are Error(InvalidInputFile) naming the file and what is
// wrong with it (missing, corrupt header, unsupported dtype, ...).

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Reads a .npy or .pt file by its extension (a .pt must hold one tensor).
TSBRIDGE_API at::Tensor read_tensor(const std::string& path);

// Every array of an .npz, by name (without ".npy"), in file order.
TSBRIDGE_API NamedTensors read_npz(const std::string& path);

// Maps a .npy read-only into memory: the tensor views the file's pages, so
// only what is touched is read. The mapping lives as long as the tensor.
TSBRIDGE_API at::Tensor map_npy(const std::string& path);

TSBRIDGE_API void write_npy(const std::string& path, const at::Tensor& tensor);
TSBRIDGE_API void write_npz(const std::string& path, const NamedTensors& arrays);

// Whether this build can read and write .npz (it needs libzip).
TSBRIDGE_API bool npz_supported() noexcept;

// Writes one .npy whose first dim grows batch by batch, so results of a long
// stream never need to sit in memory at once. `rows` is the final size of
// dim 0; the other dims and the dtype come from the first batch appended.
class TSBRIDGE_API NpyStreamWriter {
 public:
  NpyStreamWriter(const std::string& path, int64_t rows);
  ~NpyStreamWriter();
  NpyStreamWriter(const NpyStreamWriter&) = delete;
  NpyStreamWriter& operator=(const NpyStreamWriter&) = delete;

  // Appends a batch: its trailing dims and dtype must match the first batch.
  void append(const at::Tensor& batch);
  // Checks that exactly `rows` rows were written and closes the file.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tsbridge
