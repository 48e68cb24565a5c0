// Reports: a result compared leaf by leaf, the self-test, the integrity
// check, the golden sample's values and a benchmark's timings.
#include "convert.h"

#include <torch/csrc/jit/python/pybind_utils.h>

#include <tsbridge/benchmark.h>
#include <tsbridge/compare.h>
#include <tsbridge/golden_sample.h>
#include <tsbridge/integrity.h>
#include <tsbridge/self_test.h>

#include "bindings.h"

namespace tsbridge::bindings {

void bind_reports(py::module_& m) {
  using namespace tsbridge;
  py::class_<OutputCheck>(m, "OutputCheck", "How one leaf of a result compared with the value expected there.")
      .def_readonly("name", &OutputCheck::name)
      .def_readonly("passed", &OutputCheck::passed)
      .def_readonly("max_abs_error", &OutputCheck::max_abs_error)
      .def_readonly("max_rel_error", &OutputCheck::max_rel_error)
      .def_readonly("problem", &OutputCheck::problem, "'' when fine")
      .def("__repr__", [](const OutputCheck& c) {
        return Repr("OutputCheck")("name", c.name)("passed", c.passed)("max_abs_error", c.max_abs_error)(
                   "max_rel_error", c.max_rel_error)("problem", c.problem)
            .str();
      });
  py::class_<Comparison>(m, "Comparison", "A result compared with the result expected, leaf by leaf.")
      .def_readonly("passed", &Comparison::passed)
      .def_readonly("max_abs_error", &Comparison::max_abs_error)
      .def_readonly("max_rel_error", &Comparison::max_rel_error)
      .def_readonly("outputs", &Comparison::outputs)
      .def("__repr__", [](const Comparison& c) {
        return Repr("Comparison")("passed", c.passed)("max_abs_error", c.max_abs_error)(
                   "max_rel_error", c.max_rel_error)("outputs", c.outputs)
            .str();
      });
  py::class_<SelfTestReport, Comparison>(m, "SelfTestReport", "The golden sample replayed (tsbridge::self_test).")
      .def_readonly("rtol", &SelfTestReport::rtol)
      .def_readonly("atol", &SelfTestReport::atol)
      .def("__repr__", [](const SelfTestReport& r) {
        return Repr("SelfTestReport")("passed", r.passed)("max_abs_error", r.max_abs_error)(
                   "max_rel_error", r.max_rel_error)("rtol", r.rtol)("atol", r.atol)("outputs", r.outputs)
            .str();
      });
  py::class_<IntegrityReport>(m, "IntegrityReport", "An archive's entries checked against its manifest's digests.")
      .def_readonly("recorded", &IntegrityReport::recorded, "False: the manifest records no digests")
      .def_readonly("algorithm", &IntegrityReport::algorithm)
      .def_readonly("checked", &IntegrityReport::checked)
      .def_readonly("problems", &IntegrityReport::problems)
      .def_property_readonly("intact", &IntegrityReport::intact)
      .def("__repr__", [](const IntegrityReport& r) {
        return Repr("IntegrityReport")("recorded", r.recorded)("algorithm", r.algorithm)("checked", r.checked)(
                   "problems", r.problems)
            .str();
      });
  py::class_<GoldenValues>(m, "GoldenValues", "A golden sample's inputs and the outputs eager PyTorch gave.")
      .def_property_readonly("inputs",
                             [](const GoldenValues& g) {
                               py::list inputs;
                               for (const auto& input : g.inputs) inputs.append(torch::jit::toPyObject(input));
                               return py::tuple(inputs);
                             })
      .def_property_readonly("outputs", [](const GoldenValues& g) { return torch::jit::toPyObject(g.outputs); })
      .def("__repr__", [](const GoldenValues& g) { return Repr("GoldenValues")("inputs", g.inputs.size()).str(); });
}

void bind_checks(py::module_& m) {
  m.def(
      "check_integrity",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return tsbridge::check_integrity(path);
      },
      py::arg("path"), "Checks the archive's entries against its manifest's digests without loading it.");
  m.def(
      "compare_results",
      [](const py::object& expected, const py::object& got, double rtol, double atol) {
        tsbridge::CompareOptions options;
        options.rtol = rtol;
        options.atol = atol;
        return tsbridge::compare_results(to_result(expected), to_result(got), options);
      },
      py::arg("expected"), py::arg("got"), py::arg("rtol") = 1e-5, py::arg("atol") = 1e-5,
      "Compares two results leaf by leaf, as the self-test does (tsbridge::compare_results).");
  m.def("read_golden_sample", &tsbridge::read_golden_sample, py::arg("model"),
        "The golden sample stored at export, on the CPU (GoldenValues).");
}

void bind_benchmark(py::module_& m) {
  using tsbridge::BenchmarkResult;
  py::class_<BenchmarkResult>(m, "BenchmarkResult", "A benchmark's timings (tsbridge::benchmark).")
      .def_readonly("first_call_ms", &BenchmarkResult::first_call_ms)
      .def_readonly("latencies_ms", &BenchmarkResult::latencies_ms, "every timed call, in order")
      .def_readonly("total_seconds", &BenchmarkResult::total_seconds)
      .def("calls_per_second", &BenchmarkResult::calls_per_second)
      .def("min_ms", &BenchmarkResult::min_ms)
      .def("max_ms", &BenchmarkResult::max_ms)
      .def("mean_ms", &BenchmarkResult::mean_ms)
      .def("stddev_ms", &BenchmarkResult::stddev_ms, "population (ddof 0), as numpy.std")
      .def("percentile_ms", &BenchmarkResult::percentile_ms, py::arg("p"),
           "As numpy.percentile's default; p outside [0, 100] is an InvalidArgumentError.")
      .def("__repr__", [](const BenchmarkResult& r) {
        return Repr("BenchmarkResult")("calls", r.latencies_ms.size())("first_call_ms", r.first_call_ms)(
                   "mean_ms", r.mean_ms())("calls_per_second", r.calls_per_second())
            .str();
      });
  m.def(
      "benchmark",
      [](const tsbridge::Model& model, const py::handle& inputs, const std::string& method, int64_t untimed_calls,
         int64_t iterations, double duration_seconds, int clients) {
        tsbridge::BenchmarkOptions options;
        options.method = method;
        options.untimed_calls = untimed_calls;
        options.iterations = iterations;
        options.duration_seconds = duration_seconds;
        options.clients = clients;
        auto values = argument_list(model, method, inputs, "benchmark");
        py::gil_scoped_release release;
        return tsbridge::benchmark(model, values, options);
      },
      py::arg("model"), py::arg("inputs"), py::arg("method") = "forward", py::arg("untimed_calls") = 10,
      py::arg("iterations") = 100, py::arg("duration_seconds") = 0.0, py::arg("clients") = 1,
      "Times a method with tsbridge::benchmark (GIL released): a BenchmarkResult.");
}

}  // namespace tsbridge::bindings
