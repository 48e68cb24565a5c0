// The AOTInductor backend: runs a .pt2 package (torch.export +
// torch._inductor.aoti_compile_and_package) through LibTorch's
// AOTIModelPackageLoader. The only translation unit that includes the AOTI
// headers.
#include <map>
#include <mutex>
#include <set>

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

constexpr const char* kForward = "forward";

[[noreturn]] void not_supported(const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, what +
                                              " is not supported for .pt2 packages: they hold AOTInductor's "
                                              "compiled code for forward alone, not TorchScript");
}

// Leaves of the positional arguments in the package's call spec, a pytree
// TreeSpec as JSON: [version, {"type", "context", "children_spec"}], whose
// root is the tuple (args, kwargs). Nullopt when the spec reads otherwise.
std::optional<size_t> count_positional_leaves(const std::vector<std::string>& call_spec) {
  if (call_spec.empty()) return std::nullopt;
  const auto count_leaves = [](const nlohmann::json& node, const auto& self) -> size_t {
    const auto children = node.find("children_spec");
    if (children == node.end() || !children->is_array() || children->empty()) return 1;
    size_t total = 0;
    for (const auto& child : *children) total += self(child, self);
    return total;
  };
  try {
    const auto spec = nlohmann::json::parse(call_spec.front());
    if (!spec.is_array() || spec.size() != 2) return std::nullopt;
    const auto& root = spec[1]["children_spec"];
    if (!root.is_array() || root.empty()) return std::nullopt;
    const auto& args = root[0];
    const auto children = args.find("children_spec");
    if (children == args.end() || !children->is_array()) return std::nullopt;
    size_t total = 0;
    for (const auto& child : *children) total += count_leaves(child, count_leaves);
    return total;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// Puts the flat outputs back into the nesting the manifest's output paths
// describe (tuple indices, dict keys), as the TorchScript backend returns it.
c10::IValue nest(const std::vector<std::pair<std::vector<PathElement>, at::Tensor>>& leaves, size_t depth) {
  if (leaves.size() == 1 && leaves.front().first.size() == depth) return leaves.front().second;
  // Children in first-seen order: the order pytree flattened them in.
  std::vector<PathElement> keys;
  std::map<PathElement, std::vector<std::pair<std::vector<PathElement>, at::Tensor>>> groups;
  for (const auto& leaf : leaves) {
    if (leaf.first.size() <= depth) throw std::runtime_error("output paths overlap");
    const PathElement& key = leaf.first[depth];
    if (!groups.count(key)) keys.push_back(key);
    groups[key].push_back(leaf);
  }
  if (std::holds_alternative<std::string>(keys.front())) {
    bool flat = true;
    for (const auto& key : keys)
      flat = flat && groups[key].size() == 1 && groups[key].front().first.size() == depth + 1;
    c10::impl::GenericDict dict(c10::StringType::get(),
                                flat ? c10::TypePtr(c10::TensorType::get()) : c10::AnyType::get());
    for (const auto& key : keys) dict.insert(std::get<std::string>(key), nest(groups[key], depth + 1));
    return dict;
  }
  std::vector<c10::IValue> items;
  for (const auto& key : keys) items.push_back(nest(groups[key], depth + 1));
  return c10::ivalue::Tuple::create(std::move(items));
}

class AotiBackend final : public Backend {
 public:
  AotiBackend(const std::string& path, c10::Device device, const std::vector<TensorSpec>& inputs,
              std::vector<TensorSpec> outputs, int runners)
      : loader_(path, "model", /*run_single_threaded=*/false, static_cast<size_t>(runners),
                device.is_cuda() ? device.index() : -1),
        outputs_(std::move(outputs)) {
    const auto metadata = loader_.get_metadata();
    const auto key = metadata.find("AOTI_DEVICE_KEY");
    if (key != metadata.end() && !key->second.empty() && key->second != c10::DeviceTypeName(device.type(), true)) {
      throw Error(ErrorCode::DeviceUnavailable, "the package was compiled for " + key->second + ", not for " +
                                                    device.str() +
                                                    " (a .pt2 runs only on the device kind it was compiled for)");
    }
    if (!inputs.empty()) {
      for (const auto& spec : inputs) arguments_.push_back({spec.name, spec.type, false});
    } else if (const auto count = count_positional_leaves(loader_.get_call_spec())) {
      for (size_t i = 0; i < *count; ++i) arguments_.push_back({"input" + std::to_string(i), "Tensor", false});
    }
  }

  std::vector<std::string> methods() const override { return {kForward}; }

  const std::vector<Argument>* arguments(const std::string& method) const override {
    return method == kForward ? &arguments_ : nullptr;
  }

  c10::IValue run(const std::string& method, std::vector<c10::IValue> inputs) const override {
    if (method != kForward) not_supported("method '" + method + "'");  // Model checks first; kept for safety
    std::vector<at::Tensor> tensors;
    tensors.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].isTensor()) {
        throw Error(ErrorCode::InputMismatch, "input " + std::to_string(i) + ": expected a Tensor, got " +
                                                  inputs[i].type()->annotation_str() +
                                                  " (only tensor inputs are supported for .pt2 packages)");
      }
      // The compiled kernels index with the strides they were compiled
      // for: hand them dense tensors.
      tensors.push_back(inputs[i].toTensor().contiguous());
    }
    std::vector<at::Tensor> results = loader_.run(tensors);
    return shape_results(std::move(results));
  }

  // The weights the package holds as constants (folded into the shared
  // library once Inductor froze them; still counted here).
  WeightStats weights() const override {
    WeightStats stats;
    std::set<const void*> seen;
    for (const auto& [name, tensor] : loader_.get_runner()->extract_constants_map(/*use_inactive=*/false)) {
      if (!tensor.defined()) continue;
      // Weights prepacked for oneDNN are opaque tensors with no storage:
      // told apart by their TensorImpl, as they cannot share one.
      const void* key =
          tensor.has_storage() ? tensor.data_ptr() : static_cast<const void*>(tensor.unsafeGetTensorImpl());
      if (!seen.insert(key).second) continue;
      stats.count += tensor.numel();
      stats.bytes += tensor.numel() * static_cast<int64_t>(tensor.element_size());
    }
    return stats;
  }

  std::optional<std::string> code(const std::string&) const override { not_supported("code()"); }

 private:
  c10::IValue shape_results(std::vector<at::Tensor> results) const {
    if (outputs_.size() == results.size() && !outputs_.empty()) {
      std::vector<std::pair<std::vector<PathElement>, at::Tensor>> leaves;
      for (size_t i = 0; i < results.size(); ++i) leaves.emplace_back(outputs_[i].path, std::move(results[i]));
      try {
        return nest(leaves, 0);
      } catch (const std::runtime_error&) {
        // A manifest whose paths do not describe a tree: fall through to a flat tuple.
      }
    }
    if (results.size() == 1) return results.front();
    return c10::ivalue::Tuple::create(std::vector<c10::IValue>(results.begin(), results.end()));
  }

  // AOTIModelPackageLoader::run is not const; the container behind it hands
  // each call one of its num_runners model instances under its own lock
  // (calls queue while all are busy), so concurrent calls are safe.
  mutable torch::inductor::AOTIModelPackageLoader loader_;
  std::vector<TensorSpec> outputs_;
  std::vector<Argument> arguments_;
};

}  // namespace

