#pragma once

#include <vector>

#include <ATen/core/ivalue.h>

#include "tsbridge/model.h"
#include "tsbridge/version.h"

namespace tsbridge {

// The values of a golden sample (the manifest's GoldenSample names the
// entry): forward's inputs and the outputs eager PyTorch gave for them.
struct GoldenValues {
  std::vector<c10::IValue> inputs;
  c10::IValue outputs;
};

// Reads the golden sample stored at export, with every tensor on the CPU
// (wherever export ran). Error(InvalidArgument) when the archive has none,
// Error(InvalidArchive) when it is missing, not valid base64 where the
// manifest says so, or not a dict of "inputs" (a tuple or list) and "outputs".
TSBRIDGE_API GoldenValues read_golden_sample(const Model& model);

}  // namespace tsbridge
