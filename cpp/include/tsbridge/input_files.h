#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "tsbridge/manifest.h"
#include "tsbridge/version.h"

namespace tsbridge {

// A model input given as a tensor file (.npy, .pt or .npz, by extension).
struct InputFile {
  // The input it is; empty for the model's only input, or for an .npz
  // whose arrays are the inputs by their names.
  std::string name;
  std::string path;
};

// Reads the files and keys each tensor by the input it is for, given the
// method's declared inputs (Model::inputs): an unnamed .npy/.pt is the one
// input a one-input method takes; an unnamed .npz gives its arrays by name;
// a named .npz must hold exactly one array. `map_npy_files` memory-maps .npy
// files instead of reading them (map_npy), for streaming a data set.
// Throws Error(InvalidArgument) for a file the method's inputs cannot place,
// Error(InvalidInputFile) for one that cannot be read. Names are not
// checked against the inputs here: make_inputs and Model::check_inputs do.
TSBRIDGE_API std::map<std::string, at::Tensor> read_input_files(const std::vector<InputFile>& files,
                                                                const std::vector<TensorSpec>& inputs,
                                                                bool map_npy_files = false);

}  // namespace tsbridge
