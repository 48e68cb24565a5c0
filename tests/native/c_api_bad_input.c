/* The C API under misuse: every call here is wrong in one way and must come
 * back with a status and a message on this thread, never a crash.
 *
 *   c_api_bad_input MODEL.pt NOT_AN_ARCHIVE MISSING_PATH TAMPERED.pt PACKAGE.pt2
 *
 * MODEL.pt is a tsbridge archive whose forward takes one float32 [batch, 4]
 * tensor and returns one tensor; TAMPERED.pt is a copy with an entry added
 * after export (its integrity check fails, yet it would load); PACKAGE.pt2 is
 * any .pt2 package (for the runner counts). Prints one line per case:
 *   case<TAB>NAME<TAB>STATUS_NAME<TAB>tsb_last_error() after the call
 * and one per fact checked here:
 *   fact<TAB>NAME<TAB>ok | FAIL: what
 * then "done". The test holds the expected status of every case. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsbridge/c_api.h>

static int failures = 0;

static void report(const char* name, tsb_status status) {
  printf("case\t%s\t%s\t%s\n", name, tsb_status_name(status), status == TSB_OK ? "" : tsb_last_error());
  fflush(stdout);
}

static void fact(const char* name, int ok, const char* detail) {
  printf("fact\t%s\t%s%s\n", name, ok ? "ok" : "FAIL: ", ok ? "" : detail);
  fflush(stdout);
  if (!ok) ++failures;
}

#define CASE(name, call) report(name, (call))

/* A valid x: float32 [rows, 4]. */
static float values[64];
static int64_t shape2[2] = {2, 4};

static tsb_tensor good_input(void) {
  tsb_tensor t;
  t.data = values;
  t.dtype = TSB_FLOAT32;
  t.ndim = 2;
  t.shape = shape2;
  return t;
}

/* ── per-thread last error ── */
static void* fail_on_a_thread(void* message_out) {
  char* out = (char*)message_out;
  const char* before = tsb_last_error();
  tsb_status status;
  /* A new thread starts with no message. */
  snprintf(out, 256, "%s", before);
  status = tsb_model_input_count(NULL, NULL);
  if (status == TSB_INVALID_ARGUMENT) strncat(out, "|failed", 255 - strlen(out));
  return NULL;
}

/* ── the same model run from several threads at once ── */
#define RUN_THREADS 4
#define RUNS_PER_THREAD 50

struct run_job {
  const tsb_model* model;
  int thread;
  const float* expected; /* [RUN_THREADS * RUNS_PER_THREAD][rows 3][3 outputs] */
  int wrong;
  int errors;
};

static void input_for(int call, float* data, int64_t* shape) {
  int i;
  shape[0] = 3;
  shape[1] = 4;
  for (i = 0; i < 12; ++i) data[i] = (float)((call * 13 + i * 5) % 29 - 14) / 8.0f;
}

static int run_once(const tsb_model* model, int call, float* out /* 9 */) {
  float data[12];
  int64_t shape[2];
  tsb_tensor input, output;
  tsb_outputs* outputs = NULL;
  input_for(call, data, shape);
  input.data = data;
  input.dtype = TSB_FLOAT32;
  input.ndim = 2;
  input.shape = shape;
  if (tsb_model_run(model, NULL, &input, 1, &outputs) != TSB_OK) return -1;
  if (tsb_outputs_get(outputs, 0, NULL, &output) != TSB_OK || output.dtype != TSB_FLOAT32 || output.ndim != 2 ||
      output.shape[0] * output.shape[1] != 9) {
    tsb_outputs_free(outputs);
    return -1;
  }
  memcpy(out, output.data, 9 * sizeof(float));
  return tsb_outputs_free(outputs) == TSB_OK ? 0 : -1;
}

static void* run_on_a_thread(void* arg) {
  struct run_job* job = (struct run_job*)arg;
  int c;
  for (c = 0; c < RUNS_PER_THREAD; ++c) {
    const int call = c * RUN_THREADS + job->thread;
    float got[9];
    if (run_once(job->model, call, got) != 0) ++job->errors;
    else if (memcmp(got, job->expected + call * 9, sizeof got) != 0) ++job->wrong;
  }
  return NULL;
}

