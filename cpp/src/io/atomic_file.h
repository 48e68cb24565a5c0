#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace tsbridge::detail {

// A file that appears whole or not at all: written to a temporary file in
// the same folder, then flushed to disk (fsync) and renamed over `path` by
// commit(); removed if commit() is never reached. So a failed or abandoned
// write never leaves a file that looks complete, and an old file at `path`
// is replaced, not truncated: a tensor that map_npy made of it keeps its
// pages (touching a truncated mapping would kill the process with SIGBUS).
// When `path` is a symlink, the file it points to is replaced.
class AtomicFile {
 public:
  // Reports a failure: called with the system's reason ("No space left on
  // device"); it must throw the caller's Error.
  using Failure = std::function<void(const std::string& why)>;

  AtomicFile(const std::string& path, Failure fail);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(const std::string& text) { write(text.data(), text.size()); }
  // Flushes, closes and renames the file into place; at most once.
  void commit();

 private:
  [[noreturn]] void failed(int error) const;

  Failure fail_;
  std::string target_;     // where the file lands (a symlink's target)
  std::string temporary_;  // where it is written until commit()
  int fd_ = -1;
};

}  // namespace tsbridge::detail
