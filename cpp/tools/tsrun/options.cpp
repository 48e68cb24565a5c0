#include "options.h"

#include <iostream>

#include <torch/version.h>
#include <tsbridge/build_info.h>
#include <tsbridge/version.h>

namespace tsrun {
namespace {

constexpr const char* kHelp = R"(usage: tsrun MODEL.pt [options]

Run a model with the C++ runtime, no Python involved: a TorchScript archive
(tsbridge.export or plain torch.jit.save) or a .pt2 package
(tsbridge.export(..., format="aoti") or aoti_compile_and_package), recognised
by its contents. Run it once on given or generated inputs, printing a summary
of each output; or benchmark it, self-test it, inspect it, or stream a data
set through it in batches.

inputs:
  --input NAME=FILE     an input from a .npy, .pt (torch.save of a tensor) or
                        .npz file; FILE alone for a one-input model, and an
                        .npz alone supplies inputs by array name
  --shape NAME=DIMS     shape of a generated input, e.g. x=1x3x224x224; sizes
                        dynamic dims, required for files with no manifest
  --dtype NAME=TYPE     dtype of a generated input the file does not describe
  --fill KIND           random (default), zeros or ones
  --seed N              seed of random inputs (default 0): equal to
                        torch.randn(..., generator=torch.Generator().manual_seed(N))
  --cast                convert input files to the manifest's dtype instead of
                        refusing a mismatch
  --max-input-mb N      refuse generated inputs larger than N MiB (default 2048)

outputs:
  --output PATH         write exact output values: PATH.npz, or a folder of
                        one .npy per output
  --json                print a machine-readable summary on stdout
  --print-values        print the full values of small outputs

modes:
  --bench               benchmark: load time, first call, then timed calls
    --warmup N          untimed calls before timing (default 10)
    --iters N           timed calls (default 100)
    --duration SEC      time calls for SEC seconds instead of --iters
    --percentiles LIST  latency percentiles to report (default 50,90,99)
    --export-times FILE write every call's latency to FILE as JSON
    --clients N         N threads calling the one model at once, --iters each
                        (default 1); throughput counts all of them
  --selftest            replay the golden sample stored by tsbridge.export;
                        exit 5 on a mismatch
  --info                describe the model: manifest, methods, parameters
  --code                print the TorchScript code of the method
  --batch-size B        stream the samples of the input files (dim 0) through
                        the model B at a time, writing outputs to --output;
                        .npy inputs are memory-mapped
    --quiet             no progress bar (it shows only on a terminal anyway)

general:
  --method NAME         run another exported method (default forward)
  --device DEVICE       cpu (default), cuda or cuda:N
  --load-warmup N       calls on the inputs after loading and before the run or
                        the benchmark, so LibTorch's one-time costs stay out of
                        them (default: 2 for --bench, 3 with --optimize-graph;
                        0 for a single run, where they would only add time)
  --optimize-graph      TorchScript's graph-executor optimisations (profiling
                        runs, then a specialised graph): off by default, as
                        they made no CPU model faster in our measurements
  --profiling-executor on|off
                        LibTorch's profiling executor (default: LibTorch's, on)
  --onednn-fusion       oneDNN Graph fusion (implies --optimize-graph); faster
                        on convolutional nets, fails on some models
  --runners N           a .pt2's AOTInductor runners, the calls that run at once
                        from several threads (default: cores / intra-op threads;
                        1 to 256; TorchScript ignores it)
  --no-verify           skip the check of the archive's entries against the
                        SHA-256 digests in its manifest (done by default)
  --threads N           intra-op threads (default: LibTorch's choice)
  --interop-threads N   inter-op threads
  --version             print tsbridge and LibTorch versions and this build's features
  -h, --help            show this help

examples:
  tsrun model.pt
  tsrun model.pt --input x=image.npy --output out.npz
  tsrun model.pt --bench --iters 1000 --threads 1 --export-times times.json
  tsrun model.pt --input data.npy --batch-size 64 --output predictions/
  tsrun model.pt --selftest --device cuda
  tsrun plain_torchscript.pt --shape x=5x10 --dtype x=float32

exit codes:
  0 success, 1 internal error, 2 usage error, 3 model cannot be loaded,
  4 inputs do not match the model, 5 self-test mismatch, 6 the model failed
  while running, 7 requested device unavailable, 8 an input file cannot be read
)";

