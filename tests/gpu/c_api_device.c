/* Loads a model through the C API on a device and runs forward once on one
 * float32 input of the given shape, filled with ((i % 13) * 0.25 - 1.5) for
 * element i (a caller-owned CPU buffer: the library copies it to the device):
 *
 *   c_api_device MODEL DEVICE 8x3x8x8
 *
 * prints "device: DEVICE", then "status: NAME" ("error: MESSAGE" when refused)
 * and each output as "output NAME: v0 v1 ..."; exits 0 when the run passed,
 * 1 when a call was refused, 2 on misuse. check.py compares the values with
 * eager PyTorch run on the same input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsbridge/c_api.h>

enum { kMaxRank = 8 };

static int parse_shape(const char* text, int64_t* shape, int32_t* ndim) {
  *ndim = 0;
  while (*text) {
    char* end = NULL;
    const long long size = strtoll(text, &end, 10);
    if (end == text || size < 0 || *ndim == kMaxRank || (*end && *end != 'x')) return 0;
    shape[(*ndim)++] = size;
    text = *end == 'x' ? end + 1 : end;
  }
  return *ndim > 0;
}

static int refused(tsb_status status) {
  printf("status: %s\nerror: %s\n", tsb_status_name(status), tsb_last_error());
  return 1;
}

static void print_outputs(const tsb_outputs* outputs) {
  int32_t count = 0;
  tsb_outputs_count(outputs, &count);
  for (int32_t j = 0; j < count; ++j) {
    const char* name = NULL;
    tsb_tensor out;
    tsb_outputs_get(outputs, j, &name, &out);
    int64_t elements = 1;
    for (int32_t d = 0; d < out.ndim; ++d) elements *= out.shape[d];
    printf("output %s:", name);
    for (int64_t i = 0; i < elements; ++i) printf(" %.9g", (double)((const float*)out.data)[i]);
    printf("\n");
  }
}

int main(int argc, char** argv) {
  int64_t shape[kMaxRank];
  int32_t ndim = 0;
  if (argc != 4 || !parse_shape(argv[3], shape, &ndim)) {
    fprintf(stderr, "usage: %s MODEL DEVICE SHAPE (e.g. 8x3x8x8)\n", argv[0]);
    return 2;
  }
  tsb_load_options options = {0};
  options.device = argv[2];
  printf("device: %s\n", argv[2]);
  tsb_model* model = NULL;
  tsb_status status = tsb_model_load(argv[1], &options, &model);
  if (status != TSB_OK) return refused(status);

  int64_t elements = 1;
  for (int32_t d = 0; d < ndim; ++d) elements *= shape[d];
  float* buffer = malloc((size_t)(elements > 0 ? elements : 1) * sizeof(float));
  if (!buffer) return 2;
  for (int64_t i = 0; i < elements; ++i) buffer[i] = (float)(i % 13) * 0.25f - 1.5f;
  const tsb_tensor input = {buffer, TSB_FLOAT32, ndim, shape};

  tsb_outputs* outputs = NULL;
  status = tsb_model_run(model, "forward", &input, 1, &outputs);
  free(buffer);
  if (status != TSB_OK) {
    tsb_model_free(model);
    return refused(status);
  }
  printf("status: %s\n", tsb_status_name(status));
  print_outputs(outputs);
  tsb_outputs_free(outputs);
  tsb_model_free(model);
  return 0;
}
