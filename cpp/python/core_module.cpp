// tsbridge._core: the C++ runtime under Python. Conversion only; every
// behaviour lives in libtsbridge so Python and C++ users get the same thing.
#include <ATen/core/dynamic_type.h>
#include <torch/csrc/jit/mobile/type_parser.h>
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/csrc/utils/pybind.h>

#include <tsbridge/benchmark.h>
#include <tsbridge/build_info.h>
#include <tsbridge/cpu.h>
#include <tsbridge/error.h>
#include <tsbridge/inputs.h>
#include <tsbridge/integrity.h>
#include <tsbridge/model.h>
#include <tsbridge/process.h>
#include <tsbridge/self_test.h>
#include <tsbridge/tensor_io.h>
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
  // forward's specs straight from the manifest: no copy on every call.
  const tsbridge::Manifest* manifest = model.manifest();
  std::vector<tsbridge::TensorSpec> copied;
  const std::vector<tsbridge::TensorSpec>* specs = &copied;
  if (method == "forward" && manifest && !manifest->inputs.empty()) {
    specs = &manifest->inputs;
  } else if (model.has_method(method)) {
    copied = model.inputs(method);
  }
  std::vector<c10::IValue> inputs;
  inputs.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    inputs.push_back(to_ivalue(model, method, args[i], i < specs->size() ? &(*specs)[i] : nullptr, i));
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

// ── benchmarking and inspection ──

// The inputs of a benchmark as one list (or tuple) of the method's arguments,
// converted like the arguments of run. A bare tensor is refused rather than
// iterated into its rows.
std::vector<c10::IValue> benchmark_inputs(const tsbridge::Model& model, const std::string& method,
                                          const py::handle& inputs) {
  if (!py::isinstance<py::list>(inputs) && !py::isinstance<py::tuple>(inputs)) {
    throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument,
                          "benchmark: inputs must be a list or tuple of the method's arguments, got " +
                              std::string(py::str(py::type::of(inputs).attr("__name__"))));
  }
  return to_ivalues(model, method, py::args(py::tuple(py::reinterpret_borrow<py::object>(inputs))));
}

py::dict benchmark(const tsbridge::Model& model, const py::handle& inputs, const std::string& method,
                   int64_t warmup, int64_t iterations, double duration_seconds,
                   const std::vector<double>& percentiles, int clients) {
  // A bad percentile is refused before the run, not after it; the library
  // owns the rule, so ask it with a one-sample result.
  tsbridge::BenchmarkResult probe;
  probe.latencies_ms = {0.0};
  for (double p : percentiles) probe.percentile_ms(p);

  tsbridge::BenchmarkOptions options;
  options.method = method;
  options.warmup = warmup;
  options.iterations = iterations;
  options.duration_seconds = duration_seconds;
  options.clients = clients;
  auto values = benchmark_inputs(model, method, inputs);
  tsbridge::BenchmarkResult result;
  {
    py::gil_scoped_release release;
    result = tsbridge::benchmark(model, values, options);
  }
  py::dict by_percentile;
  for (double p : percentiles) by_percentile[py::float_(p)] = result.percentile_ms(p);
  py::dict out;
  out["method"] = method;
  out["first_call_ms"] = result.first_call_ms;
  out["iterations"] = result.latencies_ms.size();
  out["latencies_ms"] = result.latencies_ms;
  out["total_seconds"] = result.total_seconds;
  out["calls_per_second"] = result.calls_per_second();
  out["min_ms"] = result.min_ms();
  out["max_ms"] = result.max_ms();
  out["mean_ms"] = result.mean_ms();
  out["stddev_ms"] = result.stddev_ms();
  out["percentiles_ms"] = by_percentile;
  return out;
}

