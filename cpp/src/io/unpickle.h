#pragma once

#include <stdexcept>
#include <string>

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>

namespace tsbridge::detail {

// What unpickle could not read, as the first sentence of LibTorch's
// complaint; callers add which file or entry it was and pick the ErrorCode.
struct UnpickleError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A value saved by Python's torch.save (its zip format), with every tensor
// mapped to the CPU. Throws UnpickleError.
c10::IValue unpickle(const std::string& bytes);

// The one tensor a .pt file made by torch.save(tensor, path) holds, on the
// CPU. Throws Error(InvalidInputFile) naming `path`.
at::Tensor read_pt(const std::string& path);

}  // namespace tsbridge::detail