bool is_aoti_package(const std::vector<std::string>& entry_names) {
  // "archive_format" (holding "pt2") is written only by the .pt2 writers;
  // TorchScript archives have no such record.
  for (const auto& name : entry_names) {
    const auto slash = name.find('/');
    if (slash == std::string::npos) continue;
    const auto rest = name.substr(slash + 1);
    if (rest == "archive_format" || rest.rfind("data/aotinductor/", 0) == 0) return true;
  }
  return false;
}

void require_aoti_model(const std::vector<std::string>& entry_names) {
  for (const auto& name : entry_names) {
    const auto slash = name.find('/');
    if (slash == std::string::npos) continue;
    const auto rest = name.substr(slash + 1);
    const std::string folder = "data/aotinductor/model/";
    if (rest.rfind(folder, 0) == 0 && rest.size() > 3 && rest.compare(rest.size() - 3, 3, ".so") == 0) return;
  }
  throw Error(ErrorCode::InvalidArchive,
              "a .pt2 package with no compiled model inside (no data/aotinductor/model/*.so): make it with "
              "tsbridge.export(..., format=\"aoti\") or torch._inductor.aoti_compile_and_package, not "
              "torch.export.save alone");
}

std::unique_ptr<Backend> load_aoti(const std::string& path, c10::Device device, std::vector<TensorSpec> inputs,
                                   std::vector<TensorSpec> outputs, int runners) {
  return std::make_unique<AotiBackend>(path, device, inputs, std::move(outputs), runners);
}

}  // namespace tsbridge::detail
