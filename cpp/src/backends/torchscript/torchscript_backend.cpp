#include <set>
#include <tuple>
#include <unordered_map>

#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/codegen/onednn/interface.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/lower_grad_of.h>
#include <torch/csrc/jit/passes/remove_expands.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/runtime/interpreter.h>
#include <torch/csrc/jit/serialization/python_print.h>
#include <torch/script.h>

#include "archive/archive.h"
#include "backends/backend.h"
#include "backends/torchscript/conv_packing.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

class TorchScriptBackend final : public Backend {
 public:
  // Without the *.debug_pkl source-range tables: LibTorch trusts them, and a
  // corrupt one crashed code() and error reporting (SEGV in
  // SourceRangeDeserializer, found by tests/fuzz). They only add the
  // "original code" part of TorchScript tracebacks, which tsbridge's
  // one-line errors drop anyway.
  TorchScriptBackend(const Archive& archive, c10::Device device, const TorchScriptOptions& options)
      : module_(torch::jit::load(archive.file(), device, /*load_debug_files=*/false)),
        optimize_graph_(options.optimize_graph),
        pack_convolutions_(options.pack_convolutions) {
    module_.eval();
    // Looked up once: a call then costs no search and no schema copies.
    for (const torch::jit::Method& method : module_.get_methods()) {
      names_.push_back(method.name());
      methods_.emplace(method.name(),
                       Entry{method, arguments_of(method), optimize_graph_ ? nullptr : unoptimized_code(method)});
    }
  }

  std::vector<std::string> methods() const override { return names_; }

  // Its own program (not the graph executor's) has convolutions to pack.
  bool specialises(const std::string& name) const override {
    const auto found = methods_.find(name);
    return pack_convolutions_ && found != methods_.end() && found->second.unoptimized;
  }

  void specialise(const std::string& name, const std::vector<c10::IValue>& example) override {
    if (!specialises(name)) return;
    auto found = methods_.find(name);
    std::vector<c10::IValue> inputs = example;
    coerce_to_schema(found->second.method.function().getSchema(), inputs);
    c10::InferenceMode inference;
    try {
      found->second.unoptimized = unoptimized_code(found->second.method, &inputs);
    } catch (const std::exception&) {
      // An example the method refuses: it stays as built, and a call with
      // those inputs (self-test, warm-up) reports why.
    }
  }

  const std::vector<Argument>* arguments(const std::string& name) const override {
    const auto found = methods_.find(name);
    return found == methods_.end() ? nullptr : &found->second.arguments;
  }

  c10::IValue run(const std::string& name, std::vector<c10::IValue> inputs) const override {
    const auto found = methods_.find(name);
    TORCH_CHECK(found != methods_.end(), "no method '", name, "'");
    const torch::jit::Method& method = found->second.method;
    const auto& schema = method.function().getSchema();
    coerce_to_schema(schema, inputs);
    check_types(name, schema, inputs);
    if (const auto& code = found->second.unoptimized) {
      auto stack = interpreter_stack(method, std::move(inputs));
      torch::jit::InterpreterState(*code).run(stack);
      return std::move(stack.front());
    }
    const GraphOptimization setting(optimize_graph_);
    return method(std::move(inputs));
  }

  // Parameters of every submodule, plus the tensor constants of every method
  // graph: freezing moves weights out of the parameters and into the graph
  // as prim::Constant. Each distinct tensor counts once (tied weights, or a
  // constant several methods share).
  WeightStats weights() const override {
    WeightCounter counter;
    for (const at::Tensor& parameter : module_.parameters(/*recurse=*/true)) counter.add(parameter);
    for (const torch::jit::Module& module : module_.modules()) {
      for (const torch::jit::Method& method : module.get_methods()) {
        counter.add_constants(*method.graph()->block());
      }
    }
    return counter.stats;
  }

  // What Python's `scripted.<method>.code` shows: the method printed back
  // as TorchScript source, tensor constants as CONSTANTS.cN. The printer
  // only reads the graph, so this is safe beside concurrent runs.
  std::optional<std::string> code(const std::string& name) const override {
    auto method = module_.find_method(name);
    if (!method) return std::nullopt;
    std::vector<c10::IValue> constants;
    torch::jit::PrintDepsTable dependencies;
    torch::jit::PythonPrint printer(constants, dependencies);
    printer.printMethod(method->function());
    return printer.str();
  }

 private:
  struct Entry {
    torch::jit::Method method;
    std::vector<Argument> arguments;
    std::shared_ptr<const torch::jit::Code> unoptimized;  // null: run through the graph executor
  };

