// Tensor files: .npy, .npz and torch.save's .pt through libtsbridge's
// readers and writers, and the .npy written batch by batch.
#include <torch/csrc/utils/pybind.h>

#include <tsbridge/error.h>
#include <tsbridge/tensor_io.h>

#include "bindings.h"

namespace tsbridge::bindings {

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

}  // namespace tsbridge::bindings
