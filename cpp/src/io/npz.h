#pragma once

#include <string>

namespace tsbridge::detail {

// The zip library .npz files are read and written with, e.g. "libzip 1.7.3".
std::string zip_library();

}  // namespace tsbridge::detail
