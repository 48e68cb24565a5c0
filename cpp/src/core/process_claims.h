#pragma once

#include <string>
#include <vector>

#include "tsbridge/tuning.h"

namespace tsbridge::detail {

// Model::load's share of the process-wide settings (threads, executor,
// fusion): the recorded value of each is applied unless the application set
// that setting itself (set_threads, set_executor: an explicit choice wins) or
// an earlier load applied another value (the first load decides; a later one
// is told, never silently overrides). Each setting not applied adds a note;
// `applied` gets the values in effect for the ones that were.
void apply_process_settings(const RuntimeSettings& recorded, const std::string& path, RuntimeSettings& applied,
                            std::vector<std::string>& notes);

}  // namespace tsbridge::detail
