#pragma once

#include "tsbridge/version.h"

#include <string>

namespace tsbridge::detail {

// The zip library .npz files are read and written with, e.g. "libzip 1.7.3".
TSBRIDGE_API std::string zip_library();  // exported for build_info (cpp/src/tools)

}  // namespace tsbridge::detail
