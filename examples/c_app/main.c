/* c_app: loads a tsbridge archive through the C API, prints what the model
 * declares (methods, inputs, outputs, metadata), runs `forward` on inputs it
 * fills with a fixed pattern, and prints every output value.
 *
 *   c_app MODEL.pt [DYNAMIC_SIZE]
 *
 * Each dynamic dim of an input gets DYNAMIC_SIZE (default 2). Element i of
 * input j holds ((i * 7 + j * 3) % 17 - 8) * 0.125 for floating dtypes,
 * (i * 7 + j * 3) % 17 - 8 for signed integers, (i * 7 + j * 3) % 17 for
 * uint8, and (i + j) % 3 == 0 for bool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsbridge/c_api.h>

/* Prints the failure and leaves: every C API call returns a status, and
 * tsb_last_error() says what went wrong on this thread. */
#define CHECK(call)                                                                   \
  do {                                                                                \
    tsb_status status_ = (call);                                                      \
    if (status_ != TSB_OK) {                                                          \
      fprintf(stderr, "c_app: %s: %s\n", tsb_status_name(status_), tsb_last_error()); \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

static void print_shape(int32_t ndim, const int64_t* shape) {
  int32_t d;
  if (ndim < 0) {
    printf("[?]");
    return;
  }
  printf("[");
  for (d = 0; d < ndim; ++d) printf(d ? ", %lld" : "%lld", (long long)shape[d]);
  printf("]");
}

static void print_spec(const char* kind, int32_t index, const tsb_spec* spec) {
  printf("%s %d: %s %s ", kind, (int)index, spec->name, tsb_dtype_name(spec->dtype));
  print_shape(spec->ndim, spec->shape);
  printf("\n");
}

/* IEEE half and bfloat16 to float, for printing. */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, bits;
  float out;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13); /* inf, nan */
  } else if (exponent == 0) {
    out = (float)mantissa / 16777216.0f; /* subnormal: mantissa * 2^-24 */
    return sign ? -out : out;
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  memcpy(&out, &bits, sizeof out);
  return out;
}

static float bfloat16_to_float(uint16_t b) {
  uint32_t bits = (uint32_t)b << 16;
  float out;
  memcpy(&out, &bits, sizeof out);
  return out;
}

/* float32 -> half (round to nearest even), enough for the fill pattern. */
static uint16_t float_to_half(float value) {
  uint32_t bits, sign, mantissa;
  int32_t exponent;
  memcpy(&bits, &value, sizeof bits);
  sign = (bits >> 16) & 0x8000u;
  exponent = (int32_t)((bits >> 23) & 0xFF) - 127 + 15;
  mantissa = bits & 0x7FFFFFu;
  if ((bits & 0x7FFFFFFFu) == 0) return (uint16_t)sign;
  if (exponent <= 0 || exponent >= 31) return (uint16_t)(sign | (exponent >= 31 ? 0x7C00u : 0)); /* not needed here */
  mantissa += 0xFFFu + ((mantissa >> 13) & 1u);
  if (mantissa & 0x800000u) {
    mantissa = 0;
    exponent += 1;
  }
  return (uint16_t)(sign | ((uint32_t)exponent << 10) | (mantissa >> 13));
}

/* Fills `count` elements of `dtype` with the pattern for input j. */
static void fill(void* data, tsb_dtype dtype, int64_t count, int32_t j) {
  int64_t i;
  for (i = 0; i < count; ++i) {
    const int64_t k = (i * 7 + j * 3) % 17;
    const double real = (double)(k - 8) * 0.125;
    switch (dtype) {
      case TSB_FLOAT32: ((float*)data)[i] = (float)real; break;
      case TSB_FLOAT64: ((double*)data)[i] = real; break;
      case TSB_FLOAT16: ((uint16_t*)data)[i] = float_to_half((float)real); break;
      case TSB_BFLOAT16: {
        float f = (float)real; /* exact in bfloat16: the low half is zero */
        uint32_t bits;
        memcpy(&bits, &f, sizeof bits);
        ((uint16_t*)data)[i] = (uint16_t)(bits >> 16);
        break;
      }
      case TSB_INT8: ((int8_t*)data)[i] = (int8_t)(k - 8); break;
      case TSB_INT16: ((int16_t*)data)[i] = (int16_t)(k - 8); break;
      case TSB_INT32: ((int32_t*)data)[i] = (int32_t)(k - 8); break;
      case TSB_INT64: ((int64_t*)data)[i] = k - 8; break;
      case TSB_UINT8: ((uint8_t*)data)[i] = (uint8_t)k; break;
      case TSB_BOOL: ((uint8_t*)data)[i] = (uint8_t)((i + j) % 3 == 0); break;
      case TSB_DTYPE_UNKNOWN: break;
    }
  }
}

