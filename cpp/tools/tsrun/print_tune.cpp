// How tsrun shows a tuning: --tune's table and what a load applied.
#include <iomanip>
#include <iostream>

#include <tsbridge/tuning.h>
#include <tsbridge/tuning_text.h>
#include <nlohmann/json.hpp>

#include "print.h"

namespace tsrun {
void print_tune(const std::string& path, const tsbridge::TuningRecord& record) {
  std::cout << "tuned:       " << path << " on " << record.machine.to_string() << " (" << record.rounds
            << " interleaved rounds, median)\n";
  for (size_t i = 0; i < record.candidates.size(); ++i) {
    const auto& c = record.candidates[i];
    std::cout << (static_cast<int>(i) == record.winner_index ? "  * " : "    ") << std::left << std::setw(48) << c.name
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
  using nlohmann::json;
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

}  // namespace tsrun
