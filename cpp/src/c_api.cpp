// The C API (tsbridge.h) over tsbridge::Model: handles, buffers and status
// codes outside; every C++ exception is caught here and becomes a status.
#include "tsbridge/tsbridge.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
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

}  // namespace

struct tsb_model {
  tsbridge::Model model;
  std::vector<Spec> inputs;
  std::vector<Spec> outputs;
  std::string metadata;
};

struct tsb_outputs {
  std::vector<std::string> names;
  std::vector<at::Tensor> tensors;
  std::vector<std::vector<int64_t>> shapes;
};

namespace {

thread_local std::string last_error;

// Live handles, so that a NULL, foreign or freed one is refused instead of
// dereferenced.
std::mutex registry_mutex;
std::unordered_set<const void*> live_handles;

void track(const void* handle) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  live_handles.insert(handle);
}

bool untrack(const void* handle) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  return live_handles.erase(handle) == 1;
}

bool is_live(const void* handle) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  return handle != nullptr && live_handles.count(handle) == 1;
}

tsb_status fail(tsb_status status, const std::string& message) {
  last_error = message;
  return status;
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
  }
  return TSB_INTERNAL;
}

template <typename Body>
tsb_status guarded(Body&& body) noexcept {
  try {
    return body();
  } catch (const tsbridge::Error& e) {
    return fail(status_for(e.code()), e.what());
  } catch (const std::exception& e) {
    const std::string message = e.what();
    return fail(TSB_INTERNAL, message.substr(0, message.find('\n')));
  } catch (...) {
    return fail(TSB_INTERNAL, "unknown error");
  }
}

constexpr std::pair<tsb_dtype, c10::ScalarType> kDtypes[] = {
    {TSB_FLOAT32, c10::kFloat}, {TSB_FLOAT64, c10::kDouble}, {TSB_FLOAT16, c10::kHalf},
    {TSB_BFLOAT16, c10::kBFloat16}, {TSB_INT8, c10::kChar}, {TSB_INT16, c10::kShort},
    {TSB_INT32, c10::kInt}, {TSB_INT64, c10::kLong}, {TSB_UINT8, c10::kByte}, {TSB_BOOL, c10::kBool},
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

tsb_status get_spec(const tsb_model* model, const std::vector<Spec>& specs, int32_t index, tsb_spec* spec) {
  if (!spec) return fail(TSB_INVALID_ARGUMENT, "spec is NULL");
  if (index < 0 || index >= static_cast<int32_t>(specs.size())) {
    return fail(TSB_INVALID_ARGUMENT, "index " + std::to_string(index) + " out of range (the model has " +
                                          std::to_string(specs.size()) + ")");
  }
  const Spec& found = specs[static_cast<size_t>(index)];
  *spec = tsb_spec{found.name.c_str(), found.dtype, found.ndim, found.shape.empty() ? nullptr : found.shape.data()};
  (void)model;
  return TSB_OK;
}

at::Tensor input_tensor(const tsb_tensor& input, int32_t index) {
  const std::string which = "input " + std::to_string(index);
  const auto type = scalar_type(input.dtype);
  if (!type) {
    throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument,
                          which + ": unknown dtype code " + std::to_string(static_cast<int>(input.dtype)));
  }
  if (input.ndim < 0 || input.ndim > 16) {
    throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument,
                          which + ": ndim must be 0..16, got " + std::to_string(input.ndim));
  }
  if (input.ndim > 0 && !input.shape) {
    throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument, which + ": shape is NULL");
  }
  std::vector<int64_t> shape(input.shape, input.shape + input.ndim);
  int64_t numel = 1;
  for (auto size : shape) {
    if (size < 0) throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument, which + ": negative size in shape");
    if (size > 0 && numel > (int64_t{1} << 48) / size) {
      throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument, which + ": shape too large");
    }
    numel *= size;
  }
  if (numel > 0 && !input.data) throw tsbridge::Error(tsbridge::ErrorCode::InvalidArgument, which + ": data is NULL");
  if (numel == 0) return at::empty(shape, at::TensorOptions().dtype(*type));
  // A copy: the buffer is the caller's and const; a model must not write into it.
  return at::from_blob(const_cast<void*>(input.data), shape, at::TensorOptions().dtype(*type)).clone();
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
    case TSB_INTERNAL: return "TSB_INTERNAL";
  }
  return "TSB_UNKNOWN_STATUS";
}

int32_t tsb_dtype_size(tsb_dtype dtype) {
  const auto type = scalar_type(dtype);
  return type ? static_cast<int32_t>(c10::elementSize(*type)) : 0;
}

tsb_status tsb_model_load(const char* path, const tsb_load_options* options, tsb_model** model) {
  return guarded([&] {
    if (!path) return fail(TSB_INVALID_ARGUMENT, "path is NULL");
    if (!model) return fail(TSB_INVALID_ARGUMENT, "model (the result pointer) is NULL");
    *model = nullptr;
    tsbridge::LoadOptions load;
    if (options && options->device) load.device = options->device;
    auto loaded = tsbridge::Model::load(path, load);
    auto handle = std::unique_ptr<tsb_model>(new tsb_model{loaded, specs_of(loaded.inputs()),
                                                           specs_of(loaded.outputs()), "{}"});
    if (const auto* manifest = loaded.manifest()) handle->metadata = manifest->metadata_json;
    track(handle.get());
    *model = handle.release();
    return TSB_OK;
  });
}

