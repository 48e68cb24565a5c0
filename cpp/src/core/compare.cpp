#include "tsbridge/compare.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <variant>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include "core/condense.h"
#include "core/text.h"
#include "tsbridge/dtype.h"
#include "tsbridge/error.h"
#include "tsbridge/summary.h"

namespace tsbridge {
namespace {

// Errors in messages: three digits say enough.
std::string number(double value) { return format_number(value, 3); }

// Python's names, as the person who exported the model knows them.
std::string kind_name(const c10::IValue& value) {
  if (value.isTensor()) return "Tensor";
  if (value.isDouble()) return "float";
  if (value.isInt()) return "int";
  if (value.isBool()) return "bool";
  if (value.isString()) return "str";
  if (value.isNone()) return "None";
  return value.tagKind();
}

std::string scalar_text(const c10::IValue& value) {
  if (value.isInt()) return std::to_string(value.toInt());
  if (value.isBool()) return value.toBool() ? "True" : "False";
  if (value.isString()) return "'" + value.toStringRef() + "'";
  return kind_name(value);
}

void check_tensors(const at::Tensor& expected_in, const at::Tensor& got_in, double rtol, double atol,
                   OutputCheck& check) {
  const at::Tensor expected = expected_in.detach().to(c10::kCPU);
  const at::Tensor got = got_in.detach().to(c10::kCPU);
  if (got.sizes() != expected.sizes()) {
    check.problem = "shape " + detail::shape_text(got.sizes()) + " != expected " + detail::shape_text(expected.sizes());
    return;
  }
  if (got.scalar_type() != expected.scalar_type()) {
    check.problem = "dtype " + dtype_name(got.scalar_type()) + " != expected " + dtype_name(expected.scalar_type());
    return;
  }
  if (expected.numel() == 0) return;
  const bool inexact = expected.is_floating_point() || expected.is_complex();
  const auto wide = expected.is_complex() ? c10::kComplexDouble : c10::kDouble;
  const at::Tensor want = expected.to(wide), have = got.to(wide);
  // Equal values agree, infinities and NaNs included (as torch.allclose with
  // equal_nan); any other non-finite difference is an infinite error.
  const at::Tensor same = at::eq(have, want).logical_or(at::isnan(have).logical_and(at::isnan(want)));
  at::Tensor diff = at::sub(have, want).abs().masked_fill(same, 0.0);
  diff = diff.masked_fill(same.logical_not().logical_and(at::isfinite(diff).logical_not()),
                          std::numeric_limits<double>::infinity());
  const at::Tensor scale = want.abs();
  check.max_abs_error = diff.max().item<double>();
  const at::Tensor rel = diff / scale.clamp_min(DBL_MIN);  // NaN where both are infinite
  check.max_rel_error = rel.masked_fill(at::isnan(rel), std::numeric_limits<double>::infinity()).max().item<double>();
  const at::Tensor ok =
      inexact ? same.logical_or(diff.le(scale.mul(rtol).add(atol)).logical_and(at::isfinite(scale))) : same;
  const int64_t bad = ok.numel() - ok.sum().item<int64_t>();
  if (bad == 0) return;
  check.problem = std::to_string(bad) + " of " + std::to_string(ok.numel()) + " values " +
                  (inexact ? "outside atol + rtol * |expected|" : "differ");
}

void check_scalars(const c10::IValue& expected, const c10::IValue& got, double rtol, double atol, OutputCheck& check) {
  if (expected.isDouble() && got.isDouble()) {
    const double want = expected.toDouble(), have = got.toDouble();
    if (want == have || (std::isnan(want) && std::isnan(have))) return;
    const double diff = std::isfinite(have - want) ? std::abs(have - want) : std::numeric_limits<double>::infinity();
    check.max_abs_error = diff;
    check.max_rel_error = diff / std::max(std::abs(want), DBL_MIN);
    if (std::isfinite(want) && diff <= atol + rtol * std::abs(want)) return;
    check.problem = "got " + number(have) + ", expected " + number(want);
    return;
  }
  const bool equal = expected.isInt() && got.isInt()         ? expected.toInt() == got.toInt()
                     : expected.isBool() && got.isBool()     ? expected.toBool() == got.toBool()
                     : expected.isString() && got.isString() ? expected.toStringRef() == got.toStringRef()
                                                             : expected.isNone() && got.isNone();
  if (equal) return;
  if (kind_name(expected) != kind_name(got)) {
    check.problem = kind_name(got) + " != expected " + kind_name(expected);
  } else if (expected.isInt() || expected.isBool() || expected.isString()) {
    check.problem = "got " + scalar_text(got) + ", expected " + scalar_text(expected);
  } else {
    check.problem = "cannot compare values of kind " + kind_name(expected);
  }
}

OutputCheck check_leaf(const std::string& name, const c10::IValue& expected, const c10::IValue& got, double rtol,
                       double atol) {
  OutputCheck check;
  check.name = name;
  if (expected.isTensor() && got.isTensor()) {
    check_tensors(expected.toTensor(), got.toTensor(), rtol, atol, check);
  } else if (expected.isTensor() || got.isTensor()) {
    check.problem = kind_name(got) + " != expected " + kind_name(expected);
  } else {
    check_scalars(expected, got, rtol, atol, check);
  }
  check.passed = check.problem.empty();
  return check;
}

// The specs' names for output leaves, keyed by flatten's name for the same
// place ("output[1]['sum']"), so renamed outputs keep their names.
std::map<std::string, std::string> output_names(const std::vector<TensorSpec>& specs) {
  std::map<std::string, std::string> names;
  for (const auto& spec : specs) {
    std::string place = "output";
    for (const auto& step : spec.path) {
      place += std::holds_alternative<int64_t>(step) ? "[" + std::to_string(std::get<int64_t>(step)) + "]"
                                                     : "['" + std::get<std::string>(step) + "']";
    }
    names.emplace(place, spec.name);
  }
  return names;
}

std::vector<OutputCheck> check_leaves(const c10::IValue& expected, const c10::IValue& got,
                                      const CompareOptions& options) {
  const auto want = flatten(expected), have = flatten(got);
  const auto names = output_names(options.outputs);
  const auto label = [&](const std::string& place) {
    auto found = names.find(place);
    return found == names.end() ? place : found->second;
  };
  std::map<std::string, size_t> unmatched;
  for (size_t i = 0; i < have.size(); ++i) unmatched.emplace(have[i].name, i);
  std::vector<OutputCheck> checks;
  for (const auto& leaf : want) {
    auto found = unmatched.find(leaf.name);
    if (found == unmatched.end()) {
      checks.push_back({label(leaf.name), false, 0, 0, "missing from the model's result"});
      continue;
    }
    checks.push_back(check_leaf(label(leaf.name), leaf.value, have[found->second].value, options.rtol, options.atol));
    unmatched.erase(found);
  }
  for (const auto& leaf : have) {
    if (unmatched.count(leaf.name)) {
      checks.push_back({label(leaf.name), false, 0, 0, "not in " + options.expected_name});
    }
  }
  return checks;
}

}  // namespace

Comparison compare_results(const c10::IValue& expected, const c10::IValue& got, const CompareOptions& options) {
  Comparison comparison;
  try {
    c10::InferenceMode inference;
    comparison.outputs = check_leaves(expected, got, options);
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArgument,
                "results cannot be compared: " + detail::condense(e.what_without_backtrace()));
  }
  comparison.passed = true;
  for (const auto& output : comparison.outputs) {
    comparison.passed = comparison.passed && output.passed;
    comparison.max_abs_error = std::max(comparison.max_abs_error, output.max_abs_error);
    comparison.max_rel_error = std::max(comparison.max_rel_error, output.max_rel_error);
  }
  return comparison;
}

}  // namespace tsbridge