  // The interpreter program LibTorch's graph executor runs when its
  // optimisations are off (its no-opt plan: the graph after LowerGradOf and
  // RemoveExpands), built once at load. Running it directly skips what the
  // executor does on every call to find that plan: a lock, a debug-log check
  // that builds strings, and the thread's optimisation switch flipped off and
  // back. On the seed model that was a fifth of a call's instructions
  // (docs/performance.md). Calls to other methods are inlined, so none of
  // them meets the executor either; a graph that still calls out (through an
  // interface, or a fork) gets no program and takes the executor's path.
  // Given an example call (specialise), convolutions on constant weights (a
  // frozen archive's) get their weights packed for oneDNN, once (conv_packing.h).
  std::shared_ptr<const torch::jit::Code> unoptimized_code(const torch::jit::Method& method,
                                                           const std::vector<c10::IValue>* example = nullptr) const {
    auto graph = method.graph()->copy();
    torch::jit::Inline(*graph);
    if (calls_out(*graph->block())) return nullptr;
    if (example) pack_convolutions(graph, interpreter_stack(method, *example));
    torch::jit::LowerGradOf(*graph);
    torch::jit::RemoveExpands(graph);
    return std::make_shared<const torch::jit::Code>(graph, method.name());
  }

  // The interpreter's stack for a call: self, then the arguments, with the
  // defaults of omitted ones filled in, as Method does.
  std::vector<c10::IValue> interpreter_stack(const torch::jit::Method& method, std::vector<c10::IValue> inputs) const {
    inputs.insert(inputs.begin(), module_._ivalue());
    method.function().getSchema().checkAndNormalizeInputs(inputs);
    return inputs;
  }

  static bool calls_out(const torch::jit::Block& block) {
    for (const torch::jit::Node* node : block.nodes()) {
      const auto kind = node->kind();
      if (kind == c10::prim::CallMethod || kind == c10::prim::CallFunction || kind == c10::prim::fork ||
          kind == c10::prim::awaitable) {
        return true;
      }
      for (const torch::jit::Block* inner : node->blocks()) {
        if (calls_out(*inner)) return true;
      }
    }
    return false;
  }

  static std::vector<Argument> arguments_of(const torch::jit::Method& method) {
    const auto& schema = method.function().getSchema();
    std::vector<Argument> result;
    for (size_t i = 1; i < schema.arguments().size(); ++i) {  // 0 is `self`
      const auto& arg = schema.arguments()[i];
      result.push_back({arg.name(), arg.type()->annotation_str(), arg.default_value().has_value()});
    }
    return result;
  }

  // LibTorch keeps the optimisation switch per thread: set it for this call
  // on the calling thread, and give the thread back its own setting after.
  // Only when they differ: each set costs a debug-log check that builds strings.
  class GraphOptimization {
   public:
    explicit GraphOptimization(bool on) : on_(on), previous_(torch::jit::getGraphExecutorOptimize()) {
      if (on_ != previous_) torch::jit::setGraphExecutorOptimize(on_);
    }
    ~GraphOptimization() {
      if (on_ != previous_) torch::jit::setGraphExecutorOptimize(previous_);
    }
    GraphOptimization(const GraphOptimization&) = delete;
    GraphOptimization& operator=(const GraphOptimization&) = delete;

   private:
    bool on_;
    bool previous_;
  };

  class WeightCounter {
   public:
    WeightStats stats;

    void add(const at::Tensor& tensor) {
      if (!tensor.defined() || !seen_.insert(identity(tensor)).second) return;
      stats.count += tensor.numel();
      stats.bytes += tensor.numel() * static_cast<int64_t>(tensor.element_size());
    }

    void add_constants(const torch::jit::Block& block) {
      for (const torch::jit::Node* node : block.nodes()) {
        if (node->kind() == c10::prim::Constant && node->outputs().size() == 1 &&
            node->output()->type()->cast<c10::TensorType>()) {
          if (auto value = torch::jit::toIValue(node->output()); value && value->isTensor()) {
            add(value->toTensor());
          }
        }
        for (const torch::jit::Block* inner : node->blocks()) add_constants(*inner);
      }
    }

   private:
    // One tensor, whatever object holds it: the same view of the same
    // storage. Opaque tensors (MKL-DNN) have no storage; their impl is who they are.
    using Identity = std::tuple<const void*, int64_t, std::vector<int64_t>, std::vector<int64_t>>;
    static Identity identity(const at::Tensor& tensor) {
      if (!tensor.has_storage()) return {tensor.unsafeGetTensorImpl(), 0, tensor.sizes().vec(), {}};
      return {tensor.storage().unsafeGetStorageImpl(), tensor.storage_offset(), tensor.sizes().vec(),
              tensor.strides().vec()};
    }
    std::set<Identity> seen_;
  };

