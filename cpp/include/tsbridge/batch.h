#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "tsbridge/model.h"
#include "tsbridge/version.h"

namespace tsbridge {

struct BatchOptions {
  std::string method = "forward";
  int64_t batch_size = 1;
  // Called after each batch with (rows done, rows in all).
  std::function<void(int64_t, int64_t)> progress;
};

struct BatchResult {
  int64_t rows = 0;
  int64_t batches = 0;
  std::vector<std::string> outputs;  // leaf names, in order
  std::vector<std::string> files;    // what was written
};

// Streams N samples through the model in batches: every input holds N rows
// along dim 0 (memory-map big ones with map_npy), every output leaf must
// have the batch along dim 0. Outputs are written as they come — a folder of
// .npy files, an .npz when `path` ends in .npz, or one .npy file when it ends
// in .npy and the result has one leaf (check_results_path) — so memory stays bounded
// by one batch, not by N. The last batch may be partial. The first batch is
// checked against the method's inputs (Model::check_inputs) before anything
// runs or is written, so a wrong dtype or shape fails at once, not after
// the model has run.
TSBRIDGE_API BatchResult run_batches(const Model& model, const std::vector<at::Tensor>& inputs, const std::string& path,
                                     const BatchOptions& options = {});

// The same with the inputs by name (read_input_files), put in the method's
// order. Error(InputMismatch) names an input that is missing, or a name that
// is not an input.
TSBRIDGE_API BatchResult run_batches(const Model& model, const std::map<std::string, at::Tensor>& inputs,
                                     const std::string& path, const BatchOptions& options = {});

}  // namespace tsbridge
