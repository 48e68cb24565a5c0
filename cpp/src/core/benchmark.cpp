#include "tsbridge/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <thread>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>

#include "core/condense.h"
#include "tsbridge/error.h"
#include "tsbridge/summary.h"

namespace tsbridge {
namespace {

using Clock = std::chrono::steady_clock;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double milliseconds(Clock::duration elapsed) { return std::chrono::duration<double, std::milli>(elapsed).count(); }

void check_options(const BenchmarkOptions& options) {
  if (options.untimed_calls < 0) {
    throw Error(ErrorCode::InvalidArgument,
                "benchmark: untimed_calls must be >= 0, got " + std::to_string(options.untimed_calls));
  }
  if (options.iterations < 0) {
    throw Error(ErrorCode::InvalidArgument,
                "benchmark: iterations must be >= 0, got " + std::to_string(options.iterations));
  }
  if (!(std::isfinite(options.duration_seconds) && options.duration_seconds >= 0)) {
    throw Error(ErrorCode::InvalidArgument, "benchmark: duration_seconds must be a finite number >= 0, got " +
                                                format_number(options.duration_seconds));
  }
  if (options.clients < 1 || options.clients > 256) {
    throw Error(ErrorCode::InvalidArgument,
                "benchmark: clients must be 1 to 256, got " + std::to_string(options.clients));
  }
  if (options.iterations == 0 && options.duration_seconds == 0) {
    throw Error(ErrorCode::InvalidArgument, "benchmark: nothing to time: iterations and duration_seconds are both 0");
  }
}

// Waits for a CUDA model's queued work; LibTorch's errors become ours.
void wait_for_device(const Model& model) {
  try {
    torch::cuda::synchronize(model.device().index());
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InferenceFailed, model.path() + ": waiting for " + model.device().str() +
                                                " failed: " + detail::condense(e.what_without_backtrace()));
  }
}

struct Span {
  Clock::time_point start, end;
};

// One call, timed. Run takes its inputs by value, so the copy (a reference
// count per input, no tensor data) is made before the first clock read, and
// the result is released after the second: between the two reads there is
// nothing but the call. On CUDA a call returns once its kernels are queued:
// wait for the device on both sides, so each span is the work of one call.
Span timed_call(const Model& model, const std::string& method, const std::vector<c10::IValue>& inputs) {
  const bool cuda = model.device().is_cuda();
  std::vector<c10::IValue> args = inputs;
  if (cuda) wait_for_device(model);
  const Clock::time_point start = Clock::now();
  c10::IValue output = model.run(method, std::move(args));
  if (cuda) wait_for_device(model);
  const Clock::time_point end = Clock::now();
  return {start, end};
}

struct Timed {
  std::vector<double> latencies_ms;
  Clock::time_point started, ended;
};

// One client's timed calls: `iterations` of them, or until the duration passes.
Timed timed_calls(const Model& model, const std::vector<c10::IValue>& inputs, const BenchmarkOptions& options) {
  Timed timed;
  const bool by_duration = options.duration_seconds > 0;
  if (!by_duration) timed.latencies_ms.reserve(static_cast<size_t>(options.iterations));
  for (int64_t i = 0; by_duration || i < options.iterations; ++i) {
    const Span call = timed_call(model, options.method, inputs);
    timed.latencies_ms.push_back(milliseconds(call.end - call.start));
    if (i == 0) timed.started = call.start;
    timed.ended = call.end;
    // Compared as doubles: any finite duration, no chrono overflow.
    if (by_duration && std::chrono::duration<double>(timed.ended - timed.started).count() >= options.duration_seconds) {
      break;
    }
  }
  return timed;
}

// Every client on its own thread, started together; the first error any of
// them met is rethrown here once all have stopped.
std::vector<Timed> concurrent_calls(const Model& model, const std::vector<c10::IValue>& inputs,
                                    const BenchmarkOptions& options) {
  std::vector<Timed> timed(static_cast<size_t>(options.clients));
  std::vector<std::exception_ptr> errors(timed.size());
  std::vector<std::thread> threads;
  for (size_t c = 0; c < timed.size(); ++c) {
    // Plain threads, as an app's: the runtime must give each the intra-op setting.
    threads.emplace_back([&, c] {
      try {
        timed[c] = timed_calls(model, inputs, options);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
  return timed;
}

}  // namespace

BenchmarkResult benchmark(const Model& model, const std::vector<c10::IValue>& inputs, const BenchmarkOptions& options) {
  check_options(options);
  const std::string& method = options.method;
  BenchmarkResult result;

  const Span first = timed_call(model, method, inputs);
  result.first_call_ms = milliseconds(first.end - first.start);
  for (int64_t i = 0; i < options.untimed_calls; ++i) model.run(method, inputs);

  std::vector<Timed> clients;
  if (options.clients == 1) clients.push_back(timed_calls(model, inputs, options));
  else clients = concurrent_calls(model, inputs, options);
  Clock::time_point started = clients.front().started, ended = clients.front().ended;
  for (auto& client : clients) {
    result.latencies_ms.insert(result.latencies_ms.end(), client.latencies_ms.begin(), client.latencies_ms.end());
    started = std::min(started, client.started);
    ended = std::max(ended, client.ended);
  }
  // From the start of the first timed call to the end of the last.
  result.total_seconds = std::chrono::duration<double>(ended - started).count();
  return result;
}

double BenchmarkResult::min_ms() const {
  if (latencies_ms.empty()) return kNaN;
  return *std::min_element(latencies_ms.begin(), latencies_ms.end());
}

double BenchmarkResult::max_ms() const {
  if (latencies_ms.empty()) return kNaN;
  return *std::max_element(latencies_ms.begin(), latencies_ms.end());
}

double BenchmarkResult::mean_ms() const {
  if (latencies_ms.empty()) return kNaN;
  return std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / static_cast<double>(latencies_ms.size());
}

double BenchmarkResult::stddev_ms() const {
  if (latencies_ms.empty()) return kNaN;
  // Two passes, as numpy does: squares of deviations, not of raw values.
  const double mean = mean_ms();
  double squares = 0;
  for (double latency : latencies_ms) squares += (latency - mean) * (latency - mean);
  return std::sqrt(squares / static_cast<double>(latencies_ms.size()));
}

void check_percentile(double p) {
  if (!(p >= 0 && p <= 100)) {
    throw Error(ErrorCode::InvalidArgument, "percentile must be in [0, 100], got " + format_number(p));
  }
}

double BenchmarkResult::percentile_ms(double p) const {
  check_percentile(p);
  if (latencies_ms.empty()) return kNaN;
  std::vector<double> sorted = latencies_ms;
  std::sort(sorted.begin(), sorted.end());
  // numpy.percentile(method="linear"): rank (n - 1) * p / 100, then the
  // same floating-point steps numpy takes, so results match it exactly.
  const size_t n = sorted.size();
  const double rank = static_cast<double>(n - 1) * (p / 100);
  if (rank >= static_cast<double>(n - 1)) return sorted.back();
  const double below = std::floor(rank);
  const double gamma = rank - below;
  const double a = sorted[static_cast<size_t>(below)];
  const double b = sorted[static_cast<size_t>(below) + 1];
  const double difference = b - a;
  return gamma >= 0.5 ? b - difference * (1 - gamma) : a + difference * gamma;
}

double BenchmarkResult::calls_per_second() const {
  if (latencies_ms.empty()) return kNaN;
  return static_cast<double>(latencies_ms.size()) / total_seconds;
}

}  // namespace tsbridge
