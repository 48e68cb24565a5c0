#pragma once

#include <vector>

#include <ATen/core/ivalue.h>

#include "tsbridge/golden_sample.h"
#include "tsbridge/model.h"

namespace tsbridge::detail {

// The manifest's golden sample record; Error(InvalidArgument) when the
// archive has none (golden.cpp).
const GoldenSample& golden_of(const Model& model);

// The golden sample with its inputs moved to the model's device (outputs
// stay on the CPU, where comparisons run).
GoldenValues golden_sample_on_device(const Model& model);

// Only its inputs (warm-up's).
std::vector<c10::IValue> golden_inputs(const Model& model);

}  // namespace tsbridge::detail
