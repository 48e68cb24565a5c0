// The model: loading it (LoadOptions), running and checking its methods,
// warm-up, what it holds, and the stand-in inputs tsrun makes for it (and
// the NAME=DIMS[:DTYPE] specs that size them).
#include "convert.h"

#include <torch/csrc/jit/python/pybind_utils.h>

#include <tsbridge/dtype.h>
#include <tsbridge/inputs.h>
#include <tsbridge/manifest.h>
#include <tsbridge/model.h>
#include <tsbridge/self_test.h>

#include "bindings.h"
#include "tsbridge/input_spec.h"

namespace tsbridge::bindings {

namespace {

py::object run(const tsbridge::Model& model, const std::string& method, const py::args& args) {
  auto inputs = to_ivalues(model, method, args);
  c10::IValue result;
  {
    py::gil_scoped_release release;
    result = model.run(method, std::move(inputs));
  }
  return torch::jit::toPyObject(std::move(result));
}

tsbridge::Model load_model(const std::string& path, const std::string& device, bool verify_integrity, int warmup_calls,
                           bool optimize_graph, bool pack_convolutions, std::optional<int> runners, bool apply_tuning) {
  tsbridge::LoadOptions options;
  options.device = device;
  options.apply_tuning = apply_tuning;
  options.verify_integrity = verify_integrity;
  options.warmup_calls = warmup_calls;
  // Only what was asked for: the other format's options are refused, not ignored.
  if (optimize_graph || !pack_convolutions) {
    options.torchscript = tsbridge::TorchScriptOptions{optimize_graph, pack_convolutions};
  }
  if (runners) options.aoti = tsbridge::AotiOptions{runners};
  py::gil_scoped_release release;  // warm-up calls run the model
  return tsbridge::Model::load(path, options);
}

// The leaves of a result as (name, value) pairs, named as the runtime names
// them (after the manifest's output specs for forward).
py::list output_leaves(const tsbridge::Model& model, const std::string& method, const py::handle& result) {
  py::list leaves;
  for (auto& leaf : model.output_leaves(method, to_result(result, "output_leaves"))) {
    leaves.append(py::make_tuple(leaf.name, torch::jit::toPyObject(std::move(leaf.value))));
  }
  return leaves;
}

}  // namespace

void bind_model_facts(py::module_& m) {
  using tsbridge::Model;
  using tsbridge::WarmUp;
  py::class_<Model::Stats>(m, "ModelStats", "What an archive holds (Model::stats): each distinct tensor once.")
      .def_readonly("parameters", &Model::Stats::parameters)
      .def_readonly("parameter_bytes", &Model::Stats::parameter_bytes)
      .def("__repr__", [](const Model::Stats& s) {
        return Repr("ModelStats")("parameters", s.parameters)("parameter_bytes", s.parameter_bytes).str();
      });
  py::class_<WarmUp>(m, "WarmUp", "What a warm-up did: its calls and their time.")
      .def_readonly("calls", &WarmUp::calls)
      .def_readonly("seconds", &WarmUp::seconds)
      .def("__repr__", [](const WarmUp& w) { return Repr("WarmUp")("calls", w.calls)("seconds", w.seconds).str(); });
}

void bind_model(py::module_& m) {
  using tsbridge::Model;
  using Specs = std::vector<tsbridge::TensorSpec>;
  py::class_<Model>(m, "Model")
      .def_static("load", &load_model, py::arg("path"), py::arg("device") = "cpu", py::arg("verify_integrity") = true,
                  py::arg("warmup_calls") = 0, py::arg("optimize_graph") = false, py::arg("pack_convolutions") = true,
                  py::arg("runners") = py::none(), py::arg("apply_tuning") = true)
      .def_property_readonly("runners", &Model::runners)
      .def_property_readonly("tuning", &Model::tuning, py::return_value_policy::reference_internal,
                             "What the load applied of a recorded tuning (AppliedTuning).")
      .def(
          "warm_up",
          [](const Model& model, const py::args& args, int calls) {
            auto inputs = to_ivalues(model, "forward", args);
            py::gil_scoped_release release;
            return inputs.empty() ? model.warm_up(calls) : model.warm_up(inputs, calls);
          },
          py::arg("calls") = 1)
      .def_property_readonly("load_warm_up", &Model::load_warm_up, "What LoadOptions' warmup_calls did (WarmUp).")
      .def("run", &run, py::arg("method"))
      .def(
          "check_inputs",
          [](const Model& model, const std::string& method, const py::handle& inputs) {
            model.check_inputs(method, argument_list(model, method, inputs, "check_inputs"));
          },
          py::arg("method"), py::arg("inputs"),
          "The checks run() makes before the graph runs, without running it (a list or tuple of the arguments).")
      .def("output_leaves", &output_leaves, py::arg("method"), py::arg("result"),
           "A result's leaves, flattened in order, as [(name, value)]: named after the manifest's outputs for "
           "forward when they match one to one, else by position.")
      .def("forward", [](const Model& model, const py::args& args) { return run(model, "forward", args); })
      .def_property_readonly("methods", &Model::methods)
      .def("has_method", &Model::has_method, py::arg("method"))
      .def(
          "inputs", [](const Model& model, const std::string& method) -> Specs { return model.inputs(method); },
          py::arg("method") = "forward")
      .def_property_readonly("outputs", [](const Model& model) -> Specs { return model.outputs(); })
      .def_property_readonly("manifest", &Model::manifest, py::return_value_policy::reference_internal,
                             "The manifest (Manifest), or None for a plain TorchScript file.")
      .def(
          "extra_file",
          [](const Model& model, const std::string& name) -> py::object {
            auto content = model.extra_file(name);
            return content ? py::object(py::bytes(*content)) : py::object(py::none());
          },
          py::arg("name"))
      .def(
          "self_test",
          [](const Model& model) {
            py::gil_scoped_release release;
            return tsbridge::self_test(model);
          },
          "Replays the golden sample stored at export (tsbridge::self_test): a SelfTestReport.")
      .def("stats", &Model::stats, "What the archive holds (ModelStats; weight constants once frozen).")
      .def("code", &Model::code, py::arg("method") = "forward",
           "The TorchScript source of a method, as Python's scripted.<method>.code prints it.")
      .def_property_readonly("path", &Model::path)
      .def_property_readonly("format", [](const Model& model) { return Model::format_name(model.format()); })
      .def_property_readonly("device", [](const Model& model) { return model.device().str(); });
}

void bind_inputs(py::module_& m) {
  m.def(
      "make_inputs",
      [](const std::vector<tsbridge::TensorSpec>& specs, uint64_t seed,
         const std::map<std::string, std::vector<int64_t>>& shapes, const std::map<std::string, std::string>& dtypes,
         const std::string& device) {
        tsbridge::InputOptions options;
        options.seed = seed;
        options.shapes = shapes;
        options.dtypes = dtypes;
        options.device = c10::Device(device);
        py::list out;
        for (auto& input : tsbridge::make_inputs(specs, options)) out.append(torch::jit::toPyObject(std::move(input)));
        return out;
      },
      py::arg("specs"), py::arg("seed") = 0, py::arg("shapes") = std::map<std::string, std::vector<int64_t>>{},
      py::arg("dtypes") = std::map<std::string, std::string>{}, py::arg("device") = "cpu",
      "Stand-in inputs for specs (a Model's inputs(), or TensorSpecs made here), exactly as tsrun makes them.");
  m.def(
      "parse_input_spec", &tsbridge::parse_input_spec, py::arg("text"), py::arg("allow_dynamic") = true,
      "NAME=DIMS[:DTYPE] (x=1x3x224x224:float32, x=batch,10, x=-1x10) as a TensorSpec: dtype None when not "
      "given, a str for a dynamic dim; the one grammar of every command's input shapes (libtsbridge's input_spec.h).");
  m.def("parse_shape", &tsbridge::parse_shape, py::arg("text"), "'1x3x224x224' (or '5,10', '' for a scalar) as sizes.");
  m.def("named_dtypes", &tsbridge::named_dtypes, "Every dtype the manifest names, with its name: [(name, dtype)].");
}

}  // namespace tsbridge::bindings
