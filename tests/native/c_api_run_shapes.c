/* Runs a model's forward through the C API on float32 inputs of the shapes
 * given on the command line, each filled with ((i % 13) * 0.25 - 1.5) for
 * element i, and prints what came back:
 *
 *   c_api_run_shapes MODEL 4x64 2x64
 *
 * prints "status: NAME" and "error: MESSAGE" when the call is refused, else
 * "status: TSB_OK" and each output as "output NAME: v0 v1 ..." (exit 0 either
 * way; non-zero only when the program itself is misused). The tests compare
 * both against PyTorch run on the same values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsbridge/c_api.h>

enum { kMaxInputs = 8, kMaxRank = 8 };

static int parse_shape(const char* text, int64_t* shape, int32_t* ndim) {
  *ndim = 0;
  while (*text) {
    char* end = NULL;
    const long long size = strtoll(text, &end, 10);
    if (end == text || size < 0 || *ndim == kMaxRank) return 0;
    shape[(*ndim)++] = size;
    text = *end == 'x' ? end + 1 : end;
    if (*end && *end != 'x') return 0;
  }
  return *ndim > 0;
}

int main(int argc, char** argv) {
  if (argc < 3 || argc - 2 > kMaxInputs) {
    fprintf(stderr, "usage: %s MODEL SHAPE...\n", argv[0]);
    return 2;
  }
  tsb_model* model = NULL;
  tsb_status status = tsb_model_load(argv[1], NULL, &model);
  if (status != TSB_OK) {
    printf("status: %s\nerror: %s\n", tsb_status_name(status), tsb_last_error());
    return 0;
  }
  const int count = argc - 2;
  int64_t shapes[kMaxInputs][kMaxRank];
  float* buffers[kMaxInputs] = {NULL};
  tsb_tensor inputs[kMaxInputs];
  for (int k = 0; k < count; ++k) {
    int32_t ndim = 0;
    if (!parse_shape(argv[k + 2], shapes[k], &ndim)) {
      fprintf(stderr, "bad shape '%s'\n", argv[k + 2]);
      return 2;
    }
    int64_t elements = 1;
    for (int32_t d = 0; d < ndim; ++d) elements *= shapes[k][d];
    buffers[k] = malloc((size_t)(elements > 0 ? elements : 1) * sizeof(float));
    for (int64_t i = 0; i < elements; ++i) buffers[k][i] = (float)(i % 13) * 0.25f - 1.5f;
    inputs[k].data = buffers[k];
    inputs[k].dtype = TSB_FLOAT32;
    inputs[k].ndim = ndim;
    inputs[k].shape = shapes[k];
  }
  tsb_outputs* outputs = NULL;
  status = tsb_model_run(model, "forward", inputs, count, &outputs);
  printf("status: %s\n", tsb_status_name(status));
  if (status != TSB_OK) {
    printf("error: %s\n", tsb_last_error());
  } else {
    int32_t n = 0;
    tsb_outputs_count(outputs, &n);
    for (int32_t j = 0; j < n; ++j) {
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
  tsb_outputs_free(outputs);
  tsb_model_free(model);
  for (int k = 0; k < count; ++k) free(buffers[k]);
  return 0;
}
