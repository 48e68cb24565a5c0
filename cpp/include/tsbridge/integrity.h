#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tsbridge/version.h"

namespace tsbridge {

// The result of checking an archive's entries against the SHA-256 digests
// its manifest records ("integrity" in docs/manifest.md).
struct IntegrityReport {
  bool recorded = false;  // the manifest records digests; false: nothing to check
  std::string algorithm;  // as recorded, e.g. "sha256"
  int64_t checked = 0;    // entries hashed and compared
  // One line per problem, e.g. "entry 'data/0' has sha256 ab12…, manifest
  // says cd34…", "entry 'data/3' is listed in the manifest but missing from
  // the archive", "entry 'code/x.py' is not listed in the manifest". Empty
  // when every entry matches (or nothing is recorded).
  std::vector<std::string> problems;

  bool intact() const { return problems.empty(); }
};

// Checks every entry of the archive at `path` against its manifest's
// digests, without loading the model: what Model::load does by default
// (LoadOptions::verify_integrity), reported in full instead of thrown.
// Throws Error(FileNotFound / InvalidArchive) for a file that is not a
// readable archive or whose manifest is malformed, and
// Error(UnsupportedVersion) for a digest algorithm this runtime does not know.
TSBRIDGE_API IntegrityReport check_integrity(const std::string& path);

}  // namespace tsbridge
