#pragma once

#include <vector>

#include <ATen/core/ivalue.h>

#include "tsbridge/model.h"

namespace tsbridge::detail {

// The inputs of the golden sample the manifest names, moved to the model's
// device (self_test.cpp reads the sample). Error(InvalidArgument) when the
// archive has no golden sample, Error(InvalidArchive) when it cannot be read.
std::vector<c10::IValue> golden_inputs(const Model& model);

}  // namespace tsbridge::detail
