#include "tsbridge/summary.h"

#include <cstdio>

#include <ATen/ATen.h>

#include "tsbridge/dtype.h"

namespace tsbridge {
namespace {

void flatten_into(const c10::IValue& value, const std::string& name, std::vector<NamedValue>& out) {
  if (value.isTuple()) {
    const auto& elements = value.toTupleRef().elements();
    for (size_t i = 0; i < elements.size(); ++i) {
      flatten_into(elements[i], name + "[" + std::to_string(i) + "]", out);
    }
  } else if (value.isList()) {
    const auto elements = value.toListRef();
    for (size_t i = 0; i < elements.size(); ++i) {
      flatten_into(elements[i], name + "[" + std::to_string(i) + "]", out);
    }
  } else if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) {
      const auto& key = entry.key();
      const std::string label =
          key.isString() ? "'" + key.toStringRef() + "'" : (key.isInt() ? std::to_string(key.toInt()) : key.tagKind());
      flatten_into(entry.value(), name + "[" + label + "]", out);
    }
  } else {
    out.push_back({name, value});
  }
}

}  // namespace

std::string format_number(double value, int significant) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*g", significant, value);
  return buffer;
}

std::vector<NamedValue> flatten(const c10::IValue& value, const std::string& root) {
  std::vector<NamedValue> out;
  flatten_into(value, root, out);
  return out;
}

std::vector<NamedValue> flatten(const c10::IValue& value, const std::vector<TensorSpec>& specs) {
  auto leaves = flatten(value);
  if (leaves.size() == specs.size()) {
    for (size_t i = 0; i < leaves.size(); ++i) leaves[i].name = specs[i].name;
  }
  return leaves;
}

TensorSummary summarize(const at::Tensor& tensor, size_t first_count) {
  TensorSummary summary;
  summary.shape = tensor.sizes().vec();
  summary.dtype = dtype_name(tensor.scalar_type());
  summary.device = tensor.device().str();
  summary.numel = tensor.numel();
  if (summary.numel == 0) return summary;
  at::Tensor values = tensor.detach().to(c10::kCPU);
  values = (values.is_complex() ? at::real(values) : values).to(c10::kDouble).flatten();
  summary.min = values.min().item<double>();
  summary.max = values.max().item<double>();
  summary.mean = values.mean().item<double>();
  const auto count = std::min<int64_t>(static_cast<int64_t>(first_count), summary.numel);
  const double* data = values.data_ptr<double>();
  summary.first_values.assign(data, data + count);
  return summary;
}

std::string describe(const NamedValue& named, size_t first_count) {
  const c10::IValue& value = named.value;
  if (!value.isTensor()) {
    std::string text = named.name + ": " + value.tagKind();
    if (value.isString()) return text + " '" + value.toStringRef() + "'";
    if (value.isInt()) return text + " " + std::to_string(value.toInt());
    if (value.isDouble()) return text + " " + format_number(value.toDouble());
    if (value.isBool()) return text + (value.toBool() ? " true" : " false");
    return text;
  }
  const TensorSummary s = summarize(value.toTensor(), first_count);
  std::string text = named.name + ": " + s.dtype + "[";
  for (size_t i = 0; i < s.shape.size(); ++i) text += (i ? ", " : "") + std::to_string(s.shape[i]);
  text += "]";
  if (s.device != "cpu") text += " on " + s.device;
  if (s.numel == 0) return text + " (empty)";
  text +=
      " min=" + format_number(s.min) + " max=" + format_number(s.max) + " mean=" + format_number(s.mean) + " first=[";
  for (size_t i = 0; i < s.first_values.size(); ++i) text += (i ? ", " : "") + format_number(s.first_values[i]);
  return text + (s.numel > static_cast<int64_t>(s.first_values.size()) ? ", ...]" : "]");
}

}  // namespace tsbridge
