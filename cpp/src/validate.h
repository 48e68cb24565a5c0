#pragma once

#include <string>
#include <vector>

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include "tsbridge/manifest.h"

namespace tsbridge::detail {

// Checks tensor inputs against the manifest's specs before the graph runs:
// dtype, rank, fixed dims and device. Throws Error(InputMismatch) naming the
// input, what was expected and what came, e.g.
// "input 'x': expected float32[batch,10], got int64[5,7]".
void validate_inputs(const std::vector<TensorSpec>& specs, const std::vector<c10::IValue>& inputs,
                     c10::Device device);

// Refuses a manifest written by a torch newer (major.minor) than this
// runtime's LibTorch, naming both versions. A newer patch release is accepted:
// TorchScript's file format changes with minor releases.
void check_torch_version(const std::string& written_by);

}  // namespace tsbridge::detail
