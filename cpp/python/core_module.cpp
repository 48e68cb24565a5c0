// tsbridge._core: the C++ runtime under Python. Conversion only; every
// behaviour lives in libtsbridge so Python and C++ users get the same thing.
// The structs the library returns are bound as classes with read-only
// properties; one function per area registers its part of the module.
#include <ATen/core/dynamic_type.h>
#include <torch/csrc/jit/mobile/type_parser.h>
#include <torch/csrc/jit/python/pybind_utils.h>
#include <torch/csrc/utils/pybind.h>

#include <tsbridge/benchmark.h>
#include <tsbridge/build_info.h>
#include <tsbridge/compare.h>
#include <tsbridge/cpu.h>
#include <tsbridge/dtype.h>
#include <tsbridge/error.h>
#include <tsbridge/golden_sample.h>
#include <tsbridge/inputs.h>
#include <tsbridge/integrity.h>
#include <tsbridge/manifest.h>
#include <tsbridge/model.h>
#include <tsbridge/process.h>
#include <tsbridge/self_test.h>
#include <tsbridge/tensor_io.h>
#include <tsbridge/tune.h>
#include <tsbridge/tuning.h>
#include <tsbridge/version.h>

namespace py = pybind11;
using tsbridge::Error;
using tsbridge::ErrorCode;

namespace {

// ── conversions ──

std::string type_name(py::handle value) { return py::str(py::type::of(value).attr("__name__")); }

// "Name(field=value, ...)" with Python's repr of each value: the __repr__ of
// every bound struct.
class Repr {
 public:
  explicit Repr(const char* type) : text_(std::string(type) + "(") {}
  template <class T>
  Repr& operator()(const char* field, const T& value) {
    py::object object;
    if constexpr (std::is_base_of_v<py::handle, T>) object = value;
    else object = py::cast(value);
    text_ += (first_ ? "" : ", ") + std::string(field) + "=" + std::string(py::repr(object));
    first_ = false;
    return *this;
  }
  std::string str() const { return text_ + ")"; }

 private:
  std::string text_;
  bool first_ = true;
};

py::object text_or_none(const std::string& text) {
  return text.empty() ? py::object(py::none()) : py::object(py::str(text));
}

// A dim as Python sees it: its size, or the name of a dynamic dim.
py::object dim_value(const tsbridge::Dim& dim) {
  return dim.is_dynamic() ? py::object(py::str(dim.name)) : py::object(py::int_(dim.size));
}

py::object spec_shape(const tsbridge::TensorSpec& spec) {
  if (!spec.shape) return py::none();
  py::list shape;
  for (const auto& dim : *spec.shape) shape.append(dim_value(dim));
  return std::move(shape);
}

py::list spec_path(const tsbridge::TensorSpec& spec) {
  py::list path;
  for (const auto& step : spec.path) std::visit([&](const auto& s) { path.append(s); }, step);
  return path;
}

// A spec made in Python (for make_inputs before any file exists): shape items
// are sizes, or names of dynamic dims.
tsbridge::TensorSpec make_spec(const std::string& name, const std::optional<std::string>& dtype,
                               const std::optional<std::vector<std::variant<int64_t, std::string>>>& shape,
                               const std::string& type) {
  tsbridge::TensorSpec spec;
  spec.name = name;
  spec.type = type;
  spec.dtype = dtype.value_or("");
  if (shape) {
    spec.shape.emplace();
    for (const auto& item : *shape) {
      if (const auto* size = std::get_if<int64_t>(&item)) spec.shape->push_back({*size, ""});
      else spec.shape->push_back({-1, std::get<std::string>(item)});
    }
  }
  return spec;
}

// A Python value as the IValue a declared TorchScript type wants, converting
// the way a Python call into TorchScript would (int -> float, tuple -> list).
c10::IValue to_ivalue(const tsbridge::Model& model, const std::string& method, py::handle value,
                      const tsbridge::TensorSpec* spec, size_t index) {
  const std::string label = model.path() + ": input " + (spec ? "'" + spec->name + "'" : std::to_string(index)) +
                            " of method '" + method + "'";
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
      throw Error(ErrorCode::InputMismatch, label + ": expected " + spec->type + ", got " + type_name(value));
    }
  }
  if (THPVariable_Check(value.ptr())) return THPVariable_Unpack(value.ptr());
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return value.cast<int64_t>();
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (value.is_none()) return c10::IValue();
  throw Error(ErrorCode::InputMismatch, label + ": a " + type_name(value) + " cannot be passed to the model");
}

