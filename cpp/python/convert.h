// Python values to the IValues the library takes, for the files that run or
// compare models.
#pragma once

#include <torch/csrc/utils/pybind.h>

#include <string>
#include <vector>

#include <ATen/core/ivalue.h>
#include <tsbridge/model.h>

namespace tsbridge::bindings {

namespace py = pybind11;

// The arguments of a method as the IValues its declared types want,
// converting as a Python call into TorchScript would (int -> float, tuple ->
// list). Error(MethodNotFound) for a method the model lacks, before any
// conversion; Error(InputMismatch) for a value its type cannot take.
std::vector<c10::IValue> to_ivalues(const tsbridge::Model& model, const std::string& method, const py::args& args);
// The same for one list (or tuple) of the arguments; anything else, a bare
// tensor included (it would be iterated into its rows), is an
// Error(InvalidArgument) that starts with `caller`.
std::vector<c10::IValue> argument_list(const tsbridge::Model& model, const std::string& method, py::handle inputs,
                                       const std::string& caller);

// A result (from eager PyTorch or any model) as an IValue: tensors, scalars,
// None, and tuples, lists and dicts of them, mixed kinds and empty
// containers included (type inference would refuse those). Named tuples
// become plain tuples. Error(InvalidArgument) for anything else, its
// message starting with `refusal`.
c10::IValue to_result(py::handle value, const std::string& refusal = "results cannot be compared");

}  // namespace tsbridge::bindings
