#pragma once

// tsrun's command line: what was asked for, parsed and checked, nothing run.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tsbridge/benchmark.h>
#include <tsbridge/input_files.h>
#include <tsbridge/inputs.h>
#include <tsbridge/model.h>
#include <tsbridge/process.h>
#include <tsbridge/tune.h>

namespace tsrun {

// Exit codes: documented in --help and docs/tsrun.md.
enum Exit {
  kOk = 0,
  kInternal = 1,
  kUsage = 2,
  kLoadFailed = 3,
  kInputMismatch = 4,
  kSelfTestMismatch = 5,
  kInferenceFailed = 6,
  kDeviceUnavailable = 7,
  kInputFile = 8,
};

struct UsageError {
  std::string message;
};

enum class Mode { Run, SelfTest, Info, Code, Bench, Batch, Tune };

struct Options {
  std::string model;
  Mode mode = Mode::Run;
  std::string method = "forward";
  tsbridge::LoadOptions load;
  tsbridge::ExecutorSettings executor;  // process-wide; TorchScript only
  std::optional<int64_t>
      warmup_calls;  // Model::warm_up on the run's inputs; unset: 2 for --bench (3 with --optimize-graph), else 0
  tsbridge::InputOptions inputs;
  std::vector<tsbridge::InputFile> input_files;

  std::string output;  // .npz or a folder
  bool json = false;
  bool print_values = false;
  bool quiet = false;

  tsbridge::ThreadSettings threads;
  tsbridge::BenchmarkOptions bench;
  std::vector<double> percentiles = {50, 90, 99};
  std::string export_times;    // JSON file of every latency
  std::string profile;         // Chrome trace of the run's call, or of calls after the benchmark's
  int64_t batch_size = 0;      // > 0: batch processing
  tsbridge::TuneOptions tune;  // --tune: the search, written to the archive's sidecar
};

// Returns nullopt when the run should stop successfully (--help, --version).
// Every option either applies to the mode asked for or is refused
// (UsageError naming the modes it applies to).
std::optional<Options> parse_arguments(int argc, char** argv, const std::string& torch_version);

}  // namespace tsrun
