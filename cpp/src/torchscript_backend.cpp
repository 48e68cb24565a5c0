#include <torch/script.h>

#include "backend.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

class TorchScriptBackend final : public Backend {
 public:
  TorchScriptBackend(const std::string& path, c10::Device device)
      : module_(torch::jit::load(path, device)) {
    module_.eval();
  }

  std::vector<std::string> methods() const override {
    std::vector<std::string> names;
    for (const auto& method : module_.get_methods()) names.push_back(method.name());
    return names;
  }

  std::optional<std::vector<Argument>> arguments(const std::string& name) const override {
    auto method = module_.find_method(name);
    if (!method) return std::nullopt;
    const auto& schema = method->function().getSchema();
    std::vector<Argument> result;
    for (size_t i = 1; i < schema.arguments().size(); ++i) {  // 0 is `self`
      const auto& arg = schema.arguments()[i];
      result.push_back({arg.name(), arg.type()->annotation_str(), arg.default_value().has_value()});
    }
    return result;
  }

  c10::IValue run(const std::string& name, std::vector<c10::IValue> inputs) const override {
    auto method = module_.find_method(name);
    TORCH_CHECK(method, "no method '", name, "'");
    const auto& schema = method->function().getSchema();
    promote_ints_to_floats(schema, inputs);
    check_types(name, schema, inputs);
    return (*method)(std::move(inputs));
  }

 private:
  // Python passes 3 where a float is declared and TorchScript accepts it;
  // its C++ Method does not. Do what Python does.
  static void promote_ints_to_floats(const c10::FunctionSchema& schema,
                                     std::vector<c10::IValue>& inputs) {
    for (size_t i = 0; i < inputs.size() && i + 1 < schema.arguments().size(); ++i) {
      const auto& type = schema.arguments()[i + 1].type();
      if (inputs[i].isInt() && type->kind() == c10::TypeKind::FloatType) {
        inputs[i] = static_cast<double>(inputs[i].toInt());
      }
    }
  }

  static void check_types(const std::string& method, const c10::FunctionSchema& schema,
                          const std::vector<c10::IValue>& inputs) {
    for (size_t i = 0; i < inputs.size() && i + 1 < schema.arguments().size(); ++i) {
      const auto& arg = schema.arguments()[i + 1];
      const auto given = inputs[i].type();
      if (!given->isSubtypeOf(*arg.type())) {
        throw Error(ErrorCode::InputMismatch,
                    "input '" + arg.name() + "' of method '" + method + "': expected " +
                        arg.type()->annotation_str() + ", got " + given->annotation_str());
      }
    }
  }

  torch::jit::Module module_;
};

}  // namespace

std::unique_ptr<Backend> load_torchscript(const std::string& path, c10::Device device) {
  return std::make_unique<TorchScriptBackend>(path, device);
}

}  // namespace tsbridge::detail
