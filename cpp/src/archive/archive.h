#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/zip_check.h"

namespace caffe2::serialize {
class PyTorchStreamReader;
class ReadAdapterInterface;
}  // namespace caffe2::serialize

namespace tsbridge::detail {

// One archive file, opened once per load. Its zip structure is checked
// (zip_check.h) before LibTorch's reader sees a byte; then everything a load
// reads — the manifest, the integrity and storage checks, extra files, the
// TorchScript module itself — comes through this one open file and this one
// LibTorch stream reader. Throws Error(FileNotFound) for a missing or
// unreadable file, Error(InvalidArchive) for one that is not a sound zip,
// Error(UnsupportedVersion) for one written by a newer torch.
class Archive {
 public:
  explicit Archive(const std::string& path);
  ~Archive();
  Archive(const Archive&) = delete;
  Archive& operator=(const Archive&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  std::vector<std::string> entry_names() const;

  // One of torch.jit.save's extra files (the record "extra/<name>"); nullopt
  // when the archive has none of that name. Safe to call from several threads.
  std::optional<std::string> extra_file(const std::string& name) const;

  // LibTorch's reader of the records (its calls lock; safe across threads).
  caffe2::serialize::PyTorchStreamReader& reader() const { return *reader_; }
  // The open file, for torch::jit::load.
  std::shared_ptr<caffe2::serialize::ReadAdapterInterface> file() const { return file_; }

 private:
  std::string path_;
  std::shared_ptr<caffe2::serialize::ReadAdapterInterface> file_;
  std::vector<ZipEntry> entries_;
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader_;
};

}  // namespace tsbridge::detail
