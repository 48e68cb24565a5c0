#pragma once

#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include "io/npy_header.h"

namespace tsbridge::detail {

// numpy's .npy format, shared by .npy files and the members of an .npz
// (the header in npy_header.h). `where` names the file, or the file and
// member, in messages: Error(InvalidInputFile, where + ": " + what is wrong).

// Reads the data after the header into a new C-contiguous CPU tensor (a
// fortran-order array is transposed into C order), then checks the stream ends.
at::Tensor read_npy_data(const std::string& where, const NpyHeader& header, const ReadFn& read);

// A whole .npy file.
at::Tensor read_npy(const std::string& path);

// The tensor as np.save stores it: on the CPU, C-contiguous, with conjugate
// and negative views resolved. Throws Error(InvalidArgument) for a dtype or
// layout numpy cannot hold (bfloat16, sparse, quantized...).
at::Tensor npy_ready(const std::string& where, const at::Tensor& tensor);

}  // namespace tsbridge::detail
