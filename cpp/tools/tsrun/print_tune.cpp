// How tsrun shows a tuning: --tune's table and what a load applied.
#include <iomanip>
#include <iostream>

#include <tsbridge/tuning.h>
#include <nlohmann/json.hpp>

#include "print.h"

namespace tsrun {
namespace {

using nlohmann::json;

json settings_json(const tsbridge::RuntimeSettings& s) {
  return {{"threads", s.threads},
          {"optimize_graph", s.optimize_graph},
          {"profiling_executor", s.profiling_executor ? json(*s.profiling_executor) : json(nullptr)},
          {"onednn_fusion", s.onednn_fusion},
          {"runners", s.runners},
          {"text", s.to_string()}};
}

}  // namespace

void print_tune(const std::string& path, const tsbridge::TuningRecord& record) {
  std::cout << "tuned:       " << path << " on " << record.machine.to_string() << " (" << record.rounds
            << " interleaved rounds, median)\n";
  for (size_t i = 0; i < record.candidates.size(); ++i) {
    const auto& c = record.candidates[i];
    std::cout << (static_cast<int>(i) == record.winner ? "  * " : "    ") << std::left << std::setw(48) << c.name
              << std::right;
    if (c.status == "ok") {
      std::cout << std::setw(10) << format_number(c.us_per_call, 4) << " us  (spread "
                << format_number(c.spread * 100, 2) << "%)\n";
    } else {
      std::cout << "  " << c.status << "\n";
    }
  }
  std::cout << "kept:        " << record.settings.to_string() << "\n"
            << "why:         " << record.reason << "\n"
            << "wrote:       " << tsbridge::sidecar_path(path) << "\n";
}

std::string tune_json(const std::string& path, const tsbridge::TuningRecord& record) {
  return json{{"model", path},
              {"sidecar", tsbridge::sidecar_path(path)},
              {"tuning", json::parse(tsbridge::tuning_json(record))}}
      .dump(2);
}

void print_applied_tuning(const tsbridge::AppliedTuning& tuning) {
  if (tuning.source.empty()) {
    std::cout << "tuning:      none applied\n";
  } else {
    std::cout << "tuning:      from the " << tuning.source << ": recorded " << tuning.recorded.to_string()
              << "; applied " << tuning.applied.to_string() << "\n";
  }
  for (const auto& note : tuning.notes) std::cout << "  note: " << note << "\n";
}

std::string applied_tuning_json(const tsbridge::AppliedTuning& tuning) {
  return json{{"source", tuning.source.empty() ? json(nullptr) : json(tuning.source)},
              {"recorded", settings_json(tuning.recorded)},
              {"applied", settings_json(tuning.applied)},
              {"notes", tuning.notes}}
      .dump();
}

}  // namespace tsrun
