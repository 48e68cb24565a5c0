// tsrun: run a TorchScript model from the shell with no Python. This file
// dispatches; options.cpp parses, print.cpp shows, the library does the work.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>

#include <ATen/core/Tensor.h>

#include <tsbridge/batch.h>
#include <tsbridge/benchmark.h>
#include <tsbridge/error.h>
#include <tsbridge/inputs.h>
#include <tsbridge/model.h>
#include <tsbridge/results.h>
#include <tsbridge/self_test.h>
#include <tsbridge/summary.h>
#include <tsbridge/tensor_io.h>

#include "options.h"
#include "print.h"

namespace tsrun {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
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

// The tensors of the --input files, by input name. `map` memory-maps .npy
// files (batch processing), so a data set is read only as it streams.
std::map<std::string, at::Tensor> read_input_files(const Options& options,
                                                   const std::vector<tsbridge::TensorSpec>& specs, bool map) {
  std::map<std::string, at::Tensor> tensors;
  for (const auto& [name, path] : options.input_files) {
    if (ends_with(path, ".npz")) {
      const auto arrays = tsbridge::read_npz(path);
      if (name.empty()) {
        for (const auto& [key, tensor] : arrays) tensors[key] = tensor;
      } else if (arrays.size() == 1) {
        tensors[name] = arrays.front().second;
      } else {
        throw UsageError{"--input " + name + "=" + path + ": the .npz holds " + std::to_string(arrays.size()) +
                         " arrays; give it without NAME= to use them by their names"};
      }
      continue;
    }
    std::string input = name;
    if (input.empty()) {
      if (specs.size() != 1) {
        throw UsageError{"--input " + path + " names no input, but the model takes " + std::to_string(specs.size()) +
                         "; use --input NAME=FILE"};
      }
      input = specs.front().name;
    }
    tensors[input] = map && ends_with(path, ".npy") ? tsbridge::map_npy(path) : tsbridge::read_tensor(path);
  }
  return tensors;
}

std::vector<tsbridge::NamedValue> named_inputs(const std::vector<tsbridge::TensorSpec>& specs,
                                               const std::vector<c10::IValue>& inputs) {
  std::vector<tsbridge::NamedValue> named;
  for (size_t i = 0; i < inputs.size(); ++i) named.push_back({specs[i].name, inputs[i]});
  return named;
}

std::vector<tsbridge::NamedValue> named_outputs(const tsbridge::Model& model, const std::string& method,
                                                const c10::IValue& result) {
  return method == "forward" ? tsbridge::flatten(result, model.outputs()) : tsbridge::flatten(result);
}

int64_t batch_of(const std::vector<c10::IValue>& inputs) {
  for (const auto& input : inputs) {
    if (input.isTensor() && input.toTensor().dim() > 0) return input.toTensor().size(0);
  }
  return 1;
}

int run_batch(const tsbridge::Model& model, const Options& options) {
  const auto specs = model.inputs(options.method);
  auto tensors = read_input_files(options, specs, /*map=*/true);
  std::vector<at::Tensor> ordered;
  tsbridge::InputOptions first_batch = options.inputs;
  for (const auto& spec : specs) {
    auto found = tensors.find(spec.name);
    if (found == tensors.end()) {
      throw tsbridge::Error(tsbridge::ErrorCode::InputMismatch,
                            "input '" + spec.name + "' has no --input file; --batch-size streams samples from files");
    }
    if (found->second.dim() == 0) {
      throw tsbridge::Error(tsbridge::ErrorCode::InputMismatch,
                            "input '" + spec.name + "': a scalar has no samples to batch");
    }
    ordered.push_back(found->second);
    first_batch.tensors[spec.name] = found->second.narrow(0, 0, std::min(options.batch_size, found->second.size(0)));
  }
  tsbridge::make_inputs(specs, first_batch);  // checks dtypes and shapes against the manifest before streaming

  ProgressBar progress(!options.quiet && isatty(STDERR_FILENO));
  tsbridge::BatchOptions batch;
  batch.method = options.method;
  batch.batch_size = options.batch_size;
  batch.progress = [&](int64_t done, int64_t total) { progress.update(done, total); };
  const auto started = Clock::now();
  const auto result = tsbridge::run_batches(model, ordered, options.output, batch);
  const double seconds = ms_since(started) / 1000.0;
  progress.finish();
  std::cout << "processed " << result.rows << " samples in " << result.batches << " batches of up to "
            << options.batch_size << " (" << number(static_cast<double>(result.rows) / seconds)
            << " samples/s)\n";
  for (const auto& file : result.files) std::cout << "wrote " << file << "\n";
  return kOk;
}

int run_model(const tsbridge::Model& model, const Options& options, double load_ms) {
  if (!model.has_method(options.method)) model.run(options.method, {});  // MethodNotFound, naming the methods
  const auto specs = model.inputs(options.method);
  tsbridge::InputOptions input_options = options.inputs;
  input_options.device = model.device();
  input_options.tensors = read_input_files(options, specs, /*map=*/false);
  const auto inputs = tsbridge::make_inputs(specs, input_options);

  JsonTimings timings;
  timings.load_ms = load_ms;
  // By default only a benchmark warms up: in a single run the run is the
  // first call, and calls before it would only add to the time.
  const int64_t warmup_calls = options.load_warmup.value_or(
      options.mode != Mode::Bench ? 0 : options.load.optimize_graph ? 3 : 2);
  if (warmup_calls > 0) {  // on the run's own inputs: the sizes the timed calls use
    const auto started = Clock::now();
    for (int64_t i = 0; i < warmup_calls; ++i) model.run(options.method, inputs);
    timings.warm_up = {static_cast<int>(warmup_calls), ms_since(started) / 1000};
  }
  timings.percentiles = options.percentiles;
  timings.batch = batch_of(inputs);
  tsbridge::BenchmarkResult bench;
  if (options.mode == Mode::Bench) {
    auto bench_options = options.bench;
    bench_options.method = options.method;
    bench = tsbridge::benchmark(model, inputs, bench_options);
    timings.bench = &bench;
    if (!options.export_times.empty()) write_times(options.export_times, bench, load_ms);
  }
  const auto started = Clock::now();
  const auto result = model.run(options.method, inputs);
  timings.run_ms = ms_since(started);
  const auto outputs = named_outputs(model, options.method, result);
  const auto files = options.output.empty() ? std::vector<std::string>{}
                                            : tsbridge::write_results(options.output, outputs);

  if (options.json) {
    std::cout << to_json(model, options.method, named_inputs(specs, inputs), outputs, timings) << "\n";
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

int run(const Options& options) {
  tsbridge::set_threads(options.threads);  // before anything runs in parallel
  const auto started = Clock::now();
  const auto model = tsbridge::Model::load(options.model, options.load);
  const double load_ms = ms_since(started);
  switch (options.mode) {
    case Mode::Info:
      print_info(model);
      return kOk;
    case Mode::Code:
      std::cout << model.code(options.method);
      return kOk;
    case Mode::SelfTest: {
      const auto report = tsbridge::self_test(model);
      print_self_test(model, report);
      return report.passed ? kOk : kSelfTestMismatch;
    }
    case Mode::Batch:
      return run_batch(model, options);
    case Mode::Run:
    case Mode::Bench:
      return run_model(model, options, load_ms);
  }
  return kInternal;
}

}  // namespace
}  // namespace tsrun

int main(int argc, char** argv) {
  using namespace tsrun;
  try {
    const auto options = parse_arguments(argc, argv);
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
