#pragma once

#include <string>
#include <utility>
#include <vector>

#include <c10/core/ScalarType.h>

#include "tsbridge/version.h"

namespace tsbridge {

// The names the manifest, tsrun and numpy use: "float32", "int64", "bool"...
TSBRIDGE_API std::string dtype_name(c10::ScalarType dtype);
// Inverse of dtype_name; throws Error(InvalidArgument) for an unknown name.
TSBRIDGE_API c10::ScalarType dtype_from_name(const std::string& name);
// Every dtype that has a name, with it, in the manifest schema's order: the
// one table (Python's tsbridge.specs reads it through the bindings).
TSBRIDGE_API std::vector<std::pair<std::string, c10::ScalarType>> named_dtypes();

}  // namespace tsbridge
