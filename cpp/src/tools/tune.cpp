#include "tsbridge/tune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include <ATen/Parallel.h>

#include "backends/backend.h"
#include "core/sidecar.h"
#include "tsbridge/benchmark.h"
#include "tsbridge/error.h"
#include "tsbridge/golden_sample.h"
#include "tsbridge/model.h"
#include "tsbridge/self_test.h"
#include "tsbridge/summary.h"
#include "tsbridge/tuning_text.h"

namespace tsbridge {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorCode::InvalidArgument, "tune: " + what); }

void check_options(const TuneOptions& options, int cores) {
  if (!(std::isfinite(options.budget_seconds) && options.budget_seconds > 0)) {
    invalid("budget_seconds must be a number > 0, got " + format_number(options.budget_seconds));
  }
  for (int threads : options.threads) {
    if (threads < 1 || threads > cores) {
      invalid("thread count " + std::to_string(threads) + " is outside 1 to this machine's " + std::to_string(cores) +
              " cores");
    }
  }
  if (!(options.noise >= 0 && options.noise < 1))
    invalid("noise must be in [0, 1), got " + format_number(options.noise));
  if (options.rounds < 1 || options.rounds > 100)
    invalid("rounds must be 1 to 100, got " + std::to_string(options.rounds));
  if (options.clients < 1 || options.clients > 64) {
    invalid("clients must be 1 to 64, got " + std::to_string(options.clients));
  }
}

// The counts to try, LibTorch's default (the count now) first, then the rest ascending.
std::vector<int> thread_counts(const TuneOptions& options, int cores, int current) {
  std::vector<int> counts = options.threads;
  if (counts.empty()) {
    for (int n = 1; n <= cores; ++n) counts.push_back(n);
  }
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  const auto found = std::find(counts.begin(), counts.end(), current);
  if (found != counts.end()) std::rotate(counts.begin(), found, found + 1);
  return counts;
}

// A file's settings that are fixed at load (per model, or LibTorch's
// executor, which a module takes at its first call), simplest first.
struct Variant {
  std::string label;
  RuntimeSettings settings;
};

std::vector<Variant> variants(Model::Format format, int clients) {
  if (format == Model::Format::Aoti) {
    std::vector<Variant> list;
    // One caller keeps the default runners: they matter only to concurrent calls.
    if (clients == 1) return {{"", {}}};
    for (int runners = 1; runners <= clients; runners *= 2) {
      RuntimeSettings s;
      s.runners = runners;
      list.push_back({"runners=" + std::to_string(runners), s});
    }
    return list;
  }
  RuntimeSettings profiling, legacy, fusion;
  profiling.optimize_graph = legacy.optimize_graph = fusion.optimize_graph = true;
  profiling.profiling_executor = fusion.profiling_executor = true;
  legacy.profiling_executor = false;
  fusion.onednn_fusion = true;
  return {{"", {}},
          {"optimize_graph profiling", profiling},
          {"optimize_graph legacy", legacy},
          {"optimize_graph onednn_fusion", fusion}};
}

// LibTorch's process-wide settings for one candidate.
void set_process(const RuntimeSettings& settings) {
  if (settings.threads > 0) at::set_num_threads(settings.threads);
  detail::apply_executor_settings(settings.profiling_executor.value_or(true), settings.onednn_fusion);
}

// One loaded model of a file and variant, shared by its thread counts.
struct Loaded {
  std::string format, build, label;
  RuntimeSettings settings;
  std::optional<Model> model;
  std::vector<c10::IValue> inputs;
  std::string failure;  // set when it could not be loaded or failed its checks
};

// An error's line without the file's path in front: the record names the candidate.
std::string failed(const Model& model, const Error& e) {
  std::string line = e.what();
  const std::string prefix = model.path() + ": ";
  if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
  return "failed: " + line;
}

// "" when the golden sample replays within its tolerances, else why not.
std::string check_golden(const Model& model) {
  try {
    const SelfTestReport report = self_test(model);
    if (report.passed) return "";
    for (const auto& output : report.outputs) {
      if (!output.passed) return "failed: " + output.name + " differs from the golden sample: " + output.problem;
    }
    return "failed: differs from the golden sample";
  } catch (const Error& e) {
    return failed(model, e);
  }
}

