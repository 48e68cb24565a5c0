#include "tsbridge/dtype.h"

#include <utility>

#include "tsbridge/error.h"

namespace tsbridge {
namespace {

constexpr std::pair<const char*, c10::ScalarType> kNames[] = {
    {"float32", c10::kFloat},
    {"float64", c10::kDouble},
    {"float16", c10::kHalf},
    {"bfloat16", c10::kBFloat16},
    {"int8", c10::kChar},
    {"int16", c10::kShort},
    {"int32", c10::kInt},
    {"int64", c10::kLong},
    {"uint8", c10::kByte},
    {"bool", c10::kBool},
    {"complex64", c10::kComplexFloat},
    {"complex128", c10::kComplexDouble},
};

}  // namespace

std::string dtype_name(c10::ScalarType dtype) {
  for (const auto& [name, type] : kNames) {
    if (type == dtype) return name;
  }
  return c10::toString(dtype);
}

c10::ScalarType dtype_from_name(const std::string& name) {
  for (const auto& [known, type] : kNames) {
    if (name == known) return type;
  }
  std::string list;
  for (const auto& entry : kNames) list += std::string(list.empty() ? "" : ", ") + entry.first;
  throw Error(ErrorCode::InvalidArgument, "unknown dtype '" + name + "' (expected one of " + list + ")");
}

std::vector<std::pair<std::string, c10::ScalarType>> named_dtypes() {
  std::vector<std::pair<std::string, c10::ScalarType>> out;
  for (const auto& [name, type] : kNames) out.emplace_back(name, type);
  return out;
}

}  // namespace tsbridge