  // Python converts a call's arguments to the declared types; a C++ Method
  // does not. Do what Python does: ints where floats are declared, and the
  // untyped lists and dicts torch.save files load as (List[Any],
  // Dict[Any, Any]) as the declared List[T] or Dict[K, V].
  static void coerce_to_schema(const c10::FunctionSchema& schema, std::vector<c10::IValue>& inputs) {
    for (size_t i = 0; i < inputs.size() && i + 1 < schema.arguments().size(); ++i) {
      inputs[i] = coerce(inputs[i], schema.arguments()[i + 1].type());
    }
  }

  // `value` as `type` where it converts; otherwise unchanged, so check_types
  // reports it. A container is re-typed only when every element fits: a
  // List[Tensor] label on a list holding a string would get past check_types
  // and reach the interpreter unchecked.
  static c10::IValue coerce(const c10::IValue& value, const c10::TypePtr& type) {
    if (value.isInt() && type->kind() == c10::TypeKind::FloatType) {
      return static_cast<double>(value.toInt());
    }
    if (!(value.isList() || value.isGenericDict() || value.isTuple() || type->kind() == c10::TypeKind::OptionalType) ||
        value.type()->isSubtypeOf(*type)) {
      return value;
    }
    const auto fits = [](const c10::IValue& item, const c10::TypePtr& wanted) {
      return item.type()->isSubtypeOf(*wanted);
    };
    if (auto optional = type->cast<c10::OptionalType>()) {
      return value.isNone() ? value : coerce(value, optional->getElementType());
    }
    if (auto list_type = type->cast<c10::ListType>(); list_type && value.isList()) {
      const auto& element = list_type->getElementType();
      c10::impl::GenericList list(element);
      for (const c10::IValue& item : value.toListRef()) {
        c10::IValue converted = coerce(item, element);
        if (!fits(converted, element)) return value;
        list.push_back(std::move(converted));
      }
      return list;
    }
    if (auto dict_type = type->cast<c10::DictType>(); dict_type && value.isGenericDict()) {
      const auto& key_type = dict_type->getKeyType();
      const auto& value_type = dict_type->getValueType();
      c10::impl::GenericDict dict(key_type, value_type);
      for (const auto& entry : value.toGenericDict()) {
        c10::IValue key = coerce(entry.key(), key_type);
        c10::IValue item = coerce(entry.value(), value_type);
        if (!fits(key, key_type) || !fits(item, value_type)) return value;
        dict.insert(std::move(key), std::move(item));
      }
      return dict;
    }
    if (auto tuple_type = type->cast<c10::TupleType>(); tuple_type && value.isTuple()) {
      const auto& elements = value.toTupleRef().elements();
      const auto& wanted = tuple_type->elements();
      if (elements.size() != wanted.size()) return value;
      std::vector<c10::IValue> items;
      for (size_t i = 0; i < elements.size(); ++i) {
        items.push_back(coerce(elements[i], wanted[i]));
        if (!fits(items.back(), wanted[i])) return value;
      }
      return tuple_type->schema() ? c10::ivalue::Tuple::createNamed(std::move(items), tuple_type)
                                  : c10::ivalue::Tuple::create(std::move(items));
    }
    return value;
  }

  static void check_types(const std::string& method, const c10::FunctionSchema& schema,
                          const std::vector<c10::IValue>& inputs) {
    for (size_t i = 0; i < inputs.size() && i + 1 < schema.arguments().size(); ++i) {
      const auto& arg = schema.arguments()[i + 1];
      // A tensor for a Tensor parameter, the common case, is checked without
      // building its type (IValue::type() allocates a TensorType per call).
      if (inputs[i].isTensor() && arg.type()->kind() == c10::TypeKind::TensorType) continue;
      const auto given = inputs[i].type();
      if (!given->isSubtypeOf(*arg.type())) {
        throw Error(ErrorCode::InputMismatch, "input '" + arg.name() + "' of method '" + method + "': expected " +
                                                  arg.type()->annotation_str() + ", got " + given->annotation_str());
      }
    }
  }

  torch::jit::Module module_;
  bool optimize_graph_;
  bool pack_convolutions_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, Entry> methods_;
};

}  // namespace

void apply_executor_settings(std::optional<bool> profiling_executor, std::optional<bool> onednn_fusion) {
  if (profiling_executor) torch::jit::getProfilingMode() = *profiling_executor;
  if (onednn_fusion) torch::jit::RegisterLlgaFuseGraph::setEnabled(*onednn_fusion);
}

ExecutorState current_executor_settings() {
  return {torch::jit::getProfilingMode(), torch::jit::RegisterLlgaFuseGraph::isEnabled()};
}

std::unique_ptr<Backend> load_torchscript(const Archive& archive, c10::Device device,
                                          const TorchScriptOptions& options) {
  return std::make_unique<TorchScriptBackend>(archive, device, options);
}

}  // namespace tsbridge::detail
