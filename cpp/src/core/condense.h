#pragma once

#include <sstream>
#include <string>

namespace tsbridge::detail {

// LibTorch messages run to many lines: TorchScript tracebacks, source excerpts,
// C++ frames. Keep the line a person needs: the last "SomethingError: ..."
// line when there is one (the interpreter's actual cause), else the first.
inline std::string condense(const std::string& message) {
  std::istringstream lines(message);
  std::string line, first, cause;
  while (std::getline(lines, line)) {
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos) continue;
    line = line.substr(start);
    if (first.empty()) first = line;
    auto colon = line.find(": ");
    if (colon != std::string::npos && colon >= 5 && line.compare(colon - 5, 5, "Error") == 0 &&
        line.find(' ') > colon - 1) {
      cause = line;
    }
  }
  return cause.empty() ? first : cause;
}

}  // namespace tsbridge::detail
