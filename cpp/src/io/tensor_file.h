#pragma once

#include <string>

#include <c10/util/ArrayRef.h>

namespace tsbridge::detail {

// Throws Error(InvalidInputFile) "<path>: no such file" (or not a regular
// file) unless `path` names an existing regular file.
void require_tensor_file(const std::string& path);

}  // namespace tsbridge::detail
