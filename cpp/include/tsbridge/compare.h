#pragma once

#include <string>
#include <vector>

#include <ATen/core/ivalue.h>

#include "tsbridge/manifest.h"
#include "tsbridge/version.h"

namespace tsbridge {

// How one leaf of a result compared with the value expected there.
struct OutputCheck {
  std::string name;  // "output", "output[0]", "output[1]['sum']" (or the manifest's output name)
  bool passed = false;
  double max_abs_error = 0;  // max |got - expected|
  double max_rel_error = 0;  // max |got - expected| / |expected|
  std::string problem;       // empty when fine, else e.g. "shape [5, 1] != expected [5, 2]"
};

struct CompareOptions {
  double rtol = 1e-5;  // agreement is |got - expected| <= atol + rtol * |expected|
  double atol = 1e-5;
  // Output specs (a manifest's outputs) whose names replace the leaf names
  // at the places their paths point to.
  std::vector<TensorSpec> outputs;
  // What the expected values are, for a leaf only the result has: "not in
  // the expected result".
  std::string expected_name = "the expected result";
};

// A result compared with the result expected, leaf by leaf.
struct Comparison {
  bool passed = false;
  double max_abs_error = 0, max_rel_error = 0;  // over all outputs
  std::vector<OutputCheck> outputs;             // in the expected result's order, then any extra leaves
};

// Compares two (possibly nested) results: the same structure, and each leaf
// of the same kind, dtype and shape, with values within
// |got - expected| <= atol + rtol * |expected| (NaNs and infinities equal
// where both have them; other leaves equal). Leaves are matched by their
// place (flatten's names), so a dict listing its keys in another order still
// matches; a missing or an extra leaf is a mismatch of its own. A mismatch is
// a Comparison with passed == false; values that cannot be compared at all
// are an Error(InvalidArgument).
TSBRIDGE_API Comparison compare_results(const c10::IValue& expected, const c10::IValue& got,
                                        const CompareOptions& options = {});

}  // namespace tsbridge
