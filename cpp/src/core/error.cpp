#include "tsbridge/error.h"

namespace tsbridge {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::FileNotFound: return "FileNotFound";
    case ErrorCode::InvalidArchive: return "InvalidArchive";
    case ErrorCode::UnsupportedVersion: return "UnsupportedVersion";
    case ErrorCode::MethodNotFound: return "MethodNotFound";
    case ErrorCode::InputMismatch: return "InputMismatch";
    case ErrorCode::DeviceUnavailable: return "DeviceUnavailable";
    case ErrorCode::InferenceFailed: return "InferenceFailed";
    case ErrorCode::InvalidInputFile: return "InvalidInputFile";
    case ErrorCode::UnsupportedCpu: return "UnsupportedCpu";
  }
  return "Unknown";
}

Error::Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}

}  // namespace tsbridge
