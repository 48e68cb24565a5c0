#pragma once

// Tuning records as text and as files: what tsrun, the bindings and the C
// API write and read. Exported by libtsbridge, never installed (an app reads
// a record through Model::tuning() and Manifest::tuning).

#include <string>

#include "tsbridge/tuning.h"
#include "tsbridge/version.h"

namespace tsbridge {

// Writes `record` as the sidecar of the archive at `archive_path`, tied to
// its SHA-256. Written beside it and renamed into place: a failed write
// leaves any earlier sidecar as it was. Error(InvalidArgument) naming the
// path when it cannot be written; Error(FileNotFound) without the archive.
TSBRIDGE_API void write_sidecar(const std::string& archive_path, const TuningRecord& record);

// The record's JSON text (the manifest's "tuning" and the sidecar's), and
// back; parse refuses a malformed record (Error(InvalidArchive)).
TSBRIDGE_API std::string tuning_json(const TuningRecord& record);
TSBRIDGE_API TuningRecord parse_tuning(const std::string& json_text);

// What a load applied, as one line of JSON: {"source": "sidecar", "manifest"
// or null, "recorded": settings, "applied": settings, "notes": [...]}, each
// settings object with its fields and "text" (RuntimeSettings::to_string).
// tsrun --info --json and the C API's tsb_model_tuning give this.
TSBRIDGE_API std::string applied_tuning_json(const AppliedTuning& tuning);

}  // namespace tsbridge
