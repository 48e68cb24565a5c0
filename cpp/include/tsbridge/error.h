#pragma once

#include <stdexcept>
#include <string>

#include "tsbridge/version.h"

namespace tsbridge {

// What went wrong, in terms a caller can act on. Every failure that leaves
// the library is a tsbridge::Error carrying one of these codes.
enum class ErrorCode {
  InvalidArgument = 1,  // a malformed argument: shape string, device name, option
  FileNotFound,         // the model file does not exist or cannot be read
  InvalidArchive,       // not a TorchScript archive, truncated, corrupt manifest
  UnsupportedVersion,   // a manifest format or archive version this runtime cannot read
  MethodNotFound,       // the archive has no method of that name
  InputMismatch,        // wrong number, kind, dtype or shape of inputs
  DeviceUnavailable,    // the requested device does not exist in this process
  InferenceFailed,      // the model raised while running, or returned what the call cannot return
  InvalidInputFile,     // a tensor file (.npy/.npz/.pt) is missing, corrupt or unsupported
  UnsupportedCpu,       // a .pt2 compiled for CPU features (or an architecture) this machine lacks
};

// A short stable name for a code, e.g. "InputMismatch".
TSBRIDGE_API const char* error_code_name(ErrorCode code) noexcept;

class TSBRIDGE_API Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace tsbridge