std::vector<c10::IValue> to_ivalues(const tsbridge::Model& model, const std::string& method, const py::args& args) {
  // Error(MethodNotFound) for a method the model lacks, before any conversion.
  const auto& specs = model.inputs(method);
  std::vector<c10::IValue> inputs;
  inputs.reserve(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    inputs.push_back(to_ivalue(model, method, args[i], i < specs.size() ? &specs[i] : nullptr, i));
  }
  return inputs;
}

// A result (from eager PyTorch or any model) as an IValue for
// compare_results: tensors, scalars, None, and tuples, lists and dicts of
// them, mixed kinds and empty containers included (type inference would
// refuse those). Named tuples become plain tuples.
c10::IValue to_result(py::handle value) {
  if (THPVariable_Check(value.ptr())) return THPVariable_Unpack(value.ptr());
  if (value.is_none()) return c10::IValue();
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return value.cast<int64_t>();
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::tuple>(value) || py::isinstance<py::list>(value)) {
    std::vector<c10::IValue> items;
    for (const auto& item : value) items.push_back(to_result(item));
    if (py::isinstance<py::tuple>(value)) return c10::ivalue::Tuple::create(std::move(items));
    c10::impl::GenericList list(c10::AnyType::get());
    for (auto& item : items) list.push_back(std::move(item));
    return list;
  }
  if (py::isinstance<py::dict>(value)) {
    c10::impl::GenericDict dict(c10::AnyType::get(), c10::AnyType::get());
    for (const auto& [key, item] : value.cast<py::dict>()) {
      if (!py::isinstance<py::str>(key) && !(py::isinstance<py::int_>(key) && !py::isinstance<py::bool_>(key))) {
        throw Error(ErrorCode::InvalidArgument,
                    "results cannot be compared: a dict key is a " + type_name(key) + " (str and int keys only)");
      }
      dict.insert(to_result(key), to_result(item));
    }
    return dict;
  }
  throw Error(ErrorCode::InvalidArgument, "results cannot be compared: a " + type_name(value) +
                                              " is not a tensor, a number, a str, None or a container of them");
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

// Paths may be str or os.PathLike.
std::string fspath(const py::object& path) {
  return py::module_::import("os").attr("fspath")(path).cast<std::string>();
}

// ── the module, by area ──

void bind_errors() {
  // tsbridge::Error -> the tsbridge.errors class for its code.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const Error& e) {
      py::object exception =
          py::module_::import("tsbridge.errors").attr("from_code")(tsbridge::error_code_name(e.code()), e.what());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())), exception.ptr());
    }
  });
}

void bind_specs(py::module_& m) {
  using tsbridge::TensorSpec;
  py::class_<TensorSpec>(m, "TensorSpec", "The declared form of one input or output value (tsbridge/manifest.h).")
      .def(py::init(&make_spec), py::arg("name"), py::arg("dtype") = py::none(), py::arg("shape") = py::none(),
           py::arg("type") = "Tensor")
      .def_readonly("name", &TensorSpec::name)
      .def_readonly("type", &TensorSpec::type, "TorchScript type: 'Tensor', 'int', 'List[int]', ...")
      .def_property_readonly(
          "dtype", [](const TensorSpec& s) { return text_or_none(s.dtype); },
          "'float32', ...; None when unknown or not a tensor")
      .def_property_readonly("shape", &spec_shape, "sizes (int) and dynamic dims (their name); None when unknown")
      .def_property_readonly("path", &spec_path, "outputs: tuple/list indices and dict keys into the result")
      .def_property_readonly("is_tensor", &TensorSpec::is_tensor)
      .def("__str__", &TensorSpec::to_string, "e.g. 'float32[batch,10]', 'Tensor' or 'int'")
      .def("__repr__", [](const TensorSpec& s) {
        Repr repr("TensorSpec");
        repr("name", s.name)("type", s.type)("dtype", text_or_none(s.dtype))("shape", spec_shape(s));
        if (!s.path.empty()) repr("path", spec_path(s));
        return repr.str();
      });
}

