#include "core/validate.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include <torch/cuda.h>
#include <torch/version.h>

#include "tsbridge/cpu.h"
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

void check_range(const Manifest& manifest, const std::string& input, const std::string& dim, int64_t size,
                 bool compiled) {
  const auto range = manifest.dims.find(dim);
  if (range == manifest.dims.end()) return;
  const int64_t min = range->second.min;
  const auto& max = range->second.max;
  if (size >= min && (!max || size <= *max)) return;
  const std::string bounds = max ? std::to_string(min) + ".." + std::to_string(*max) : ">= " + std::to_string(min);
  throw Error(ErrorCode::InputMismatch, "input '" + input + "': dim '" + dim + "' is " + std::to_string(size) +
                                            ", outside the sizes " + bounds +
                                            (compiled ? " the package was compiled for" : " the manifest allows"));
}

// "2.13.0+cpu" -> {2, 13}; {-1, -1} when unreadable.
std::pair<int, int> major_minor(const std::string& version) {
  int major = -1, minor = -1;
  if (std::sscanf(version.c_str(), "%d.%d", &major, &minor) != 2) return {-1, -1};
  return {major, minor};
}

}  // namespace

void validate_inputs(const Manifest& manifest, const std::vector<c10::IValue>& inputs, c10::Device device,
                     bool compiled) {
  // The first input to name each dynamic dim, and the size it gave.
  std::map<std::string, std::pair<const std::string*, int64_t>> seen;
  for (size_t i = 0; i < inputs.size() && i < manifest.inputs.size(); ++i) {
    const TensorSpec& spec = manifest.inputs[i];
    if (!spec.is_tensor() || !inputs[i].isTensor()) continue;  // TorchScript checks other kinds itself
    const at::Tensor& tensor = inputs[i].toTensor();
    if (!matches(spec, tensor)) {
      throw Error(ErrorCode::InputMismatch,
                  "input '" + spec.name + "': expected " + spec.to_string() + ", got " + tensor_text(tensor) +
                      (compiled ? " (a .pt2 is compiled for fixed sizes and dtypes; only the dims the manifest "
                                  "names are dynamic: export with dynamic_dims to vary others)"
                                : ""));
    }
    if (tensor.device() != device) {
      throw Error(ErrorCode::InputMismatch, "input '" + spec.name + "': expected a tensor on " + device.str() +
                                                " (where the model is), got one on " + tensor.device().str());
    }
    if (!spec.shape) continue;
    for (size_t d = 0; d < spec.shape->size(); ++d) {
      const Dim& dim = (*spec.shape)[d];
      if (!dim.is_dynamic()) continue;
      const int64_t size = tensor.size(static_cast<int64_t>(d));
      check_range(manifest, spec.name, dim.name, size, compiled);
      const auto [first, inserted] = seen.try_emplace(dim.name, &spec.name, size);
      if (!inserted && first->second.second != size) {
        const std::string& other = *first->second.first;
        throw Error(ErrorCode::InputMismatch, "inputs '" + other + "' and '" + spec.name + "' share dim '" + dim.name +
                                                  "': " + other + " has " + std::to_string(first->second.second) +
                                                  ", " + spec.name + " has " + std::to_string(size));
      }
    }
  }
}

void check_torch_version(const std::string& written_by, bool compiled) {
  const auto file = major_minor(written_by);
  const auto runtime = std::make_pair(TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR);
  if (file.first < 0 || file == runtime || (!compiled && file < runtime)) return;
  const std::string wanted = std::to_string(file.first) + "." + std::to_string(file.second);
  if (compiled) {
    throw Error(ErrorCode::UnsupportedVersion,
                "a .pt2 compiled with torch " + written_by + "; this runtime's LibTorch is " + TORCH_VERSION +
                    " (a package's shared library is tied to its torch): run it with LibTorch " + wanted +
                    ", or export it again with torch " + TORCH_VERSION);
  }
  throw Error(ErrorCode::UnsupportedVersion,
              "written by torch " + written_by + ", newer than this runtime's LibTorch " + TORCH_VERSION +
                  "; run it with LibTorch " + wanted + " or later, or export it again with torch " + TORCH_VERSION);
}

void require_cpu(const Manifest& manifest) {
  if (!manifest.cpu) return;
  const CpuRequirements& cpu = *manifest.cpu;
#if defined(__x86_64__)
  const std::string arch = "x86_64";
#elif defined(__aarch64__)
  const std::string arch = "aarch64";
#else
  const std::string arch = "unknown";
#endif
  if (cpu.arch != arch) {
    throw Error(ErrorCode::UnsupportedCpu, "compiled for " + cpu.arch + " CPUs; this machine is " + arch +
                                               ": export it again on a " + arch + " machine");
  }
  const auto& have = cpu_features();
  std::vector<std::string> missing, unknown;
  for (const auto& feature : cpu.features) {
    if (!is_known_cpu_feature(feature)) unknown.push_back(feature);
    else if (std::find(have.begin(), have.end(), feature) == have.end()) missing.push_back(feature);
  }
  if (missing.empty() && unknown.empty()) return;
  std::string needs;
  for (const auto& name : missing) needs += (needs.empty() ? "" : ", ") + name;
  for (const auto& name : unknown) needs += (needs.empty() ? "" : ", ") + name + " (unknown to this runtime)";
  throw Error(ErrorCode::UnsupportedCpu,
              "needs " + needs + "; this CPU has " + cpu_vector_summary() + " (compiled for target " + cpu.target +
                  "): export it again with target=\"x86-64-v3\" (or one this CPU meets), or run it on a CPU "
                  "that has them");
}

void require_device(const Manifest& manifest, c10::Device device) {
  const std::string compiled = manifest.device.empty() ? "cpu" : manifest.device;
  if (compiled == c10::DeviceTypeName(device.type(), /*lower_case=*/true)) return;
  std::string advice =
      "load it with device \"" + compiled + "\", or export it again with the model and inputs on " + device.str();
  if (compiled == "cuda" && torch::cuda::device_count() == 0) {
    advice =
        "no CUDA device is available to this process: run it where there is one, or export it again with "
        "the model and inputs on the CPU";
  }
  throw Error(ErrorCode::DeviceUnavailable,
              "a .pt2 compiled for " + compiled + " cannot run on " + device.str() + ": " + advice);
}

}  // namespace tsbridge::detail
