// Tensor files by kind: read_tensor picks the reader from the extension. The
// readers live with their formats (npy.cpp, npz.cpp, unpickle.cpp).
#include "tsbridge/tensor_io.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "io/npy.h"
#include "io/tensor_file.h"
#include "io/unpickle.h"
#include "tsbridge/error.h"

namespace tsbridge {
namespace detail {

void require_tensor_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw Error(ErrorCode::InvalidInputFile, path + ": no such file");
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorCode::InvalidInputFile, path + ": not a regular file");
  }
}

}  // namespace detail

at::Tensor read_tensor(const std::string& path) {
  detail::require_tensor_file(path);
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".npy") return detail::read_npy(path);
  if (extension == ".pt" || extension == ".pth") return detail::read_pt(path);
  if (extension == ".npz") {
    throw Error(ErrorCode::InvalidInputFile, path + ": an .npz holds several arrays; read it with read_npz");
  }
  throw Error(ErrorCode::InvalidInputFile,
              path + ": unknown tensor file type '" + extension + "' (expected .npy or .pt)");
}

}  // namespace tsbridge
