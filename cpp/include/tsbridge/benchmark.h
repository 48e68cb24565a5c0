#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/ivalue.h>

#include "tsbridge/export.h"
#include "tsbridge/model.h"

namespace tsbridge {

// LibTorch's thread pools. Set once, before the first forward: LibTorch
// refuses to resize the inter-op pool after parallel work has started.
struct ThreadSettings {
  int intra_op = 0;  // 0 keeps LibTorch's default
  int inter_op = 0;
};

// Throws Error(InvalidArgument) for a negative count, or when the inter-op
// pool can no longer be resized (naming why).
TSBRIDGE_API void set_threads(const ThreadSettings& settings);

struct BenchmarkOptions {
  std::string method = "forward";
  int64_t warmup = 10;         // untimed calls after the first call
  int64_t iterations = 100;    // timed calls, unless duration_seconds > 0
  double duration_seconds = 0; // > 0: time calls until this much time has passed (at least one)
};

struct BenchmarkResult {
  double first_call_ms = 0;            // the first call, timed on its own (graph optimisation happens here)
  std::vector<double> latencies_ms;    // every timed call, in order
  double total_seconds = 0;            // wall time of the timed calls

  double min_ms() const;
  double max_ms() const;
  double mean_ms() const;
  double stddev_ms() const;
  // Linear interpolation between closest ranks (numpy's default), p in [0, 100].
  double percentile_ms(double p) const;
  double calls_per_second() const;
};

// Runs `method` once (first call), `warmup` more times, then the timed calls.
// The timed loop does nothing but call and read the clock.
TSBRIDGE_API BenchmarkResult benchmark(const Model& model, const std::vector<c10::IValue>& inputs,
                                       const BenchmarkOptions& options = {});

}  // namespace tsbridge
