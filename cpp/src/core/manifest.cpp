#include "tsbridge/manifest.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/tuning_json.h"
#include "tsbridge/error.h"

namespace tsbridge {
namespace {

using nlohmann::json;

constexpr int kMaxManifestDepth = 64;

[[noreturn]] void malformed(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::InvalidArchive, "malformed tsbridge manifest: " + where + ": " + what);
}

const json& field(const json& object, const std::string& key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) malformed(where, "missing field '" + key + "'");
  return *it;
}

std::string string_field(const json& object, const std::string& key, const std::string& where) {
  const json& value = field(object, key, where);
  if (!value.is_string()) malformed(where + "." + key, std::string("expected a string, got ") + value.type_name());
  return value.get<std::string>();
}

std::string optional_string(const json& object, const std::string& key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) malformed(where + "." + key, std::string("expected a string, got ") + it->type_name());
  return it->get<std::string>();
}

std::vector<Dim> read_dims(const json& value, const std::string& where) {
  if (!value.is_array()) malformed(where, std::string("expected an array, got ") + value.type_name());
  std::vector<Dim> dims;
  for (const auto& item : value) {
    if (item.is_number_integer() && item.get<int64_t>() >= 0) {
      dims.push_back(Dim{item.get<int64_t>(), ""});
    } else if (item.is_string() && !item.get<std::string>().empty()) {
      dims.push_back(Dim{-1, item.get<std::string>()});
    } else {
      malformed(where, "each dim must be a size >= 0 or a dynamic dim's name, got " + item.dump());
    }
  }
  return dims;
}

std::vector<TensorSpec> parse_specs(const json& object, const std::string& key) {
  const json& list = field(object, key, "manifest");
  if (!list.is_array()) malformed(key, std::string("expected an array, got ") + list.type_name());
  std::vector<TensorSpec> specs;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = key + "[" + std::to_string(i) + "]";
    const json& item = list[i];
    if (!item.is_object()) malformed(where, std::string("expected an object, got ") + item.type_name());
    TensorSpec spec;
    spec.name = string_field(item, "name", where);
    spec.type = string_field(item, "type", where);
    spec.dtype = optional_string(item, "dtype", where);
    if (auto shape = item.find("shape"); shape != item.end() && !shape->is_null()) {
      spec.shape = read_dims(*shape, where + ".shape");
    }
    if (auto path = item.find("path"); path != item.end()) {
      if (!path->is_array()) malformed(where + ".path", "expected an array");
      for (const auto& step : *path) {
        if (step.is_number_integer()) spec.path.emplace_back(step.get<int64_t>());
        else if (step.is_string()) spec.path.emplace_back(step.get<std::string>());
        else malformed(where + ".path", "each step must be an index or a key, got " + step.dump());
      }
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

double tolerance(const json& object, const std::string& key, const std::string& where) {
  const json& value = field(object, key, where);
  if (!value.is_number() || !(value.get<double>() >= 0) || !std::isfinite(value.get<double>())) {
    malformed(where + "." + key, "expected a number >= 0, got " + value.dump());
  }
  return value.get<double>();
}

int64_t size_field(const json& value, const std::string& where) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    malformed(where, "expected a size >= 0, got " + value.dump());
  }
  return value.get<int64_t>();
}

// An optional object section of the manifest: nullptr when absent, refused
// when present but not an object.
const json* optional_section(const json& doc, const char* key) {
  auto it = doc.find(key);
  if (it == doc.end()) return nullptr;
  if (!it->is_object()) malformed(key, std::string("expected an object, got ") + it->type_name());
  return &*it;
}

// Optional (TorchScript archives and older packages have none); a bound
// misread would let the compiled kernels read past a buffer, so every part
// must be right.
std::map<std::string, DimRange> parse_dims(const json& doc) {
  std::map<std::string, DimRange> dims;
  const json* it = optional_section(doc, "dims");
  if (!it) return dims;
  for (const auto& item : it->items()) {
    const std::string where = "dims['" + item.key() + "']";
    if (!item.value().is_object()) malformed(where, std::string("expected an object, got ") + item.value().type_name());
    DimRange range;
    range.min = size_field(field(item.value(), "min", where), where + ".min");
    if (auto max = item.value().find("max"); max != item.value().end() && !max->is_null()) {
      range.max = size_field(*max, where + ".max");
      if (*range.max < range.min) malformed(where, "max " + max->dump() + " is below min");
    }
    dims.emplace(item.key(), range);
  }
  return dims;
}

