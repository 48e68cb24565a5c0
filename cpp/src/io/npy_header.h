#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <c10/core/ScalarType.h>
#include <c10/util/ArrayRef.h>

namespace tsbridge::detail {

// The header of numpy's .npy format (numpy/lib/format.py). `where` names the
// file, or the file and member, in messages: Error(InvalidInputFile, where +
// ": " + what is wrong).

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

// Reads until `size` bytes or the end; returns how many were read.
uint64_t read_fully(const ReadFn& read, void* buffer, uint64_t size);

// Reads and checks the header of a .npy stream of `total` bytes. The stream
// must hold exactly the data the header describes: sizes are checked here,
// before anything is allocated for the data.
NpyHeader read_npy_header(const std::string& where, uint64_t total, const ReadFn& read);

// "header says [2, 3] float32 (24 bytes)", for messages about the data.
std::string header_says(const NpyHeader& header);

// Whether the dtype has a .npy equivalent (bfloat16, for one, has none).
bool has_npy_type(c10::ScalarType dtype);

// The magic, version, length and header np.save writes for such an array,
// byte for byte. The dtype must be one has_npy_type accepts.
std::string npy_header(c10::ScalarType dtype, c10::IntArrayRef shape);

}  // namespace tsbridge::detail
