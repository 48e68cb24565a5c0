#include "archive/integrity.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_Init and co.: see Sha256 below
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "archive/archive.h"
#include "core/condense.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

constexpr const char* kSerializationId = ".data/serialization_id";
// 64 KiB: the digest is no faster with more, and a larger buffer stays in a
// small model's peak RSS (1 MiB cost the MLP 2 MiB of heap).
constexpr size_t kChunk = size_t{64} << 10;

// SHA-256 through OpenSSL's libcrypto, one chunk at a time. The direct
// SHA256_* functions, not EVP: EVP starts OpenSSL's provider machinery,
// which touches about 2 MiB more of libcrypto in every process that loads a
// model (measured: docs/performance.md, "Memory"), for the one digest this
// library needs. OpenSSL 3 marks them deprecated but keeps them (4.0 too).
class Sha256 {
 public:
  Sha256() {
    if (SHA256_Init(&ctx_) != 1) throw Error(ErrorCode::InvalidArgument, "OpenSSL cannot start a SHA-256 digest");
  }
  void update(const void* data, size_t size) {
    if (SHA256_Update(&ctx_, data, size) != 1) throw Error(ErrorCode::InvalidArgument, "OpenSSL SHA-256 update failed");
  }
  std::string hex() {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (SHA256_Final(digest, &ctx_) != 1) throw Error(ErrorCode::InvalidArgument, "OpenSSL SHA-256 final failed");
    static const char* digits = "0123456789abcdef";
    std::string text;
    for (unsigned char byte : digest) {
      text += digits[byte >> 4];
      text += digits[byte & 15];
    }
    return text;
  }

 private:
  SHA256_CTX ctx_{};
};

std::string shorten(const std::string& digest) { return digest.size() > 12 ? digest.substr(0, 12) + "\u2026" : digest; }

// The entry's digest, or nullopt (with `problem` set) when it cannot be read whole.
std::optional<std::string> sha256_of(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name,
                                     std::string& problem) {
  Sha256 sha;
  const size_t size = reader.getRecordSize(name);
  size_t total = 0;
  if (size > 0) {
    std::vector<char> buffer(std::min(size, kChunk));
    auto chunks = reader.createChunkReaderIter(name, size, buffer.size());
    while (size_t n = chunks.next(buffer.data())) {
      sha.update(buffer.data(), n);
      total += n;
    }
  }
  if (total != size) {
    problem =
        "entry '" + name + "' cannot be read (" + std::to_string(total) + " of " + std::to_string(size) + " bytes)";
    return std::nullopt;
  }
  return sha.hex();
}

}  // namespace

bool integrity_exempt(const std::string& record) {
  return record == std::string("extra/") + kManifestEntry || record == kSerializationId;
}

IntegrityReport check_entries(const Archive& archive, const IntegrityRecord& record) {
  const std::string& path = archive.path();
  if (record.algorithm != "sha256") {
    throw Error(ErrorCode::UnsupportedVersion,
                path + ": the manifest's integrity digests use '" + record.algorithm +
                    "', which this runtime does not check (it knows sha256); load without integrity "
                    "verification to skip the check");
  }
  IntegrityReport report;
  report.recorded = true;
  report.algorithm = record.algorithm;
  try {
    auto& reader = archive.reader();
    std::set<std::string> present;
    for (const auto& name : reader.getAllRecords()) {
      present.insert(name);
      if (integrity_exempt(name)) continue;
      auto expected = record.entries.find(name);
      if (expected == record.entries.end()) {
        report.problems.push_back("entry '" + name + "' is not listed in the manifest");
        continue;
      }
      std::string problem;
      const auto actual = sha256_of(reader, name, problem);
      ++report.checked;
      if (!actual) {
        report.problems.push_back(problem);
      } else if (*actual != expected->second) {
        report.problems.push_back("entry '" + name + "' has sha256 " + shorten(*actual) + ", manifest says " +
                                  shorten(expected->second));
      }
    }
    for (const auto& [name, digest] : record.entries) {
      if (!present.count(name)) {
        report.problems.push_back("entry '" + name + "' is listed in the manifest but missing from the archive");
      }
    }
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArchive,
                path + ": cannot read the archive's entries: " + condense(e.what_without_backtrace()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidArchive, path + ": cannot read the archive's entries: " + condense(e.what()));
  }
  return report;
}

void require_intact(const Archive& archive, const Manifest& manifest) {
  if (!manifest.integrity) return;
  const IntegrityReport report = check_entries(archive, *manifest.integrity);
  if (report.intact()) return;
  std::string message = archive.path() + ": integrity check failed: " + report.problems.front();
  if (report.problems.size() > 1) {
    message += " (and " + std::to_string(report.problems.size() - 1) + " more)";
  }
  throw Error(ErrorCode::InvalidArchive, message);
}

std::string crypto_library() { return OpenSSL_version(OPENSSL_VERSION); }

std::string sha256_of_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(ErrorCode::FileNotFound, path + ": cannot be read");
  Sha256 sha;
  std::vector<char> buffer(kChunk);
  while (file.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || file.gcount() > 0) {
    sha.update(buffer.data(), static_cast<size_t>(file.gcount()));
  }
  if (file.bad()) throw Error(ErrorCode::FileNotFound, path + ": read failed while hashing it");
  return sha.hex();
}

}  // namespace tsbridge::detail

namespace tsbridge {

IntegrityReport check_integrity(const std::string& path) {
  const detail::Archive archive(path);
  const auto text = archive.extra_file(kManifestEntry);
  if (!text) return {};
  Manifest manifest;
  try {
    manifest = Manifest::parse(*text);
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
  if (!manifest.integrity) return {};
  return detail::check_entries(archive, *manifest.integrity);
}

}  // namespace tsbridge
