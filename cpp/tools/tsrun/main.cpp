// tsrun: run a model from the shell with no Python. This file dispatches;
// options.cpp parses, print.cpp shows, the library does the work. It is
// libtsrun, which the tsrun executable (launcher.cpp) loads once it has
// checked that the torch beside it is the one this was built for.
#include <unistd.h>

#include <chrono>
#include <iostream>

#include <ATen/core/Tensor.h>
#include <ATen/record_function.h>

#include <tsbridge/batch.h>
#include <tsbridge/benchmark.h>
#include <tsbridge/error.h>
#include <tsbridge/input_files.h>
#include <tsbridge/inputs.h>
#include <tsbridge/model.h>
#include <tsbridge/process.h>
#include <tsbridge/profile.h>
#include <tsbridge/results.h>
#include <tsbridge/self_test.h>
#include <tsbridge/summary.h>
#include <tsbridge/tune.h>

#include "options.h"
#include "print.h"

namespace tsrun {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int exit_code_for(tsbridge::ErrorCode code) {
  using tsbridge::ErrorCode;
  switch (code) {
    case ErrorCode::InvalidArgument: return kUsage;
    case ErrorCode::MethodNotFound: return kUsage;
    case ErrorCode::FileNotFound: return kLoadFailed;
    case ErrorCode::InvalidArchive: return kLoadFailed;
    case ErrorCode::UnsupportedVersion: return kLoadFailed;
    case ErrorCode::InputMismatch: return kInputMismatch;
    case ErrorCode::DeviceUnavailable: return kDeviceUnavailable;
    case ErrorCode::InferenceFailed: return kInferenceFailed;
    case ErrorCode::InvalidInputFile: return kInputFile;
    case ErrorCode::UnsupportedCpu: return kLoadFailed;
  }
  return kInternal;
}

std::vector<tsbridge::NamedValue> named_inputs(const std::vector<tsbridge::TensorSpec>& specs,
                                               const std::vector<c10::IValue>& inputs) {
  std::vector<tsbridge::NamedValue> named;
  for (size_t i = 0; i < inputs.size(); ++i) named.push_back({specs[i].name, inputs[i]});
  return named;
}

// --bench --profile: calls profiled after the timed ones, so that the
// profiler's cost stays out of the figures and the trace stays small.
constexpr int kProfiledCalls = 10;

// `calls` runs of the method under LibTorch's profiler, each marked, the
// trace written to `path`; the last result.
c10::IValue profiled(const tsbridge::Model& model, const Options& options, const std::vector<c10::IValue>& inputs,
                     int calls) {
  tsbridge::Profile profile(options.profile);
  c10::IValue result;
  for (int i = 0; i < calls; ++i) {
    RECORD_USER_SCOPE("tsrun call " + std::to_string(i + 1));
    result = model.run(options.method, inputs);
  }
  const size_t events = profile.save();
  std::cerr << "tsrun: wrote " << options.profile << " (" << events << " profiled events)\n";
  const auto* manifest = model.manifest();
  if (model.format() == tsbridge::Model::Format::Aoti &&
      !(manifest && manifest->aoti && marks_kernels(*manifest->aoti))) {
    std::cerr << "tsrun: note: a .pt2's compiled code marks no kernels for the profiler unless built to, so the trace "
                 "shows each call and the ATen calls it makes; for each kernel, profile a build of "
                 "tsbridge.export(..., format=\"aoti\", kernel_profile=True)\n";
  }
  return result;
}

int64_t batch_of(const std::vector<c10::IValue>& inputs) {
  for (const auto& input : inputs) {
    if (input.isTensor() && input.toTensor().dim() > 0) return input.toTensor().size(0);
  }
  return 1;
}

int run_batch(const tsbridge::Model& model, const Options& options) {
  // Before the input files are read: run_batches would refuse it after.
  if (options.method == "forward") tsbridge::check_results_path(options.output, model.outputs());
  const auto tensors = tsbridge::read_input_files(options.input_files, model.inputs(options.method), /*map=*/true);
  ProgressBar progress(!options.quiet && !options.json && isatty(STDERR_FILENO));
  tsbridge::BatchOptions batch;
  batch.method = options.method;
  batch.batch_size = options.batch_size;
  batch.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
  const auto started = Clock::now();
  const auto result = tsbridge::run_batches(model, tensors, options.output, batch);
  const double seconds = ms_since(started) / 1000.0;
  progress.finish();
  if (options.json) {
    std::cout << batch_json(model, options.method, options.batch_size, result, seconds) << "\n";
  } else {
    print_batch(options.batch_size, result, seconds);
  }
  return kOk;
}

int run_model(const tsbridge::Model& model, const Options& options, double load_ms) {
  // A .npy --output holds one output: refused before anything runs when the
  // manifest declares several (write_results checks the result itself).
  if (options.method == "forward") tsbridge::check_results_path(options.output, model.outputs());
  if (!options.profile.empty()) tsbridge::Profile::require_writable(options.profile);
  const auto& specs = model.inputs(options.method);
  tsbridge::InputOptions input_options = options.inputs;
  input_options.device = model.device();
  input_options.tensors = tsbridge::read_input_files(options.input_files, specs);
  const auto inputs = tsbridge::make_inputs(specs, input_options);

  JsonTimings timings;
  timings.load_ms = load_ms;
  // By default only a benchmark warms up: in a single run the run is the
  // first call, and calls before it would only add to the time.
  const bool optimize_graph = options.load.torchscript && options.load.torchscript->optimize_graph;
  const int64_t warmup_calls =
      options.warmup_calls.value_or(options.mode != Mode::Bench ? 0 : tsbridge::steady_state_calls(optimize_graph));
  if (warmup_calls > 0) timings.warm_up = model.warm_up(options.method, inputs, static_cast<int>(warmup_calls));
  timings.percentiles = options.percentiles;
  timings.batch = batch_of(inputs);
  tsbridge::BenchmarkResult bench;
  if (options.mode == Mode::Bench) {
    auto bench_options = options.bench;
    bench_options.method = options.method;
    bench = tsbridge::benchmark(model, inputs, bench_options);
    timings.bench = &bench;
    if (!options.export_times.empty()) write_times(options.export_times, bench, load_ms);
    if (!options.profile.empty()) profiled(model, options, inputs, kProfiledCalls);
  }
  const bool profile_run = !options.profile.empty() && options.mode == Mode::Run;
  const auto started = Clock::now();
  const auto result = profile_run ? profiled(model, options, inputs, 1) : model.run(options.method, inputs);
  timings.run_ms = ms_since(started);
  const auto outputs = model.output_leaves(options.method, result);
  const auto files =
      options.output.empty() ? std::vector<std::string>{} : tsbridge::write_results(options.output, outputs);

  if (options.json) {
    std::cout << to_json(model, options.method, named_inputs(specs, inputs), outputs, timings, files) << "\n";
    return kOk;
  }
  if (options.mode == Mode::Bench) {
    print_bench(bench, options.method, timings.batch, load_ms, timings.warm_up, options.percentiles);
  } else {
    print_run(model, options.method, named_inputs(specs, inputs), outputs, options.print_values);
    print_timings(load_ms, timings.warm_up, timings.run_ms);
  }
  for (const auto& file : files) std::cout << "wrote " << file << "\n";
  return kOk;
}

// The process-wide executor settings, which only TorchScript has: refused
// for a .pt2 rather than set for nothing.
void apply_executor(const tsbridge::Model& model, const Options& options) {
  const auto& executor = options.executor;
  if (!executor.profiling_executor && !executor.onednn_fusion) return;
  if (model.format() == tsbridge::Model::Format::Aoti) {
    throw UsageError{std::string(executor.profiling_executor ? "--profiling-executor" : "--onednn-fusion") +
                     " does not apply to a .pt2 package, which has no graph executor"};
  }
  tsbridge::set_executor(executor);
}

int run_tune(const Options& options) {
  const auto record = tsbridge::tune_runtime(options.model, options.tune);
  if (options.json) std::cout << tune_json(options.model, record) << "\n";
  else print_tune(options.model, record);
  return kOk;
}

int run(const Options& options) {
  if (options.mode == Mode::Tune) return run_tune(options);
  tsbridge::set_threads(options.threads);  // before anything runs in parallel
  const auto started = Clock::now();
  const auto model = tsbridge::Model::load(options.model, options.load);
  const double load_ms = ms_since(started);
  // On stderr, so --json's stdout stays one document.
  for (const auto& note : model.tuning().notes) std::cerr << "tsrun: note: " << note << "\n";
  apply_executor(model, options);
  switch (options.mode) {
    case Mode::Info:
      if (options.json) std::cout << info_json(model) << "\n";
      else print_info(model);
      return kOk;
    case Mode::Code: {
      const auto code = model.code(options.method);
      if (options.json) std::cout << code_json(model, options.method, code) << "\n";
      else std::cout << code;
      return kOk;
    }
    case Mode::SelfTest: {
      const auto report = tsbridge::self_test(model);
      if (options.json) std::cout << self_test_json(model, report) << "\n";
      else print_self_test(model, report);
      return report.passed ? kOk : kSelfTestMismatch;
    }
    case Mode::Batch: return run_batch(model, options);
    case Mode::Run:
    case Mode::Bench: return run_model(model, options, load_ms);
    case Mode::Tune: break;  // handled before the load
  }
  return kInternal;
}

}  // namespace
}  // namespace tsrun

// `torch_version`: the torch the launcher found beside tsbridge.
extern "C" __attribute__((visibility("default"))) int tsrun_main(int argc, char** argv, const char* torch_version) {
  using namespace tsrun;
  try {
    const auto options = parse_arguments(argc, argv, torch_version);
    return options ? run(*options) : kOk;
  } catch (const UsageError& e) {
    std::cerr << "tsrun: error: " << e.message << "\n";
    return kUsage;
  } catch (const tsbridge::Error& e) {
    std::cerr << "tsrun: error: " << e.what() << "\n";
    return exit_code_for(e.code());
  } catch (const std::exception& e) {
    const std::string message = e.what();
    std::cerr << "tsrun: internal error: " << message.substr(0, message.find('\n')) << "\n";
    return kInternal;
  }
}
