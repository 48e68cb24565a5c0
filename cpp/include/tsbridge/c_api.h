/* tsbridge C API: load and run tsbridge/TorchScript models from C or any
 * language with a C FFI (Go, Rust, C#, Python ctypes, ...). Plain C99, no
 * C++ types; link libtsbridge. Reference: docs/c-api.md.
 *
 * Conventions:
 * - Every function that can fail returns a tsb_status; TSB_OK is 0. On
 *   failure a one-line message is kept for the calling thread:
 *   tsb_last_error(). Successful calls leave it as it was.
 * - Nothing throws across this boundary and no call aborts the process.
 * - Handles (tsb_model*, tsb_outputs*) are opaque: never dereference them.
 *   A handle the library does not know (NULL, made up, already freed, or a
 *   handle of the other kind) is refused with TSB_INVALID_ARGUMENT. Freeing
 *   NULL is allowed and does nothing; freeing twice is TSB_INVALID_ARGUMENT.
 * - Inputs are caller-owned buffers, read during tsb_model_run only (they
 *   are copied). Outputs are library-owned and live until tsb_outputs_free,
 *   independently of the model.
 * - Strings and arrays handed out (names, shapes, metadata) stay valid as
 *   long as the handle they came from.
 * - A tsb_model may be run from several threads at once; results are the
 *   same as serial calls. A tsb_outputs is not to be freed while another
 *   thread reads it. */
#ifndef TSBRIDGE_C_API_H
#define TSBRIDGE_C_API_H

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
  TSB_INVALID_ARGUMENT = 1,    /* NULL or unknown handle/pointer, bad dtype code, ndim, shape, index */
  TSB_FILE_NOT_FOUND = 2,      /* the model file does not exist or cannot be read */
  TSB_INVALID_ARCHIVE = 3,     /* not a TorchScript archive, truncated, corrupt manifest */
  TSB_UNSUPPORTED_VERSION = 4, /* a manifest format this runtime cannot read */
  TSB_METHOD_NOT_FOUND = 5,    /* the archive has no method of that name */
  TSB_INPUT_MISMATCH = 6,      /* wrong number, dtype or shape of inputs for the model */
  TSB_DEVICE_UNAVAILABLE = 7,  /* the requested device does not exist in this process */
  TSB_INFERENCE_FAILED = 8,    /* the model raised while running, or returned what C cannot hold */
  TSB_INVALID_INPUT_FILE = 9,  /* a tensor file is missing, corrupt or unsupported */
  TSB_UNSUPPORTED_CPU = 10,    /* a .pt2 compiled for CPU features this machine lacks */
  TSB_INTERNAL = 100           /* anything else (out of memory, a bug): see tsb_last_error() */
} tsb_status;

typedef enum tsb_dtype {
  TSB_FLOAT32 = 0,
  TSB_FLOAT64 = 1,
  TSB_FLOAT16 = 2,  /* IEEE half, 2 bytes */
  TSB_BFLOAT16 = 3, /* the upper 2 bytes of a float32 */
  TSB_INT8 = 4,
  TSB_INT16 = 5,
  TSB_INT32 = 6,
  TSB_INT64 = 7,
  TSB_UINT8 = 8,
  TSB_BOOL = 9,          /* 1 byte, 0 or 1 */
  TSB_DTYPE_UNKNOWN = -1 /* in specs: the file records no dtype */
} tsb_dtype;

typedef struct tsb_model tsb_model;
typedef struct tsb_outputs tsb_outputs;

/* Zero-initialise it (tsb_load_options options = {0};): 0 or NULL in a field
 * means its default. Fields may be added at the end in a new minor version. */
typedef struct tsb_load_options {
  const char* device;          /* "cpu" (also when NULL), "cuda", "cuda:N" */
  int32_t no_verify_integrity; /* non-zero: do not check the archive's entries against the
                                  SHA-256 digests its manifest records (checked by default) */
  int32_t warmup_calls;        /* forward calls at load on the golden sample's inputs, so the
                                  first call you make runs at steady-state speed (0: none) */
  int32_t optimize_graph;      /* non-zero: TorchScript's graph-executor optimisations
                                  (off by default: see docs/performance.md); a .pt2 is refused it */
  int32_t runners;             /* a .pt2's AOTInductor runners: concurrent calls that run at
                                  once (0: cores / intra-op threads; 1..256); a TorchScript
                                  archive, whose calls always run concurrently, is refused it */
  int32_t no_tuning;           /* non-zero: do not apply the runtime settings a tuning recorded
                                  (the manifest's or a matching sidecar's; docs/tuning.md) */
  int32_t no_conv_packing;     /* non-zero: LibTorch's own convolutions, not weights packed for
                                  oneDNN at load (less memory; docs/performance.md); a .pt2 is
                                  refused it */
} tsb_load_options;

