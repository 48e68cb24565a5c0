#include "archive/archive.h"

#include <filesystem>

#include <c10/util/Exception.h>
#include <caffe2/serialize/file_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/version.h>

#include "core/condense.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

void require_regular_file(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw Error(ErrorCode::FileNotFound, path + ": no such file");
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorCode::FileNotFound, path + ": not a regular file");
  }
}

std::shared_ptr<caffe2::serialize::ReadAdapterInterface> open_file(const std::string& path) {
  try {
    return std::make_shared<caffe2::serialize::FileAdapter>(path);
  } catch (const std::exception&) {
    throw Error(ErrorCode::FileNotFound, path + ": cannot be opened for reading");
  }
}

// LibTorch's stream reader over the checked zip. Its errors become ours: a
// newer file format names both versions, anything else is not an archive.
std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_reader(
    const std::string& path, std::shared_ptr<caffe2::serialize::ReadAdapterInterface> file) {
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(std::move(file));
  } catch (const c10::Error& e) {
    // miniz adds advice about corrupt checkpoints; the first sentence is the fact.
    const std::string cause = condense(e.what_without_backtrace());
    if (cause.find("maximum supported version") != std::string::npos) {
      // LibTorch's riddle reads "[enforce fail at ...] . Attempted to read a
      // PyTorch file with version N, but the maximum supported version ...".
      const auto start = cause.find("file with version");
      const auto end = cause.find(". ", start);
      const std::string detail = start == std::string::npos ? cause : cause.substr(start, end - start);
      throw Error(ErrorCode::UnsupportedVersion, path + ": written by a newer torch than this runtime's LibTorch " +
                                                     TORCH_VERSION + " (" + detail + ")");
    }
    throw Error(ErrorCode::InvalidArchive,
                path + ": not a TorchScript archive (" + cause.substr(0, cause.find(". ")) + ")");
  } catch (const std::exception& e) {
    // LibTorch's reader lets some standard exceptions through (std::stoull's
    // out_of_range on a huge version number, bad_alloc).
    throw Error(ErrorCode::InvalidArchive, path + ": not a TorchScript archive (" + condense(e.what()) + ")");
  }
}

}  // namespace

Archive::Archive(const std::string& path) : path_(path) {
  require_regular_file(path);
  file_ = open_file(path);
  entries_ = check_zip_structure(path, *file_);  // before LibTorch's reader
  reader_ = open_reader(path, file_);
}

Archive::~Archive() = default;

std::vector<std::string> Archive::entry_names() const {
  std::vector<std::string> names;
  for (const auto& entry : entries_) names.push_back(entry.name);
  return names;
}

std::optional<std::string> Archive::extra_file(const std::string& name) const {
  const std::string record = "extra/" + name;
  try {
    if (!reader_->hasRecord(record)) return std::nullopt;
    auto [data, size] = reader_->getRecord(record);
    return std::string(static_cast<const char*>(data.get()), size);
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArchive,
                path_ + ": cannot read " + record + " (" + condense(e.what_without_backtrace()) + ")");
  }
}

}  // namespace tsbridge::detail