static void print_values(const tsb_tensor* tensor) {
  int64_t count = 1, i;
  int32_t d;
  for (d = 0; d < tensor->ndim; ++d) count *= tensor->shape[d];
  printf("  values:");
  for (i = 0; i < count; ++i) {
    const void* data = tensor->data;
    switch (tensor->dtype) {
      case TSB_FLOAT32: printf(" %.9g", (double)((const float*)data)[i]); break;
      case TSB_FLOAT64: printf(" %.17g", ((const double*)data)[i]); break;
      case TSB_FLOAT16: printf(" %.9g", (double)half_to_float(((const uint16_t*)data)[i])); break;
      case TSB_BFLOAT16: printf(" %.9g", (double)bfloat16_to_float(((const uint16_t*)data)[i])); break;
      case TSB_INT8: printf(" %d", (int)((const int8_t*)data)[i]); break;
      case TSB_INT16: printf(" %d", (int)((const int16_t*)data)[i]); break;
      case TSB_INT32: printf(" %ld", (long)((const int32_t*)data)[i]); break;
      case TSB_INT64: printf(" %lld", (long long)((const int64_t*)data)[i]); break;
      case TSB_UINT8: printf(" %u", (unsigned)((const uint8_t*)data)[i]); break;
      case TSB_BOOL: printf(" %u", (unsigned)((const uint8_t*)data)[i]); break;
      case TSB_DTYPE_UNKNOWN: break;
    }
  }
  printf("\n");
}

int main(int argc, char** argv) {
  tsb_model* model = NULL;
  tsb_outputs* outputs = NULL;
  tsb_load_options options = {0}; /* zero: every option at its default */
  tsb_tensor* inputs;
  int64_t** shapes;
  void** buffers;
  const char* metadata;
  int64_t dynamic = 2;
  int32_t input_count, output_count, method_count, i, d;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: c_app MODEL.pt [DYNAMIC_SIZE]\n");
    return 64;
  }
  if (argc == 3) dynamic = atoll(argv[2]);
  if (dynamic < 0) {
    fprintf(stderr, "c_app: DYNAMIC_SIZE must be >= 0\n");
    return 64;
  }

  printf("tsbridge %s\n", tsb_version());
  options.device = "cpu";
  CHECK(tsb_model_load(argv[1], &options, &model));

  CHECK(tsb_model_method_count(model, &method_count));
  printf("methods:");
  for (i = 0; i < method_count; ++i) {
    const char* name;
    CHECK(tsb_model_method_name(model, i, &name));
    printf(" %s", name);
  }
  printf("\n");
  CHECK(tsb_model_metadata(model, &metadata));
  printf("metadata: %s\n", metadata);

  CHECK(tsb_model_output_count(model, &output_count));
  for (i = 0; i < output_count; ++i) {
    tsb_spec spec;
    CHECK(tsb_model_output(model, i, &spec));
    print_spec("declared output", i, &spec);
  }

  /* One caller-owned buffer per input, shaped as the model declares. */
  CHECK(tsb_model_input_count(model, &input_count));
  inputs = calloc((size_t)input_count + 1, sizeof *inputs);
  shapes = calloc((size_t)input_count + 1, sizeof *shapes);
  buffers = calloc((size_t)input_count + 1, sizeof *buffers);
  if (!inputs || !shapes || !buffers) return 1;
  for (i = 0; i < input_count; ++i) {
    tsb_spec spec;
    int64_t count = 1;
    CHECK(tsb_model_input(model, i, &spec));
    print_spec("input", i, &spec);
    if (spec.ndim < 0 || spec.dtype == TSB_DTYPE_UNKNOWN) {
      fprintf(stderr, "c_app: input '%s' has no declared dtype and shape (export it with tsbridge.export)\n",
              spec.name);
      return 2;
    }
    shapes[i] = calloc((size_t)spec.ndim + 1, sizeof **shapes);
    if (!shapes[i]) return 1;
    for (d = 0; d < spec.ndim; ++d) {
      shapes[i][d] = spec.shape[d] < 0 ? dynamic : spec.shape[d];
      count *= shapes[i][d];
    }
    buffers[i] = malloc((size_t)(count * tsb_dtype_size(spec.dtype)) + 1);
    if (!buffers[i]) return 1;
    fill(buffers[i], spec.dtype, count, i);
    inputs[i].data = buffers[i];
    inputs[i].dtype = spec.dtype;
    inputs[i].ndim = spec.ndim;
    inputs[i].shape = shapes[i];
  }

  CHECK(tsb_model_run(model, NULL, inputs, input_count, &outputs));
  /* The inputs were copied: the buffers may go now. */
  for (i = 0; i < input_count; ++i) {
    free(buffers[i]);
    free(shapes[i]);
  }
  free(buffers);
  free(shapes);
  free(inputs);

  CHECK(tsb_outputs_count(outputs, &output_count));
  for (i = 0; i < output_count; ++i) {
    const char* name;
    tsb_tensor tensor;
    CHECK(tsb_outputs_get(outputs, i, &name, &tensor));
    printf("output %d: %s %s ", (int)i, name, tsb_dtype_name(tensor.dtype));
    print_shape(tensor.ndim, tensor.shape);
    printf("\n");
    print_values(&tensor);
  }

  CHECK(tsb_outputs_free(outputs));
  CHECK(tsb_model_free(model));
  return 0;
}
