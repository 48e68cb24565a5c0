#pragma once

#include <optional>
#include <vector>

#include "tsbridge/model.h"

namespace tsbridge::detail {

// Inputs for a call the file itself supplies: its golden sample's (real
// data, at sizes export checked) or, without one, inputs made from the
// manifest's specs (dynamic dims as 1); nullopt when the file declares
// neither, or an input that is not a tensor.
std::optional<std::vector<c10::IValue>> example_inputs(const Model& model);

// LoadOptions::warmup_calls: `calls` calls on `example` (example_inputs,
// read once by the load), as warm_up(calls) makes them; nothing without one.
WarmUp warm_up_at_load(const Model& model, const std::optional<std::vector<c10::IValue>>& example, int calls);

}  // namespace tsbridge::detail
