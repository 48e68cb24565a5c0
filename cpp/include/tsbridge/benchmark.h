#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/ivalue.h>

#include "tsbridge/model.h"
#include "tsbridge/version.h"

namespace tsbridge {

// The untimed calls that bring a model to its steady state before it is
// timed (tsrun --bench and the tuner warm up this many): with the graph
// executor's optimisations the second call optimises the graph and the
// third runs it; without them the first call pays the one-time costs.
inline int steady_state_calls(bool optimize_graph) { return optimize_graph ? 3 : 2; }

struct BenchmarkOptions {
  std::string method = "forward";
  int64_t untimed_calls = 10;   // after the first call, before the timed ones
  int64_t iterations = 100;     // timed calls, unless duration_seconds > 0
  double duration_seconds = 0;  // > 0: time calls until this much time has passed (at least one);
                                // iterations is then ignored
  int clients = 1;              // threads calling the one Model at once, each making `iterations`
                                // timed calls (or calling for duration_seconds); 1 to 256
};
// Negative untimed_calls, iterations or duration, or nothing to time (iterations and
// duration_seconds both 0), is an Error(InvalidArgument).

struct TSBRIDGE_API BenchmarkResult {
  double first_call_ms = 0;          // the first call, timed on its own (graph optimisation happens here)
  std::vector<double> latencies_ms;  // every timed call, in order
  double total_seconds = 0;          // wall time from the first timed call's start to the last's end

  // Over latencies_ms; NaN when it is empty.
  double min_ms() const;
  double max_ms() const;
  double mean_ms() const;
  double stddev_ms() const;  // population (ddof 0), as numpy.std
  // Linear interpolation between closest ranks, exactly as numpy.percentile's
  // default; p is checked by check_percentile.
  double percentile_ms(double p) const;
  double calls_per_second() const;  // latencies_ms.size() / total_seconds
};

// Error(InvalidArgument) unless 0 <= p <= 100 (NaN included): the rule
// percentile_ms applies, for callers that check what they will ask before a
// run rather than after it.
TSBRIDGE_API void check_percentile(double p);

// Runs `method` once (first call), `untimed_calls` more times, then the timed calls
// (from `clients` threads at once: latencies_ms holds every thread's calls,
// total_seconds spans the first start to the last end, so calls_per_second
// is the throughput of all of them).
// Between a call's two clock reads there is only Model::run: the copy of
// `inputs` run takes (reference counts, no tensor data) is made before, and
// the result is released after. On a CUDA model each call is bracketed by a
// device synchronize, so a latency is the call's work, not its queueing.
// Errors from the model propagate as they are.
TSBRIDGE_API BenchmarkResult benchmark(const Model& model, const std::vector<c10::IValue>& inputs,
                                       const BenchmarkOptions& options = {});

}  // namespace tsbridge
