#pragma once

#include <optional>

#include "tsbridge/version.h"

namespace tsbridge {

// Settings LibTorch keeps once per process. They are not per model: set
// them once, before the first model runs, and they apply to every model in
// the process, whichever loaded it (a later call changes them for all).
// A setting set here is the application's choice: Model::load then never
// applies a recorded tuning's value for it (LoadOptions::apply_tuning), and
// otherwise the first load that applies one decides it for the process; a
// later load recording another value is told (Model::tuning().notes).

// LibTorch's thread pools. LibTorch refuses to resize the inter-op pool
// after parallel work has started.
struct ThreadSettings {
  int intra_op = 0;  // 0 keeps LibTorch's default
  int inter_op = 0;
};

// Throws Error(InvalidArgument) for a negative count, or when the inter-op
// pool can no longer be resized (naming why). Asking for the inter-op size
// the pool already has is not a resize and succeeds. The intra-op count can
// change at any time.
TSBRIDGE_API void set_threads(const ThreadSettings& settings);

// TorchScript's graph executor (a .pt2 has none); unset fields are left as
// they are.
struct ExecutorSettings {
  // The profiling executor (LibTorch's default) or the older one.
  std::optional<bool> profiling_executor;
  // oneDNN Graph fusion of conv/linear chains on CPU. It acts on models
  // loaded with TorchScriptOptions::optimize_graph (the fuser runs as a
  // graph optimisation). Faster on convolutional nets, but LibTorch's fuser
  // fails on some models (e.g. a transformer encoder): measure yours.
  std::optional<bool> onednn_fusion;
};

// Throws Error(InvalidArgument) when LibTorch refuses a setting.
TSBRIDGE_API void set_executor(const ExecutorSettings& settings);

}  // namespace tsbridge
