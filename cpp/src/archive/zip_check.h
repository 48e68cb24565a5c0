#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace caffe2::serialize {
class ReadAdapterInterface;
}  // namespace caffe2::serialize

namespace tsbridge::detail {

// One entry of a zip's central directory, as checked by check_zip_structure.
struct ZipEntry {
  std::string name;            // full name in the zip, e.g. "model/data/0"
  uint16_t method = 0;         // 0 stored, 8 deflated
  uint64_t compressed = 0;     // bytes stored in the file
  uint64_t uncompressed = 0;   // bytes once inflated
  uint64_t header_offset = 0;  // the entry's local header
  uint64_t data_offset = 0;    // its first data byte
};

// Validates the zip structure of a TorchScript archive before LibTorch's
// reader (miniz) sees it: the end-of-central-directory record (zip64 too),
// every central directory entry and its local header lie inside the file,
// declared sizes fit the bytes actually there (stored: equal; deflated: at
// most deflate's maximum ratio), entries do not overlap, names are unique,
// non-empty and share one top folder, and nothing is encrypted or compressed
// by a method other than stored or deflate. Reads only headers, never entry
// data, from `file` (the open file at `path`, which messages name). Throws
// Error(InvalidArchive), "<path>: not a TorchScript archive (...)", naming
// the first problem; returns the entries otherwise.
std::vector<ZipEntry> check_zip_structure(const std::string& path, const caffe2::serialize::ReadAdapterInterface& file);

}  // namespace tsbridge::detail
