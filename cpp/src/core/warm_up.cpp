// Warm-up calls: LibTorch pays one-time costs (creating each method's
// executor, allocator pools, oneDNN primitives and, with graph optimisation,
// profiling runs) inside the first calls. Making them at load keeps them out
// of the first call a user times (docs/performance.md has the figures).
#include <chrono>
#include <optional>

#include "core/golden.h"
#include "core/warm_up.h"
#include "tsbridge/error.h"
#include "tsbridge/inputs.h"
#include "tsbridge/model.h"

namespace tsbridge {

std::optional<std::vector<c10::IValue>> detail::example_inputs(const Model& model) {
  const Manifest* manifest = model.manifest();
  if (!manifest) return std::nullopt;
  if (manifest->golden) return detail::golden_inputs(model);
  if (manifest->inputs.empty()) return std::nullopt;
  InputOptions options;
  options.device = model.device();
  try {
    return make_inputs(manifest->inputs, options);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::InputMismatch) return std::nullopt;
    throw;
  }
}

namespace {

// The file's own example, `calls` times; a failure says it came from the warm-up.
WarmUp warm_up_on_example(const Model& model, const std::vector<c10::IValue>& example, int calls) {
  try {
    return model.warm_up(example, calls);
  } catch (const Error& e) {
    throw Error(e.code(), std::string(e.what()) + " (warming up)");
  }
}

}  // namespace

WarmUp detail::warm_up_at_load(const Model& model, const std::optional<std::vector<c10::IValue>>& example, int calls) {
  return example ? warm_up_on_example(model, *example, calls) : WarmUp{};
}

WarmUp Model::warm_up(const std::string& method, const std::vector<c10::IValue>& inputs, int calls) const {
  if (calls < 0) {
    throw Error(ErrorCode::InvalidArgument, "warm-up calls must be 0 or more, got " + std::to_string(calls));
  }
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) run(method, inputs);
  return {calls, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
}

WarmUp Model::warm_up(const std::vector<c10::IValue>& inputs, int calls) const {
  return warm_up("forward", inputs, calls);
}

WarmUp Model::warm_up(int calls) const {
  const auto inputs = detail::example_inputs(*this);
  if (!inputs) {
    throw Error(ErrorCode::InvalidArgument, path() +
                                                ": nothing to warm up with (no golden sample and no tensor input specs "
                                                "in a manifest); pass inputs to warm_up");
  }
  return warm_up_on_example(*this, *inputs, calls);
}

}  // namespace tsbridge
