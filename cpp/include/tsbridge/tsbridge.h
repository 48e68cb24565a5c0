/* tsbridge C API: load and run tsbridge/TorchScript models from C or any
 * language with a C FFI (Go, Rust, C#, ...). Plain C, no C++ types.
 *
 * Conventions:
 * - Every function returns a tsb_status; TSB_OK is 0. On failure a one-line
 *   message is kept per thread: tsb_last_error().
 * - Nothing throws across this boundary; a handle the library does not know
 *   (NULL, never made, or already freed) is TSB_INVALID_ARGUMENT.
 * - Inputs are caller-owned buffers, read during tsb_model_run only.
 *   Outputs are library-owned and live until tsb_outputs_free.
 * - A tsb_model may be run from several threads at once. */
#ifndef TSBRIDGE_TSBRIDGE_H
#define TSBRIDGE_TSBRIDGE_H

#include <stdint.h>

#if defined(_WIN32)
#define TSB_API
#else
#define TSB_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tsb_status {
  TSB_OK = 0,
  TSB_INVALID_ARGUMENT = 1,
  TSB_FILE_NOT_FOUND = 2,
  TSB_INVALID_ARCHIVE = 3,
  TSB_UNSUPPORTED_VERSION = 4,
  TSB_METHOD_NOT_FOUND = 5,
  TSB_INPUT_MISMATCH = 6,
  TSB_DEVICE_UNAVAILABLE = 7,
  TSB_INFERENCE_FAILED = 8,
  TSB_INVALID_INPUT_FILE = 9,
  TSB_INTERNAL = 100
} tsb_status;

typedef enum tsb_dtype {
  TSB_FLOAT32 = 0,
  TSB_FLOAT64 = 1,
  TSB_FLOAT16 = 2,
  TSB_BFLOAT16 = 3,
  TSB_INT8 = 4,
  TSB_INT16 = 5,
  TSB_INT32 = 6,
  TSB_INT64 = 7,
  TSB_UINT8 = 8,
  TSB_BOOL = 9,
  TSB_DTYPE_UNKNOWN = -1 /* in specs: the file records no dtype */
} tsb_dtype;

typedef struct tsb_model tsb_model;
typedef struct tsb_outputs tsb_outputs;

typedef struct tsb_load_options {
  const char* device; /* "cpu" (also when NULL), "cuda", "cuda:N" */
} tsb_load_options;

/* One input: a dense, C-contiguous buffer. */
typedef struct tsb_tensor {
  const void* data;
  tsb_dtype dtype;
  int32_t ndim;
  const int64_t* shape; /* ndim sizes */
} tsb_tensor;

/* What the model declares for one input or output. shape[i] is -1 for a
 * dynamic dim; ndim is -1 when the shape is unknown. Strings and arrays stay
 * valid as long as the model. */
typedef struct tsb_spec {
  const char* name;
  tsb_dtype dtype;
  int32_t ndim;
  const int64_t* shape;
} tsb_spec;

TSB_API const char* tsb_version(void);
TSB_API const char* tsb_status_name(tsb_status status);
/* The message of this thread's last failure ("" if none). */
TSB_API const char* tsb_last_error(void);
/* Bytes per element, 0 for an unknown dtype. */
TSB_API int32_t tsb_dtype_size(tsb_dtype dtype);

/* options may be NULL. On success *model is a new handle. */
TSB_API tsb_status tsb_model_load(const char* path, const tsb_load_options* options, tsb_model** model);
TSB_API tsb_status tsb_model_free(tsb_model* model);

TSB_API tsb_status tsb_model_input_count(const tsb_model* model, int32_t* count);
TSB_API tsb_status tsb_model_input(const tsb_model* model, int32_t index, tsb_spec* spec);
TSB_API tsb_status tsb_model_output_count(const tsb_model* model, int32_t* count);
TSB_API tsb_status tsb_model_output(const tsb_model* model, int32_t index, tsb_spec* spec);
/* The user metadata stored at export, as JSON ("{}" when none). */
TSB_API tsb_status tsb_model_metadata(const tsb_model* model, const char** json);

/* Runs `method` (NULL: "forward") on tensor inputs. Every tensor leaf of the
 * result (tuples, lists and dicts flattened in order) becomes one output. */
TSB_API tsb_status tsb_model_run(const tsb_model* model, const char* method, const tsb_tensor* inputs,
                                 int32_t input_count, tsb_outputs** outputs);

TSB_API tsb_status tsb_outputs_count(const tsb_outputs* outputs, int32_t* count);
/* Output `index`: its name and a view of its data (C-contiguous, on the CPU). */
TSB_API tsb_status tsb_outputs_get(const tsb_outputs* outputs, int32_t index, const char** name,
                                   tsb_tensor* tensor);
TSB_API tsb_status tsb_outputs_free(tsb_outputs* outputs);

#ifdef __cplusplus
}
#endif

#endif /* TSBRIDGE_TSBRIDGE_H */
