#pragma once

// How tsrun shows things: text for people, JSON for programs.

#include <string>
#include <vector>

#include <tsbridge/batch.h>
#include <tsbridge/benchmark.h>
#include <tsbridge/model.h>
#include <tsbridge/self_test.h>
#include <tsbridge/summary.h>
#include <tsbridge/tuning.h>

namespace tsrun {

using tsbridge::format_number;

void print_run(const tsbridge::Model& model, const std::string& method, const std::vector<tsbridge::NamedValue>& inputs,
               const std::vector<tsbridge::NamedValue>& outputs, bool print_values);
void print_timings(double load_ms, const tsbridge::WarmUp& warm_up, double run_ms);
void print_bench(const tsbridge::BenchmarkResult& result, const std::string& method, int64_t batch, double load_ms,
                 const tsbridge::WarmUp& warm_up, const std::vector<double>& percentiles);
void print_self_test(const tsbridge::Model& model, const tsbridge::SelfTestReport& report);
void print_info(const tsbridge::Model& model);
void print_batch(int64_t batch_size, const tsbridge::BatchResult& result, double seconds);
// A .pt2 built with export(kernel_profile=True): its kernels show in --profile.
bool marks_kernels(const tsbridge::AotiRecord& aoti);

// The --json document: model, method, inputs, outputs (with statistics) and
// whichever timings were measured.
struct JsonTimings {
  double load_ms = 0;
  tsbridge::WarmUp warm_up;  // after the load, before any timed call
  double run_ms = -1;        // < 0: not measured
  const tsbridge::BenchmarkResult* bench = nullptr;
  std::vector<double> percentiles;
  int64_t batch = 1;
};
std::string to_json(const tsbridge::Model& model, const std::string& method,
                    const std::vector<tsbridge::NamedValue>& inputs, const std::vector<tsbridge::NamedValue>& outputs,
                    const JsonTimings& timings, const std::vector<std::string>& files);
// --json for the other modes: what their text says, as one JSON document.
std::string info_json(const tsbridge::Model& model);
std::string code_json(const tsbridge::Model& model, const std::string& method, const std::string& code);
std::string self_test_json(const tsbridge::Model& model, const tsbridge::SelfTestReport& report);
std::string batch_json(const tsbridge::Model& model, const std::string& method, int64_t batch_size,
                       const tsbridge::BatchResult& result, double seconds);

// --tune's result (print_tune.cpp), and what a load applied of a recorded tuning.
void print_tune(const std::string& path, const tsbridge::TuningRecord& record);
std::string tune_json(const std::string& path, const tsbridge::TuningRecord& record);
void print_applied_tuning(const tsbridge::AppliedTuning& tuning);

// Every latency, for plotting.
void write_times(const std::string& path, const tsbridge::BenchmarkResult& result, double load_ms);

// A one-line progress bar with rate and ETA, redrawn in place on stderr.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled);
  void update(int64_t done, int64_t total);
  void finish();

 private:
  bool enabled_;
  double started_;
};

}  // namespace tsrun
