#pragma once

#include "tsbridge/version.h"

#include <optional>
#include <string>
#include <vector>

#include "tsbridge/tuning.h"

namespace tsbridge::detail {

// The sidecar of `archive_path` when there is one written for this very
// archive (its SHA-256) on this machine; nullopt otherwise, with a note
// saying why a sidecar that is there was ignored (another archive, another
// machine, unreadable). Never refuses the load: the archive is sound either way.
std::optional<TuningRecord> read_sidecar(const std::string& archive_path, std::vector<std::string>& notes);

// Error(FileNotFound / InvalidArchive) unless `archive_path` is an archive,
// Error(InvalidArgument) unless its sidecar can be written (its folder
// writable, the path not a folder): checked before tuning starts. Exported
// for the tuner (cpp/src/tools), not installed.
TSBRIDGE_API void require_sidecar_writable(const std::string& archive_path);

}  // namespace tsbridge::detail
