// The C API (tsbridge.h) over tsbridge::Model: handles, buffers and status
// codes outside; every C++ exception is caught here and becomes a status.
#include "tsbridge/c_api.h"
#include "tsbridge/tuning_text.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "tsbridge/dtype.h"
#include "tsbridge/error.h"
#include "tsbridge/model.h"
#include "tsbridge/summary.h"
#include "tsbridge/version.h"

namespace {

struct Spec {
  std::string name;
  tsb_dtype dtype = TSB_DTYPE_UNKNOWN;
  int32_t ndim = -1;
  std::vector<int64_t> shape;
};

// What a tsb_model handle stands for.
struct ModelState {
  tsbridge::Model model;
  std::vector<Spec> inputs;
  std::vector<Spec> outputs;
  std::vector<std::string> methods;
  std::string metadata = "{}";
  std::string tuning;  // applied_tuning_json of the load
};

// What a tsb_outputs handle stands for.
struct OutputsState {
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
  std::vector<std::vector<int64_t>> shapes;
};

thread_local std::string last_error;

// Handles are opaque numbers, never addresses: each is issued once (one
// counter for both kinds), so a NULL, foreign, freed or wrong-kind handle is
// always recognized and refused instead of dereferenced, even after its
// memory is reused. The state sits behind a shared_ptr: a call in flight
// keeps it alive, so freeing a model while another thread runs it is safe.
std::atomic<uintptr_t> next_handle{0x7b5000};

template <typename State>
class Registry {
 public:
  uintptr_t add(std::shared_ptr<State> state) {
    const uintptr_t handle = next_handle.fetch_add(16);
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(handle, std::move(state));
    return handle;
  }
  std::shared_ptr<State> find(const void* handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = live_.find(reinterpret_cast<uintptr_t>(handle));
    return found == live_.end() ? nullptr : found->second;
  }
  // The state, for the caller to release outside the lock (nullptr: not live).
  std::shared_ptr<State> remove(const void* handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = live_.find(reinterpret_cast<uintptr_t>(handle));
    if (found == live_.end()) return nullptr;
    auto state = std::move(found->second);
    live_.erase(found);
    return state;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<uintptr_t, std::shared_ptr<State>> live_;
};

// Leaked on purpose: handles freed from static destructors of other
// libraries at exit must still find a registry.
Registry<ModelState>& models() {
  static auto* registry = new Registry<ModelState>();
  return *registry;
}

Registry<OutputsState>& outputs_registry() {
  static auto* registry = new Registry<OutputsState>();
  return *registry;
}

tsb_status fail(tsb_status status, const std::string& message) {
  last_error = message;
  return status;
}

// A failure thrown from deep inside a guarded body.
struct Failure {
  tsb_status status;
  std::string message;
};

std::string handle_text(const void* handle) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", handle);
  return text;
}

// The state behind a handle of `registry`, or a Failure naming the handle.
template <typename State>
std::shared_ptr<State> live(Registry<State>& registry, const void* handle, const char* function, const char* kind,
                            const char* maker) {
  if (!handle) throw Failure{TSB_INVALID_ARGUMENT, std::string(function) + ": " + kind + " is NULL"};
  auto state = registry.find(handle);
  if (!state) {
    throw Failure{TSB_INVALID_ARGUMENT, std::string(function) + ": " + handle_text(handle) + " is not a live tsb_" +
                                            kind + " (freed already, or never made by " + maker + ")"};
  }
  return state;
}

std::shared_ptr<ModelState> live_model(const tsb_model* model, const char* function) {
  return live(models(), model, function, "model", "tsb_model_load");
}

std::shared_ptr<OutputsState> live_outputs(const tsb_outputs* outputs, const char* function) {
  return live(outputs_registry(), outputs, function, "outputs", "tsb_model_run");
}

void require(bool ok, const char* function, const char* what) {
  if (!ok) throw Failure{TSB_INVALID_ARGUMENT, std::string(function) + ": " + what};
}

tsb_status status_for(tsbridge::ErrorCode code) {
  using tsbridge::ErrorCode;
  switch (code) {
    case ErrorCode::InvalidArgument: return TSB_INVALID_ARGUMENT;
    case ErrorCode::FileNotFound: return TSB_FILE_NOT_FOUND;
    case ErrorCode::InvalidArchive: return TSB_INVALID_ARCHIVE;
    case ErrorCode::UnsupportedVersion: return TSB_UNSUPPORTED_VERSION;
    case ErrorCode::MethodNotFound: return TSB_METHOD_NOT_FOUND;
    case ErrorCode::InputMismatch: return TSB_INPUT_MISMATCH;
    case ErrorCode::DeviceUnavailable: return TSB_DEVICE_UNAVAILABLE;
    case ErrorCode::InferenceFailed: return TSB_INFERENCE_FAILED;
    case ErrorCode::InvalidInputFile: return TSB_INVALID_INPUT_FILE;
    case ErrorCode::UnsupportedCpu: return TSB_UNSUPPORTED_CPU;
  }
  return TSB_INTERNAL;
}

std::string first_line(const std::string& message) { return message.substr(0, message.find('\n')); }

template <typename Body>
tsb_status guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const Failure& failure) {
    return fail(failure.status, failure.message);
  } catch (const tsbridge::Error& e) {
    return fail(status_for(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    return fail(TSB_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(TSB_INTERNAL, first_line(e.what()));
  } catch (...) {
    return fail(TSB_INTERNAL, "unknown error");
  }
}

// How many of `list` (inputs, outputs, methods) a live model has.
template <typename List>
tsb_status model_count(const tsb_model* model, int32_t* count, const char* function, List ModelState::* list) {
  return guarded([&] {
    const auto state = live_model(model, function);
    require(count != nullptr, function, "count is NULL");
    *count = static_cast<int32_t>(((*state).*list).size());
    return TSB_OK;
  });
}

// A text the handle holds (metadata, tuning): valid as long as the handle.
tsb_status model_text(const tsb_model* model, const char** text, const char* function,
                      std::string ModelState::* member) {
  return guarded([&] {
    const auto state = live_model(model, function);
    require(text != nullptr, function, "json is NULL");
    *text = ((*state).*member).c_str();
    return TSB_OK;
  });
}

constexpr std::pair<tsb_dtype, c10::ScalarType> kDtypes[] = {
    {TSB_FLOAT32, c10::kFloat}, {TSB_FLOAT64, c10::kDouble}, {TSB_FLOAT16, c10::kHalf}, {TSB_BFLOAT16, c10::kBFloat16},
    {TSB_INT8, c10::kChar},     {TSB_INT16, c10::kShort},    {TSB_INT32, c10::kInt},    {TSB_INT64, c10::kLong},
    {TSB_UINT8, c10::kByte},    {TSB_BOOL, c10::kBool},
};

std::optional<c10::ScalarType> scalar_type(tsb_dtype dtype) {
  for (const auto& [code, type] : kDtypes) {
    if (code == dtype) return type;
  }
  return std::nullopt;
}

tsb_dtype dtype_code(c10::ScalarType type) {
  for (const auto& [code, known] : kDtypes) {
    if (known == type) return code;
  }
  return TSB_DTYPE_UNKNOWN;
}

std::vector<Spec> specs_of(const std::vector<tsbridge::TensorSpec>& specs) {
  std::vector<Spec> out;
  for (const auto& spec : specs) {
    Spec converted;
    converted.name = spec.name;
    if (!spec.dtype.empty()) converted.dtype = dtype_code(tsbridge::dtype_from_name(spec.dtype));
    if (spec.shape) {
      converted.ndim = static_cast<int32_t>(spec.shape->size());
      for (const auto& dim : *spec.shape) converted.shape.push_back(dim.is_dynamic() ? -1 : dim.size);
    }
    out.push_back(std::move(converted));
  }
  return out;
}

tsb_status get_spec(const std::vector<Spec>& specs, int32_t index, tsb_spec* spec, const char* function) {
  require(spec != nullptr, function, "spec is NULL");
  if (index < 0 || index >= static_cast<int32_t>(specs.size())) {
    return fail(TSB_INVALID_ARGUMENT, std::string(function) + ": index " + std::to_string(index) +
                                          " out of range (the model has " + std::to_string(specs.size()) + ")");
  }
  const Spec& found = specs[static_cast<size_t>(index)];
  *spec = tsb_spec{found.name.c_str(), found.dtype, found.ndim, found.shape.empty() ? nullptr : found.shape.data()};
  return TSB_OK;
}

at::Tensor input_tensor(const tsb_tensor& input, int32_t index) {
  const std::string which = "tsb_model_run: input " + std::to_string(index);
  const auto type = scalar_type(input.dtype);
  if (!type) {
    throw Failure{TSB_INVALID_ARGUMENT,
                  which + ": unknown dtype code " + std::to_string(static_cast<int>(input.dtype))};
  }
  if (input.ndim < 0 || input.ndim > 16) {
    throw Failure{TSB_INVALID_ARGUMENT, which + ": ndim must be 0..16, got " + std::to_string(input.ndim)};
  }
  if (input.ndim > 0 && !input.shape) throw Failure{TSB_INVALID_ARGUMENT, which + ": shape is NULL"};
  std::vector<int64_t> shape(input.shape, input.shape + input.ndim);
  int64_t numel = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t size = shape[d];
    if (size < 0) {
      throw Failure{TSB_INVALID_ARGUMENT,
                    which + ": shape[" + std::to_string(d) + "] is negative (" + std::to_string(size) + ")"};
    }
    if (size > 0 && numel > (int64_t{1} << 48) / size) throw Failure{TSB_INVALID_ARGUMENT, which + ": shape too large"};
    numel *= size;
  }
  if (numel > 0 && !input.data) throw Failure{TSB_INVALID_ARGUMENT, which + ": data is NULL"};
  if (numel == 0) return at::empty(shape, at::TensorOptions().dtype(*type));
  // A copy: the buffer is the caller's and const; a model must not write into it.
  return at::from_blob(const_cast<void*>(input.data), shape, at::TensorOptions().dtype(*type)).clone();
}

at::Tensor output_tensor(const tsbridge::NamedValue& leaf) {
  at::Tensor tensor;
  if (leaf.value.isTensor()) tensor = leaf.value.toTensor();
  else if (leaf.value.isDouble()) tensor = at::scalar_tensor(leaf.value.toDouble(), at::kDouble);
  else if (leaf.value.isInt()) tensor = at::scalar_tensor(leaf.value.toInt(), at::kLong);
  else if (leaf.value.isBool()) tensor = at::scalar_tensor(leaf.value.toBool(), at::kBool);
  else {
    throw Failure{TSB_INFERENCE_FAILED, "tsb_model_run: output '" + leaf.name + "' is " + leaf.value.tagKind() +
                                            ", which the C API cannot return"};
  }
  if (!tensor.defined()) {
    throw Failure{TSB_INFERENCE_FAILED, "tsb_model_run: output '" + leaf.name + "' is an undefined tensor"};
  }
  if (tensor.is_sparse() || tensor.is_quantized()) {
    throw Failure{TSB_INFERENCE_FAILED,
                  "tsb_model_run: output '" + leaf.name + "' is not a dense tensor, which the C API cannot return"};
  }
  if (dtype_code(tensor.scalar_type()) == TSB_DTYPE_UNKNOWN) {
    throw Failure{TSB_INFERENCE_FAILED, "tsb_model_run: output '" + leaf.name + "' has dtype " +
                                            tsbridge::dtype_name(tensor.scalar_type()) +
                                            ", which the C API cannot return"};
  }
  // The outputs hold a reference, so the data lives until tsb_outputs_free
  // even where it is a model constant the method returned as is.
  return tensor.detach().to(c10::kCPU).contiguous();
}

}  // namespace

