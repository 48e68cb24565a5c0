#include "tsbridge/tuning.h"

#include <sys/utsname.h>

#include <fstream>
#include <thread>

#include "core/tuning_json.h"
#include "tsbridge/cpu.h"
#include "tsbridge/error.h"
#include "tsbridge/tuning_text.h"

namespace tsbridge {
namespace {

using nlohmann::json;

[[noreturn]] void malformed(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::InvalidArchive, "malformed tuning record: " + where + ": " + what);
}

const json& member(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) malformed(where, std::string("expected an object, got ") + object.type_name());
  const auto it = object.find(key);
  if (it == object.end()) malformed(where, std::string("missing field '") + key + "'");
  return *it;
}

template <typename T>
T typed(const json& object, const char* key, const std::string& where, bool (json::*is)() const noexcept,
        const char* kind) {
  const json& value = member(object, key, where);
  if (!(value.*is)()) malformed(where + "." + key, std::string("expected ") + kind + ", got " + value.dump());
  return value.get<T>();
}

int count(const json& object, const char* key, const std::string& where) {
  const int value = typed<int>(object, key, where, &json::is_number_integer, "an integer");
  if (value < 0) malformed(where + "." + key, "expected a count >= 0, got " + std::to_string(value));
  return value;
}

std::string text(const json& object, const char* key, const std::string& where) {
  return typed<std::string>(object, key, where, &json::is_string, "a string");
}

double number(const json& object, const char* key, const std::string& where) {
  const json& value = member(object, key, where);
  if (value.is_null()) return -1;  // a candidate that was not timed
  if (!value.is_number()) malformed(where + "." + key, "expected a number, got " + value.dump());
  return value.get<double>();
}

json settings_to_json(const RuntimeSettings& s) {
  return {{"threads", s.threads},
          {"optimize_graph", s.optimize_graph},
          {"profiling_executor", s.profiling_executor ? json(*s.profiling_executor) : json(nullptr)},
          {"onednn_fusion", s.onednn_fusion},
          {"runners", s.runners}};
}

RuntimeSettings settings_from_json(const json& value, const std::string& where) {
  RuntimeSettings s;
  s.threads = count(value, "threads", where);
  s.optimize_graph = typed<bool>(value, "optimize_graph", where, &json::is_boolean, "true or false");
  const json& profiling = member(value, "profiling_executor", where);
  if (profiling.is_boolean()) s.profiling_executor = profiling.get<bool>();
  else if (!profiling.is_null()) malformed(where + ".profiling_executor", "expected true, false or null");
  s.onednn_fusion = typed<bool>(value, "onednn_fusion", where, &json::is_boolean, "true or false");
  s.runners = count(value, "runners", where);
  return s;
}

json machine_to_json(const MachineInfo& m) {
  return {{"arch", m.arch}, {"cpu_model", m.cpu_model}, {"cores", m.cores}, {"features", m.features}};
}

MachineInfo machine_from_json(const json& value, const std::string& where) {
  MachineInfo m;
  m.arch = text(value, "arch", where);
  m.cpu_model = text(value, "cpu_model", where);
  m.cores = count(value, "cores", where);
  const json& features = member(value, "features", where);
  if (!features.is_array()) malformed(where + ".features", "expected an array");
  for (const auto& feature : features) {
    if (!feature.is_string()) malformed(where + ".features", "each feature must be a name, got " + feature.dump());
    m.features.push_back(feature.get<std::string>());
  }
  return m;
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "" : line.substr(start);
  }
  return "unknown";
}

}  // namespace

