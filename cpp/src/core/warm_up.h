#pragma once

#include "tsbridge/model.h"

namespace tsbridge::detail {

// LoadOptions::warmup_calls: warm_up(calls) when the file declares inputs to
// make (a golden sample, or tensor specs in its manifest), else nothing.
WarmUp warm_up_at_load(const Model& model, int calls);

}  // namespace tsbridge::detail
