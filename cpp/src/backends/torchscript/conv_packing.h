#pragma once

#include <memory>
#include <vector>

#include <ATen/core/ivalue.h>

namespace torch::jit {
struct Graph;
}

namespace tsbridge::detail {

// Rewrites a frozen graph's 2-d convolutions on constant fp32/bf16 CPU
// weights to oneDNN's prepacked convolution, its weights reordered into
// oneDNN's blocked layout once, here, rather than by LibTorch's
// mkldnn_convolution on every call; a ReLU that is a convolution's only use
// is fused into it. Each rewritten convolution keeps the original beside it
// for an input that is not 4-d (an unbatched image), which the packed kernel
// cannot take. oneDNN picks the packed layout for an input size: each
// convolution's is read from one call of the graph on `example` (the
// interpreter's stack: self, then the arguments). Convolutions it cannot pack
// are left as they are, and all of them if that call fails.
void pack_convolutions(const std::shared_ptr<torch::jit::Graph>& graph, const std::vector<c10::IValue>& example);

}  // namespace tsbridge::detail
