#pragma once

// A Chrome trace (chrome://tracing, Perfetto) of what runs while a Profile
// records: LibTorch's profiler on the CPU, each operator a TorchScript graph
// runs with its input shapes, and each call marked. Used by tsrun --profile;
// exported for cpp/src/tools, not installed.

#include <cstddef>
#include <string>

namespace tsbridge {

class Profile {
 public:
  // Starts recording; InvalidArgument when `path` cannot be written (checked
  // first, so nothing runs for a trace that would be lost) or a profile is
  // already recording in this process.
  explicit Profile(std::string path);
  ~Profile();  // stops, writing nothing, if save() was not called
  Profile(const Profile&) = delete;
  Profile& operator=(const Profile&) = delete;

  // Stops and writes the trace; returns how many events it holds.
  size_t save();

  // InvalidArgument when a trace could not be written to `path`: for a
  // caller to refuse it before the work it would profile.
  static void require_writable(const std::string& path);

 private:
  std::string path_;
  bool recording_ = false;
};

}  // namespace tsbridge
