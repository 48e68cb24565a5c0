/* The C API's no_tuning: one tuned archive loaded with it, then without, in
 * one process, each load's tsb_model_tuning printed for tests/test_tune.py.
 * usage: c_api_tuning ARCHIVE */
#include <stdio.h>

#include <tsbridge/c_api.h>

static int load_and_print(const char* path, int no_tuning, const char* label) {
  tsb_load_options options = {0};
  options.no_tuning = no_tuning;
  tsb_model* model = NULL;
  const char* json = NULL;
  if (tsb_model_load(path, &options, &model) != TSB_OK || tsb_model_tuning(model, &json) != TSB_OK) {
    fprintf(stderr, "%s: %s\n", label, tsb_last_error());
    tsb_model_free(model);
    return 1;
  }
  printf("%s: %s\n", label, json);
  return tsb_model_free(model) == TSB_OK ? 0 : 1;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: c_api_tuning ARCHIVE\n");
    return 2;
  }
  /* no_tuning first: the first load that applies a tuning sets the process's threads. */
  if (load_and_print(argv[1], 1, "no_tuning") != 0) return 1;
  return load_and_print(argv[1], 0, "default");
}
