#include "tsbridge/profile.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <utility>

#include <torch/csrc/autograd/profiler_kineto.h>

#include "tsbridge/error.h"

namespace tsbridge {
namespace {

namespace profiler = torch::autograd::profiler;
namespace config = torch::profiler::impl;

const std::set<config::ActivityType> kActivities = {config::ActivityType::CPU};

config::ProfilerConfig profiler_config() {
  return config::ProfilerConfig(config::ProfilerState::KINETO, /*report_input_shapes=*/true,
                                /*profile_memory=*/false, /*with_stack=*/false, /*with_flops=*/false,
                                /*with_modules=*/false);
}

}  // namespace

void Profile::require_writable(const std::string& path) {
  const auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::InvalidArgument, "cannot write the profile to " + path + ": " + why);
  };
  struct stat info{};
  if (stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) refuse("it is a folder");
  const auto slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  if (stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) refuse("folder " + folder + " does not exist");
  if (access(folder.c_str(), W_OK) != 0) refuse("folder " + folder + " is not writable");
}

Profile::Profile(std::string path) : path_(std::move(path)) {
  require_writable(path_);
  if (profiler::isProfilerEnabledInMainThread()) {
    throw Error(ErrorCode::InvalidArgument, "a profile is already recording in this process");
  }
  // Kineto logs its start and stop on stderr at every level below 6; a user's own level wins.
  setenv("KINETO_LOG_LEVEL", "6", /*overwrite=*/0);
  profiler::prepareProfiler(profiler_config(), kActivities);
  profiler::enableProfiler(profiler_config(), kActivities);
  recording_ = true;
}

Profile::~Profile() {
  if (!recording_) return;
  try {
    profiler::disableProfiler();
  } catch (...) {  // a destructor must not throw; the trace is not wanted
  }
}

size_t Profile::save() {
  recording_ = false;
  const auto result = profiler::disableProfiler();
  result->save(path_);
  struct stat info{};
  if (stat(path_.c_str(), &info) != 0 || info.st_size == 0) {
    throw Error(ErrorCode::InvalidArgument, "LibTorch's profiler wrote no trace to " + path_);
  }
  return result->events().size();
}

}  // namespace tsbridge
