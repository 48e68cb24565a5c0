#include "tsbridge/self_test.h"

#include "core/golden.h"
#include "tsbridge/error.h"

namespace tsbridge {

SelfTestReport self_test(const Model& model) {
  const GoldenSample& golden = detail::golden_of(model);
  GoldenValues sample = detail::golden_sample_on_device(model);
  c10::IValue got;
  try {
    got = model.forward(std::move(sample.inputs));
  } catch (const Error& e) {
    throw Error(e.code(), std::string(e.what()) + " (replaying the golden sample)");
  }

  CompareOptions options;
  options.rtol = golden.rtol;
  options.atol = golden.atol;
  options.outputs = model.outputs();
  options.expected_name = "the golden sample";
  SelfTestReport report;
  try {
    static_cast<Comparison&>(report) = compare_results(sample.outputs, got, options);
  } catch (const Error& e) {
    throw Error(ErrorCode::InvalidArchive, model.path() + ": golden sample '" + golden.entry + "': " + e.what());
  }
  report.rtol = golden.rtol;
  report.atol = golden.atol;
  return report;
}

}  // namespace tsbridge
