#include "tsbridge/inputs.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "core/text.h"
#include "tsbridge/dtype.h"
#include "tsbridge/error.h"
#include "tsbridge/input_spec.h"

namespace tsbridge {
namespace {

bool fits(const std::vector<int64_t>& shape, const std::vector<Dim>& dims) {
  if (shape.size() != dims.size()) return false;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (!dims[i].is_dynamic() && dims[i].size != shape[i]) return false;
  }
  return true;
}

std::vector<int64_t> resolve_shape(const TensorSpec& spec, const InputOptions& options) {
  auto given = options.shapes.find(spec.name);
  if (given != options.shapes.end()) {
    if (spec.shape && !fits(given->second, *spec.shape)) {
      throw Error(ErrorCode::InputMismatch, "input '" + spec.name + "': expected " + spec.to_string() + ", got shape " +
                                                detail::shape_text(given->second));
    }
    return given->second;
  }
  if (!spec.shape) {
    throw Error(ErrorCode::InputMismatch, "input '" + spec.name +
                                              "': shape unknown (the file records none); give one, e.g. " + spec.name +
                                              "=1x3x224x224");
  }
  std::vector<int64_t> shape;
  for (const auto& dim : *spec.shape) shape.push_back(dim.is_dynamic() ? 1 : dim.size);
  return shape;
}

c10::ScalarType resolve_dtype(const TensorSpec& spec, const InputOptions& options) {
  auto given = options.dtypes.find(spec.name);
  if (given != options.dtypes.end()) {
    const auto dtype = dtype_from_name(given->second);
    if (!spec.dtype.empty() && spec.dtype != given->second) {
      throw Error(ErrorCode::InputMismatch,
                  "input '" + spec.name + "': expected " + spec.to_string() + ", got dtype " + given->second);
    }
    return dtype;
  }
  return spec.dtype.empty() ? c10::kFloat : dtype_from_name(spec.dtype);
}

std::string tensor_text(const at::Tensor& tensor) {
  std::string text = dtype_name(tensor.scalar_type()) + "[";
  for (int64_t i = 0; i < tensor.dim(); ++i) text += (i ? "," : "") + std::to_string(tensor.size(i));
  return text + "]";
}

// A given tensor, checked against its spec (and cast when allowed).
at::Tensor checked_given(const TensorSpec& spec, at::Tensor tensor, const InputOptions& options) {
  const auto mismatch = [&] {
    return Error(ErrorCode::InputMismatch,
                 "input '" + spec.name + "': expected " + spec.to_string() + ", got " + tensor_text(tensor));
  };
  if (!spec.is_tensor()) throw mismatch();
  if (spec.shape && !fits(tensor.sizes().vec(), *spec.shape)) throw mismatch();
  if (!spec.dtype.empty() && dtype_name(tensor.scalar_type()) != spec.dtype) {
    if (!options.cast) throw mismatch();
    tensor = tensor.to(dtype_from_name(spec.dtype));
  }
  return tensor;
}

void check_size(const TensorSpec& spec, const std::vector<int64_t>& shape, c10::ScalarType dtype, int64_t max_bytes) {
  // In long double so that a hostile shape cannot overflow the check itself.
  long double bytes = static_cast<long double>(c10::elementSize(dtype));
  for (auto size : shape) bytes *= static_cast<long double>(size);
  if (bytes > static_cast<long double>(max_bytes)) {
    throw Error(ErrorCode::InvalidArgument,
                "input '" + spec.name + "': shape " + detail::shape_text(shape) + " " + dtype_name(dtype) + " needs " +
                    std::to_string(static_cast<long long>(bytes / (1 << 20))) + " MiB, over the limit of " +
                    std::to_string(max_bytes >> 20) + " MiB (raise it with --max-input-mb)");
  }
}

}  // namespace

std::vector<int64_t> parse_shape(const std::string& text) { return parse_sizes(text); }  // input_spec.h's DIMS

std::vector<c10::IValue> make_inputs(const std::vector<TensorSpec>& specs, const InputOptions& options) {
  std::vector<std::string> named;  // every input name the options mention
  for (const auto& entry : options.tensors) named.push_back(entry.first);
  for (const auto& entry : options.shapes) named.push_back(entry.first);
  for (const auto& entry : options.dtypes) named.push_back(entry.first);
  for (const auto& name : named) {
    const bool known = std::any_of(specs.begin(), specs.end(), [&](const auto& s) { return s.name == name; });
    if (!known) {
      std::string names;
      for (const auto& spec : specs) names += (names.empty() ? "" : ", ") + spec.name;
      throw Error(ErrorCode::InputMismatch, "no input named '" + name + "' (inputs: " + names + ")");
    }
  }
  auto generator = at::detail::createCPUGenerator(options.seed);
  std::vector<c10::IValue> inputs;
  for (const auto& spec : specs) {
    if (auto given = options.tensors.find(spec.name); given != options.tensors.end()) {
      inputs.emplace_back(checked_given(spec, given->second, options).to(options.device));
      continue;
    }
    if (!spec.is_tensor()) {
      throw Error(ErrorCode::InputMismatch, "input '" + spec.name + "' is of type " + spec.type +
                                                "; stand-in values can only be made for tensors");
    }
    const auto shape = resolve_shape(spec, options);
    const auto dtype = resolve_dtype(spec, options);
    check_size(spec, shape, dtype, options.max_bytes);
    const auto cpu = at::TensorOptions().dtype(dtype);
    at::Tensor tensor;
    switch (options.fill) {
      case Fill::Zeros: tensor = at::zeros(shape, cpu); break;
      case Fill::Ones: tensor = at::ones(shape, cpu); break;
      case Fill::Random:
        if (at::isFloatingType(dtype) || at::isComplexType(dtype)) {
          tensor = at::randn(shape, generator, cpu);
        } else if (dtype == c10::kBool) {
          tensor = at::randint(0, 2, shape, generator, at::TensorOptions().dtype(c10::kLong)).to(c10::kBool);
        } else {
          tensor = at::randint(0, 10, shape, generator, cpu);
        }
        break;
    }
    inputs.emplace_back(tensor.to(options.device));
  }
  return inputs;
}

}  // namespace tsbridge