std::string RuntimeSettings::to_string() const {
  std::string out;
  const auto add = [&out](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (threads > 0) add("threads=" + std::to_string(threads));
  if (optimize_graph) add("optimize_graph");
  if (profiling_executor) add(*profiling_executor ? "profiling executor" : "legacy executor");
  if (onednn_fusion) add("onednn_fusion");
  if (runners > 0) add("runners=" + std::to_string(runners));
  return out.empty() ? "defaults" : out;
}

bool RuntimeSettings::operator==(const RuntimeSettings& o) const {
  return threads == o.threads && optimize_graph == o.optimize_graph && profiling_executor == o.profiling_executor &&
         onednn_fusion == o.onednn_fusion && runners == o.runners;
}

bool MachineInfo::matches(const MachineInfo& other) const {
  return arch == other.arch && cpu_model == other.cpu_model && cores == other.cores;
}

std::string MachineInfo::to_string() const { return cpu_model + ", " + std::to_string(cores) + " cores, " + arch; }

const MachineInfo& this_machine() {
  static const MachineInfo machine = [] {
    MachineInfo m;
    utsname names{};
    m.arch = uname(&names) == 0 ? names.machine : "unknown";
    m.cpu_model = cpu_model_name();
    m.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    m.features = cpu_features();
    return m;
  }();
  return machine;
}

namespace detail {

json tuning_to_json(const TuningRecord& r) {
  json candidates = json::array();
  for (const auto& c : r.candidates) {
    candidates.push_back({{"name", c.name},
                          {"format", c.format},
                          {"build", c.build},
                          {"settings", settings_to_json(c.settings)},
                          {"us_per_call", c.us_per_call >= 0 ? json(c.us_per_call) : json(nullptr)},
                          {"spread", c.spread},
                          {"status", c.status}});
  }
  const bool won = r.winner_index >= 0 && r.winner_index < static_cast<int>(r.candidates.size());
  return {{"winner", won ? json(r.candidates[r.winner_index].name) : json(nullptr)},
          {"settings", settings_to_json(r.settings)},
          {"reason", r.reason},
          {"noise", r.noise},
          {"rounds", r.rounds},
          {"machine", machine_to_json(r.machine)},
          {"measured_at", r.measured_at},
          {"candidates", candidates}};
}

TuningRecord tuning_from_json(const json& value, const std::string& where) {
  TuningRecord r;
  r.settings = settings_from_json(member(value, "settings", where), where + ".settings");
  r.reason = text(value, "reason", where);
  r.noise = number(value, "noise", where);
  r.rounds = count(value, "rounds", where);
  r.machine = machine_from_json(member(value, "machine", where), where + ".machine");
  r.measured_at = text(value, "measured_at", where);
  const json& candidates = member(value, "candidates", where);
  if (!candidates.is_array()) malformed(where + ".candidates", "expected an array");
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string at = where + ".candidates[" + std::to_string(i) + "]";
    TuningCandidate c;
    c.name = text(candidates[i], "name", at);
    c.format = text(candidates[i], "format", at);
    c.build = text(candidates[i], "build", at);
    c.settings = settings_from_json(member(candidates[i], "settings", at), at + ".settings");
    c.us_per_call = number(candidates[i], "us_per_call", at);
    c.spread = number(candidates[i], "spread", at);
    c.status = text(candidates[i], "status", at);
    r.candidates.push_back(std::move(c));
  }
  const json& winner = member(value, "winner", where);
  if (!winner.is_null() && !winner.is_string()) malformed(where + ".winner", "expected a candidate's name or null");
  for (size_t i = 0; winner.is_string() && i < r.candidates.size(); ++i) {
    if (r.candidates[i].name == winner.get<std::string>()) r.winner_index = static_cast<int>(i);
  }
  if (winner.is_string() && r.winner_index < 0) malformed(where + ".winner", "names no candidate: " + winner.dump());
  return r;
}

}  // namespace detail

std::string applied_tuning_json(const AppliedTuning& tuning) {
  auto settings = [](const RuntimeSettings& s) {
    json value = settings_to_json(s);
    value["text"] = s.to_string();
    return value;
  };
  return json{{"source", tuning.source.empty() ? json(nullptr) : json(tuning.source)},
              {"recorded", settings(tuning.recorded)},
              {"applied", settings(tuning.applied)},
              {"notes", tuning.notes}}
      .dump();
}

}  // namespace tsbridge
