// What every file of tsbridge._core shares: the helpers that turn library
// structs into Python text, and the function each file registers its area
// with. Torch-free, so the files that bind plain structs compile without
// LibTorch's Python headers.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <type_traits>

namespace tsbridge::bindings {

namespace py = pybind11;

inline std::string type_name(py::handle value) { return py::str(py::type::of(value).attr("__name__")); }

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

inline py::object text_or_none(const std::string& text) {
  return text.empty() ? py::object(py::none()) : py::object(py::str(text));
}

// Paths may be str or os.PathLike.
inline std::string fspath(const py::object& path) {
  return py::module_::import("os").attr("fspath")(path).cast<std::string>();
}

// One per area, in the file named after it. Types are registered before the
// functions that return them (module.cpp's order), so signatures name them.
void bind_errors();                           // module.cpp
void bind_specs(py::module_& m);              // manifest.cpp
void bind_manifest(py::module_& m);           // manifest.cpp
void bind_tuning_types(py::module_& m);       // tuning.cpp
void bind_tune(py::module_& m);               // tuning.cpp
void bind_process(py::module_& m);            // tuning.cpp
void bind_reports(py::module_& m);            // reports.cpp
void bind_checks(py::module_& m);             // reports.cpp
void bind_benchmark(py::module_& m);          // reports.cpp
void bind_model_facts(py::module_& m);        // model.cpp
void bind_model(py::module_& m);              // model.cpp
void bind_inputs(py::module_& m);             // model.cpp
void bind_tensor_files(py::module_& m);       // tensor_files.cpp
void bind_npy_stream_writer(py::module_& m);  // tensor_files.cpp
void bind_build_info(py::module_& m);         // build.cpp

}  // namespace tsbridge::bindings