std::pair<std::string, std::string> split_assignment(const std::string& option, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError{option + " expects NAME=VALUE, got '" + text + "'"};
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

int64_t parse_count(const std::string& option, const std::string& text, int64_t minimum) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoll(text) < minimum) {
    throw UsageError{option + " expects an integer >= " + std::to_string(minimum) + ", got '" + text + "'"};
  }
  return std::stoll(text);
}

double parse_number(const std::string& option, const std::string& text, double low, double high) {
  try {
    size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size() && value >= low && value <= high) return value;
  } catch (const std::exception&) {
  }
  throw UsageError{option + " expects a number in [" + std::to_string(low).substr(0, 5) + ", " +
                   std::to_string(high).substr(0, 5) + "], got '" + text + "'"};
}

std::vector<double> parse_percentiles(const std::string& text) {
  std::vector<double> values;
  size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find(',', start);
    values.push_back(parse_number("--percentiles", text.substr(start, end - start), 0, 100));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return values;
}

tsbridge::Fill parse_fill(const std::string& text) {
  if (text == "random") return tsbridge::Fill::Random;
  if (text == "zeros") return tsbridge::Fill::Zeros;
  if (text == "ones") return tsbridge::Fill::Ones;
  throw UsageError{"--fill expects random, zeros or ones, got '" + text + "'"};
}

void set_mode(Options& options, Mode mode, const std::string& option) {
  if (options.mode != Mode::Run && options.mode != mode) {
    throw UsageError{option + " cannot be combined with another of --bench, --selftest, --info, --code, --batch-size"};
  }
  options.mode = mode;
}

bool parse_switch(const std::string& option, const std::string& text) {
  if (text == "on") return true;
  if (text == "off") return false;
  throw UsageError{option + " expects on or off, got '" + text + "'"};
}