/* One tensor: a dense, C-contiguous (row-major) buffer of
 * tsb_dtype_size(dtype) * product(shape) bytes. ndim 0 is a scalar (shape may
 * be NULL); data may be NULL only when a size is 0. */
typedef struct tsb_tensor {
  const void* data;
  tsb_dtype dtype;
  int32_t ndim;
  const int64_t* shape; /* ndim sizes */
} tsb_tensor;

/* What the model declares for one input or output. shape[i] is -1 for a
 * dynamic dim; ndim is -1 (and shape NULL) when the shape is unknown. */
typedef struct tsb_spec {
  const char* name;
  tsb_dtype dtype;
  int32_t ndim;
  const int64_t* shape;
} tsb_spec;

/* The library's version, e.g. "0.1.0". */
TSB_API const char* tsb_version(void);
/* "TSB_OK", "TSB_INVALID_ARGUMENT", ...; "TSB_UNKNOWN_STATUS" for others. */
TSB_API const char* tsb_status_name(tsb_status status);
/* The message of this thread's last failure ("" if none). Valid until this
 * thread's next failing call. */
TSB_API const char* tsb_last_error(void);
/* Bytes per element, 0 for an unknown dtype code. */
TSB_API int32_t tsb_dtype_size(tsb_dtype dtype);
/* "float32", "int64", ...; "unknown" for an unknown dtype code. */
TSB_API const char* tsb_dtype_name(tsb_dtype dtype);

/* Loads an archive. options may be NULL. On success *model is a new handle;
 * on failure it is NULL. Free it with tsb_model_free. */
TSB_API tsb_status tsb_model_load(const char* path, const tsb_load_options* options, tsb_model** model);
TSB_API tsb_status tsb_model_free(tsb_model* model);

/* The declared inputs and outputs of `forward` (from the manifest; a plain
 * TorchScript file gives its inputs' names and no outputs). */
TSB_API tsb_status tsb_model_input_count(const tsb_model* model, int32_t* count);
TSB_API tsb_status tsb_model_input(const tsb_model* model, int32_t index, tsb_spec* spec);
TSB_API tsb_status tsb_model_output_count(const tsb_model* model, int32_t* count);
TSB_API tsb_status tsb_model_output(const tsb_model* model, int32_t index, tsb_spec* spec);
/* The user metadata stored at export, as UTF-8 JSON text ("{}" when none). */
TSB_API tsb_status tsb_model_metadata(const tsb_model* model, const char** json);
/* What the load applied of a tuning the file records (its manifest's, or a
 * sidecar measured for it on this machine; docs/tuning.md), as one line of
 * UTF-8 JSON: {"source": "sidecar" | "manifest" | null, "recorded": {...},
 * "applied": {...}, "notes": [...]}. source is null when nothing was applied
 * (no record, one from another machine, or no_tuning); notes say each
 * recorded setting not applied and why. */
TSB_API tsb_status tsb_model_tuning(const tsb_model* model, const char** json);
/* The methods the archive exports ("forward", ...). */
TSB_API tsb_status tsb_model_method_count(const tsb_model* model, int32_t* count);
TSB_API tsb_status tsb_model_method_name(const tsb_model* model, int32_t index, const char** name);

/* Runs `method` (NULL: "forward") on tensor inputs, checked against the
 * manifest first. Every tensor leaf of the result (tuples, lists and dicts
 * flattened in order; int, float and bool leaves as 0-dim tensors) becomes
 * one output. On success *outputs is a new handle; on failure it is NULL. */
TSB_API tsb_status tsb_model_run(const tsb_model* model, const char* method, const tsb_tensor* inputs,
                                 int32_t input_count, tsb_outputs** outputs);

TSB_API tsb_status tsb_outputs_count(const tsb_outputs* outputs, int32_t* count);
/* Output `index`: its name (name may be NULL if not wanted) and a view of its
 * data (C-contiguous, on the CPU), valid until tsb_outputs_free. */
TSB_API tsb_status tsb_outputs_get(const tsb_outputs* outputs, int32_t index, const char** name, tsb_tensor* tensor);
TSB_API tsb_status tsb_outputs_free(tsb_outputs* outputs);

#ifdef __cplusplus
}
#endif

#endif /* TSBRIDGE_C_API_H */
