#include "options.h"

#include <algorithm>
#include <climits>
#include <iostream>
#include <utility>

#include <torch/version.h>
#include <tsbridge/build_info.h>
#include <tsbridge/error.h>
#include <tsbridge/version.h>

#include "tsbridge/input_spec.h"

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
  --shape NAME=DIMS[:DTYPE]
                        shape (and dtype) of a generated input, e.g.
                        x=1x3x224x224 or x=5,10:int64; every dim a size (it
                        sizes dynamic dims); required for files with no manifest
  --dtype NAME=TYPE     dtype of a generated input the file does not describe
  --fill KIND           random (default), zeros or ones
  --seed N              seed of random inputs (default 0): equal to
                        torch.randn(..., generator=torch.Generator().manual_seed(N))
  --cast                convert input files to the manifest's dtype instead of
                        refusing a mismatch
  --max-input-mb N      refuse generated inputs larger than N MiB (default 2048)

outputs:
  --output PATH         write exact output values: PATH.npy (one output),
                        PATH.npz, or a folder of one .npy per output
  --json                print a machine-readable summary on stdout
  --print-values        print the full values of small outputs

modes:
  --bench               benchmark: load time, first call, then timed calls
    --untimed-calls N   untimed calls after the first, before timing (default 10)
    --iters N           timed calls (default 100)
    --duration SEC      time calls for SEC seconds instead of --iters
    --percentiles LIST  latency percentiles to report (default 50,90,99)
    --export-times FILE write every call's latency to FILE as JSON
    --clients N         N threads calling the one model at once, --iters each
                        (default 1); throughput counts all of them
  --profile FILE        write a Chrome trace (chrome://tracing, Perfetto) of
                        the run's call, or with --bench of 10 calls after the
                        timed ones: LibTorch's profiler, per operator
  --selftest            replay the golden sample stored by tsbridge.export;
                        exit 5 on a mismatch
  --info                describe the model: manifest, methods, parameters
  --code                print the TorchScript code of the method
  --batch-size B        stream the samples of the input files (dim 0) through
                        the model B at a time, writing outputs to --output;
                        .npy inputs are memory-mapped
    --quiet             no progress bar (it shows only on a terminal anyway)
  --tune                measure the settings that need no recompilation (intra-op
                        threads, TorchScript's executor and oneDNN fusion, a
                        .pt2's runners) on this machine, each candidate checked
                        against the golden sample, and write the fastest to
                        MODEL.tuning.json, which loads then apply (the archive
                        is not changed; see docs/tuning.md)
    --tune-budget SEC   the search's time bound (default 60)
    --tune-threads LIST thread counts to try, e.g. 1,2 (default 1 to the cores)
    --tune-clients N    tune for N concurrent callers (throughput; runners
                        join the search); default 1 (latency)

general:
  --method NAME         run another exported method (default forward)
  --device DEVICE       cpu (default), cuda or cuda:N
  --warmup-calls N      calls on the run's inputs after loading and before the
                        run or the benchmark, so LibTorch's one-time costs stay
                        out of them (default: 2 for --bench, 3 with
                        --optimize-graph; 0 for a single run, where they would
                        only add time)
  --optimize-graph      TorchScript's graph-executor optimisations (profiling
                        runs, then a specialised graph): off by default, as
                        they made no CPU model faster in our measurements
  --no-conv-packing     LibTorch's own convolutions, not weights packed for
                        oneDNN at load: less memory, slower convolutions
  --profiling-executor on|off
                        LibTorch's profiling executor (default: LibTorch's, on)
  --onednn-fusion       oneDNN Graph fusion (implies --optimize-graph); faster
                        on convolutional nets, fails on some models
  --runners N           a .pt2's AOTInductor runners, the calls that run at once
                        from several threads (default: cores / intra-op threads;
                        1 to 256)
  --no-tuning           do not apply the tuning recorded in the manifest or a
                        sidecar (applied by default; --info shows what applied)
  --no-verify-integrity skip the check of the archive's entries against the
                        SHA-256 digests in its manifest (done by default)
  --threads N           intra-op threads (default: LibTorch's choice)
  --interop-threads N   inter-op threads
  --version             print tsbridge and LibTorch versions and this build's features
  -h, --help            show this help

An option that does not apply to the mode, or to the file's format (the
TorchScript options to a .pt2, --runners to a TorchScript archive), is
refused with exit 2, never ignored.

examples:
  tsrun model.pt
  tsrun model.pt --input x=image.npy --output out.npz
  tsrun model.pt --bench --iters 1000 --threads 1 --export-times times.json
  tsrun model.pt --input data.npy --batch-size 64 --output predictions/
  tsrun model.pt --selftest --device cuda
  tsrun plain_torchscript.pt --shape x=5x10:float32

