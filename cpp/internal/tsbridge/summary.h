#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/ivalue.h>

#include "tsbridge/manifest.h"
#include "tsbridge/model.h"
#include "tsbridge/version.h"

namespace tsbridge {

// Flattens tuples, lists and dicts into their leaves, in order.
TSBRIDGE_API std::vector<NamedValue> flatten(const c10::IValue& value, const std::string& root = "output");

// As above, but names the leaves after the manifest's output specs when they
// match one to one.
TSBRIDGE_API std::vector<NamedValue> flatten(const c10::IValue& value, const std::vector<TensorSpec>& specs);

// A number as people read it: `significant` digits, printf's %g
// ("0.000123", "1.5e+07", "3").
TSBRIDGE_API std::string format_number(double value, int significant = 6);

// What a person wants to see of a tensor at a glance.
struct TensorSummary {
  std::vector<int64_t> shape;
  std::string dtype;
  std::string device;
  int64_t numel = 0;
  double min = 0, max = 0, mean = 0;  // meaningful when numel > 0
  std::vector<double> first_values;
};

TSBRIDGE_API TensorSummary summarize(const at::Tensor& tensor, size_t first_count = 5);

// "name: float32[5, 1] min=... max=... mean=... first=[...]" for tensors, and
// "name: int 3" for other leaves.
TSBRIDGE_API std::string describe(const NamedValue& value, size_t first_count = 5);

}  // namespace tsbridge
