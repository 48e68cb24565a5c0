#pragma once

#include "tsbridge/compare.h"
#include "tsbridge/model.h"
#include "tsbridge/version.h"

namespace tsbridge {

// A comparison of forward's result on the golden sample's inputs with the
// sample's outputs; `outputs` in the golden sample's order, then any extra.
struct SelfTestReport : Comparison {
  double rtol = 0, atol = 0;  // the tolerances of the golden sample, from the manifest
};

// Replays the golden sample stored at export (the manifest's "golden" field):
// runs forward on its inputs, on the model's device, and compares each output
// with what eager PyTorch gave (compare_results, with the stored tolerances
// and the manifest's output names).
// A mismatch is a report with passed == false, not an error. Throws
// Error(InvalidArgument) when the archive has no golden sample,
// Error(InvalidArchive) when it cannot be read, and the errors of forward
// (InputMismatch, InferenceFailed) when the model cannot run it.
TSBRIDGE_API SelfTestReport self_test(const Model& model);

}  // namespace tsbridge