tsb_status tsb_model_free(tsb_model* model) {
  if (!model) return TSB_OK;  // like free(NULL)
  if (!untrack(model)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_model (already freed?)");
  delete model;
  return TSB_OK;
}

tsb_status tsb_model_input_count(const tsb_model* model, int32_t* count) {
  if (!is_live(model)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_model");
  if (!count) return fail(TSB_INVALID_ARGUMENT, "count is NULL");
  *count = static_cast<int32_t>(model->inputs.size());
  return TSB_OK;
}

tsb_status tsb_model_input(const tsb_model* model, int32_t index, tsb_spec* spec) {
  if (!is_live(model)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_model");
  return get_spec(model, model->inputs, index, spec);
}

tsb_status tsb_model_output_count(const tsb_model* model, int32_t* count) {
  if (!is_live(model)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_model");
  if (!count) return fail(TSB_INVALID_ARGUMENT, "count is NULL");
  *count = static_cast<int32_t>(model->outputs.size());
  return TSB_OK;
}

tsb_status tsb_model_output(const tsb_model* model, int32_t index, tsb_spec* spec) {
  if (!is_live(model)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_model");
  return get_spec(model, model->outputs, index, spec);
}

tsb_status tsb_model_metadata(const tsb_model* model, const char** json) {
  if (!is_live(model)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_model");
  if (!json) return fail(TSB_INVALID_ARGUMENT, "json is NULL");
  *json = model->metadata.c_str();
  return TSB_OK;
}

tsb_status tsb_model_run(const tsb_model* model, const char* method, const tsb_tensor* inputs, int32_t input_count,
                         tsb_outputs** outputs) {
  return guarded([&] {
    if (!is_live(model)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_model");
    if (!outputs) return fail(TSB_INVALID_ARGUMENT, "outputs (the result pointer) is NULL");
    *outputs = nullptr;
    if (input_count < 0) return fail(TSB_INVALID_ARGUMENT, "input_count is negative");
    if (input_count > 0 && !inputs) return fail(TSB_INVALID_ARGUMENT, "inputs is NULL");
    std::vector<c10::IValue> values;
    for (int32_t i = 0; i < input_count; ++i) {
      values.emplace_back(input_tensor(inputs[i], i).to(model->model.device()));
    }
    const std::string name = method ? method : "forward";
    const auto result = model->model.run(name, std::move(values));
    const auto leaves = name == "forward" ? tsbridge::flatten(result, model->model.outputs())
                                          : tsbridge::flatten(result);
    auto out = std::make_unique<tsb_outputs>();
    for (const auto& leaf : leaves) {
      at::Tensor tensor;
      if (leaf.value.isTensor()) tensor = leaf.value.toTensor();
      else if (leaf.value.isDouble()) tensor = at::scalar_tensor(leaf.value.toDouble(), at::kDouble);
      else if (leaf.value.isInt()) tensor = at::scalar_tensor(leaf.value.toInt(), at::kLong);
      else if (leaf.value.isBool()) tensor = at::scalar_tensor(leaf.value.toBool(), at::kBool);
      else return fail(TSB_INFERENCE_FAILED, "output '" + leaf.name + "' is " + leaf.value.tagKind() +
                                                 ", which the C API cannot return");
      tensor = tensor.detach().to(c10::kCPU).contiguous();
      if (dtype_code(tensor.scalar_type()) == TSB_DTYPE_UNKNOWN) {
        return fail(TSB_INFERENCE_FAILED, "output '" + leaf.name + "' has dtype " +
                                              tsbridge::dtype_name(tensor.scalar_type()) +
                                              ", which the C API cannot return");
      }
      out->names.push_back(leaf.name);
      out->shapes.push_back(tensor.sizes().vec());
      out->tensors.push_back(tensor);
    }
    track(out.get());
    *outputs = out.release();
    return TSB_OK;
  });
}

tsb_status tsb_outputs_count(const tsb_outputs* outputs, int32_t* count) {
  if (!is_live(outputs)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_outputs");
  if (!count) return fail(TSB_INVALID_ARGUMENT, "count is NULL");
  *count = static_cast<int32_t>(outputs->tensors.size());
  return TSB_OK;
}

tsb_status tsb_outputs_get(const tsb_outputs* outputs, int32_t index, const char** name, tsb_tensor* tensor) {
  if (!is_live(outputs)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_outputs");
  if (!tensor) return fail(TSB_INVALID_ARGUMENT, "tensor is NULL");
  if (index < 0 || index >= static_cast<int32_t>(outputs->tensors.size())) {
    return fail(TSB_INVALID_ARGUMENT, "index " + std::to_string(index) + " out of range (there are " +
                                          std::to_string(outputs->tensors.size()) + " outputs)");
  }
  const auto i = static_cast<size_t>(index);
  const auto& value = outputs->tensors[i];
  if (name) *name = outputs->names[i].c_str();
  *tensor = tsb_tensor{value.data_ptr(), dtype_code(value.scalar_type()), static_cast<int32_t>(value.dim()),
                       outputs->shapes[i].empty() ? nullptr : outputs->shapes[i].data()};
  return TSB_OK;
}

tsb_status tsb_outputs_free(tsb_outputs* outputs) {
  if (!outputs) return TSB_OK;
  if (!untrack(outputs)) return fail(TSB_INVALID_ARGUMENT, "not a live tsb_outputs (already freed?)");
  delete outputs;
  return TSB_OK;
}

}  // extern "C"