Loaded prepare(const TuneFile& file, Model::Format format, const Variant& variant) {
  Loaded loaded;
  loaded.format = Model::format_name(format);
  loaded.build = file.build;
  loaded.label = variant.label;
  loaded.settings = variant.settings;
  LoadOptions options;
  options.apply_tuning = false;  // measure the candidate's own settings, not a record's
  if (variant.settings.optimize_graph) options.torchscript = TorchScriptOptions{true};
  if (variant.settings.runners > 0) options.aoti = AotiOptions{variant.settings.runners};
  set_process(variant.settings);  // before the first call: a module keeps the executor it first ran with
  loaded.model = Model::load(file.path, options);
  loaded.inputs = read_golden_sample(*loaded.model).inputs;
  loaded.failure = check_golden(*loaded.model);
  try {
    // The optimised graph is made in these calls (and oneDNN's fuser fails in them, if it does).
    if (loaded.failure.empty())
      loaded.model->warm_up(loaded.inputs, steady_state_calls(variant.settings.optimize_graph));
  } catch (const Error& e) {
    loaded.failure = failed(*loaded.model, e);
  }
  if (loaded.failure.empty()) loaded.failure = check_golden(*loaded.model);
  return loaded;
}

// A candidate: a loaded model at one thread count.
struct Entry {
  size_t loaded;
  TuningCandidate record;
  std::vector<double> figures;
  bool primary = false;  // a file at its defaults and the first thread count: timed whatever the budget
};

std::string candidate_name(const Loaded& loaded, int threads) {
  std::string name = loaded.format;
  if (loaded.build != "default") name += " " + loaded.build;
  if (!loaded.label.empty()) name += " " + loaded.label;
  return name + " threads=" + std::to_string(threads);
}

// Microseconds per call of one timed round: the median call with one
// client, wall time per call with several.
double time_round(const Loaded& loaded, int clients, double seconds) {
  BenchmarkOptions options;
  options.untimed_calls = 2;
  options.iterations = 0;
  options.duration_seconds = seconds;
  options.clients = clients;
  const BenchmarkResult result = benchmark(*loaded.model, loaded.inputs, options);
  if (clients == 1) return result.percentile_ms(50) * 1000;
  return result.total_seconds * 1e6 / static_cast<double>(result.latencies_ms.size());
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string us(double value) { return format_number(std::round(value * 100) / 100) + " us"; }

}  // namespace

namespace {

// Puts LibTorch's process-wide settings back as they were, however tune ends.
class ProcessRestore {
 public:
  ProcessRestore() : threads_(at::get_num_threads()), executor_(detail::current_executor_settings()) {}
  ~ProcessRestore() {
    at::set_num_threads(threads_);
    detail::apply_executor_settings(executor_.profiling_executor, executor_.onednn_fusion);
  }
  ProcessRestore(const ProcessRestore&) = delete;
  ProcessRestore& operator=(const ProcessRestore&) = delete;