void bind_manifest(py::module_& m) {
  using namespace tsbridge;
  py::class_<DimRange>(m, "DimRange", "The sizes a named dynamic dim may take (a .pt2's compiled bounds).")
      .def_readonly("min", &DimRange::min)
      .def_readonly("max", &DimRange::max, "None when unbounded")
      .def("__repr__", [](const DimRange& r) { return Repr("DimRange")("min", r.min)("max", r.max).str(); });
  py::class_<GoldenSample>(m, "GoldenSample", "Where the golden sample is stored, and its tolerances.")
      .def_readonly("entry", &GoldenSample::entry)
      .def_readonly("rtol", &GoldenSample::rtol)
      .def_readonly("atol", &GoldenSample::atol)
      .def_readonly("encoding", &GoldenSample::encoding, "'' (the bytes themselves) or 'base64'")
      .def("__repr__", [](const GoldenSample& g) {
        return Repr("GoldenSample")("entry", g.entry)("rtol", g.rtol)("atol", g.atol)("encoding", g.encoding).str();
      });
  py::class_<IntegrityRecord>(m, "IntegrityRecord", "The digests recorded at save, by archive record name.")
      .def_readonly("algorithm", &IntegrityRecord::algorithm)
      .def_readonly("entries", &IntegrityRecord::entries)
      .def("__repr__", [](const IntegrityRecord& r) {
        return Repr("IntegrityRecord")("algorithm", r.algorithm)("entries", r.entries.size()).str();
      });
  py::class_<CpuRequirements>(m, "CpuRequirements", "What a .pt2's compiled kernels need from the CPU.")
      .def_readonly("target", &CpuRequirements::target)
      .def_readonly("arch", &CpuRequirements::arch)
      .def_readonly("features", &CpuRequirements::features)
      .def_readonly("vec_isa", &CpuRequirements::vec_isa)
      .def("__repr__", [](const CpuRequirements& c) {
        return Repr("CpuRequirements")("target", c.target)("arch", c.arch)("vec_isa", c.vec_isa).str();
      });
  py::class_<Manifest>(m, "Manifest", "The manifest as the C++ reader parsed it; json is the whole document.")
      .def_readonly("format_version", &Manifest::format_version)
      .def_readonly("tsbridge_version", &Manifest::tsbridge_version)
      .def_readonly("torch_version", &Manifest::torch_version)
      .def_readonly("capture", &Manifest::capture, "how the module was made: 'script', 'trace' or 'export'")
      .def_readonly("frozen", &Manifest::frozen)
      .def_readonly("inputs", &Manifest::inputs)
      .def_readonly("outputs", &Manifest::outputs)
      .def_readonly("dims", &Manifest::dims)
      .def_readonly("metadata_json", &Manifest::metadata_json)
      .def_readonly("golden", &Manifest::golden)
      .def_readonly("integrity", &Manifest::integrity)
      .def_readonly("cpu", &Manifest::cpu)
      .def_readonly("threads", &Manifest::threads, "a .pt2's parallel loops: 'runtime', 'fixed' or ''")
      .def_readonly("tuning", &Manifest::tuning, "what the export's tuner measured and chose (TuningRecord), or None")
      .def_readonly("json", &Manifest::json)
      .def("__repr__", [](const Manifest& x) {
        return Repr("Manifest")("format_version", x.format_version)("capture", x.capture)("frozen", x.frozen)(
                   "inputs", x.inputs.size())("outputs", x.outputs.size())
            .str();
      });
}