// Optional, but when present every part must be right: a self-test that ran
// with a misread tolerance would prove nothing.
std::optional<GoldenSample> parse_golden(const json& doc) {
  const json* it = optional_section(doc, "golden");
  if (!it) return std::nullopt;
  GoldenSample golden;
  golden.entry = string_field(*it, "entry", "golden");
  if (golden.entry.empty()) malformed("golden.entry", "expected an extra file's name, got \"\"");
  golden.rtol = tolerance(*it, "rtol", "golden");
  golden.atol = tolerance(*it, "atol", "golden");
  golden.encoding = optional_string(*it, "encoding", "golden");
  if (!golden.encoding.empty() && golden.encoding != "base64") {
    throw Error(ErrorCode::UnsupportedVersion, "tsbridge manifest: golden.encoding '" + golden.encoding +
                                                   "' is not one this runtime reads (it reads base64)");
  }
  return golden;
}

// Optional (older archives have none), but when present it must be whole:
// a digest list a reader half-understood would check less than it claims.
std::optional<IntegrityRecord> parse_integrity(const json& doc) {
  const json* it = optional_section(doc, "integrity");
  if (!it) return std::nullopt;
  IntegrityRecord integrity;
  integrity.algorithm = string_field(*it, "algorithm", "integrity");
  const json& entries = field(*it, "entries", "integrity");
  if (!entries.is_object()) {
    malformed("integrity.entries", std::string("expected an object, got ") + entries.type_name());
  }
  for (const auto& item : entries.items()) {
    const std::string& name = item.key();
    const json& digest = item.value();
    if (name.empty()) malformed("integrity.entries", "an entry name is empty");
    if (!digest.is_string()) {
      malformed("integrity.entries['" + name + "']", std::string("expected a hex digest, got ") + digest.type_name());
    }
    const std::string hex = digest.get<std::string>();
    const bool is_hex = !hex.empty() && hex.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!is_hex)
      malformed("integrity.entries['" + name + "']", "expected a lowercase hex digest, got " + digest.dump());
    integrity.entries.emplace(name, hex);
  }
  return integrity;
}

// Optional (TorchScript archives, older packages), but whole when present:
// a feature misread is an instruction this CPU may lack (SIGILL).
std::optional<CpuRequirements> parse_cpu(const json& doc) {
  const json* it = optional_section(doc, "cpu");
  if (!it) return std::nullopt;
  CpuRequirements cpu;
  cpu.target = string_field(*it, "target", "cpu");
  cpu.arch = string_field(*it, "arch", "cpu");
  cpu.vec_isa = optional_string(*it, "vec_isa", "cpu");
  const json& features = field(*it, "features", "cpu");
  if (!features.is_array()) malformed("cpu.features", std::string("expected an array, got ") + features.type_name());
  for (const auto& feature : features) {
    if (!feature.is_string() || feature.get<std::string>().empty()) {
      malformed("cpu.features", "each feature must be a non-empty name, got " + feature.dump());
    }
    cpu.features.push_back(feature.get<std::string>());
  }
  return cpu;
}

std::string parse_aoti_string(const json& doc, const char* key) {
  auto it = doc.find("aoti");
  if (it == doc.end() || !it->is_object()) return "";
  return optional_string(*it, key, "aoti");
}

std::optional<double> optional_seconds(const json& object, const std::string& key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  return tolerance(object, key, where);  // a finite number >= 0, as a tolerance is
}

// Optional, every part too (packages written before a field existed lack it).
std::optional<AotiRecord> parse_aoti(const json& doc) {
  const json* it = optional_section(doc, "aoti");
  if (!it) return std::nullopt;
  AotiRecord aoti;
  aoti.compile_seconds = optional_seconds(*it, "compile_seconds", "aoti");
  if (auto configs = it->find("inductor_configs"); configs != it->end()) {
    if (!configs->is_object()) malformed("aoti.inductor_configs", "expected an object");
    aoti.inductor_configs_json = configs->dump();
  }
  aoti.build = optional_string(*it, "build", "aoti");
  if (auto prepacked = it->find("prepacked"); prepacked != it->end() && !prepacked->is_null()) {
    if (!prepacked->is_boolean()) malformed("aoti.prepacked", "expected true or false");
    aoti.prepacked = prepacked->get<bool>();
  }
  return aoti;
}

std::optional<FormatSelection> parse_selection(const json& doc) {
  const json* it = optional_section(doc, "selection");
  if (!it) return std::nullopt;
  FormatSelection selection;
  selection.chosen = string_field(*it, "chosen", "selection");
  const json& medians = field(*it, "median_us", "selection");
  if (!medians.is_object()) malformed("selection.median_us", "expected an object");
  for (const auto& item : medians.items()) {
    selection.median_us.emplace(item.key(), tolerance(medians, item.key(), "selection.median_us"));
  }
  if (auto rounds = it->find("rounds"); rounds != it->end() && !rounds->is_null()) {
    selection.rounds = size_field(*rounds, "selection.rounds");
  }
  return selection;
}