int main(int argc, char** argv) {
  const char* model_path;
  const char* not_an_archive;
  const char* missing;
  const char* tampered;
  const char* package;
  tsb_model* model = NULL;
  tsb_model* other = NULL;
  tsb_model* freed_model = NULL;
  tsb_outputs* outputs = NULL;
  tsb_outputs* freed_outputs = NULL;
  tsb_load_options options = {0};
  tsb_tensor input, output;
  tsb_spec spec;
  int32_t count = 0;
  const char* text = NULL;
  float first_value = 0;
  int i;

  if (argc != 6) {
    fprintf(stderr, "usage: c_api_bad_input MODEL.pt NOT_AN_ARCHIVE MISSING_PATH TAMPERED.pt PACKAGE.pt2\n");
    return 64;
  }
  model_path = argv[1];
  not_an_archive = argv[2];
  missing = argv[3];
  tampered = argv[4];
  package = argv[5];
  for (i = 0; i < 64; ++i) values[i] = (float)i / 10.0f;

  fact("no_error_before_any_failure", strcmp(tsb_last_error(), "") == 0, tsb_last_error());

  /* ── loading ── */
  other = (tsb_model*)&other; /* garbage in the result: must be reset to NULL */
  CASE("load_null_path", tsb_model_load(NULL, NULL, &other));
  fact("failed_load_sets_null", other == NULL, "the result pointer was left as it was");
  CASE("load_null_result", tsb_model_load(model_path, NULL, NULL));
  CASE("load_missing_file", tsb_model_load(missing, NULL, &other));
  CASE("load_not_an_archive", tsb_model_load(not_an_archive, NULL, &other));
  CASE("load_empty_path", tsb_model_load("", NULL, &other));
  options.device = "cuda";
  CASE("load_device_cuda", tsb_model_load(model_path, &options, &other));
  if (other) tsb_model_free(other); /* a machine with CUDA loads it */
  other = NULL;
  options.device = "banana";
  CASE("load_device_unknown", tsb_model_load(model_path, &options, &other));
  options.device = NULL; /* NULL device: the CPU */
  CASE("load_tampered", tsb_model_load(tampered, &options, &other));
  options.no_verify_integrity = 1;
  CASE("load_tampered_without_integrity_check", tsb_model_load(tampered, &options, &other));
  tsb_model_free(other);
  other = NULL;
  options.no_verify_integrity = 0;
  options.warmup_calls = -1;
  CASE("load_negative_warmup", tsb_model_load(model_path, &options, &other));
  options.warmup_calls = 0;
  options.runners = 2;
  CASE("load_runners_on_torchscript", tsb_model_load(model_path, &options, &other));
  options.runners = -1;
  CASE("load_runners_negative", tsb_model_load(package, &options, &other));
  options.runners = 100000;
  CASE("load_runners_absurd", tsb_model_load(package, &options, &other));
  options.runners = 2;
  CASE("load_runners_ok", tsb_model_load(package, &options, &other));
  tsb_model_free(other);
  other = NULL;
  options.runners = 0;
  options.no_conv_packing = 1;
  CASE("load_no_conv_packing_on_a_pt2", tsb_model_load(package, &options, &other));
  CASE("load_no_conv_packing_ok", tsb_model_load(model_path, &options, &other));
  tsb_model_free(other);
  other = NULL;
  options.no_conv_packing = 0;
  options.warmup_calls = 2; /* on the golden sample */
  CASE("load_ok", tsb_model_load(model_path, &options, &model));
  if (!model) {
    printf("cannot go on without a model\n");
    return 1;
  }

  /* ── NULL, made-up and wrong-kind handles ── */
  CASE("input_count_null_model", tsb_model_input_count(NULL, &count));
  CASE("input_null_model", tsb_model_input(NULL, 0, &spec));
  CASE("output_count_null_model", tsb_model_output_count(NULL, &count));
  CASE("output_null_model", tsb_model_output(NULL, 0, &spec));
  CASE("metadata_null_model", tsb_model_metadata(NULL, &text));
  CASE("tuning_null_model", tsb_model_tuning(NULL, &text));
  CASE("method_count_null_model", tsb_model_method_count(NULL, &count));
  CASE("method_name_null_model", tsb_model_method_name(NULL, 0, &text));
  input = good_input();
  outputs = (tsb_outputs*)&outputs;
  CASE("run_null_model", tsb_model_run(NULL, NULL, &input, 1, &outputs));
  fact("failed_run_sets_null", outputs == NULL, "the result pointer was left as it was");
  CASE("run_made_up_model", tsb_model_run((const tsb_model*)values, NULL, &input, 1, &outputs));
  CASE("free_made_up_model", tsb_model_free((tsb_model*)values));
  CASE("outputs_count_null", tsb_outputs_count(NULL, &count));
  CASE("outputs_get_null", tsb_outputs_get(NULL, 0, NULL, &output));
  CASE("outputs_free_made_up", tsb_outputs_free((tsb_outputs*)values));

  /* ── NULL result pointers and out-of-range indices ── */
  CASE("input_count_null_count", tsb_model_input_count(model, NULL));
  CASE("input_null_spec", tsb_model_input(model, 0, NULL));
  CASE("input_index_negative", tsb_model_input(model, -1, &spec));
  CASE("input_index_past_end", tsb_model_input(model, 1, &spec));
  CASE("output_index_past_end", tsb_model_output(model, 7, &spec));
  CASE("metadata_null_json", tsb_model_metadata(model, NULL));
  CASE("tuning_null_json", tsb_model_tuning(model, NULL));
  CASE("method_name_index_past_end", tsb_model_method_name(model, 99, &text));
  CASE("method_name_null_name", tsb_model_method_name(model, 0, NULL));

  /* ── bad inputs to run ── */
  CASE("run_null_outputs_pointer", tsb_model_run(model, NULL, &input, 1, NULL));
  CASE("run_null_inputs", tsb_model_run(model, NULL, NULL, 1, &outputs));
  CASE("run_negative_input_count", tsb_model_run(model, NULL, &input, -1, &outputs));
  CASE("run_no_inputs", tsb_model_run(model, NULL, NULL, 0, &outputs));
  {
    tsb_tensor two[2];
    two[0] = good_input();
    two[1] = good_input();
    CASE("run_too_many_inputs", tsb_model_run(model, NULL, two, 2, &outputs));
  }
  input = good_input();
  input.dtype = (tsb_dtype)42;
  CASE("run_dtype_code_unknown", tsb_model_run(model, NULL, &input, 1, &outputs));
  input.dtype = TSB_DTYPE_UNKNOWN;
  CASE("run_dtype_code_minus_one", tsb_model_run(model, NULL, &input, 1, &outputs));
  input.dtype = TSB_INT32; /* a valid code, not what the model declares */
  CASE("run_dtype_mismatch", tsb_model_run(model, NULL, &input, 1, &outputs));
  input = good_input();
  input.shape = NULL;
  CASE("run_shape_null", tsb_model_run(model, NULL, &input, 1, &outputs));
  {
    int64_t negative[2] = {2, -4};
    input = good_input();
    input.shape = negative;
    CASE("run_shape_negative_size", tsb_model_run(model, NULL, &input, 1, &outputs));
  }
  input = good_input();
  input.ndim = -1;
  CASE("run_ndim_negative", tsb_model_run(model, NULL, &input, 1, &outputs));
  input.ndim = 1000;
  CASE("run_ndim_huge", tsb_model_run(model, NULL, &input, 1, &outputs));
  {
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    input = good_input();
    input.shape = huge;
    CASE("run_shape_overflow", tsb_model_run(model, NULL, &input, 1, &outputs));
  }
  input = good_input();
  input.data = NULL;
  CASE("run_data_null", tsb_model_run(model, NULL, &input, 1, &outputs));
  {
    int64_t three[3] = {2, 4, 1};
    input = good_input();
    input.ndim = 3;
    input.shape = three;
    CASE("run_ndim_mismatch", tsb_model_run(model, NULL, &input, 1, &outputs));
  }
  {
    int64_t wrong[2] = {2, 5};
    input = good_input();
    input.shape = wrong;
    CASE("run_shape_mismatch", tsb_model_run(model, NULL, &input, 1, &outputs));
  }
  input = good_input();
  input.ndim = 0; /* a scalar: shape may be NULL, but the model wants [batch, 4] */
  input.shape = NULL;
  CASE("run_scalar_for_a_matrix", tsb_model_run(model, NULL, &input, 1, &outputs));
  input = good_input();
  CASE("run_method_not_found", tsb_model_run(model, "no_such_method", &input, 1, &outputs));
  fact("no_outputs_after_failures", outputs == NULL, "a failed run left an outputs handle");

  /* ── the right call still works after all that ── */
  CASE("run_ok", tsb_model_run(model, NULL, &input, 1, &outputs));
  CASE("outputs_count_null_count", tsb_outputs_count(outputs, NULL));
  CASE("outputs_get_null_tensor", tsb_outputs_get(outputs, 0, NULL, NULL));
  CASE("outputs_get_index_past_end", tsb_outputs_get(outputs, 1, NULL, &output));
  CASE("outputs_get_index_negative", tsb_outputs_get(outputs, -1, NULL, &output));
  CASE("outputs_handle_as_model", tsb_model_input_count((const tsb_model*)outputs, &count));
  CASE("model_handle_as_outputs", tsb_outputs_count((const tsb_outputs*)model, &count));
  CASE("outputs_get_ok", tsb_outputs_get(outputs, 0, &text, &output));
  fact("output_shape", output.ndim == 2 && output.shape[0] == 2 && output.dtype == TSB_FLOAT32,
       "unexpected output dtype or shape");
  first_value = ((const float*)output.data)[0];

  /* ── freed handles used again ── */
  freed_outputs = outputs;
  CASE("outputs_free_ok", tsb_outputs_free(outputs));
  CASE("outputs_free_twice", tsb_outputs_free(freed_outputs));
  CASE("outputs_get_after_free", tsb_outputs_get(freed_outputs, 0, NULL, &output));
  CASE("outputs_count_after_free", tsb_outputs_count(freed_outputs, &count));
  CASE("outputs_free_null", tsb_outputs_free(NULL));

  /* Outputs outlive their model. */
  outputs = NULL;
  CASE("run_before_model_free", tsb_model_run(model, NULL, &input, 1, &outputs));
  freed_model = model;
  CASE("model_free_ok", tsb_model_free(model));
  model = NULL;
  CASE("outputs_get_after_model_free", tsb_outputs_get(outputs, 0, NULL, &output));
  fact("outputs_readable_after_model_free", output.data != NULL && ((const float*)output.data)[0] == first_value,
       "the outputs changed when their model was freed");
  CASE("outputs_free_after_model_free", tsb_outputs_free(outputs));
  CASE("model_free_twice", tsb_model_free(freed_model));
  CASE("run_after_free", tsb_model_run(freed_model, NULL, &input, 1, &outputs));
  CASE("input_count_after_free", tsb_model_input_count(freed_model, &count));
  CASE("metadata_after_free", tsb_model_metadata(freed_model, &text));
  CASE("tuning_after_free", tsb_model_tuning(freed_model, &text));
  CASE("model_free_null", tsb_model_free(NULL));
  /* A new model must not revive the old handle. */
  CASE("load_again", tsb_model_load(model_path, NULL, &model));
  fact("new_handle_differs_from_freed", model != freed_model, "a freed handle was issued again");
  CASE("run_after_free_with_a_new_model_live", tsb_model_run(freed_model, NULL, &input, 1, &outputs));

  /* ── helpers on unknown values ── */
  fact("status_name_unknown", strcmp(tsb_status_name((tsb_status)999), "TSB_UNKNOWN_STATUS") == 0,
       tsb_status_name((tsb_status)999));
  fact("dtype_size_unknown", tsb_dtype_size((tsb_dtype)42) == 0 && tsb_dtype_size(TSB_DTYPE_UNKNOWN) == 0,
       "non-zero size for an unknown dtype");
  fact("dtype_size_known",
       tsb_dtype_size(TSB_FLOAT64) == 8 && tsb_dtype_size(TSB_BOOL) == 1 && tsb_dtype_size(TSB_BFLOAT16) == 2,
       "wrong size");
  fact("dtype_name_unknown", strcmp(tsb_dtype_name((tsb_dtype)42), "unknown") == 0, tsb_dtype_name((tsb_dtype)42));

  /* ── the last error belongs to the thread ── */
  {
    char before[512], on_thread[256] = "";
    pthread_t thread;
    tsb_model_input_count(NULL, &count); /* this thread fails first */
    snprintf(before, sizeof before, "%s", tsb_last_error());
    pthread_create(&thread, NULL, fail_on_a_thread, on_thread);
    pthread_join(thread, NULL);
    fact("new_thread_starts_without_error", strcmp(on_thread, "|failed") == 0, on_thread);
    fact("other_thread_failure_leaves_ours", strcmp(before, tsb_last_error()) == 0, tsb_last_error());
  }

  /* ── one model, several threads, same results as serial ── */
  {
    static float expected[RUN_THREADS * RUNS_PER_THREAD * 9];
    pthread_t threads[RUN_THREADS];
    struct run_job jobs[RUN_THREADS];
    int call, t, wrong = 0, errors = 0;
    for (call = 0; call < RUN_THREADS * RUNS_PER_THREAD; ++call) {
      if (run_once(model, call, expected + call * 9) != 0) ++errors;
    }
    for (t = 0; t < RUN_THREADS; ++t) {
      jobs[t].model = model;
      jobs[t].thread = t;
      jobs[t].expected = expected;
      jobs[t].wrong = jobs[t].errors = 0;
      pthread_create(&threads[t], NULL, run_on_a_thread, &jobs[t]);
    }
    for (t = 0; t < RUN_THREADS; ++t) {
      pthread_join(threads[t], NULL);
      wrong += jobs[t].wrong;
      errors += jobs[t].errors;
    }
    fact("threads_agree_with_serial", wrong == 0 && errors == 0, "concurrent runs differ from serial ones");
  }

  CASE("final_free", tsb_model_free(model));
  printf("done\n");
  return failures ? 1 : 0;
}
