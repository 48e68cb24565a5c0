#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

namespace tsbridge::detail {

// numpy's .npy format (numpy/lib/format.py), shared by .npy files and the
// members of an .npz. `where` names the file, or the file and member, in
// messages: Error(InvalidInputFile, where + ": " + what is wrong).

// What a .npy header says about the array that follows it.
struct NpyHeader {
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  std::vector<int64_t> shape;
  bool fortran_order = false;
  uint64_t data_offset = 0;  // magic, version, length and header, in bytes
  uint64_t data_bytes = 0;   // what the shape and dtype take
};

// Reads up to `size` bytes into `buffer`, returning how many (0 at the end).
// Throws Error for a read that fails.
using ReadFn = std::function<size_t(void* buffer, size_t size)>;

// Reads and checks the header of a .npy stream of `total` bytes. The stream
// must hold exactly the data the header describes: sizes are checked here,
// before anything is allocated for the data.
NpyHeader read_npy_header(const std::string& where, uint64_t total, const ReadFn& read);

// Reads the data after the header into a new C-contiguous CPU tensor (a
// fortran-order array is transposed into C order), then checks the stream ends.
at::Tensor read_npy_data(const std::string& where, const NpyHeader& header, const ReadFn& read);

// A whole .npy file.
at::Tensor read_npy(const std::string& path);

// The tensor as np.save stores it: on the CPU, C-contiguous, with conjugate
// and negative views resolved. Throws Error(InvalidArgument) for a dtype or
// layout numpy cannot hold (bfloat16, sparse, quantized...).
at::Tensor npy_ready(const std::string& where, const at::Tensor& tensor);

// The magic, version, length and header np.save writes for such an array,
// byte for byte.
std::string npy_header(c10::ScalarType dtype, c10::IntArrayRef shape);

}  // namespace tsbridge::detail