void bind_tuning_types(py::module_& m) {
  using namespace tsbridge;
  py::class_<RuntimeSettings>(m, "RuntimeSettings", "How a model runs: threads, executor, fusion, runners.")
      .def_readonly("threads", &RuntimeSettings::threads)
      .def_readonly("optimize_graph", &RuntimeSettings::optimize_graph)
      .def_readonly("profiling_executor", &RuntimeSettings::profiling_executor)
      .def_readonly("onednn_fusion", &RuntimeSettings::onednn_fusion)
      .def_readonly("runners", &RuntimeSettings::runners)
      .def("__eq__", &RuntimeSettings::operator==)
      .def("__str__", &RuntimeSettings::to_string)
      .def("__repr__", [](const RuntimeSettings& s) { return "RuntimeSettings(" + s.to_string() + ")"; });
  py::class_<MachineInfo>(m, "MachineInfo", "The machine a tuning was measured on.")
      .def_readonly("arch", &MachineInfo::arch)
      .def_readonly("cpu_model", &MachineInfo::cpu_model)
      .def_readonly("cores", &MachineInfo::cores)
      .def_readonly("features", &MachineInfo::features)
      .def("matches", &MachineInfo::matches, py::arg("other"))
      .def("__str__", &MachineInfo::to_string)
      .def("__repr__", [](const MachineInfo& x) { return "MachineInfo(" + x.to_string() + ")"; });
  py::class_<TuningCandidate>(m, "TuningCandidate", "One candidate the tuner tried, its figure or why none.")
      .def_readonly("name", &TuningCandidate::name)
      .def_readonly("format", &TuningCandidate::format)
      .def_readonly("build", &TuningCandidate::build)
      .def_readonly("settings", &TuningCandidate::settings)
      .def_readonly("us_per_call", &TuningCandidate::us_per_call, "median microseconds per call; -1 when not timed")
      .def_readonly("spread", &TuningCandidate::spread)
      .def_readonly("status", &TuningCandidate::status, "'ok', 'failed: ...' or 'skipped: ...'")
      .def("__repr__", [](const TuningCandidate& c) {
        return Repr("TuningCandidate")("name", c.name)("us_per_call", c.us_per_call)("status", c.status).str();
      });
  py::class_<TuningRecord>(m, "TuningRecord", "What a tuning run found: every candidate, the winner and why.")
      .def_readonly("candidates", &TuningRecord::candidates)
      .def_readonly("winner", &TuningRecord::winner, "index into candidates")
      .def_readonly("settings", &TuningRecord::settings)
      .def_readonly("reason", &TuningRecord::reason)
      .def_readonly("noise", &TuningRecord::noise)
      .def_readonly("rounds", &TuningRecord::rounds)
      .def_readonly("machine", &TuningRecord::machine)
      .def_readonly("measured_at", &TuningRecord::measured_at)
      .def("json", &tuning_json, "The record as the manifest and a sidecar store it (JSON text).")
      .def("__repr__", [](const TuningRecord& r) {
        return Repr("TuningRecord")("settings", r.settings.to_string())("candidates", r.candidates.size()).str();
      });
  py::class_<AppliedTuning>(m, "AppliedTuning", "What Model.load applied of a recorded tuning.")
      .def_readonly("source", &AppliedTuning::source, "'sidecar', 'manifest' or '' (nothing applied)")
      .def_readonly("recorded", &AppliedTuning::recorded)
      .def_readonly("applied", &AppliedTuning::applied)
      .def_readonly("notes", &AppliedTuning::notes);
}

tsbridge::TuneOptions tune_options(double budget_seconds, const std::vector<int>& threads, double noise, int rounds,
                                   int clients, bool search_settings = true) {
  tsbridge::TuneOptions options;
  options.search_settings = search_settings;
  options.budget_seconds = budget_seconds;
  options.threads = threads;
  options.noise = noise;
  options.rounds = rounds;
  options.clients = clients;
  return options;
}

void bind_tune(py::module_& m) {
  using tsbridge::TuneFile;
  m.def(
      "tune",
      [](const std::vector<std::pair<std::string, std::string>>& files, double budget_seconds,
         const std::vector<int>& threads, double noise, int rounds, int clients, bool search_settings) {
        std::vector<TuneFile> list;
        for (const auto& [path, build] : files) list.push_back({path, build});
        const auto options = tune_options(budget_seconds, threads, noise, rounds, clients, search_settings);
        py::gil_scoped_release release;
        return tsbridge::tune(list, options);
      },
      py::arg("files"), py::arg("budget_seconds") = 60.0, py::arg("threads") = std::vector<int>{},
      py::arg("noise") = 0.05, py::arg("rounds") = 5, py::arg("clients") = 1, py::arg("search_settings") = true,
      "Tunes the files' runtime settings together (tsbridge::tune); files are (path, build) pairs.");
  m.def(
      "tune_runtime",
      [](const std::string& path, double budget_seconds, const std::vector<int>& threads, double noise, int rounds,
         int clients) {
        const auto options = tune_options(budget_seconds, threads, noise, rounds, clients);
        py::gil_scoped_release release;
        return tsbridge::tune_runtime(path, options);
      },
      py::arg("path"), py::arg("budget_seconds") = 60.0, py::arg("threads") = std::vector<int>{},
      py::arg("noise") = 0.05, py::arg("rounds") = 5, py::arg("clients") = 1,
      "Tunes the archive on this machine and writes its sidecar (tsrun --tune).");
  m.def("this_machine", &tsbridge::this_machine, py::return_value_policy::copy, "This machine (MachineInfo).");
  m.def("sidecar_path", &tsbridge::sidecar_path, py::arg("archive_path"), "'<archive>.tuning.json'.");
  m.def("parse_tuning", &tsbridge::parse_tuning, py::arg("json_text"), "A tuning record from its JSON text.");
}

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

