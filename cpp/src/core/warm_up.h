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

// LoadOptions::warmup_calls: warm_up(calls) when the file declares inputs to
// make (a golden sample, or tensor specs in its manifest), else nothing.
WarmUp warm_up_at_load(const Model& model, int calls);

}  // namespace tsbridge::detail