exit codes:
  0 success, 1 internal error, 2 usage error, 3 model cannot be loaded,
  4 inputs do not match the model, 5 self-test mismatch, 6 the model failed
  while running, 7 requested device unavailable, 8 an input file cannot be read,
  9 the torch beside tsbridge is not the one it was built for (or is missing)
)";

// The modes, as bits, so each option can say where it applies.
enum : unsigned {
  kRunBit = 1u << 0,
  kBenchBit = 1u << 1,
  kSelfTestBit = 1u << 2,
  kInfoBit = 1u << 3,
  kCodeBit = 1u << 4,
  kBatchBit = 1u << 5,
  kTuneBit = 1u << 6,
  kAnyMode = (1u << 7) - 1,
  kUsingModel = kAnyMode & ~kTuneBit,              // modes that load the model as it will run
  kRunning = kRunBit | kBenchBit,                  // one run of given or generated inputs
  kLoading = kRunning | kSelfTestBit | kBatchBit,  // modes that run the model
};

unsigned bit(Mode mode) {
  switch (mode) {
    case Mode::Run: return kRunBit;
    case Mode::Bench: return kBenchBit;
    case Mode::SelfTest: return kSelfTestBit;
    case Mode::Info: return kInfoBit;
    case Mode::Code: return kCodeBit;
    case Mode::Batch: return kBatchBit;
    case Mode::Tune: return kTuneBit;
  }
  return 0;
}

std::string mode_name(unsigned mode_bit) {
  switch (mode_bit) {
    case kRunBit: return "a single run";
    case kBenchBit: return "--bench";
    case kSelfTestBit: return "--selftest";
    case kInfoBit: return "--info";
    case kCodeBit: return "--code";
    case kBatchBit: return "--batch-size";
    case kTuneBit: return "--tune";
  }
  return "?";
}

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

