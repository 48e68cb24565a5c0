// What this build and this machine can do: features and CPU features.
#include <tsbridge/build_info.h>
#include <tsbridge/cpu.h>

#include "bindings.h"

namespace tsbridge::bindings {

void bind_build_info(py::module_& m) {
  using tsbridge::BuildFeature;
  py::class_<BuildFeature>(m, "BuildFeature", "One capability of this build (tsbridge --version, tsbridge doctor).")
      .def_readonly("name", &BuildFeature::name)
      .def_readonly("available", &BuildFeature::available)
      .def_readonly("detail", &BuildFeature::detail, "the library behind it, or why it is missing")
      .def("__repr__", [](const BuildFeature& f) {
        return "BuildFeature(" + f.name + ", available=" + (f.available ? "True" : "False") + ", '" + f.detail + "')";
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

}  // namespace tsbridge::bindings
