#pragma once

// How libtsbridge's messages spell small things, in one place.

#include <string>

#include <c10/util/ArrayRef.h>

namespace tsbridge::detail {

// "[5,10]" ("[]" for a scalar), as TensorSpec::to_string writes a shape.
inline std::string shape_text(c10::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? "," : "") + std::to_string(shape[i]);
  return text + "]";
}

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace tsbridge::detail
