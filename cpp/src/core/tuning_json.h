#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "tsbridge/tuning.h"

namespace tsbridge::detail {

// A tuning record's JSON form: the manifest's "tuning" and a sidecar's.
// The reader refuses a record missing a part, or with one of the wrong type
// (Error(InvalidArchive) naming `where` and the field): settings half-read
// would be applied as if whole.
nlohmann::json tuning_to_json(const TuningRecord& record);
TuningRecord tuning_from_json(const nlohmann::json& value, const std::string& where);

}  // namespace tsbridge::detail