tsbridge::Model load_model(const std::string& path, const std::string& device, bool verify_integrity, int warmup_calls,
                           bool optimize_graph, std::optional<int> runners, bool apply_tuning) {
  tsbridge::LoadOptions options;
  options.device = device;
  options.apply_tuning = apply_tuning;
  options.verify_integrity = verify_integrity;
  options.warmup_calls = warmup_calls;
  // Only what was asked for: the other format's options are refused, not ignored.
  if (optimize_graph) options.torchscript = tsbridge::TorchScriptOptions{true};
  if (runners) options.aoti = tsbridge::AotiOptions{runners};
  py::gil_scoped_release release;  // warm-up calls run the model
  return tsbridge::Model::load(path, options);
}

void bind_model(py::module_& m) {
  using tsbridge::Model;
  using Specs = std::vector<tsbridge::TensorSpec>;
  py::class_<Model>(m, "Model")
      .def_static("load", &load_model, py::arg("path"), py::arg("device") = "cpu", py::arg("verify_integrity") = true,
                  py::arg("warmup_calls") = 0, py::arg("optimize_graph") = false, py::arg("runners") = py::none(),
                  py::arg("apply_tuning") = true)
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
      .def_property_readonly("load_warm_up", &Model::load_warm_up)
      .def("run", &run, py::arg("method"))
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
  m.def("parse_shape", &tsbridge::parse_shape, py::arg("text"), "'1x3x224x224' (or '5,10', '' for a scalar) as sizes.");
  m.def("named_dtypes", &tsbridge::named_dtypes, "Every dtype the manifest names, with its name: [(name, dtype)].");
}

void bind_timing(py::module_& m) {
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
      [](const tsbridge::Model& model, const py::handle& inputs, const std::string& method, int64_t warmup,
         int64_t iterations, double duration_seconds, int clients) {
        // One list (or tuple) of the method's arguments; a bare tensor is
        // refused rather than iterated into its rows.
        if (!py::isinstance<py::list>(inputs) && !py::isinstance<py::tuple>(inputs)) {
          throw Error(ErrorCode::InvalidArgument,
                      "benchmark: inputs must be a list or tuple of the method's arguments, got " + type_name(inputs));
        }
        tsbridge::BenchmarkOptions options;
        options.method = method;
        options.warmup = warmup;
        options.iterations = iterations;
        options.duration_seconds = duration_seconds;
        options.clients = clients;
        auto values = to_ivalues(model, method, py::args(py::tuple(py::reinterpret_borrow<py::object>(inputs))));
        py::gil_scoped_release release;
        return tsbridge::benchmark(model, values, options);
      },
      py::arg("model"), py::arg("inputs"), py::arg("method") = "forward", py::arg("warmup") = 10,
      py::arg("iterations") = 100, py::arg("duration_seconds") = 0.0, py::arg("clients") = 1,
      "Times a method with tsbridge::benchmark (GIL released): a BenchmarkResult.");
  m.def(
      "set_executor",
      [](std::optional<bool> profiling_executor, std::optional<bool> onednn_fusion) {
        tsbridge::set_executor({profiling_executor, onednn_fusion});
      },
      py::arg("profiling_executor") = py::none(), py::arg("onednn_fusion") = py::none(),
      "Sets TorchScript's process-wide executor switches (None leaves one as it is).");
  m.def(
      "set_threads", [](int intra_op, int inter_op) { tsbridge::set_threads({intra_op, inter_op}); },
      py::arg("intra_op") = 0, py::arg("inter_op") = 0,
      "Sizes LibTorch's thread pools (0 keeps the default); the inter-op pool only before it is first used.");
}

