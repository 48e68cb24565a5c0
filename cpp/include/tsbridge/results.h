#pragma once

#include <string>
#include <vector>

#include "tsbridge/export.h"
#include "tsbridge/summary.h"

namespace tsbridge {

// A file name for a result leaf: "output[1]['sum']" -> "output_1_sum".
TSBRIDGE_API std::string file_stem(const std::string& leaf_name);

// Writes tensor results with their exact values: an .npz (one array per leaf,
// named by file_stem) when `path` ends in .npz, else a folder (created if
// needed) of one .npy per leaf. Non-tensor leaves are stored as 0-d arrays.
// Returns the files written.
TSBRIDGE_API std::vector<std::string> write_results(const std::string& path, const std::vector<NamedValue>& leaves);

}  // namespace tsbridge
