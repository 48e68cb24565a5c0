// tsrun: run a TorchScript model from the shell. Argument parsing and
// printing only; loading, input making and summaries are library code.
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <tsbridge/error.h>
#include <tsbridge/inputs.h>
#include <tsbridge/model.h>
#include <tsbridge/self_test.h>
#include <tsbridge/summary.h>
#include <tsbridge/version.h>
#include <torch/version.h>

namespace {

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
};

constexpr const char* kHelp = R"(usage: tsrun MODEL.pt [options]

Load a TorchScript model (made by tsbridge or plain torch.jit.save), run it once
on generated inputs and print a summary of each output. With --selftest, replay
the golden sample tsbridge.export stored in the archive instead.

options:
  --shape NAME=DIMS   shape of an input, e.g. x=1x3x224x224; sizes dynamic dims
                      and is required for inputs of a file with no manifest
  --dtype NAME=TYPE   dtype of an input the file does not describe (float32...)
  --fill KIND         random (default), zeros or ones
  --seed N            seed of the random inputs (default 0); the values equal
                      torch.randn(..., generator=torch.Generator().manual_seed(N))
  --method NAME       run another exported method (default forward)
  --device DEVICE     cpu (default), cuda or cuda:N
  --selftest          run forward on the archive's golden sample and compare
                      each output with what eager PyTorch gave at export;
                      exit 5 on a mismatch (takes no input options)
  --version           print tsbridge and LibTorch versions
  -h, --help          show this help

examples:
  tsrun model.pt
  tsrun model.pt --shape x=8x3x224x224 --seed 1
  tsrun plain_torchscript.pt --shape x=5x10 --dtype x=float32
  tsrun model.pt --selftest --device cuda

exit codes:
  0 success, 1 internal error, 2 usage error, 3 model cannot be loaded,
  4 inputs do not match the model, 5 self-test mismatch, 6 the model failed
  while running, 7 requested device unavailable; --selftest on an archive with
  no golden sample is a usage error (2)
)";

struct UsageError {
  std::string message;
};

struct Options {
  std::string model;
  std::string method = "forward";
  bool self_test = false;
  std::vector<std::string> input_options;  // given options that make inputs
  tsbridge::LoadOptions load;
  tsbridge::InputOptions inputs;
};

std::pair<std::string, std::string> split_assignment(const std::string& option, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError{option + " expects NAME=VALUE, got '" + text + "'"};
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

uint64_t parse_seed(const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError{"--seed expects a non-negative integer, got '" + text + "'"};
  }
  return std::stoull(text);
}

tsbridge::Fill parse_fill(const std::string& text) {
  if (text == "random") return tsbridge::Fill::Random;
  if (text == "zeros") return tsbridge::Fill::Zeros;
  if (text == "ones") return tsbridge::Fill::Ones;
  throw UsageError{"--fill expects random, zeros or ones, got '" + text + "'"};
}

// Returns nullopt when the run should stop successfully (--help, --version).
std::optional<Options> parse_arguments(int argc, char** argv) {
  Options options;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) throw UsageError{arg + " needs a value"};
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::cout << kHelp;
      return std::nullopt;
    } else if (arg == "--version") {
      std::cout << "tsrun (tsbridge) " << TSBRIDGE_VERSION << ", LibTorch " << TORCH_VERSION << "\n";
      return std::nullopt;
    } else if (arg == "--shape") {
      auto [name, dims] = split_assignment(arg, value());
      options.inputs.shapes[name] = tsbridge::parse_shape(dims);
      options.input_options.push_back(arg);
    } else if (arg == "--dtype") {
      auto [name, dtype] = split_assignment(arg, value());
      options.inputs.dtypes[name] = dtype;
      options.input_options.push_back(arg);
    } else if (arg == "--fill") {
      options.inputs.fill = parse_fill(value());
      options.input_options.push_back(arg);
    } else if (arg == "--seed") {
      options.inputs.seed = parse_seed(value());
      options.input_options.push_back(arg);
    } else if (arg == "--method") {
      options.method = value();
      options.input_options.push_back(arg);
    } else if (arg == "--selftest") {
      if (inline_value) throw UsageError{"--selftest takes no value"};
      options.self_test = true;
    } else if (arg == "--device") {
      options.load.device = value();
    } else if (arg.size() > 1 && arg[0] == '-') {
      throw UsageError{"unknown option '" + arg + "' (see tsrun --help)"};
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 1) {
    throw UsageError{positional.empty() ? "no model file given (usage: tsrun MODEL.pt [options])"
                                        : "expected one model file, got " + std::to_string(positional.size())};
  }
  options.model = positional[0];
  if (options.self_test && !options.input_options.empty()) {
    // The golden sample fixes the method and the inputs; ignoring an option
    // silently would leave the user believing it applied.
    throw UsageError{"--selftest runs forward on the golden sample's inputs; " +
                     options.input_options.front() + " does not apply"};
  }
  return options;
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
  }
  return kInternal;
}

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

int run_self_test(const Options& options) {
  const auto model = tsbridge::Model::load(options.model, options.load);
  const auto report = tsbridge::self_test(model);
  std::cout << "self-test: " << options.model << " (golden sample " << model.manifest()->golden->entry
            << ", device " << model.device().str() << ")\n";
  for (const auto& output : report.outputs) {
    std::cout << "  " << output.name << ": " << (output.passed ? "ok" : "MISMATCH") << ", max abs error "
              << number(output.max_abs_error) << ", max rel error " << number(output.max_rel_error);
    if (!output.problem.empty()) std::cout << ": " << output.problem;
    std::cout << "\n";
  }
  std::cout << "self-test " << (report.passed ? "passed" : "FAILED") << ": max abs error "
            << number(report.max_abs_error) << ", max rel error " << number(report.max_rel_error)
            << " (rtol " << number(report.rtol) << ", atol " << number(report.atol) << ")\n";
  return report.passed ? kOk : kSelfTestMismatch;
}

int run(const Options& options) {
  if (options.self_test) return run_self_test(options);
  const auto model = tsbridge::Model::load(options.model, options.load);
  if (!model.has_method(options.method)) {
    model.run(options.method, {});  // raises MethodNotFound naming the available methods
  }
  tsbridge::InputOptions input_options = options.inputs;
  input_options.device = model.device();
  const auto specs = model.inputs(options.method);
  const auto inputs = tsbridge::make_inputs(specs, input_options);

  std::cout << "model: " << options.model;
  if (const auto* manifest = model.manifest()) {
    std::cout << " (" << manifest->method << (manifest->frozen ? ", frozen" : "") << ", torch "
              << manifest->torch_version << ")";
  } else {
    std::cout << " (no tsbridge manifest)";
  }
  std::cout << "\nmethod: " << options.method << "\ninputs:\n";
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::cout << "  " << tsbridge::describe({specs[i].name, inputs[i]}) << "\n";
  }
  const auto result = model.run(options.method, inputs);
  const auto outputs = options.method == "forward" ? tsbridge::flatten(result, model.outputs())
                                                   : tsbridge::flatten(result);
  std::cout << "outputs:\n";
  for (const auto& output : outputs) std::cout << "  " << tsbridge::describe(output) << "\n";
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
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