// .npy, .npz and torch.save's .pt through libtsbridge's readers and writers,
// the GIL released for the I/O.
void bind_tensor_files(py::module_& m) {
  m.def(
      "read_tensor",
      [](const py::object& path) {
        const std::string file = fspath(path);
        py::gil_scoped_release release;
        return tsbridge::read_tensor(file);
      },
      py::arg("path"), "A tensor from a .npy, or a .pt holding one tensor saved by torch.save (by extension).");
  m.def(
      "read_npz",
      [](const py::object& path) {
        const std::string file = fspath(path);
        tsbridge::NamedTensors arrays;
        {
          py::gil_scoped_release release;
          arrays = tsbridge::read_npz(file);
        }
        py::list out;
        for (auto& [name, tensor] : arrays) out.append(py::make_tuple(name, std::move(tensor)));
        return out;
      },
      py::arg("path"), "Every array of an .npz as a list of (name, tensor), in file order.");
  m.def(
      "map_npy",
      [](const py::object& path) {
        const std::string file = fspath(path);
        py::gil_scoped_release release;
        return tsbridge::map_npy(file);
      },
      py::arg("path"),
      "A .npy mapped into memory (pages read when touched). Writes into the tensor stay private "
      "to this process; the file never changes.");
  m.def(
      "write_npy",
      [](const py::object& path, const at::Tensor& tensor) {
        const std::string file = fspath(path);
        py::gil_scoped_release release;
        tsbridge::write_npy(file, tensor);
      },
      py::arg("path"), py::arg("tensor"), "Writes a tensor as np.save would.");
  m.def(
      "write_npz",
      [](const py::object& path, const py::object& arrays) {
        const std::string file = fspath(path);
        tsbridge::NamedTensors named;
        const py::object items = py::isinstance<py::dict>(arrays) ? arrays.attr("items")() : arrays;
        try {
          for (const auto& item : py::iter(items)) named.push_back(item.cast<std::pair<std::string, at::Tensor>>());
        } catch (const py::cast_error&) {
          throw Error(ErrorCode::InvalidArgument,
                      file + ": arrays must be a dict of name: tensor or a list of (name, tensor)");
        }
        py::gil_scoped_release release;
        tsbridge::write_npz(file, named);
      },
      py::arg("path"), py::arg("arrays"),
      "Writes {name: tensor} (or a list of (name, tensor), kept in order) as np.savez would (stored, not compressed).");
}

void bind_npy_stream_writer(py::module_& m) {
  using tsbridge::NpyStreamWriter;
  py::class_<NpyStreamWriter>(m, "NpyStreamWriter",
                              "Writes one .npy of `rows` rows batch by batch; the file appears "
                              "at `path` only when finish() finds every row written.")
      .def(py::init([](const py::object& path, int64_t rows) {
             return std::make_unique<NpyStreamWriter>(fspath(path), rows);
           }),
           py::arg("path"), py::arg("rows"))
      .def(
          "append",
          [](NpyStreamWriter& writer, const at::Tensor& batch) {
            py::gil_scoped_release release;
            writer.append(batch);
          },
          py::arg("batch"), "Appends rows: dims after the first and dtype as in the first batch.")
      .def(
          "finish",
          [](NpyStreamWriter& writer) {
            py::gil_scoped_release release;
            writer.finish();
          },
          "Checks that exactly `rows` rows were written and closes the file.")
      .def(
          "__enter__", [](NpyStreamWriter& writer) -> NpyStreamWriter& { return writer; },
          py::return_value_policy::reference)
      .def("__exit__", [](NpyStreamWriter& writer, const py::object& type, const py::object&, const py::object&) {
        if (type.is_none()) writer.finish();
      });
}

void bind_build_info(py::module_& m) {
  using tsbridge::Feature;
  py::class_<Feature>(m, "Feature", "One capability of this build (tsbridge --version, tsbridge doctor).")
      .def_readonly("name", &Feature::name)
      .def_readonly("available", &Feature::available)
      .def_readonly("detail", &Feature::detail, "the library behind it, or why it is missing")
      .def("__repr__", [](const Feature& f) {
        return "Feature(" + f.name + ", available=" + (f.available ? "True" : "False") + ", '" + f.detail + "')";
      });
  m.def("build_features", &tsbridge::build_features,
        "What this build of libtsbridge can do: npz, integrity, aoti, cpu, cuda (checked on this machine).");
  m.def("features_text", &tsbridge::features_text, py::arg("features"),
        "The features on one line, as tsrun --version prints them.");
  m.def("cpu_features", &tsbridge::cpu_features,
        "The CPU features this machine has, as a .pt2's manifest names them (tsbridge/cpu.h).");
  m.def("known_cpu_features", &tsbridge::known_cpu_features,
        "Every CPU feature name this runtime can detect (the names a manifest's cpu field may use).");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "The tsbridge C++ runtime (libtsbridge), bound for Python.";
  m.attr("__version__") = TSBRIDGE_VERSION;
  bind_errors();
  // Types before the functions that return them, so signatures name them.
  bind_specs(m);
  bind_tuning_types(m);
  bind_manifest(m);
  bind_reports(m);
  bind_model_facts(m);
  bind_model(m);
  bind_checks(m);
  bind_timing(m);
  bind_tune(m);
  bind_tensor_files(m);
  bind_npy_stream_writer(m);
  bind_build_info(m);
}
