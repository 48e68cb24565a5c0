#include "archive/archive.h"

#include <filesystem>
#include <fstream>

#include <caffe2/serialize/inline_container.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include "core/condense.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {

void require_readable_file(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw Error(ErrorCode::FileNotFound, path + ": no such file");
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorCode::FileNotFound, path + ": not a regular file");
  }
  if (!std::ifstream(path, std::ios::binary).good()) {
    throw Error(ErrorCode::FileNotFound, path + ": cannot be opened for reading");
  }
}

std::optional<std::string> read_extra_file(const std::string& path, const std::string& name) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    const std::string record = "extra/" + name;
    if (!reader.hasRecord(record)) return std::nullopt;
    auto [data, size] = reader.getRecord(record);
    return std::string(static_cast<const char*>(data.get()), size);
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
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // LibTorch's reader lets some standard exceptions through (std::stoull's
    // out_of_range on a huge version number, bad_alloc).
    throw Error(ErrorCode::InvalidArchive, path + ": not a TorchScript archive (" + condense(e.what()) + ")");
  }
}

}  // namespace tsbridge::detail
