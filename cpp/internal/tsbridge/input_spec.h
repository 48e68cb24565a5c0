// NAME=DIMS[:DTYPE]: the one form in which every command takes an input's
// shape (tsrun --shape, tsbridge export --example, tsbridge triton --shape,
// tsbridge migrate --shape and migrate(shapes=...)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tsbridge/manifest.h"
#include "tsbridge/version.h"

namespace tsbridge {

// Parses NAME=DIMS[:DTYPE] into a spec: its name, shape and dtype ("" when
// not given; else a name from dtype.h's table).
// DIMS are joined by 'x' (1x3x224x224) or by ',' (batch,3,224,224), and are
// empty for a 0-d tensor. Each is a size >= 0, or a dynamic dim: -1, named
// "batch" at dim 0 and NAME_dimI elsewhere, or a name (an identifier; with
// other dims only in ','-joined DIMS, since a name may hold an 'x'). With
// allow_dynamic false (a command that makes concrete inputs), a dynamic dim
// is refused.
// Throws Error(InvalidArgument): one line with the expected form, the text
// and what is wrong with it.
TSBRIDGE_API TensorSpec parse_input_spec(const std::string& text, bool allow_dynamic = true);

// DIMS alone, every dim a size (tsbridge::parse_shape): the same rules.
std::vector<int64_t> parse_sizes(const std::string& dims);

}  // namespace tsbridge
