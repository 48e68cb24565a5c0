// tsbridge._core: the C++ runtime under Python. Conversion only; every
// behaviour lives in libtsbridge so Python and C++ users get the same thing.
#include <ATen/core/dynamic_type.h>
#include <torch/csrc/jit/mobile/type_parser.h>
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/csrc/utils/pybind.h>

#include <tsbridge/error.h>
#include <tsbridge/inputs.h>
#include <tsbridge/model.h>
#include <tsbridge/self_test.h>
#include <tsbridge/version.h>

namespace py = pybind11;

namespace {

py::object spec_to_python(const tsbridge::TensorSpec& spec) {
  py::dict out;
  out["name"] = spec.name;
  out["type"] = spec.type;
  out["dtype"] = spec.dtype.empty() ? py::object(py::none()) : py::object(py::str(spec.dtype));
  if (spec.shape) {
    py::list shape;
    for (const auto& dim : *spec.shape) {
      if (dim.is_dynamic()) shape.append(dim.name);
      else shape.append(dim.size);
    }
    out["shape"] = shape;
  } else {
    out["shape"] = py::none();
  }
  if (!spec.path.empty()) {
    py::list path;
    for (const auto& step : spec.path) {
      std::visit([&](const auto& s) { path.append(s); }, step);
    }
    out["path"] = path;
  }
  return std::move(out);
}

py::list specs_to_python(const std::vector<tsbridge::TensorSpec>& specs) {
  py::list out;
  for (const auto& spec : specs) out.append(spec_to_python(spec));
  return out;
}

// A Python value as the IValue a declared TorchScript type wants, converting
// the way a Python call into TorchScript would (int -> float, tuple -> list).
c10::IValue to_ivalue(const tsbridge::Model& model, const std::string& method, py::handle value,
                      const tsbridge::TensorSpec* spec, size_t index) {
  const std::string label = model.path() + ": input " +
                            (spec ? "'" + spec->name + "'" : std::to_string(index)) + " of method '" +
                            method + "'";
  const auto py_type = [&] { return std::string(py::str(py::type::of(value).attr("__name__"))); };
  c10::TypePtr declared;
  if (spec) {
    try {
      declared = c10::parseType(spec->type);
      // The parser yields LibTorch's "dynamic" types; toIValue wants the real ones.
      if (auto dynamic = declared->castRaw<c10::DynamicType>()) declared = dynamic->fallback();
    } catch (const std::exception&) {
      // A type only the archive knows (a scripted class): let TorchScript judge.
    }
  }
  if (declared) {
    try {
      return torch::jit::toIValue(value, declared);
    } catch (const std::exception&) {
      throw tsbridge::Error(tsbridge::ErrorCode::InputMismatch,
                            label + ": expected " + spec->type + ", got " + py_type());
    }
  }
  if (THPVariable_Check(value.ptr())) return THPVariable_Unpack(value.ptr());
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return value.cast<int64_t>();
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (value.is_none()) return c10::IValue();
  throw tsbridge::Error(tsbridge::ErrorCode::InputMismatch,
                        label + ": a " + py_type() + " cannot be passed to the model");
}

std::vector<c10::IValue> to_ivalues(const tsbridge::Model& model, const std::string& method,
                                    const py::args& args) {
  const auto specs = model.has_method(method) ? model.inputs(method) : std::vector<tsbridge::TensorSpec>{};
  std::vector<c10::IValue> inputs;
  for (size_t i = 0; i < args.size(); ++i) {
    inputs.push_back(to_ivalue(model, method, args[i], i < specs.size() ? &specs[i] : nullptr, i));
  }
  return inputs;
}

py::object run(const tsbridge::Model& model, const std::string& method, const py::args& args) {
  auto inputs = to_ivalues(model, method, args);
  c10::IValue result;
  {
    py::gil_scoped_release release;
    result = model.run(method, std::move(inputs));
  }
  return torch::jit::toPyObject(std::move(result));
}

py::dict self_test(const tsbridge::Model& model) {
  tsbridge::SelfTestReport report;
  {
    py::gil_scoped_release release;
    report = tsbridge::self_test(model);
  }
  py::list outputs;
  for (const auto& check : report.outputs) {
    py::dict output;
    output["name"] = check.name;
    output["passed"] = check.passed;
    output["max_abs_error"] = check.max_abs_error;
    output["max_rel_error"] = check.max_rel_error;
    output["problem"] = check.problem;
    outputs.append(output);
  }
  py::dict out;
  out["passed"] = report.passed;
  out["rtol"] = report.rtol;
  out["atol"] = report.atol;
  out["max_abs_error"] = report.max_abs_error;
  out["max_rel_error"] = report.max_rel_error;
  out["outputs"] = outputs;
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "The tsbridge C++ runtime (libtsbridge), bound for Python.";
  m.attr("__version__") = TSBRIDGE_VERSION;

  // tsbridge::Error -> the tsbridge.errors class for its code.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const tsbridge::Error& e) {
      py::object exception = py::module_::import("tsbridge.errors")
                                 .attr("from_code")(tsbridge::error_code_name(e.code()), e.what());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())), exception.ptr());
    }
  });

  py::class_<tsbridge::Model>(m, "Model")
      .def_static(
          "load",
          [](const std::string& path, const std::string& device) {
            tsbridge::LoadOptions options;
            options.device = device;
            return tsbridge::Model::load(path, options);
          },
          py::arg("path"), py::arg("device") = "cpu")
      .def("run", &run, py::arg("method"))
      .def("forward", [](const tsbridge::Model& model, const py::args& args) { return run(model, "forward", args); })
      .def_property_readonly("methods", &tsbridge::Model::methods)
      .def("has_method", &tsbridge::Model::has_method, py::arg("method"))
      .def("inputs", [](const tsbridge::Model& model, const std::string& method) {
            return specs_to_python(model.inputs(method));
          }, py::arg("method") = "forward")
      .def_property_readonly("outputs", [](const tsbridge::Model& model) { return specs_to_python(model.outputs()); })
      .def_property_readonly("manifest_json", [](const tsbridge::Model& model) -> py::object {
            const auto* manifest = model.manifest();
            return manifest ? py::object(py::str(manifest->json)) : py::object(py::none());
          })
      .def("extra_file", [](const tsbridge::Model& model, const std::string& name) -> py::object {
            auto content = model.extra_file(name);
            return content ? py::object(py::bytes(*content)) : py::object(py::none());
          }, py::arg("name"))
      .def("self_test", &self_test,
           "Replays the golden sample stored at export; a dict with passed, rtol, atol, "
           "max_abs_error, max_rel_error and one entry per output.")
      .def_property_readonly("path", &tsbridge::Model::path)
      .def_property_readonly("device", [](const tsbridge::Model& model) { return model.device().str(); });

  m.def("make_inputs", [](const tsbridge::Model& model, const std::string& method, uint64_t seed,
                          const std::map<std::string, std::vector<int64_t>>& shapes) {
        tsbridge::InputOptions options;
        options.seed = seed;
        options.shapes = shapes;
        options.device = model.device();
        auto inputs = tsbridge::make_inputs(model.inputs(method), options);
        py::list out;
        for (auto& input : inputs) out.append(torch::jit::toPyObject(std::move(input)));
        return out;
      }, py::arg("model"), py::arg("method") = "forward", py::arg("seed") = 0,
      py::arg("shapes") = std::map<std::string, std::vector<int64_t>>{},
      "Stand-in inputs for a method, exactly as tsrun makes them.");
}
