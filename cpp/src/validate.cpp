#include "validate.h"

#include <cstdio>

#include <torch/version.h>

#include "tsbridge/dtype.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

std::string tensor_text(const at::Tensor& tensor) {
  std::string text = dtype_name(tensor.scalar_type()) + "[";
  for (int64_t i = 0; i < tensor.dim(); ++i) text += (i ? "," : "") + std::to_string(tensor.size(i));
  return text + "]";
}

bool matches(const TensorSpec& spec, const at::Tensor& tensor) {
  if (!spec.dtype.empty() && dtype_name(tensor.scalar_type()) != spec.dtype) return false;
  if (!spec.shape) return true;
  if (static_cast<int64_t>(spec.shape->size()) != tensor.dim()) return false;
  for (size_t i = 0; i < spec.shape->size(); ++i) {
    const Dim& dim = (*spec.shape)[i];
    if (!dim.is_dynamic() && dim.size != tensor.size(static_cast<int64_t>(i))) return false;
  }
  return true;
}

// "2.13.0+cpu" -> {2, 13}; {-1, -1} when unreadable.
std::pair<int, int> major_minor(const std::string& version) {
  int major = -1, minor = -1;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return {-1, -1};
  return {major, minor};
}

}  // namespace

void validate_inputs(const std::vector<TensorSpec>& specs, const std::vector<c10::IValue>& inputs,
                     c10::Device device) {
  for (size_t i = 0; i < inputs.size() && i < specs.size(); ++i) {
    const TensorSpec& spec = specs[i];
    if (!spec.is_tensor() || !inputs[i].isTensor()) continue;  // TorchScript checks other kinds itself
    const at::Tensor& tensor = inputs[i].toTensor();
    if (!matches(spec, tensor)) {
      throw Error(ErrorCode::InputMismatch,
                  "input '" + spec.name + "': expected " + spec.to_string() + ", got " + tensor_text(tensor));
    }
    if (tensor.device() != device) {
      throw Error(ErrorCode::InputMismatch, "input '" + spec.name + "': expected a tensor on " + device.str() +
                                                " (where the model is), got one on " + tensor.device().str());
    }
  }
}

void check_torch_version(const std::string& written_by) {
  const auto file = major_minor(written_by);
  const auto runtime = std::make_pair(TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR);
  if (file.first < 0 || file <= runtime) return;
  throw Error(ErrorCode::UnsupportedVersion,
              "written by torch " + written_by + ", newer than this runtime's LibTorch " + TORCH_VERSION +
                  "; run it with LibTorch " + std::to_string(file.first) + "." + std::to_string(file.second) +
                  " or later, or export it again with torch " + TORCH_VERSION);
}

}  // namespace tsbridge::detail
