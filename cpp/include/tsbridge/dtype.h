#pragma once

#include <string>

#include <c10/core/ScalarType.h>

#include "tsbridge/export.h"

namespace tsbridge {

// The names the manifest, tsrun and numpy use: "float32", "int64", "bool"...
TSBRIDGE_API std::string dtype_name(c10::ScalarType dtype);
// Inverse of dtype_name; throws Error(InvalidArgument) for an unknown name.
TSBRIDGE_API c10::ScalarType dtype_from_name(const std::string& name);

}  // namespace tsbridge
