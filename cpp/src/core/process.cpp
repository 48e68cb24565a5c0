#include "tsbridge/process.h"

#include <mutex>
#include <string>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include "backends/backend.h"
#include "core/condense.h"
#include "core/process_claims.h"
#include "tsbridge/error.h"

namespace tsbridge {
namespace {

// Who decided a process-wide setting's current value: the application, or
// the first load that applied a recorded tuning (its path).
struct Claim {
  bool by_app = false;
  std::string by_load;
};

struct Claims {
  std::mutex mutex;
  Claim threads, executor, fusion;
};

Claims& claims() {
  static Claims instance;
  return instance;
}

std::string value_text(int value) { return std::to_string(value); }
std::string value_text(bool value) { return value ? "on" : "off"; }

// One setting: applied when the process is free to take it, else a note.
template <typename T, typename Apply>
bool claim(Claim& owner, const std::string& name, const T& want, const T& current, const std::string& path,
           std::vector<std::string>& notes, Apply apply) {
  const auto shown = [&](const T& value) { return name + "=" + value_text(value); };
  if (current != want && owner.by_app) {
    notes.push_back(shown(want) + " not applied: the application set " + shown(current) + " (process-wide)");
    return false;
  }
  if (current != want && !owner.by_load.empty()) {
    notes.push_back(shown(want) + " not applied: " + name + " is process-wide and the load of " + owner.by_load +
                    " already set " + shown(current));
    return false;
  }
  if (current != want) apply();
  if (!owner.by_app && owner.by_load.empty()) owner.by_load = path;
  return true;
}

}  // namespace

namespace detail {

void apply_process_settings(const RuntimeSettings& recorded, const std::string& path, RuntimeSettings& applied,
                            std::vector<std::string>& notes) {
  auto& all = claims();
  const std::lock_guard<std::mutex> lock(all.mutex);
  if (recorded.threads > 0) {
    const int current = at::get_num_threads();
    if (claim(all.threads, "threads", recorded.threads, current, path, notes,
              [&] { at::set_num_threads(recorded.threads); })) {
      applied.threads = recorded.threads;
    }
  }
  // The executor and fusion matter only to a model that optimises its graph.
  if (!recorded.optimize_graph) return;
  const auto state = current_executor_settings();
  if (recorded.profiling_executor &&
      claim(all.executor, "profiling_executor", *recorded.profiling_executor, state.profiling_executor, path, notes,
            [&] { apply_executor_settings(recorded.profiling_executor, std::nullopt); })) {
    applied.profiling_executor = recorded.profiling_executor;
  }
  if (claim(all.fusion, "onednn_fusion", recorded.onednn_fusion, state.onednn_fusion, path, notes,
            [&] { apply_executor_settings(std::nullopt, recorded.onednn_fusion); })) {
    applied.onednn_fusion = recorded.onednn_fusion;
  }
}

}  // namespace detail

void set_threads(const ThreadSettings& settings) {
  if (settings.intra_op < 0 || settings.inter_op < 0) {
    throw Error(ErrorCode::InvalidArgument, "thread counts must be >= 0 (0 keeps LibTorch's default), got intra_op=" +
                                                std::to_string(settings.intra_op) +
                                                ", inter_op=" + std::to_string(settings.inter_op));
  }
  // Inter-op first: it is the one that can fail, and then nothing has changed.
  if (settings.inter_op > 0) {
    try {
      at::set_num_interop_threads(settings.inter_op);
    } catch (const c10::Error&) {
      // Asking again for the size the pool already has is not a resize.
      const size_t current = at::get_num_interop_threads();
      if (current != static_cast<size_t>(settings.inter_op)) {
        throw Error(ErrorCode::InvalidArgument, "cannot set inter_op threads to " + std::to_string(settings.inter_op) +
                                                    ": LibTorch's inter-op pool is already fixed at " +
                                                    std::to_string(current) +
                                                    " (it cannot change once set or once parallel work has started); "
                                                    "threads must be set before the first forward");
      }
    }
  }
  if (settings.intra_op > 0) {
    try {
      at::set_num_threads(settings.intra_op);
      const std::lock_guard<std::mutex> lock(claims().mutex);
      claims().threads.by_app = true;
    } catch (const c10::Error& e) {
      throw Error(ErrorCode::InvalidArgument, "cannot set intra_op threads to " + std::to_string(settings.intra_op) +
                                                  ": " + detail::condense(e.what_without_backtrace()));
    }
  }
}

void set_executor(const ExecutorSettings& settings) {
  try {
    detail::apply_executor_settings(settings.profiling_executor, settings.onednn_fusion);
    const std::lock_guard<std::mutex> lock(claims().mutex);
    if (settings.profiling_executor) claims().executor.by_app = true;
    if (settings.onednn_fusion) claims().fusion.by_app = true;
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArgument,
                "cannot apply the executor settings: " + detail::condense(e.what_without_backtrace()));
  }
}

}  // namespace tsbridge