 private:
  int threads_;
  detail::ExecutorState executor_;
};

Model::Format format_of(const TuneFile& file) {
  LoadOptions options;
  options.apply_tuning = false;
  const Model model = Model::load(file.path, options);
  if (!model.manifest() || !model.manifest()->golden) {
    invalid(file.path + " has no golden sample to check the candidates against (tsbridge.export stores one)");
  }
  return model.format();
}

// Every file's variants, loaded and checked while half the budget lasts.
std::vector<Loaded> load_all(const std::vector<TuneFile>& files, const TuneOptions& options, Clock::time_point start) {
  std::vector<Loaded> all;
  for (const auto& file : files) {
    const Model::Format format = format_of(file);
    const auto list = options.search_settings ? variants(format, options.clients) : std::vector<Variant>{{"", {}}};
    for (const auto& variant : list) {
      // A file's defaults are always loaded: the file itself is the candidate.
      if (seconds_since(start) > options.budget_seconds / 2 && !variant.label.empty()) {
        Loaded skipped;
        skipped.format = Model::format_name(format);
        skipped.build = file.build;
        skipped.label = variant.label;
        skipped.settings = variant.settings;
        skipped.failure = "skipped: the budget ran out before it was loaded";
        all.push_back(std::move(skipped));
        continue;
      }
      try {
        all.push_back(prepare(file, format, variant));
      } catch (const Error& e) {
        Loaded failed;
        failed.format = Model::format_name(format);
        failed.build = file.build;
        failed.label = variant.label;
        failed.settings = variant.settings;
        failed.failure = std::string("failed: ") + e.what();
        all.push_back(std::move(failed));
      }
    }
  }
  return all;
}

std::vector<Entry> expand(const std::vector<Loaded>& all, const std::vector<int>& counts) {
  std::vector<Entry> entries;
  for (size_t i = 0; i < all.size(); ++i) {
    for (int threads : counts) {
      Entry entry{i, {}, {}, all[i].label.empty() && threads == counts.front()};
      entry.record.name = candidate_name(all[i], threads);
      entry.record.format = all[i].format;
      entry.record.build = all[i].build;
      entry.record.settings = all[i].settings;
      entry.record.settings.threads = threads;
      entry.record.status = all[i].failure;
      if (entry.record.status.empty()) {
        set_process(entry.record.settings);  // the checks again at this thread count
        entry.record.status = check_golden(*all[i].model);
      }
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

// Interleaved rounds over the candidates that passed, sharing what the
// budget has left; those that do not fit are skipped, the last (most complex) first.
void time_all(const std::vector<Loaded>& all, std::vector<Entry>& entries, const TuneOptions& options,
              Clock::time_point start) {
  std::vector<Entry*> timed;
  for (auto& entry : entries) {
    if (entry.record.status.empty()) timed.push_back(&entry);
  }
  // Each file's defaults first, so a short budget still compares the files.
  std::stable_partition(timed.begin(), timed.end(), [](const Entry* e) { return e->primary; });
  size_t primaries = 0;
  for (const Entry* e : timed) primaries += e->primary ? 1 : 0;
  const double left = std::max(0.0, options.budget_seconds - seconds_since(start)) * 0.8;
  const size_t fit = std::max(primaries, static_cast<size_t>(left / (options.rounds * kMinRoundSeconds)));
  for (size_t i = fit; i < timed.size(); ++i) {
    timed[i]->record.status = "skipped: the budget left no time to time it";
  }
  if (timed.size() > fit) timed.resize(fit);
  const double round_seconds =
      std::clamp(left / static_cast<double>(options.rounds * std::max<size_t>(1, timed.size())), kMinRoundSeconds,
                 kMaxRoundSeconds);
  for (int round = 0; round < options.rounds; ++round) {
    for (size_t i = 0; i < timed.size(); ++i) {
      Entry& entry = *timed[(i + static_cast<size_t>(round)) % timed.size()];  // each round starts elsewhere
      if (!entry.record.status.empty()) continue;
      set_process(entry.record.settings);
      try {
        entry.figures.push_back(time_round(all[entry.loaded], options.clients, round_seconds));
      } catch (const Error& e) {
        entry.record.status = failed(*all[entry.loaded].model, e);
      }
    }
  }
  for (Entry* entry : timed) {
    if (!entry->record.status.empty() || entry->figures.empty()) continue;
    entry->record.us_per_call = median(entry->figures);
    const auto [low, high] = std::minmax_element(entry->figures.begin(), entry->figures.end());
    entry->record.spread = (*high - *low) / entry->record.us_per_call;
    entry->record.status = "ok";
  }
}

// The simplest candidate within the margin of the fastest, and why.
void choose(const std::vector<Entry>& entries, const TuneOptions& options, TuningRecord& record) {
  int best = -1;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& c = entries[i].record;
    if (c.status == "ok" && (best < 0 || c.us_per_call < entries[best].record.us_per_call)) best = static_cast<int>(i);
  }
  if (best < 0) {
    std::string why = entries.empty() ? "no candidates" : entries.front().record.status;
    throw Error(ErrorCode::InferenceFailed, "tune: no candidate passed its checks (the first: " + why + ")");
  }
  const TuningCandidate& fastest = entries[best].record;
  record.noise = std::max(options.noise, fastest.spread / 2);
  const double limit = fastest.us_per_call * (1 + record.noise);
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].record.status == "ok" && entries[i].record.us_per_call <= limit) {
      record.winner_index = static_cast<int>(i);
      break;
    }
  }
  const TuningCandidate& kept = entries[record.winner_index].record;
  record.settings = kept.settings;
  const std::string margin = format_number(std::round(record.noise * 1000) / 10) + "%";
  if (record.winner_index == best) {
    record.reason = "fastest, " + kept.name + " at " + us(kept.us_per_call) +
                    "; every simpler candidate is slower by more than the " + margin + " noise margin";
  } else {
    record.reason = kept.name + " at " + us(kept.us_per_call) + " is within the " + margin +
                    " noise margin of the fastest, " + fastest.name + " at " + us(fastest.us_per_call) +
                    ", and simpler";
  }
}

}  // namespace

TuningRecord tune(const std::vector<TuneFile>& files, const TuneOptions& options) {
  const auto start = Clock::now();
  const MachineInfo& machine = this_machine();
  check_options(options, machine.cores);
  if (files.empty()) invalid("no files to tune");
  const ProcessRestore restore;
  const int current = at::get_num_threads();
  const auto counts =
      options.search_settings ? thread_counts(options, machine.cores, current) : std::vector<int>{current};
  const auto all = load_all(files, options, start);
  auto entries = expand(all, counts);
  time_all(all, entries, options, start);
  TuningRecord record;
  record.rounds = options.rounds;
  record.machine = machine;
  record.measured_at = now_utc();
  choose(entries, options, record);
  for (auto& entry : entries) record.candidates.push_back(std::move(entry.record));
  return record;
}

TuningRecord tune_runtime(const std::string& path, const TuneOptions& options) {
  check_options(options, this_machine().cores);
  detail::require_sidecar_writable(path);
  const TuningRecord record = tune({TuneFile{path}}, options);
  write_sidecar(path, record);
  return record;
}

}  // namespace tsbridge