void check_combinations(const Options& options) {
  const bool inputs_given = !options.input_option_names.empty();
  if (options.mode == Mode::SelfTest && inputs_given) {
    // The golden sample fixes the method and the inputs; ignoring an option
    // silently would leave the user believing it applied.
    throw UsageError{"--selftest runs forward on the golden sample's inputs; " +
                     options.input_option_names.front() + " does not apply"};
  }
  if (options.mode == Mode::Batch) {
    if (options.input_files.empty()) throw UsageError{"--batch-size needs the samples as --input files"};
    if (options.output.empty()) throw UsageError{"--batch-size needs --output (an .npz or a folder)"};
    if (options.inputs.cast) throw UsageError{"--cast does not apply to --batch-size (convert the data set once)"};
  }
  if (!options.output.empty() && (options.mode == Mode::Info || options.mode == Mode::Code ||
                                  options.mode == Mode::SelfTest)) {
    throw UsageError{"--output applies to running the model, not to --info, --code or --selftest"};
  }
}

}  // namespace

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
    auto flag = [&] {
      if (inline_value) throw UsageError{arg + " takes no value"};
    };
    auto shapes_inputs = [&] { options.input_option_names.push_back(arg); };

    if (arg == "-h" || arg == "--help") {
      std::cout << kHelp;
      return std::nullopt;
    } else if (arg == "--version") {
      std::cout << "tsrun (tsbridge) " << TSBRIDGE_VERSION << ", LibTorch " << TORCH_VERSION << "\n"
                << "features: " << tsbridge::features_text(tsbridge::build_features()) << "\n";
      return std::nullopt;
    } else if (arg == "--input") {
      const std::string text = value();
      const auto eq = text.find('=');
      if (eq == 0 || eq + 1 == text.size()) throw UsageError{"--input expects NAME=FILE or FILE, got '" + text + "'"};
      if (eq == std::string::npos) options.input_files.emplace_back("", text);
      else options.input_files.emplace_back(text.substr(0, eq), text.substr(eq + 1));
      shapes_inputs();
    } else if (arg == "--shape") {
      auto [name, dims] = split_assignment(arg, value());
      options.inputs.shapes[name] = tsbridge::parse_shape(dims);
      shapes_inputs();
    } else if (arg == "--dtype") {
      auto [name, dtype] = split_assignment(arg, value());
      options.inputs.dtypes[name] = dtype;
      shapes_inputs();
    } else if (arg == "--fill") {
      options.inputs.fill = parse_fill(value());
      shapes_inputs();
    } else if (arg == "--seed") {
      options.inputs.seed = static_cast<uint64_t>(parse_count(arg, value(), 0));
      shapes_inputs();
    } else if (arg == "--cast") {
      flag();
      options.inputs.cast = true;
      shapes_inputs();
    } else if (arg == "--max-input-mb") {
      options.inputs.max_bytes = parse_count(arg, value(), 1) << 20;
    } else if (arg == "--method") {
      options.method = value();
      shapes_inputs();
    } else if (arg == "--device") {
      options.load.device = value();
    } else if (arg == "--load-warmup") {
      options.load_warmup = parse_count(arg, value(), 0);
    } else if (arg == "--optimize-graph") {
      flag();
      options.load.optimize_graph = true;
    } else if (arg == "--profiling-executor") {
      options.load.profiling_executor = parse_switch(arg, value());
    } else if (arg == "--onednn-fusion") {
      flag();
      options.load.onednn_fusion = true;
      options.load.optimize_graph = true;
    } else if (arg == "--clients") {
      options.bench.clients = static_cast<int>(std::min<int64_t>(parse_count(arg, value(), 0), INT32_MAX));
    } else if (arg == "--runners") {
      options.load.runners = static_cast<int>(std::min<int64_t>(parse_count(arg, value(), 0), INT32_MAX));
    } else if (arg == "--no-verify") {
      flag();
      options.load.verify_integrity = false;
    } else if (arg == "--output") {
      options.output = value();
    } else if (arg == "--json") {
      flag();
      options.json = true;
    } else if (arg == "--print-values") {
      flag();
      options.print_values = true;
    } else if (arg == "--quiet") {
      flag();
      options.quiet = true;
    } else if (arg == "--bench") {
      flag();
      set_mode(options, Mode::Bench, arg);
    } else if (arg == "--warmup") {
      options.bench.warmup = parse_count(arg, value(), 0);
    } else if (arg == "--iters") {
      options.bench.iterations = parse_count(arg, value(), 1);
    } else if (arg == "--duration") {
      options.bench.duration_seconds = parse_number(arg, value(), 0.001, 86400);
    } else if (arg == "--percentiles") {
      options.percentiles = parse_percentiles(value());
    } else if (arg == "--export-times") {
      options.export_times = value();
    } else if (arg == "--threads") {
      options.threads.intra_op = static_cast<int>(parse_count(arg, value(), 1));
    } else if (arg == "--interop-threads") {
      options.threads.inter_op = static_cast<int>(parse_count(arg, value(), 1));
    } else if (arg == "--selftest") {
      flag();
      set_mode(options, Mode::SelfTest, arg);
    } else if (arg == "--info") {
      flag();
      set_mode(options, Mode::Info, arg);
    } else if (arg == "--code") {
      flag();
      set_mode(options, Mode::Code, arg);
    } else if (arg == "--batch-size") {
      options.batch_size = parse_count(arg, value(), 1);
      set_mode(options, Mode::Batch, arg);
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
  check_combinations(options);
  return options;
}

}  // namespace tsrun
