// Reading the golden sample: the extra file the manifest names, decoded and
// unpickled by LibTorch-free code of our own (io/unpickle.h).
#include "tsbridge/golden_sample.h"

#include "core/base64.h"
#include "core/golden.h"
#include "io/unpickle.h"
#include "tsbridge/error.h"

namespace tsbridge {
namespace {

[[noreturn]] void unreadable(const Model& model, const std::string& entry, const std::string& why) {
  throw Error(ErrorCode::InvalidArchive, model.path() + ": golden sample '" + entry + "' " + why);
}

// The sample was saved on whatever device export ran on; it is read onto the
// CPU (see detail::unpickle).
c10::IValue unpickle(const Model& model, const std::string& entry, const std::string& bytes) {
  try {
    return detail::unpickle(bytes);
  } catch (const detail::UnpickleError& e) {
    unreadable(model, entry, std::string("cannot be read (") + e.what() + ")");
  }
}

GoldenValues read_values(const Model& model, const GoldenSample& golden) {
  const std::string& entry = golden.entry;
  auto bytes = model.extra_file(entry);
  if (!bytes) unreadable(model, entry, "is named by the manifest but missing from the archive");
  if (golden.encoding == "base64") {
    bytes = detail::base64_decode(*bytes);
    if (!bytes) unreadable(model, entry, "is not valid base64, as the manifest says it is");
  }
  const c10::IValue stored = unpickle(model, entry, *bytes);
  if (!stored.isGenericDict()) unreadable(model, entry, "is not a dict of inputs and outputs");
  const auto dict = stored.toGenericDict();
  const auto inputs = dict.find(c10::IValue("inputs"));
  const auto outputs = dict.find(c10::IValue("outputs"));
  if (inputs == dict.end() || outputs == dict.end()) {
    unreadable(model, entry, "lacks 'inputs' or 'outputs'");
  }
  GoldenValues values;
  if (inputs->value().isTuple()) {
    values.inputs = inputs->value().toTupleRef().elements().vec();
  } else if (inputs->value().isList()) {
    values.inputs = inputs->value().toListRef().vec();
  } else {
    unreadable(model, entry, "has inputs that are not a tuple of forward's arguments");
  }
  values.outputs = outputs->value();
  return values;
}

// The same value with every tensor on `device`. The sample was just read, so
// its containers are ours to change in place.
c10::IValue to_device(c10::IValue value, const c10::Device& device) {
  if (value.isTensor()) return value.toTensor().to(device);
  if (value.isList()) {
    auto list = value.toList();
    for (size_t i = 0; i < list.size(); ++i) list.set(i, to_device(list.get(i), device));
  } else if (value.isGenericDict()) {
    auto dict = value.toGenericDict();
    for (const auto& entry : dict) dict.insert_or_assign(entry.key(), to_device(entry.value(), device));
  } else if (value.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto& item : value.toTupleRef().elements()) items.push_back(to_device(item, device));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  return value;
}

}  // namespace

const GoldenSample& detail::golden_of(const Model& model) {
  const Manifest* manifest = model.manifest();
  if (!manifest || !manifest->golden) {
    throw Error(ErrorCode::InvalidArgument,
                model.path() + ": has no golden sample (archives made by tsbridge.export carry one)");
  }
  return *manifest->golden;
}

GoldenValues read_golden_sample(const Model& model) { return read_values(model, detail::golden_of(model)); }

GoldenValues detail::golden_sample_on_device(const Model& model) {
  GoldenValues values = read_golden_sample(model);
  for (auto& input : values.inputs) input = to_device(std::move(input), model.device());
  return values;
}

std::vector<c10::IValue> detail::golden_inputs(const Model& model) { return golden_sample_on_device(model).inputs; }

}  // namespace tsbridge