std::optional<double> finite_or_null(const json& object, const std::string& key, const std::string& where) {
  const json& value = field(object, key, where);
  if (value.is_null()) return std::nullopt;
  if (!value.is_number() || !std::isfinite(value.get<double>()))
    malformed(where + "." + key, "expected a number or null");
  return value.get<double>();
}

std::vector<std::string> string_list(const json& object, const std::string& key, const std::string& where) {
  const json& list = field(object, key, where);
  if (!list.is_array()) malformed(where + "." + key, "expected an array of strings");
  std::vector<std::string> items;
  for (const auto& item : list) {
    if (!item.is_string()) malformed(where + "." + key, "expected an array of strings");
    items.push_back(item.get<std::string>());
  }
  return items;
}

std::optional<PrecisionRecord> parse_precision(const json& doc) {
  const json* it = optional_section(doc, "precision");
  if (!it) return std::nullopt;
  PrecisionRecord record;
  record.compute = string_field(*it, "compute", "precision");
  if (record.compute != "bf16" && record.compute != "fp16") {
    malformed("precision.compute", "expected bf16 or fp16, got " + record.compute);
  }
  record.rtol = tolerance(*it, "rtol", "precision");
  record.atol = tolerance(*it, "atol", "precision");
  const json& checks = field(*it, "checks", "precision");
  if (!checks.is_array()) malformed("precision.checks", "expected an array");
  for (size_t i = 0; i < checks.size(); ++i) {
    const std::string where = "precision.checks[" + std::to_string(i) + "]";
    PrecisionCheck check;
    check.name = string_field(checks[i], "name", where);
    const json& outputs = field(checks[i], "outputs", where);
    if (!outputs.is_array()) malformed(where + ".outputs", "expected an array");
    for (const auto& output : outputs) {
      check.outputs.push_back({string_field(output, "output", where + ".outputs"),
                               finite_or_null(output, "max_abs_error", where + ".outputs"),
                               finite_or_null(output, "max_rel_error", where + ".outputs")});
    }
    record.checks.push_back(std::move(check));
  }
  record.cpu_features = string_list(*it, "cpu_features", "precision");
  return record;
}

std::optional<MigratedFrom> parse_migrated_from(const json& doc) {
  const json* it = optional_section(doc, "migrated_from");
  if (!it) return std::nullopt;
  MigratedFrom from;
  from.file = string_field(*it, "file", "migrated_from");
  from.sha256 = string_field(*it, "sha256", "migrated_from");
  from.converter = string_field(*it, "converter", "migrated_from");
  from.capture = optional_string(*it, "method", "migrated_from");
  from.tsbridge_version = optional_string(*it, "tsbridge_version", "migrated_from");
  from.torch_version = optional_string(*it, "torch_version", "migrated_from");
  return from;
}

// "backend" (absent in TorchScript archives) says what the file holds; the
// top-level "format" is the marker every tsbridge manifest carries.
std::string parse_format(const json& doc) {
  if (auto marker = doc.find("format"); marker != doc.end() && *marker != "tsbridge") {
    malformed("format", "expected \"tsbridge\", got " + marker->dump());
  }
  const std::string backend = optional_string(doc, "backend", "manifest");
  if (backend.empty()) return "torchscript";
  if (backend != "torchscript" && backend != "aoti") {
    malformed("backend", "expected \"torchscript\" or \"aoti\", got \"" + backend + "\"");
  }
  return backend;
}

}  // namespace

std::string TensorSpec::to_string() const {
  if (!is_tensor()) return type;
  if (dtype.empty() && !shape) return "Tensor";
  std::string text = dtype.empty() ? "Tensor" : dtype;
  if (shape) {
    text += "[";
    for (size_t i = 0; i < shape->size(); ++i) {
      const Dim& dim = (*shape)[i];
      text += (i ? "," : "") + (dim.is_dynamic() ? dim.name : std::to_string(dim.size));
    }
    text += "]";
  }
  return text;
}