int parse_int(const std::string& option, const std::string& text, int64_t minimum) {
  return static_cast<int>(std::min<int64_t>(parse_count(option, text, minimum), INT32_MAX));
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

std::vector<int> parse_counts(const std::string& option, const std::string& text) {
  std::vector<int> values;
  size_t start = 0;
  while (start <= text.size()) {
    const auto end = text.find(',', start);
    values.push_back(parse_int(option, text.substr(start, end - start), 1));
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

bool parse_switch(const std::string& option, const std::string& text) {
  if (text == "on") return true;
  if (text == "off") return false;
  throw UsageError{option + " expects on or off, got '" + text + "'"};
}

void set_dtype(Options& options, const std::string& name, const std::string& dtype) {
  const auto [given, added] = options.inputs.dtypes.emplace(name, dtype);
  if (!added && given->second != dtype) {
    throw UsageError{"input '" + name + "' is given two dtypes: " + given->second + " and " + dtype};
  }
}

// --shape NAME=DIMS[:DTYPE] (input_spec.h); tsrun makes concrete inputs, so
// every dim must be a size.
void set_shape(Options& options, const std::string& flag, const std::string& text) {
  tsbridge::TensorSpec spec;
  try {
    spec = tsbridge::parse_input_spec(text, /*allow_dynamic=*/false);
  } catch (const tsbridge::Error& error) {
    throw UsageError{flag + ": " + error.what()};
  }
  std::vector<int64_t> sizes;
  for (const auto& dim : *spec.shape) sizes.push_back(dim.size);
  options.inputs.shapes[spec.name] = sizes;
  if (!spec.dtype.empty()) set_dtype(options, spec.name, spec.dtype);
}

tsbridge::InputFile parse_input_file(const std::string& text) {
  const auto eq = text.find('=');
  if (eq == 0 || (eq != std::string::npos && eq + 1 == text.size())) {
    throw UsageError{"--input expects NAME=FILE or FILE, got '" + text + "'"};
  }
  if (eq == std::string::npos) return {"", text};
  return {text.substr(0, eq), text.substr(eq + 1)};
}

// The TorchScript options, set: each flag sets its own field and keeps the others'.
tsbridge::TorchScriptOptions& torchscript_options(Options& options) {
  if (!options.load.torchscript) options.load.torchscript.emplace();
  return *options.load.torchscript;
}

void set_mode(Options& options, Mode mode, const std::string& option) {
  if (options.mode != Mode::Run && options.mode != mode) {
    throw UsageError{option +
                     " cannot be combined with another of --bench, --selftest, --info, --code, --batch-size, --tune"};
  }
  options.mode = mode;
}

using Apply = void (*)(Options& options, const std::string& flag, const std::string& value);

// One command-line option: whether it takes a value, the modes it applies
// to, and what it sets.
struct Flag {
  const char* name;
  bool takes_value;
  unsigned modes;
  Apply apply;
};

// The option table; --help documents the same options.
const Flag kFlags[] = {
    // inputs
    {"--input", true, kRunning | kBatchBit,
     [](Options& o, const std::string&, const std::string& v) { o.input_files.push_back(parse_input_file(v)); }},
    {"--shape", true, kRunning, [](Options& o, const std::string& f, const std::string& v) { set_shape(o, f, v); }},
    {"--dtype", true, kRunning,
     [](Options& o, const std::string& f, const std::string& v) {
       auto [name, dtype] = split_assignment(f, v);
       set_dtype(o, name, dtype);
     }},
    {"--fill", true, kRunning,
     [](Options& o, const std::string&, const std::string& v) { o.inputs.fill = parse_fill(v); }},
    {"--seed", true, kRunning,
     [](Options& o, const std::string& f, const std::string& v) {
       o.inputs.seed = static_cast<uint64_t>(parse_count(f, v, 0));
     }},
    {"--cast", false, kRunning, [](Options& o, const std::string&, const std::string&) { o.inputs.cast = true; }},
    {"--max-input-mb", true, kRunning,
     [](Options& o, const std::string& f, const std::string& v) { o.inputs.max_bytes = parse_count(f, v, 1) << 20; }},
    // outputs
    {"--output", true, kRunning | kBatchBit,
     [](Options& o, const std::string&, const std::string& v) { o.output = v; }},
    {"--json", false, kAnyMode, [](Options& o, const std::string&, const std::string&) { o.json = true; }},
    {"--print-values", false, kRunBit,
     [](Options& o, const std::string&, const std::string&) { o.print_values = true; }},
    // modes
    {"--bench", false, kAnyMode,
     [](Options& o, const std::string& f, const std::string&) { set_mode(o, Mode::Bench, f); }},
    {"--untimed-calls", true, kBenchBit,
     [](Options& o, const std::string& f, const std::string& v) { o.bench.untimed_calls = parse_count(f, v, 0); }},
    {"--iters", true, kBenchBit,
     [](Options& o, const std::string& f, const std::string& v) { o.bench.iterations = parse_count(f, v, 1); }},
    {"--duration", true, kBenchBit,
     [](Options& o, const std::string& f, const std::string& v) {
       o.bench.duration_seconds = parse_number(f, v, 0.001, 86400);
     }},
    {"--percentiles", true, kBenchBit,
     [](Options& o, const std::string&, const std::string& v) { o.percentiles = parse_percentiles(v); }},
    {"--export-times", true, kBenchBit,
     [](Options& o, const std::string&, const std::string& v) { o.export_times = v; }},
    {"--profile", true, kRunning,
     [](Options& o, const std::string&, const std::string& v) { o.profile = v; }},
    {"--clients", true, kBenchBit,
     [](Options& o, const std::string& f, const std::string& v) { o.bench.clients = parse_int(f, v, 0); }},
    {"--selftest", false, kAnyMode,
     [](Options& o, const std::string& f, const std::string&) { set_mode(o, Mode::SelfTest, f); }},
    {"--info", false, kAnyMode,
     [](Options& o, const std::string& f, const std::string&) { set_mode(o, Mode::Info, f); }},
    {"--code", false, kAnyMode,
     [](Options& o, const std::string& f, const std::string&) { set_mode(o, Mode::Code, f); }},
    {"--batch-size", true, kAnyMode,
     [](Options& o, const std::string& f, const std::string& v) {
       o.batch_size = parse_count(f, v, 1);
       set_mode(o, Mode::Batch, f);
     }},
    {"--quiet", false, kBatchBit, [](Options& o, const std::string&, const std::string&) { o.quiet = true; }},
    {"--tune", false, kAnyMode,
     [](Options& o, const std::string& f, const std::string&) { set_mode(o, Mode::Tune, f); }},
    {"--tune-budget", true, kTuneBit,
     [](Options& o, const std::string& f, const std::string& v) {
       o.tune.budget_seconds = parse_number(f, v, 0.001, 86400);
     }},
    {"--tune-threads", true, kTuneBit,
     [](Options& o, const std::string& f, const std::string& v) { o.tune.threads = parse_counts(f, v); }},
    {"--tune-clients", true, kTuneBit,
     [](Options& o, const std::string& f, const std::string& v) { o.tune.clients = parse_int(f, v, 1); }},
    // general
    {"--method", true, kRunning | kCodeBit | kBatchBit,
     [](Options& o, const std::string&, const std::string& v) { o.method = v; }},
    {"--device", true, kUsingModel, [](Options& o, const std::string&, const std::string& v) { o.load.device = v; }},
    {"--warmup-calls", true, kRunning,
     [](Options& o, const std::string& f, const std::string& v) { o.warmup_calls = parse_count(f, v, 0); }},
    {"--optimize-graph", false, kLoading,
     [](Options& o, const std::string&, const std::string&) {
       torchscript_options(o).optimize_graph = true;
     }},
    {"--no-conv-packing", false, kLoading,
     [](Options& o, const std::string&, const std::string&) { torchscript_options(o).pack_convolutions = false; }},
    {"--profiling-executor", true, kLoading,
     [](Options& o, const std::string& f, const std::string& v) {
       o.executor.profiling_executor = parse_switch(f, v);
     }},
    {"--onednn-fusion", false, kLoading,
     [](Options& o, const std::string&, const std::string&) {
       o.executor.onednn_fusion = true;
       torchscript_options(o).optimize_graph = true;  // the fuser runs as a graph optimisation
     }},
    {"--runners", true, kLoading,
     [](Options& o, const std::string& f,
        const std::string& v) { o.load.aoti = tsbridge::AotiOptions{parse_int(f, v, 0)}; }},
    {"--no-tuning", false, kUsingModel,
     [](Options& o, const std::string&, const std::string&) { o.load.apply_tuning = false; }},
    {"--no-verify-integrity", false, kUsingModel,
     [](Options& o, const std::string&, const std::string&) { o.load.verify_integrity = false; }},
    {"--threads", true, kLoading,
     [](Options& o, const std::string& f, const std::string& v) { o.threads.intra_op = parse_int(f, v, 1); }},
    {"--interop-threads", true, kLoading,
     [](Options& o, const std::string& f, const std::string& v) { o.threads.inter_op = parse_int(f, v, 1); }},
};

const Flag* find_flag(const std::string& name) {
  for (const auto& flag : kFlags) {
    if (name == flag.name) return &flag;
  }
  return nullptr;
}

// Refuses an option the chosen mode does not use: ignoring it would leave
// the user believing it applied.
void check_applies(const Flag& flag, Mode mode) {
  if (flag.modes & bit(mode)) return;
  std::string where;
  for (unsigned b = 1; b & kAnyMode; b <<= 1) {
    if (flag.modes & b) where += (where.empty() ? "" : ", ") + mode_name(b);
  }
  const std::string why = mode == Mode::SelfTest ? " (it runs forward on the golden sample's inputs)" : "";
  throw UsageError{std::string(flag.name) + " does not apply to " + mode_name(bit(mode)) + why + "; it applies to " +
                   where};
}

void check_mode_needs(const Options& options) {
  if (options.mode != Mode::Batch) return;
  if (options.input_files.empty()) throw UsageError{"--batch-size needs the samples as --input files"};
  if (options.output.empty()) throw UsageError{"--batch-size needs --output (a .npy, an .npz or a folder)"};
}

}  // namespace

std::optional<Options> parse_arguments(int argc, char** argv, const std::string& torch_version) {
  Options options;
  std::vector<std::string> positional;
  std::vector<const Flag*> given;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    if (arg == "-h" || arg == "--help") {
      std::cout << kHelp;
      return std::nullopt;
    }
    if (arg == "--version") {
      std::cout << "tsrun (tsbridge) " << TSBRIDGE_VERSION << ", LibTorch " << torch_version << " (built for "
                << TORCH_VERSION << ")\n"
                << "features: " << tsbridge::features_text(tsbridge::build_features()) << "\n";
      return std::nullopt;
    }
    const Flag* flag = find_flag(arg);
    if (!flag) {
      if (arg == "--warmup") throw UsageError{"--warmup is now --untimed-calls (warm-up means --warmup-calls)"};
      if (arg.size() > 1 && arg[0] == '-') throw UsageError{"unknown option '" + arg + "' (see tsrun --help)"};
      positional.push_back(arg);
      continue;
    }
    std::string value;
    if (flag->takes_value) {
      if (!inline_value && i + 1 >= argc) throw UsageError{arg + " needs a value"};
      value = inline_value ? *inline_value : argv[++i];
    } else if (inline_value) {
      throw UsageError{arg + " takes no value"};
    }
    flag->apply(options, arg, value);
    given.push_back(flag);
  }
  if (positional.size() != 1) {
    throw UsageError{positional.empty() ? "no model file given (usage: tsrun MODEL.pt [options])"
                                        : "expected one model file, got " + std::to_string(positional.size())};
  }
  options.model = positional[0];
  for (const Flag* flag : given) check_applies(*flag, options.mode);
  check_mode_needs(options);
  return options;
}

}  // namespace tsrun
