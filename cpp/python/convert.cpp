// Python values as IValues: a method's arguments by its declared types, and
// results of any shape for comparing or flattening.
#include "convert.h"

#include <ATen/core/dynamic_type.h>
#include <torch/csrc/jit/mobile/type_parser.h>
#include <torch/csrc/jit/python/pybind_utils.h>

#include <tsbridge/error.h>
#include <tsbridge/manifest.h>

#include "bindings.h"

namespace tsbridge::bindings {

namespace {

// A Python value as the IValue a declared TorchScript type wants.
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

}  // namespace

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

std::vector<c10::IValue> argument_list(const tsbridge::Model& model, const std::string& method, py::handle inputs,
                                       const std::string& caller) {
  if (!py::isinstance<py::list>(inputs) && !py::isinstance<py::tuple>(inputs)) {
    throw Error(ErrorCode::InvalidArgument,
                caller + ": inputs must be a list or tuple of the method's arguments, got " + type_name(inputs));
  }
  return to_ivalues(model, method, py::args(py::tuple(py::reinterpret_borrow<py::object>(inputs))));
}

c10::IValue to_result(py::handle value, const std::string& refusal) {
  if (THPVariable_Check(value.ptr())) return THPVariable_Unpack(value.ptr());
  if (value.is_none()) return c10::IValue();
  if (py::isinstance<py::bool_>(value)) return value.cast<bool>();
  if (py::isinstance<py::int_>(value)) return value.cast<int64_t>();
  if (py::isinstance<py::float_>(value)) return value.cast<double>();
  if (py::isinstance<py::str>(value)) return value.cast<std::string>();
  if (py::isinstance<py::tuple>(value) || py::isinstance<py::list>(value)) {
    std::vector<c10::IValue> items;
    for (const auto& item : value) items.push_back(to_result(item, refusal));
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
                    refusal + ": a dict key is a " + type_name(key) + " (str and int keys only)");
      }
      dict.insert(to_result(key, refusal), to_result(item, refusal));
    }
    return dict;
  }
  throw Error(ErrorCode::InvalidArgument,
              refusal + ": a " + type_name(value) + " is not a tensor, a number, a str, None or a container of them");
}

}  // namespace tsbridge::bindings