Manifest Manifest::parse(const std::string& json_text) {
  // A bound on nesting: nlohmann's parser is iterative, but dump() (the
  // metadata is kept as text) recurses, and a manifest nested 100,000 deep
  // overflowed the stack (found by tests/fuzz). Values deeper than the bound
  // are discarded as they are parsed and the manifest refused.
  bool too_deep = false;
  const nlohmann::json::parser_callback_t bound = [&too_deep](int depth, nlohmann::json::parse_event_t,
                                                              nlohmann::json&) {
    if (depth > kMaxManifestDepth) too_deep = true;
    return !too_deep;
  };
  nlohmann::json doc = nlohmann::json::parse(json_text, bound, /*allow_exceptions=*/false);
  if (too_deep) malformed("manifest", "nested deeper than " + std::to_string(kMaxManifestDepth) + " levels");
  if (doc.is_discarded()) malformed("manifest", "not valid JSON");
  if (!doc.is_object()) malformed("manifest", std::string("expected an object, got ") + doc.type_name());

  const nlohmann::json& version = field(doc, "format_version", "manifest");
  if (!version.is_number_integer()) malformed("format_version", "expected an integer");
  Manifest manifest;
  manifest.format_version = version.get<int>();
  if (manifest.format_version > kManifestFormatVersion || manifest.format_version < 1) {
    throw Error(ErrorCode::UnsupportedVersion, "tsbridge manifest format " + std::to_string(manifest.format_version) +
                                                   " is not supported by this runtime (it reads format " +
                                                   std::to_string(kManifestFormatVersion) + "; written by tsbridge " +
                                                   optional_string(doc, "tsbridge_version", "manifest") + ")");
  }
  manifest.tsbridge_version = string_field(doc, "tsbridge_version", "manifest");
  manifest.torch_version = string_field(doc, "torch_version", "manifest");
  manifest.capture = string_field(doc, "method", "manifest");
  const nlohmann::json& frozen_field = field(doc, "frozen", "manifest");
  if (!frozen_field.is_boolean()) malformed("frozen", "expected true or false");
  manifest.frozen = frozen_field.get<bool>();
  manifest.layout = optional_string(doc, "layout", "manifest");
  if (!manifest.layout.empty() && manifest.layout != "channels_last" && manifest.layout != "contiguous") {
    malformed("layout", "expected \"channels_last\" or \"contiguous\", got \"" + manifest.layout + "\"");
  }
  manifest.inputs = parse_specs(doc, "inputs");
  manifest.outputs = parse_specs(doc, "outputs");
  manifest.dims = parse_dims(doc);
  if (auto metadata = doc.find("metadata"); metadata != doc.end()) {
    if (!metadata->is_object()) malformed("metadata", "expected an object");
    manifest.metadata_json = metadata->dump();
  }
  manifest.golden = parse_golden(doc);
  manifest.integrity = parse_integrity(doc);
  manifest.cpu = parse_cpu(doc);
  manifest.parallel_loops = parse_aoti_string(doc, "threads");
  manifest.device = parse_aoti_string(doc, "device");
  if (const nlohmann::json* tuning = optional_section(doc, "tuning")) {
    manifest.tuning = detail::tuning_from_json(*tuning, "tuning");
  }
  manifest.format = parse_format(doc);
  manifest.aoti = parse_aoti(doc);
  manifest.selection = parse_selection(doc);
  manifest.precision = parse_precision(doc);
  manifest.migrated_from = parse_migrated_from(doc);
  manifest.json = json_text;
  return manifest;
}

namespace {

std::string kind_of(const json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a bool";
  if (value.is_number()) return "a number";
  return "null";
}

// The metadata's value at `key` (nullopt when absent), refused unless
// `is_wanted` accepts it; `wanted` names the kind for the message.
std::optional<json> metadata_value(const std::string& metadata_json, const std::string& key,
                                   bool (json::*is_wanted)() const noexcept, const std::string& wanted) {
  const json metadata = json::parse(metadata_json);
  const auto found = metadata.find(key);
  if (found == metadata.end()) return std::nullopt;
  bool ok = ((*found).*is_wanted)();
  if (ok && wanted == "an array of strings") {
    for (const auto& item : *found) ok = ok && item.is_string();
  }
  if (!ok) throw Error(ErrorCode::InvalidArgument, "metadata '" + key + "' is " + kind_of(*found) + ", not " + wanted);
  return *found;
}

}  // namespace

std::optional<std::string> Manifest::metadata_string(const std::string& key) const {
  const auto value = metadata_value(metadata_json, key, &nlohmann::json::is_string, "a string");
  return value ? std::optional<std::string>(value->get<std::string>()) : std::nullopt;
}

std::optional<double> Manifest::metadata_number(const std::string& key) const {
  const auto value = metadata_value(metadata_json, key, &nlohmann::json::is_number, "a number");
  return value ? std::optional<double>(value->get<double>()) : std::nullopt;
}

std::optional<bool> Manifest::metadata_bool(const std::string& key) const {
  const auto value = metadata_value(metadata_json, key, &nlohmann::json::is_boolean, "a bool");
  return value ? std::optional<bool>(value->get<bool>()) : std::nullopt;
}

std::optional<std::vector<std::string>> Manifest::metadata_strings(const std::string& key) const {
  const auto value = metadata_value(metadata_json, key, &nlohmann::json::is_array, "an array of strings");
  return value ? std::optional<std::vector<std::string>>(value->get<std::vector<std::string>>()) : std::nullopt;
}

}  // namespace tsbridge