py::dict stats(const tsbridge::Model& model) {
  const auto counts = model.stats();
  py::dict out;
  out["parameters"] = counts.parameters;
  out["parameter_bytes"] = counts.parameter_bytes;
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
          [](const std::string& path, const std::string& device, bool verify_integrity, int warmup_calls,
             bool optimize_graph, std::optional<int> runners) {
            tsbridge::LoadOptions options;
            options.device = device;
            options.verify_integrity = verify_integrity;
            options.warmup_calls = warmup_calls;
            if (optimize_graph) options.torchscript = tsbridge::TorchScriptOptions{true};
            if (runners) options.aoti = tsbridge::AotiOptions{runners};
            py::gil_scoped_release release;  // warm-up calls run the model
            return tsbridge::Model::load(path, options);
          },
          py::arg("path"), py::arg("device") = "cpu", py::arg("verify_integrity") = true,
          py::arg("warmup_calls") = 0, py::arg("optimize_graph") = false, py::arg("runners") = py::none())
      .def_property_readonly("runners", &tsbridge::Model::runners)
      .def("warm_up", [](const tsbridge::Model& model, const py::args& args, int calls) {
            auto inputs = to_ivalues(model, "forward", args);
            py::gil_scoped_release release;
            const auto done = inputs.empty() ? model.warm_up(calls) : model.warm_up(inputs, calls);
            return done.seconds;
          }, py::arg("calls") = 1)
      .def_property_readonly("load_warm_up", [](const tsbridge::Model& model) {
            const auto done = model.load_warm_up();
            return py::make_tuple(done.calls, done.seconds);
          })
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
      .def_property_readonly("format",
                             [](const tsbridge::Model& model) { return tsbridge::Model::format_name(model.format()); })
      .def_property_readonly("device", [](const tsbridge::Model& model) { return model.device().str(); });

  m.def("check_integrity", [](const std::string& path) {
        tsbridge::IntegrityReport report;
        {
          py::gil_scoped_release release;
          report = tsbridge::check_integrity(path);
        }
        py::dict out;
        out["recorded"] = report.recorded;
        out["algorithm"] = report.algorithm;
        out["checked"] = report.checked;
        out["problems"] = report.problems;
        out["intact"] = report.intact();
        return out;
      }, py::arg("path"),
      "Checks the archive's entries against its manifest's digests without loading it: "
      "{recorded, algorithm, checked, problems, intact}.");
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

  // ── tensor files ──
  // .npy, .npz and torch.save's .pt through libtsbridge's readers and
  // writers, the GIL released for the I/O. Paths may be str or os.PathLike.
  const auto fspath = [](const py::object& path) {
    return py::module_::import("os").attr("fspath")(path).cast<std::string>();
  };
  m.def("read_tensor", [fspath](const py::object& path) {
        const std::string file = fspath(path);
        py::gil_scoped_release release;
        return tsbridge::read_tensor(file);
      }, py::arg("path"), "A tensor from a .npy, or a .pt holding one tensor saved by torch.save (by extension).");
  m.def("read_npz", [fspath](const py::object& path) {
        const std::string file = fspath(path);
        tsbridge::NamedTensors arrays;
        {
          py::gil_scoped_release release;
          arrays = tsbridge::read_npz(file);
        }
        py::list out;
        for (auto& [name, tensor] : arrays) out.append(py::make_tuple(name, std::move(tensor)));
        return out;
      }, py::arg("path"), "Every array of an .npz as a list of (name, tensor), in file order.");
  m.def("map_npy", [fspath](const py::object& path) {
        const std::string file = fspath(path);
        py::gil_scoped_release release;
        return tsbridge::map_npy(file);
      }, py::arg("path"),
      "A .npy mapped into memory (pages read when touched). Writes into the tensor stay private "
      "to this process; the file never changes.");
  m.def("write_npy", [fspath](const py::object& path, const at::Tensor& tensor) {
        const std::string file = fspath(path);
        py::gil_scoped_release release;
        tsbridge::write_npy(file, tensor);
      }, py::arg("path"), py::arg("tensor"), "Writes a tensor as np.save would.");
  m.def("write_npz", [fspath](const py::object& path, const py::object& arrays) {
        const std::string file = fspath(path);
        tsbridge::NamedTensors named;
        const py::object items = py::isinstance<py::dict>(arrays) ? arrays.attr("items")() : arrays;
        try {
          for (const auto& item : py::iter(items)) named.push_back(item.cast<std::pair<std::string, at::Tensor>>());
        } catch (const py::cast_error&) {
          throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument,
                                file + ": arrays must be a dict of name: tensor or a list of (name, tensor)");
        }
        py::gil_scoped_release release;
        tsbridge::write_npz(file, named);
      }, py::arg("path"), py::arg("arrays"),
      "Writes {name: tensor} (or a list of (name, tensor), kept in order) as np.savez would (stored, not compressed).");
  m.def("cpu_features", &tsbridge::cpu_features,
        "The CPU features this machine has, as a .pt2's manifest names them (tsbridge/cpu.h).");
  py::class_<tsbridge::NpyStreamWriter>(m, "NpyStreamWriter",
                                        "Writes one .npy of `rows` rows batch by batch; the file appears "
                                        "at `path` only when finish() finds every row written.")
      .def(py::init([fspath](const py::object& path, int64_t rows) {
             return std::make_unique<tsbridge::NpyStreamWriter>(fspath(path), rows);
           }), py::arg("path"), py::arg("rows"))
      .def("append", [](tsbridge::NpyStreamWriter& writer, const at::Tensor& batch) {
             py::gil_scoped_release release;
             writer.append(batch);
           }, py::arg("batch"), "Appends rows: dims after the first and dtype as in the first batch.")
      .def("finish", [](tsbridge::NpyStreamWriter& writer) {
             py::gil_scoped_release release;
             writer.finish();
           }, "Checks that exactly `rows` rows were written and closes the file.")
      .def("__enter__", [](tsbridge::NpyStreamWriter& writer) -> tsbridge::NpyStreamWriter& { return writer; },
           py::return_value_policy::reference)
      .def("__exit__", [](tsbridge::NpyStreamWriter& writer, const py::object& type, const py::object&,
                          const py::object&) {
             if (type.is_none()) writer.finish();
           });

  // ── what this build can do ──
  py::class_<tsbridge::Feature>(m, "Feature", "One capability of this build (tsbridge --version, tsbridge doctor).")
      .def_readonly("name", &tsbridge::Feature::name)
      .def_readonly("available", &tsbridge::Feature::available)
      .def_readonly("detail", &tsbridge::Feature::detail, "the library behind it, or why it is missing")
      .def("__repr__", [](const tsbridge::Feature& f) {
        return "Feature(" + f.name + ", available=" + (f.available ? "True" : "False") + ", '" + f.detail + "')";
      });
  m.def("build_features", &tsbridge::build_features,
        "What this build of libtsbridge can do: npz, integrity, aoti, cpu, cuda (checked on this machine).");
  m.def("features_text", &tsbridge::features_text, py::arg("features"), "The features on one line, as tsrun --version prints them.");

  // ── benchmarking and inspection ──
  py::class_<tsbridge::Model>(m.attr("Model"))
      .def("stats", &stats, "What the archive holds: {parameters, parameter_bytes} (weight constants once frozen).")
      .def("code", &tsbridge::Model::code, py::arg("method") = "forward",
           "The TorchScript source of a method, as Python's scripted.<method>.code prints it.");
  m.def("set_executor", [](std::optional<bool> profiling_executor, std::optional<bool> onednn_fusion) {
        tsbridge::set_executor({profiling_executor, onednn_fusion});
      }, py::arg("profiling_executor") = py::none(), py::arg("onednn_fusion") = py::none(),
      "Sets TorchScript's process-wide executor switches (None leaves one as it is).");
  m.def("set_threads", [](int intra_op, int inter_op) { tsbridge::set_threads({intra_op, inter_op}); },
        py::arg("intra_op") = 0, py::arg("inter_op") = 0,
        "Sizes LibTorch's thread pools (0 keeps the default); the inter-op pool only before it is first used.");
  m.def("benchmark", &benchmark, py::arg("model"), py::arg("inputs"), py::arg("method") = "forward",
        py::arg("warmup") = 10, py::arg("iterations") = 100, py::arg("duration_seconds") = 0.0,
        py::arg("percentiles") = std::vector<double>{50, 90, 99}, py::arg("clients") = 1,
        "Times a method with tsbridge::benchmark (GIL released): first_call_ms, latencies_ms, "
        "total_seconds, calls_per_second, min/max/mean/stddev_ms and percentiles_ms {p: ms}.");
}
