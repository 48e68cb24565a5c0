#include "core/sidecar.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "archive/archive.h"
#include "archive/integrity.h"
#include "core/tuning_json.h"
#include "io/atomic_file.h"
#include "tsbridge/error.h"
#include "tsbridge/tuning_text.h"
#include "tsbridge/version.h"

namespace tsbridge {
namespace {

using nlohmann::json;

constexpr const char* kSidecarFormat = "tsbridge-tuning";
constexpr int kSidecarVersion = 1;

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_name(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

[[noreturn]] void cannot_write(const std::string& path, const std::string& why) {
  throw Error(ErrorCode::InvalidArgument, "cannot write the tuning sidecar " + path + ": " + why);
}

}  // namespace

std::string sidecar_path(const std::string& archive_path) { return archive_path + ".tuning.json"; }

std::string tuning_json(const TuningRecord& record) { return detail::tuning_to_json(record).dump(2); }

TuningRecord parse_tuning(const std::string& json_text) {
  const json value = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) throw Error(ErrorCode::InvalidArchive, "malformed tuning record: not valid JSON");
  return detail::tuning_from_json(value, "tuning");
}

void write_sidecar(const std::string& archive_path, const TuningRecord& record) {
  detail::require_sidecar_writable(archive_path);
  const json doc = {{"format", kSidecarFormat},
                    {"format_version", kSidecarVersion},
                    {"tsbridge_version", TSBRIDGE_VERSION},
                    {"archive", base_name(archive_path)},
                    {"archive_sha256", detail::sha256_of_file(archive_path)},
                    {"tuning", detail::tuning_to_json(record)}};
  const std::string target = sidecar_path(archive_path);
  detail::AtomicFile file(target, [&target](const std::string& why) { cannot_write(target, why); });
  file.write(doc.dump(2) + "\n");
  file.commit();
}

namespace detail {

void require_sidecar_writable(const std::string& archive_path) {
  static_cast<void>(Archive(archive_path));  // not there, or not an archive: refused first
  const std::string target = sidecar_path(archive_path);
  struct stat info{};
  if (stat(target.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) cannot_write(target, "it is a folder");
  if (access(folder_of(target).c_str(), W_OK) != 0) {
    cannot_write(target, "folder " + folder_of(target) + ": " + std::strerror(errno));
  }
}

namespace {

// The record of a sidecar's document when it belongs to this archive and
// machine; else nullopt with `why` set.
std::optional<TuningRecord> matching_record(const json& doc, const std::string& archive_path, std::string& why) {
  if (!doc.is_object() || doc.value("format", json("")) != kSidecarFormat) {
    why = "not a tsbridge tuning sidecar";
    return std::nullopt;
  }
  if (doc.value("format_version", json(0)) != kSidecarVersion) {
    why = "format_version " + doc.value("format_version", json()).dump() + " is not the one this runtime reads (" +
          std::to_string(kSidecarVersion) + ")";
    return std::nullopt;
  }
  if (doc.value("archive_sha256", json("")) != sha256_of_file(archive_path)) {
    why = "it was written for another archive (its SHA-256 differs from this file's); re-tune with tsrun --tune";
    return std::nullopt;
  }
  TuningRecord record;
  try {
    record = tuning_from_json(doc.value("tuning", json()), "tuning");
  } catch (const Error& e) {
    why = e.what();
    return std::nullopt;
  }
  if (!record.machine.matches(this_machine())) {
    why = "measured on " + record.machine.to_string() + ", this is " + this_machine().to_string() +
          "; re-tune here with tsrun --tune";
    return std::nullopt;
  }
  return record;
}

}  // namespace

std::optional<TuningRecord> read_sidecar(const std::string& archive_path, std::vector<std::string>& notes) {
  const std::string path = sidecar_path(archive_path);
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::stringstream text;
  text << file.rdbuf();
  const json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  std::string why = "not a tsbridge tuning sidecar";
  auto record = doc.is_discarded() ? std::nullopt : matching_record(doc, archive_path, why);
  if (!record) notes.push_back("tuning sidecar " + path + " ignored: " + why);
  return record;
}

}  // namespace detail
}  // namespace tsbridge
