#include "tsbridge/process.h"

#include <string>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include "backends/backend.h"
#include "core/condense.h"
#include "tsbridge/error.h"

namespace tsbridge {

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
    } catch (const c10::Error& e) {
      throw Error(ErrorCode::InvalidArgument, "cannot set intra_op threads to " + std::to_string(settings.intra_op) +
                                                  ": " + detail::condense(e.what_without_backtrace()));
    }
  }
}

void set_executor(const ExecutorSettings& settings) {
  try {
    detail::apply_executor_settings(settings.profiling_executor, settings.onednn_fusion);
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArgument,
                "cannot apply the executor settings: " + detail::condense(e.what_without_backtrace()));
  }
}

}  // namespace tsbridge
