#pragma once

#include <string>
#include <vector>

#include "tsbridge/export.h"
#include "tsbridge/model.h"

namespace tsbridge {

// How one leaf of forward's result compared with the golden sample.
struct OutputCheck {
  std::string name;  // "output", "output[0]", "output[1]['sum']" (or the manifest's output name)
  bool passed = false;
  double max_abs_error = 0;  // max |got - expected|
  double max_rel_error = 0;  // max |got - expected| / |expected|
  std::string problem;       // empty when fine, else e.g. "shape [5, 1] != expected [5, 2]"
};

struct SelfTestReport {
  bool passed = false;
  double rtol = 0, atol = 0;  // the tolerances of the golden sample, from the manifest
  double max_abs_error = 0, max_rel_error = 0;  // over all outputs
  std::vector<OutputCheck> outputs;  // in the golden sample's order, then any extra outputs
};

// Replays the golden sample stored at export (the manifest's "golden" field):
// runs forward on its inputs, on the model's device, and compares each output
// with what eager PyTorch gave: same structure, dtype and shape, and values
// within |got - expected| <= atol + rtol * |expected| (other leaves equal).
// A mismatch is a report with passed == false, not an error. Throws
// Error(InvalidArgument) when the archive has no golden sample,
// Error(InvalidArchive) when it cannot be read, and the errors of forward
// (InputMismatch, InferenceFailed) when the model cannot run it.
TSBRIDGE_API SelfTestReport self_test(const Model& model);

}  // namespace tsbridge
