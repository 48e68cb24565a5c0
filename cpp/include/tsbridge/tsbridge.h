#pragma once

// The whole C++ API in one include. Each header is also usable on its own;
// the C API is tsbridge/c_api.h.

#include "tsbridge/batch.h"          // run_batches: stream a data set through a model
#include "tsbridge/benchmark.h"      // benchmark: timed calls and their statistics
#include "tsbridge/build_info.h"     // what this build can do
#include "tsbridge/compare.h"        // results compared within tolerances
#include "tsbridge/cpu.h"            // the CPU features a .pt2 needs and this machine has
#include "tsbridge/dtype.h"          // dtype names
#include "tsbridge/error.h"          // Error and its codes
#include "tsbridge/golden_sample.h"  // the golden sample stored at export
#include "tsbridge/input_files.h"    // inputs read from files, by input name
#include "tsbridge/inputs.h"         // stand-in inputs made from the specs
#include "tsbridge/integrity.h"      // an archive's entries against its digests
#include "tsbridge/manifest.h"       // what tsbridge.export recorded
#include "tsbridge/model.h"          // Model: load and run
#include "tsbridge/process.h"        // process-wide LibTorch settings (threads, executor)
#include "tsbridge/results.h"        // results written to files
#include "tsbridge/self_test.h"      // replay of the golden sample
#include "tsbridge/summary.h"        // result leaves and how they read
#include "tsbridge/tensor_io.h"      // .npy, .npz and .pt tensor files
#include "tsbridge/tune.h"           // the tuner: the fastest settings on this machine
#include "tsbridge/tuning.h"         // runtime settings, tuning records, sidecars
#include "tsbridge/version.h"
