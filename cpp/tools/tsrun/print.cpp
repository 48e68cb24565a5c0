#include "print.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <tsbridge/error.h>
#include <tsbridge/tuning_text.h>

namespace tsrun {
namespace {

using nlohmann::json;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

json leaf_json(const tsbridge::NamedValue& leaf) {
  json entry = {{"name", leaf.name}};
  if (!leaf.value.isTensor()) {
    entry["type"] = leaf.value.tagKind();
    if (leaf.value.isInt()) entry["value"] = leaf.value.toInt();
    if (leaf.value.isDouble()) entry["value"] = leaf.value.toDouble();
    if (leaf.value.isBool()) entry["value"] = leaf.value.toBool();
    if (leaf.value.isString()) entry["value"] = leaf.value.toStringRef();
    return entry;
  }
  const auto summary = tsbridge::summarize(leaf.value.toTensor());
  entry["dtype"] = summary.dtype;
  entry["shape"] = summary.shape;
  entry["device"] = summary.device;
  if (summary.numel > 0) {
    entry["min"] = summary.min;
    entry["max"] = summary.max;
    entry["mean"] = summary.mean;
    entry["first"] = summary.first_values;
  }
  return entry;
}

json spec_json(const tsbridge::TensorSpec& spec) {
  json entry = {{"name", spec.name}, {"type", spec.type}, {"text", spec.to_string()}};
  entry["dtype"] = spec.dtype.empty() ? json(nullptr) : json(spec.dtype);
  if (spec.shape) {
    entry["shape"] = json::array();
    for (const auto& dim : *spec.shape) entry["shape"].push_back(dim.is_dynamic() ? json(dim.name) : json(dim.size));
  } else {
    entry["shape"] = nullptr;
  }
  return entry;
}

json bench_json(const tsbridge::BenchmarkResult& r, const std::vector<double>& percentiles, int64_t batch) {
  json percentile_values = json::object();
  for (double p : percentiles) percentile_values[format_number(p)] = r.percentile_ms(p);
  return {{"iterations", r.latencies_ms.size()},
          {"first_call_ms", r.first_call_ms},
          {"min_ms", r.min_ms()},
          {"mean_ms", r.mean_ms()},
          {"stddev_ms", r.stddev_ms()},
          {"max_ms", r.max_ms()},
          {"percentiles_ms", percentile_values},
          {"inferences_per_second", r.calls_per_second()},
          {"samples_per_second", r.calls_per_second() * static_cast<double>(batch)}};
}

void print_values(const tsbridge::NamedValue& leaf) {
  if (!leaf.value.isTensor()) return;
  const auto& tensor = leaf.value.toTensor();
  constexpr int64_t kMaxPrinted = 1000;
  if (tensor.numel() > kMaxPrinted) {
    std::cout << "    (" << tensor.numel() << " values: more than " << kMaxPrinted
              << " to print; write them with --output)\n";
    return;
  }
  std::cout << tensor.detach().to(c10::kCPU) << "\n";
}

// A reduced precision: what it computes in, and how far from fp32 eager the export measured it.
void print_precision(const tsbridge::PrecisionRecord& precision) {
  double worst = 0;
  for (const auto& check : precision.checks) {
    for (const auto& output : check.outputs) worst = std::max(worst, output.max_abs_error.value_or(0.0));
  }
  std::string needs;
  for (const auto& feature : precision.cpu_features) needs += (needs.empty() ? "" : ", ") + feature;
  std::cout << "precision:   " << precision.compute << " (max abs error " << format_number(worst)
            << " against fp32 eager, within rtol " << format_number(precision.rtol) << ", atol "
            << format_number(precision.atol) << "; needs " << (needs.empty() ? "-" : needs) << ")\n";
}

// How a .pt2 was compiled: its build, compile time and weights.
void print_aoti(const tsbridge::AotiRecord& aoti) {
  std::cout << "compiled:    " << (aoti.build.empty() ? "unrecorded" : aoti.build) << " build";
  if (aoti.compile_seconds) std::cout << " in " << format_number(*aoti.compile_seconds) << " s";
  if (aoti.prepacked) std::cout << (*aoti.prepacked ? ", weights prepacked for oneDNN" : ", weights as exported");
  if (marks_kernels(aoti)) std::cout << " (profiling: --profile shows each kernel, each call pays for it)";
  std::cout << "\n";
}

}  // namespace

bool marks_kernels(const tsbridge::AotiRecord& aoti) { return aoti.build == "kernel-profile"; }

void print_run(const tsbridge::Model& model, const std::string& method, const std::vector<tsbridge::NamedValue>& inputs,
               const std::vector<tsbridge::NamedValue>& outputs, bool with_values) {
  std::cout << "model: " << model.path();
  if (const auto* manifest = model.manifest()) {
    std::cout << " (" << manifest->capture << (manifest->frozen ? ", frozen" : "") << ", torch "
              << manifest->torch_version << ")";
  } else {
    std::cout << " (no tsbridge manifest)";
  }
  std::cout << "\nmethod: " << method << "\ninputs:\n";
  for (const auto& input : inputs) std::cout << "  " << tsbridge::describe(input) << "\n";
  std::cout << "outputs:\n";
  for (const auto& output : outputs) {
    std::cout << "  " << tsbridge::describe(output) << "\n";
    if (with_values) print_values(output);
  }
}

// "17.2 ms (1 call)"
static std::string describe(const tsbridge::WarmUp& warm_up) {
  return format_number(warm_up.seconds * 1000) + " ms (" + std::to_string(warm_up.calls) +
         (warm_up.calls == 1 ? " call)" : " calls)");
}

void print_timings(double load_ms, const tsbridge::WarmUp& warm_up, double run_ms) {
  std::cout << "time: load " << format_number(load_ms) << " ms, ";
  if (warm_up.calls > 0) std::cout << "warm-up " << describe(warm_up) << ", ";
  std::cout << "run " << format_number(run_ms) << " ms\n";
}

void print_bench(const tsbridge::BenchmarkResult& r, const std::string& method, int64_t batch, double load_ms,
                 const tsbridge::WarmUp& warm_up, const std::vector<double>& percentiles) {
  std::cout << "benchmark: " << method << ", " << r.latencies_ms.size() << " timed calls, batch " << batch << "\n"
            << "  load        " << format_number(load_ms) << " ms\n";
  if (warm_up.calls > 0) std::cout << "  warm-up     " << describe(warm_up) << "\n";
  std::cout << "  first call  " << format_number(r.first_call_ms) << " ms\n"
            << "  latency ms  min " << format_number(r.min_ms()) << "  mean " << format_number(r.mean_ms());
  for (double p : percentiles) std::cout << "  p" << format_number(p) << " " << format_number(r.percentile_ms(p));
  std::cout << "  max " << format_number(r.max_ms()) << "  stddev " << format_number(r.stddev_ms()) << "\n"
            << "  throughput  " << format_number(r.calls_per_second()) << " inferences/s, "
            << format_number(r.calls_per_second() * static_cast<double>(batch)) << " samples/s\n";
}

void print_self_test(const tsbridge::Model& model, const tsbridge::SelfTestReport& report) {
  std::cout << "self-test: " << model.path() << " (golden sample " << model.manifest()->golden->entry << ", device "
            << model.device().str() << ")\n";
  for (const auto& output : report.outputs) {
    std::cout << "  " << output.name << ": " << (output.passed ? "ok" : "MISMATCH") << ", max abs error "
              << format_number(output.max_abs_error) << ", max rel error " << format_number(output.max_rel_error);
    if (!output.problem.empty()) std::cout << ": " << output.problem;
    std::cout << "\n";
  }
  std::cout << "self-test " << (report.passed ? "passed" : "FAILED") << ": max abs error "
            << format_number(report.max_abs_error) << ", max rel error " << format_number(report.max_rel_error)
            << " (rtol " << format_number(report.rtol) << ", atol " << format_number(report.atol) << ")\n";
}

void print_batch(int64_t batch_size, const tsbridge::BatchResult& result, double seconds) {
  std::cout << "processed " << result.rows << " samples in " << result.batches << " batches of up to " << batch_size
            << " (" << format_number(static_cast<double>(result.rows) / seconds) << " samples/s)\n";
  for (const auto& file : result.files) std::cout << "wrote " << file << "\n";
}

void print_info(const tsbridge::Model& model) {
  const auto stats = model.stats();
  std::cout << "model:       " << model.path() << "\n";
  std::string methods;
  for (const auto& method : model.methods()) methods += (methods.empty() ? "" : ", ") + method;
  std::cout << "format:      "
            << (model.format() == tsbridge::Model::Format::Aoti
                    ? "aoti (a .pt2 package: forward only, tensor inputs, fixed sizes except dynamic dims)"
                    : "torchscript")
            << "\n";
  std::cout << "methods:     " << methods << "\n"
            << "parameters:  " << stats.parameters << " (" << format_number(stats.parameter_bytes / 1024.0)
            << " KiB)\n";
  const auto* manifest = model.manifest();
  if (!manifest) {
    std::cout << "manifest:    none (a plain TorchScript file)\ninputs:\n";
    for (const auto& spec : model.inputs()) std::cout << "  " << spec.name << ": " << spec.to_string() << "\n";
    return;
  }
  std::cout << "made by:     tsbridge " << manifest->tsbridge_version << ", torch " << manifest->torch_version << ", "
            << manifest->capture << (manifest->frozen ? ", frozen" : "")
            << (manifest->layout == "channels_last" ? ", channels-last weights" : "") << "\ninputs:\n";
  for (const auto& spec : manifest->inputs) std::cout << "  " << spec.name << ": " << spec.to_string() << "\n";
  std::cout << "outputs:\n";
  for (const auto& spec : manifest->outputs) std::cout << "  " << spec.name << ": " << spec.to_string() << "\n";
  std::string dynamic;
  for (const auto& spec : manifest->inputs) {
    if (!spec.shape) continue;
    for (size_t d = 0; d < spec.shape->size(); ++d) {
      const auto& dim = (*spec.shape)[d];
      if (dim.is_dynamic())
        dynamic += (dynamic.empty() ? "" : ", ") + dim.name + " (" + spec.name + " dim " + std::to_string(d) + ")";
    }
  }
  std::cout << "dynamic:     " << (dynamic.empty() ? "none" : dynamic) << "\n";
  if (manifest->precision) print_precision(*manifest->precision);
  if (manifest->aoti) print_aoti(*manifest->aoti);
  if (manifest->golden) {
    std::cout << "golden:      " << manifest->golden->entry << " (rtol " << format_number(manifest->golden->rtol)
              << ", atol " << format_number(manifest->golden->atol) << ")\n";
  } else {
    std::cout << "golden:      none\n";
  }
  if (manifest->integrity) {
    std::cout << "integrity:   " << manifest->integrity->algorithm << " of " << manifest->integrity->entries.size()
              << " entries\n";
  } else {
    std::cout << "integrity:   none recorded\n";
  }
  std::cout << "metadata:    " << manifest->metadata_json << "\n";
  print_applied_tuning(model.tuning());
}

std::string to_json(const tsbridge::Model& model, const std::string& method,
                    const std::vector<tsbridge::NamedValue>& inputs, const std::vector<tsbridge::NamedValue>& outputs,
                    const JsonTimings& timings, const std::vector<std::string>& files) {
  json doc = {{"model", model.path()},
              {"format", tsbridge::Model::format_name(model.format())},
              {"method", method},
              {"device", model.device().str()}};
  doc["inputs"] = json::array();
  for (const auto& input : inputs) doc["inputs"].push_back(leaf_json(input));
  doc["outputs"] = json::array();
  for (const auto& output : outputs) doc["outputs"].push_back(leaf_json(output));
  json times = {{"load_ms", timings.load_ms},
                {"warmup_calls", timings.warm_up.calls},
                {"warmup_ms", timings.warm_up.seconds * 1000}};
  if (timings.run_ms >= 0) times["run_ms"] = timings.run_ms;
  if (timings.bench) times["bench"] = bench_json(*timings.bench, timings.percentiles, timings.batch);
  doc["timings"] = times;
  doc["files"] = files;
  return doc.dump(2);
}

std::string info_json(const tsbridge::Model& model) {
  const auto stats = model.stats();
  const auto* manifest = model.manifest();
  json doc = {{"model", model.path()},
              {"format", tsbridge::Model::format_name(model.format())},
              {"device", model.device().str()},
              {"methods", model.methods()},
              {"parameters", stats.parameters},
              {"parameter_bytes", stats.parameter_bytes},
              {"manifest", manifest ? json::parse(manifest->json) : json(nullptr)},
              {"tuning", json::parse(tsbridge::applied_tuning_json(model.tuning()))}};
  doc["inputs"] = json::array();
  for (const auto& spec : model.inputs()) doc["inputs"].push_back(spec_json(spec));
  doc["outputs"] = json::array();
  for (const auto& spec : model.outputs()) doc["outputs"].push_back(spec_json(spec));
  return doc.dump(2);
}

std::string code_json(const tsbridge::Model& model, const std::string& method, const std::string& code) {
  return json{{"model", model.path()}, {"method", method}, {"code", code}}.dump(2);
}

std::string self_test_json(const tsbridge::Model& model, const tsbridge::SelfTestReport& report) {
  json doc = {{"model", model.path()},
              {"device", model.device().str()},
              {"golden", model.manifest()->golden->entry},
              {"passed", report.passed},
              {"rtol", report.rtol},
              {"atol", report.atol},
              {"max_abs_error", report.max_abs_error},
              {"max_rel_error", report.max_rel_error}};
  doc["outputs"] = json::array();
  for (const auto& output : report.outputs) {
    doc["outputs"].push_back({{"name", output.name},
                              {"passed", output.passed},
                              {"max_abs_error", output.max_abs_error},
                              {"max_rel_error", output.max_rel_error},
                              {"problem", output.problem}});
  }
  return doc.dump(2);
}

std::string batch_json(const tsbridge::Model& model, const std::string& method, int64_t batch_size,
                       const tsbridge::BatchResult& result, double seconds) {
  return json{{"model", model.path()},
              {"method", method},
              {"batch_size", batch_size},
              {"rows", result.rows},
              {"batches", result.batches},
              {"outputs", result.outputs},
              {"files", result.files},
              {"seconds", seconds},
              {"samples_per_second", static_cast<double>(result.rows) / seconds}}
      .dump(2);
}

void write_times(const std::string& path, const tsbridge::BenchmarkResult& result, double load_ms) {
  std::ofstream file(path);
  if (!file) throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument, path + ": cannot be written");
  file << json{{"load_ms", load_ms}, {"first_call_ms", result.first_call_ms}, {"latencies_ms", result.latencies_ms}}
              .dump()
       << "\n";
}

ProgressBar::ProgressBar(bool enabled) : enabled_(enabled), started_(now_seconds()) {}

void ProgressBar::update(int64_t done, int64_t total) {
  if (!enabled_ || total <= 0) return;
  constexpr int kWidth = 30;
  const double fraction = static_cast<double>(done) / static_cast<double>(total);
  const double elapsed = now_seconds() - started_;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  const double eta = rate > 0 ? static_cast<double>(total - done) / rate : 0;
  const int filled = static_cast<int>(fraction * kWidth);
  std::fprintf(stderr, "\r[%s%s] %lld/%lld  %.0f samples/s  ETA %.0fs ", std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str(), static_cast<long long>(done), static_cast<long long>(total),
               rate, eta);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (enabled_) std::fprintf(stderr, "\n");
}

}  // namespace tsrun
