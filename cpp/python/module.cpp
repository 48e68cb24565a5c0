// tsbridge._core: the C++ runtime under Python. Conversion only; every
// behaviour lives in libtsbridge so Python and C++ users get the same thing.
// The structs the library returns are bound as classes with read-only
// properties; one file per area registers its part of the module.
#include <tsbridge/error.h>
#include <tsbridge/version.h>

#include "bindings.h"

namespace tsbridge::bindings {

void bind_errors() {
  // tsbridge::Error -> the tsbridge.errors class for its code.
  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const Error& e) {
      py::object exception =
          py::module_::import("tsbridge.errors").attr("from_code")(error_code_name(e.code()), e.what());
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exception.ptr())), exception.ptr());
    }
  });
}

}  // namespace tsbridge::bindings

PYBIND11_MODULE(_core, m) {
  using namespace tsbridge::bindings;
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
  bind_inputs(m);
  bind_benchmark(m);
  bind_process(m);
  bind_tune(m);
  bind_tensor_files(m);
  bind_npy_stream_writer(m);
  bind_build_info(m);
}
