#pragma once

#include "tsbridge/version.h"

#include <string>

#include "tsbridge/integrity.h"
#include "tsbridge/manifest.h"

namespace tsbridge::detail {

// Entries the digests never cover: the manifest (it holds them) and the id
// LibTorch's writer makes up afresh, at random, every time it closes a file.
bool integrity_exempt(const std::string& record);

class Archive;

// Hashes every entry of the archive and compares with `record`. Throws
// Error(UnsupportedVersion) for an unknown algorithm, Error(InvalidArchive)
// when the archive cannot be read.
IntegrityReport check_entries(const Archive& archive, const IntegrityRecord& record);

// Model::load's check: nothing when the manifest records no digests, else
// Error(InvalidArchive) "<path>: integrity check failed: <first problem>".
void require_intact(const Archive& archive, const Manifest& manifest);

// The SHA-256 implementation digests come from, e.g. "OpenSSL 3.0.19 1 Jul 2025".
TSBRIDGE_API std::string crypto_library();  // exported for build_info (cpp/src/tools)

}  // namespace tsbridge::detail

namespace tsbridge::detail {

// The SHA-256 of a whole file, as lowercase hex: what a tuning sidecar ties
// itself to. Error(FileNotFound) when it cannot be read.
std::string sha256_of_file(const std::string& path);

}  // namespace tsbridge::detail
