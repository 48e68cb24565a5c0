#include "backends/torchscript/conv_packing.h"

#include <optional>
#include <vector>

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/runtime/interpreter.h>

namespace tsbridge::detail {
namespace {

using torch::jit::Node;
using torch::jit::Value;

struct Convolution {
  Node* node;
  at::Tensor weight;
  c10::IValue bias;  // None or a tensor
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups = 1;
};

// A constant int list: folded into a prim::Constant, or (as freezing leaves
// them) a prim::ListConstruct of constant ints.
std::optional<std::vector<int64_t>> int_list(Value* value) {
  if (auto constant = torch::jit::toIValue(value)) {
    if (constant->isIntList()) return constant->toIntVector();
    return std::nullopt;
  }
  if (value->node()->kind() != c10::prim::ListConstruct) return std::nullopt;
  std::vector<int64_t> items;
  for (Value* item : value->node()->inputs()) {
    auto constant = torch::jit::toIValue(item);
    if (!constant || !constant->isInt()) return std::nullopt;
    items.push_back(constant->toInt());
  }
  return items;
}

bool packable(const at::Tensor& tensor) {
  return tensor.device().is_cpu() && !tensor.is_mkldnn() &&
         (tensor.scalar_type() == at::kFloat || tensor.scalar_type() == at::kBFloat16);
}

// The convolution `node` computes when all but its input are constants.
std::optional<Convolution> constant_convolution(Node* node) {
  static const char* const kConv2d =
      "aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, int[2] stride=1, int[2] padding=0, "
      "int[2] dilation=1, int groups=1) -> Tensor";
  if (node->kind() != c10::aten::conv2d || !node->matches(kConv2d)) return std::nullopt;
  auto weight = torch::jit::toIValue(node->input(1));
  auto bias = torch::jit::toIValue(node->input(2));
  auto groups = torch::jit::toIValue(node->input(6));
  auto stride = int_list(node->input(3));
  auto padding = int_list(node->input(4));
  auto dilation = int_list(node->input(5));
  if (!weight || !weight->isTensor() || !bias || !groups || !groups->isInt() || !stride || !padding || !dilation) {
    return std::nullopt;
  }
  const at::Tensor& w = weight->toTensor();
  if (w.dim() != 4 || !packable(w) || dilation->empty()) return std::nullopt;
  if (!bias->isNone() && !(bias->isTensor() && packable(bias->toTensor()))) return std::nullopt;
  return Convolution{node, w, *bias, *stride, *padding, *dilation, groups->toInt()};
}

// oneDNN's packed weights for `conv`, `relu` fused or not; nullopt where
// LibTorch has no packed convolution or refuses this one.
// `input_size` is what oneDNN picks the weights' layout for: packed for one
// nominal size (1x56x56) instead of each input's own, ResNet-18 ran ~4% slower.
std::optional<c10::IValue> prepack(const Convolution& conv, const std::vector<int64_t>& input_size, bool relu) {
  static const auto op = c10::Dispatcher::singleton().findSchema({"mkldnn_prepacked::conv2d_prepack", ""});
  if (!op) return std::nullopt;
  torch::jit::Stack stack{conv.weight,   conv.bias,   conv.stride, conv.padding,
                          conv.dilation, conv.groups, input_size,  std::string(relu ? "relu" : "none")};
  try {
    op->callBoxed(&stack);
  } catch (const c10::Error&) {
    return std::nullopt;
  }
  // A graph constant holds objects by a weak reference to their class's
  // compilation unit (the graph would otherwise keep itself alive).
  return c10::IValue(stack.at(0).toObject()->copy_to_weak_compilation_ref());
}

// The size of each convolution's input in one call of `graph` on `stack`
// (self, then the arguments), read by making the inputs extra outputs for
// that call; nullopt if the call fails.
std::optional<std::vector<std::vector<int64_t>>> input_sizes(const std::shared_ptr<torch::jit::Graph>& graph,
                                                             const std::vector<Convolution>& convolutions,
                                                             torch::jit::Stack stack) {
  const size_t outputs = graph->outputs().size();
  for (const Convolution& conv : convolutions) graph->registerOutput(conv.node->input(0));
  std::optional<std::vector<std::vector<int64_t>>> sizes;
  try {
    torch::jit::Code code(graph, "probe");  // compiles a copy of the graph
    torch::jit::InterpreterState(code).run(stack);
    sizes.emplace();
    for (size_t i = stack.size() - convolutions.size(); i < stack.size(); ++i) {
      sizes->push_back(stack[i].toTensor().sizes().vec());
    }
  } catch (const std::exception&) {
    sizes.reset();
  }
  while (graph->outputs().size() > outputs) graph->eraseOutput(graph->outputs().size() - 1);
  return sizes;
}

// The ReLU that is `conv`'s only use, if any.
Node* sole_relu(Node* conv) {
  const auto& uses = conv->output()->uses();
  if (uses.size() != 1) return nullptr;
  Node* user = uses[0].user;
  const bool relu = user->kind() == c10::aten::relu || user->kind() == c10::aten::relu_;
  return relu && user->owningBlock() == conv->owningBlock() ? user : nullptr;
}

// if input.dim() == 4: packed run (input made channels-last where the
// weights are, as LibTorch's convolution does) else: the original nodes.
void rewrite(torch::jit::Graph& graph, const Convolution& found, Node* relu, const c10::IValue& packed) {
  static const auto run = c10::Symbol::fromQualString("mkldnn_prepacked::conv2d_run");
  Node* conv = found.node;
  Node* last = relu ? relu : conv;
  Value* input = conv->input(0);
  torch::jit::WithInsertPoint before(conv);
  Value* context = graph.insertConstant(packed);
  Value* rank = graph.insert(c10::aten::dim, {input});
  Value* batched = graph.insert(c10::aten::eq, {rank, c10::IValue(int64_t{4})});
  Node* branch = graph.insertNode(graph.create(c10::prim::If, {batched}, 0));
  Value* result = branch->addOutput()->setType(last->output()->type());
  torch::jit::Block* packed_block = branch->addBlock();
  torch::jit::Block* plain_block = branch->addBlock();
  {
    torch::jit::WithInsertPoint inside(packed_block);
    Value* x = input;
    if (found.weight.suggest_memory_format() == at::MemoryFormat::ChannelsLast) {
      x = graph.insert(c10::aten::contiguous, {input},
                       {torch::jit::NamedValue("memory_format", c10::IValue(at::MemoryFormat::ChannelsLast))});
    }
    Node* call = graph.insertNode(graph.create(run, {x, context}, 1));
    call->output()->setType(conv->output()->type());
    packed_block->registerOutput(call->output());
  }
  last->output()->replaceAllUsesWith(result);
  conv->moveBefore(plain_block->return_node());
  if (relu) relu->moveBefore(plain_block->return_node());
  plain_block->registerOutput(last->output());
}

}  // namespace

void pack_convolutions(const std::shared_ptr<torch::jit::Graph>& graph, const std::vector<c10::IValue>& example) {
  if (!at::hasMKLDNN() || !at::globalContext().userEnabledMkldnn()) return;
  std::vector<Convolution> convolutions;  // top-level nodes only: the rewrite adds blocks
  for (Node* node : graph->block()->nodes()) {
    if (auto conv = constant_convolution(node)) convolutions.push_back(std::move(*conv));
  }
  if (convolutions.empty()) return;
  const auto sizes = input_sizes(graph, convolutions, example);
  if (!sizes) return;
  for (size_t i = 0; i < convolutions.size(); ++i) {
    if ((*sizes)[i].size() != 4) continue;
    Node* relu = sole_relu(convolutions[i].node);
    if (auto packed = prepack(convolutions[i], (*sizes)[i], relu != nullptr)) {
      rewrite(*graph, convolutions[i], relu, *packed);
    }
  }
}

}  // namespace tsbridge::detail