extern "C" {

const char* tsb_version(void) { return TSBRIDGE_VERSION; }

const char* tsb_last_error(void) { return last_error.c_str(); }

const char* tsb_status_name(tsb_status status) {
  switch (status) {
    case TSB_OK: return "TSB_OK";
    case TSB_INVALID_ARGUMENT: return "TSB_INVALID_ARGUMENT";
    case TSB_FILE_NOT_FOUND: return "TSB_FILE_NOT_FOUND";
    case TSB_INVALID_ARCHIVE: return "TSB_INVALID_ARCHIVE";
    case TSB_UNSUPPORTED_VERSION: return "TSB_UNSUPPORTED_VERSION";
    case TSB_METHOD_NOT_FOUND: return "TSB_METHOD_NOT_FOUND";
    case TSB_INPUT_MISMATCH: return "TSB_INPUT_MISMATCH";
    case TSB_DEVICE_UNAVAILABLE: return "TSB_DEVICE_UNAVAILABLE";
    case TSB_INFERENCE_FAILED: return "TSB_INFERENCE_FAILED";
    case TSB_INVALID_INPUT_FILE: return "TSB_INVALID_INPUT_FILE";
    case TSB_UNSUPPORTED_CPU: return "TSB_UNSUPPORTED_CPU";
    case TSB_INTERNAL: return "TSB_INTERNAL";
  }
  return "TSB_UNKNOWN_STATUS";
}

int32_t tsb_dtype_size(tsb_dtype dtype) {
  const auto type = scalar_type(dtype);
  return type ? static_cast<int32_t>(c10::elementSize(*type)) : 0;
}

const char* tsb_dtype_name(tsb_dtype dtype) {
  switch (dtype) {
    case TSB_FLOAT32: return "float32";
    case TSB_FLOAT64: return "float64";
    case TSB_FLOAT16: return "float16";
    case TSB_BFLOAT16: return "bfloat16";
    case TSB_INT8: return "int8";
    case TSB_INT16: return "int16";
    case TSB_INT32: return "int32";
    case TSB_INT64: return "int64";
    case TSB_UINT8: return "uint8";
    case TSB_BOOL: return "bool";
    case TSB_DTYPE_UNKNOWN: break;
  }
  return "unknown";
}

tsb_status tsb_model_load(const char* path, const tsb_load_options* options, tsb_model** model) {
  return guarded([&] {
    require(model != nullptr, "tsb_model_load", "model (the result pointer) is NULL");
    *model = nullptr;
    require(path != nullptr, "tsb_model_load", "path is NULL");
    tsbridge::LoadOptions load;
    if (options && options->device) load.device = options->device;
    if (options) {
      load.verify_integrity = options->no_verify_integrity == 0;
      load.apply_tuning = options->no_tuning == 0;
      load.warmup_calls = options->warmup_calls;
      // 0 leaves a format's options unset, so a file of the other format is not refused them.
      if (options->optimize_graph != 0 || options->no_conv_packing != 0) {
        load.torchscript = tsbridge::TorchScriptOptions{options->optimize_graph != 0, options->no_conv_packing == 0};
      }
      if (options->runners != 0) load.aoti = tsbridge::AotiOptions{options->runners};  // negative is refused
    }
    auto loaded = tsbridge::Model::load(path, load);
    auto state = std::make_shared<ModelState>(ModelState{loaded, specs_of(loaded.inputs()), specs_of(loaded.outputs()),
                                                         loaded.methods(), "{}",
                                                         tsbridge::applied_tuning_json(loaded.tuning())});
    if (const auto* manifest = loaded.manifest()) state->metadata = manifest->metadata_json;
    *model = reinterpret_cast<tsb_model*>(models().add(std::move(state)));
    return TSB_OK;
  });
}

tsb_status tsb_model_free(tsb_model* model) {
  return guarded([&] {
    if (!model) return TSB_OK;  // like free(NULL)
    auto state = models().remove(model);
    if (!state) {
      return fail(TSB_INVALID_ARGUMENT,
                  "tsb_model_free: " + handle_text(model) +
                      " is not a live tsb_model (freed already, or never made by tsb_model_load)");
    }
    state.reset();  // the model goes once no call in flight holds it
    return TSB_OK;
  });
}

tsb_status tsb_model_input_count(const tsb_model* model, int32_t* count) {
  return model_count(model, count, "tsb_model_input_count", &ModelState::inputs);
}

tsb_status tsb_model_input(const tsb_model* model, int32_t index, tsb_spec* spec) {
  return guarded(
      [&] { return get_spec(live_model(model, "tsb_model_input")->inputs, index, spec, "tsb_model_input"); });
}

tsb_status tsb_model_output_count(const tsb_model* model, int32_t* count) {
  return model_count(model, count, "tsb_model_output_count", &ModelState::outputs);
}

tsb_status tsb_model_output(const tsb_model* model, int32_t index, tsb_spec* spec) {
  return guarded(
      [&] { return get_spec(live_model(model, "tsb_model_output")->outputs, index, spec, "tsb_model_output"); });
}

tsb_status tsb_model_metadata(const tsb_model* model, const char** json) {
  return model_text(model, json, "tsb_model_metadata", &ModelState::metadata);
}

tsb_status tsb_model_tuning(const tsb_model* model, const char** json) {
  return model_text(model, json, "tsb_model_tuning", &ModelState::tuning);
}

tsb_status tsb_model_method_count(const tsb_model* model, int32_t* count) {
  return model_count(model, count, "tsb_model_method_count", &ModelState::methods);
}

tsb_status tsb_model_method_name(const tsb_model* model, int32_t index, const char** name) {
  return guarded([&] {
    const auto state = live_model(model, "tsb_model_method_name");
    require(name != nullptr, "tsb_model_method_name", "name is NULL");
    if (index < 0 || index >= static_cast<int32_t>(state->methods.size())) {
      return fail(TSB_INVALID_ARGUMENT, "tsb_model_method_name: index " + std::to_string(index) +
                                            " out of range (the model has " + std::to_string(state->methods.size()) +
                                            " methods)");
    }
    *name = state->methods[static_cast<size_t>(index)].c_str();
    return TSB_OK;
  });
}

tsb_status tsb_model_run(const tsb_model* model, const char* method, const tsb_tensor* inputs, int32_t input_count,
                         tsb_outputs** outputs) {
  return guarded([&] {
    require(outputs != nullptr, "tsb_model_run", "outputs (the result pointer) is NULL");
    *outputs = nullptr;
    const auto state = live_model(model, "tsb_model_run");
    require(input_count >= 0, "tsb_model_run", "input_count is negative");
    require(input_count == 0 || inputs != nullptr, "tsb_model_run", "inputs is NULL");
    std::vector<c10::IValue> values;
    values.reserve(static_cast<size_t>(input_count));
    for (int32_t i = 0; i < input_count; ++i) {
      values.emplace_back(input_tensor(inputs[i], i).to(state->model.device()));
    }
    const std::string name = method ? method : "forward";
    const auto result = state->model.run(name, std::move(values));
    const auto leaves = state->model.output_leaves(name, result);
    auto out = std::make_shared<OutputsState>();
    for (const auto& leaf : leaves) {
      at::Tensor tensor = output_tensor(leaf);
      out->names.push_back(leaf.name);
      out->shapes.push_back(tensor.sizes().vec());
      out->tensors.push_back(std::move(tensor));
    }
    *outputs = reinterpret_cast<tsb_outputs*>(outputs_registry().add(std::move(out)));
    return TSB_OK;
  });
}

tsb_status tsb_outputs_count(const tsb_outputs* outputs, int32_t* count) {
  return guarded([&] {
    const auto state = live_outputs(outputs, "tsb_outputs_count");
    require(count != nullptr, "tsb_outputs_count", "count is NULL");
    *count = static_cast<int32_t>(state->tensors.size());
    return TSB_OK;
  });
}

tsb_status tsb_outputs_get(const tsb_outputs* outputs, int32_t index, const char** name, tsb_tensor* tensor) {
  return guarded([&] {
    const auto state = live_outputs(outputs, "tsb_outputs_get");
    require(tensor != nullptr, "tsb_outputs_get", "tensor is NULL");
    if (index < 0 || index >= static_cast<int32_t>(state->tensors.size())) {
      return fail(TSB_INVALID_ARGUMENT, "tsb_outputs_get: index " + std::to_string(index) +
                                            " out of range (there are " + std::to_string(state->tensors.size()) +
                                            " outputs)");
    }
    const auto i = static_cast<size_t>(index);
    const auto& value = state->tensors[i];
    if (name) *name = state->names[i].c_str();
    *tensor = tsb_tensor{value.data_ptr(), dtype_code(value.scalar_type()), static_cast<int32_t>(value.dim()),
                         state->shapes[i].empty() ? nullptr : state->shapes[i].data()};
    return TSB_OK;
  });
}

tsb_status tsb_outputs_free(tsb_outputs* outputs) {
  return guarded([&] {
    if (!outputs) return TSB_OK;
    if (!outputs_registry().remove(outputs)) {
      return fail(TSB_INVALID_ARGUMENT,
                  "tsb_outputs_free: " + handle_text(outputs) +
                      " is not a live tsb_outputs (freed already, or never made by tsb_model_run)");
    }
    return TSB_OK;
  });
}

}  // extern "C"
