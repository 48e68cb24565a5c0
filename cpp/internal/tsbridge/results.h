#pragma once

#include <string>
#include <vector>

#include "tsbridge/manifest.h"
#include "tsbridge/summary.h"
#include "tsbridge/version.h"

namespace tsbridge {

// A file name for a result leaf: "output[1]['sum']" -> "output_1_sum".
TSBRIDGE_API std::string file_stem(const std::string& leaf_name);

// Writes tensor results with their exact values: one .npy file when `path`
// ends in .npy (a result of one leaf only: check_results_path), an .npz (one
// array per leaf, named by file_stem) when it ends in .npz, else a folder
// (created if needed) of one .npy per leaf. Non-tensor leaves are stored as
// 0-d arrays. Returns the files written.
TSBRIDGE_API std::vector<std::string> write_results(const std::string& path, const std::vector<NamedValue>& leaves);

// A path ending in .npy is one file, so it holds one output: for `outputs`
// (leaf names) of any other count, Error(InvalidArgument) "preds.npy: a .npy
// file holds one array, but the model returns 2 outputs (a, b); write them
// to an .npz (preds.npz) or a folder (preds)". Nothing for other paths.
// write_results and run_batches check it; call it before any work to refuse
// early.
TSBRIDGE_API void check_results_path(const std::string& path, const std::vector<std::string>& outputs);
// The same for the outputs a manifest declares (Model::outputs()); nothing
// when it declares none, as a file without a manifest does.
TSBRIDGE_API void check_results_path(const std::string& path, const std::vector<TensorSpec>& declared);

}  // namespace tsbridge
