#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <utility>

#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

// The most one write() call is given: Linux writes at most about 2 GiB at once.
constexpr size_t kChunk = size_t{1} << 30;

}  // namespace

AtomicFile::AtomicFile(const std::string& path, Failure fail) : fail_(std::move(fail)), target_(path) {
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec)) {
    const auto resolved = std::filesystem::weakly_canonical(path, ec);
    if (!ec) target_ = resolved.string();
  }
  static std::atomic<uint64_t> serial{0};
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temporary_ = target_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
    fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && (errno != EEXIST || attempt > 100)) failed(errno);
  }
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temporary_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t done = ::write(fd_, bytes, std::min(size, kChunk));
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) failed(done < 0 ? errno : EIO);
    bytes += done;
    size -= static_cast<size_t>(done);
  }
}

void AtomicFile::commit() {
  const int fd = std::exchange(fd_, -1);
  // fsync before the rename: otherwise a crash soon after could leave the
  // new name on a file whose data never reached the disk.
  const bool flushed = ::fsync(fd) == 0;
  int error = flushed ? 0 : errno;
  if (::close(fd) != 0 && flushed) error = errno;
  if (error == 0 && ::rename(temporary_.c_str(), target_.c_str()) != 0) error = errno;
  if (error != 0) {
    ::unlink(temporary_.c_str());
    failed(error);
  }
}

void AtomicFile::failed(int error) const {
  const std::string why = std::strerror(error);
  fail_(why);
  // Only reached when the caller's Failure returned instead of throwing.
  throw Error(ErrorCode::InvalidArgument, target_ + " cannot be written (" + why + ")");
}

}  // namespace tsbridge::detail
