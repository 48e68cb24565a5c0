// The manifest as the C++ reader parsed it, and the specs it declares:
// Manifest, TensorSpec, DimRange, the golden, integrity, CPU, AOTInductor,
// selection and provenance records, and the whole document as a dict.
#include <tsbridge/manifest.h>

#include <nlohmann/json.hpp>

#include "bindings.h"

namespace tsbridge::bindings {

namespace {

// JSON as the Python value json.loads would give, keys in the document's
// order. The reader bounds a manifest's nesting, so the recursion is bounded.
py::object to_python(const nlohmann::ordered_json& value) {
  using Kind = nlohmann::ordered_json::value_t;
  switch (value.type()) {
    case Kind::boolean: return py::bool_(value.get<bool>());
    case Kind::number_integer: return py::int_(value.get<int64_t>());
    case Kind::number_unsigned: return py::int_(value.get<uint64_t>());
    case Kind::number_float: return py::float_(value.get<double>());
    case Kind::string: return py::str(value.get_ref<const std::string&>());
    case Kind::array: {
      py::list items;
      for (const auto& item : value) items.append(to_python(item));
      return std::move(items);
    }
    case Kind::object: {
      py::dict items;
      for (const auto& item : value.items()) items[py::str(item.key())] = to_python(item.value());
      return std::move(items);
    }
    default: return py::none();
  }
}

// JSON text the reader accepted, as a new dict (or list, ...) on each read.
py::object parsed(const std::string& text) { return to_python(nlohmann::ordered_json::parse(text)); }

// The user's metadata in the order it was written (metadata_json, from the
// reader's sorted map, has its keys sorted).
py::object metadata_of(const tsbridge::Manifest& manifest) {
  if (manifest.json.empty()) return parsed(manifest.metadata_json);
  const auto doc = nlohmann::ordered_json::parse(manifest.json);
  const auto found = doc.find("metadata");
  return found == doc.end() ? py::object(py::dict()) : to_python(*found);
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

}  // namespace

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

namespace {

// The .pt2's compile record, format="auto"'s selection and migrate's provenance.
void bind_manifest_records(py::module_& m) {
  using namespace tsbridge;
  py::class_<AotiRecord>(m, "AotiRecord", "How a .pt2 package was compiled (the manifest's aoti).")
      .def_readonly("compile_seconds", &AotiRecord::compile_seconds, "None when unrecorded")
      .def_property_readonly(
          "inductor_configs", [](const AotiRecord& a) { return parsed(a.inductor_configs_json); },
          "the Inductor settings it was compiled with (a new dict on each read)")
      .def_readonly("build", &AotiRecord::build,
                    "'default', 'kernel-profile' (a profiling build) or the tuner's compile variant; '' unrecorded")
      .def_readonly("prepacked", &AotiRecord::prepacked, "weights prepacked for oneDNN; None unrecorded")
      .def("__repr__", [](const AotiRecord& a) {
        return Repr("AotiRecord")("compile_seconds", a.compile_seconds)("build", a.build)("prepacked", a.prepacked)
            .str();
      });
  py::class_<FormatSelection>(m, "FormatSelection", "format='auto': each format's fastest figure, and the one kept.")
      .def_readonly("chosen", &FormatSelection::chosen)
      .def_readonly("median_us", &FormatSelection::median_us)
      .def_readonly("rounds", &FormatSelection::rounds, "None when unrecorded")
      .def("__repr__", [](const FormatSelection& x) {
        return Repr("FormatSelection")("chosen", x.chosen)("median_us", x.median_us)("rounds", x.rounds).str();
      });
  py::class_<OutputError>(m, "OutputError", "The largest error of one output on one check set.")
      .def_readonly("output", &OutputError::output)
      .def_readonly("max_abs_error", &OutputError::max_abs_error, "None when not finite")
      .def_readonly("max_rel_error", &OutputError::max_rel_error, "None when not finite")
      .def("__repr__", [](const OutputError& x) {
        return Repr("OutputError")("output", x.output)("max_abs_error", x.max_abs_error)("max_rel_error",
                                                                                         x.max_rel_error)
            .str();
      });
  py::class_<PrecisionCheck>(m, "PrecisionCheck", "One check set of a reduced-precision export, per output.")
      .def_readonly("name", &PrecisionCheck::name)
      .def_readonly("outputs", &PrecisionCheck::outputs)
      .def("__repr__", [](const PrecisionCheck& x) { return Repr("PrecisionCheck")("name", x.name).str(); });
  py::class_<PrecisionRecord>(m, "PrecisionRecord", "A file computing in bf16 or fp16 (the manifest's precision).")
      .def_readonly("compute", &PrecisionRecord::compute, "'bf16' or 'fp16'")
      .def_readonly("rtol", &PrecisionRecord::rtol)
      .def_readonly("atol", &PrecisionRecord::atol)
      .def_readonly("checks", &PrecisionRecord::checks)
      .def_readonly("cpu_features", &PrecisionRecord::cpu_features)
      .def("__repr__", [](const PrecisionRecord& x) {
        return Repr("PrecisionRecord")("compute", x.compute)("rtol", x.rtol)("atol", x.atol).str();
      });
  py::class_<MigratedFrom>(m, "MigratedFrom", "tsbridge.migrate: the TorchScript archive a .pt2 came from.")
      .def_readonly("file", &MigratedFrom::file)
      .def_readonly("sha256", &MigratedFrom::sha256)
      .def_readonly("converter", &MigratedFrom::converter)
      .def_readonly("capture", &MigratedFrom::capture, "the archive's capture; 'unknown' without a manifest")
      .def_property_readonly("tsbridge_version", [](const MigratedFrom& x) { return text_or_none(x.tsbridge_version); })
      .def_property_readonly("torch_version", [](const MigratedFrom& x) { return text_or_none(x.torch_version); })
      .def("__repr__", [](const MigratedFrom& x) {
        return Repr("MigratedFrom")("file", x.file)("capture", x.capture)("converter", x.converter).str();
      });
}

}  // namespace

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
  bind_manifest_records(m);
  py::class_<Manifest>(m, "Manifest",
                       "The manifest as the C++ reader parsed it; json is the whole document as stored, "
                       "document the same as a dict.")
      .def_readonly("format_version", &Manifest::format_version)
      .def_readonly("tsbridge_version", &Manifest::tsbridge_version)
      .def_readonly("torch_version", &Manifest::torch_version)
      .def_readonly("capture", &Manifest::capture, "how the module was made: 'script', 'trace' or 'export'")
      .def_readonly("frozen", &Manifest::frozen)
      .def_readonly("layout", &Manifest::layout)
      .def_readonly("inputs", &Manifest::inputs)
      .def_readonly("outputs", &Manifest::outputs)
      .def_readonly("dims", &Manifest::dims)
      .def_readonly("metadata_json", &Manifest::metadata_json, "the user's metadata, as JSON text")
      .def_property_readonly("metadata", &metadata_of, "the user's metadata, parsed (a new dict on each read)")
      .def_readonly("golden", &Manifest::golden)
      .def_readonly("integrity", &Manifest::integrity)
      .def_readonly("cpu", &Manifest::cpu)
      .def_readonly("parallel_loops", &Manifest::parallel_loops,
                    "a .pt2's parallel loops: 'runtime' (the caller's intra-op thread count), 'fixed' (the "
                    "exporting machine's) or '' unrecorded; the JSON's aoti.threads")
      .def_readonly("device", &Manifest::device, "the device kind a .pt2 was compiled for: 'cpu', 'cuda' or ''")
      .def_readonly("tuning", &Manifest::tuning, "what the export's tuner measured and chose (TuningRecord), or None")
      .def_readonly("format", &Manifest::format, "what the file holds: 'torchscript' or 'aoti' (the JSON's backend)")
      .def_readonly("aoti", &Manifest::aoti, "how a .pt2 was compiled (AotiRecord), or None")
      .def_readonly("selection", &Manifest::selection, "format='auto''s timings (FormatSelection), or None")
      .def_readonly("precision", &Manifest::precision, "bf16/fp16 compute (PrecisionRecord), or None for fp32")
      .def_readonly("migrated_from", &Manifest::migrated_from, "tsbridge.migrate's source (MigratedFrom), or None")
      .def_readonly("json", &Manifest::json)
      .def_property_readonly(
          "document", [](const Manifest& x) { return parsed(x.json); },
          "the whole manifest as a dict, converted from the JSON the reader parsed (a new dict on each read)")
      .def_static("parse", &Manifest::parse, py::arg("json_text"),
                  "The C++ reader on manifest JSON text: InvalidArchiveError when malformed, "
                  "UnsupportedVersionError when written in a newer format.")
      .def("__repr__", [](const Manifest& x) {
        return Repr("Manifest")("format_version", x.format_version)("format", x.format)("capture", x.capture)(
                   "frozen", x.frozen)("inputs", x.inputs.size())("outputs", x.outputs.size())
            .str();
      });
}

}  // namespace tsbridge::bindings
