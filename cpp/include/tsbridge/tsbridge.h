#pragma once

// The whole C++ API in one include. Each header is also usable on its own;
// the C API is tsbridge/c_api.h.

#include "tsbridge/batch.h"        // run_batches: stream a data set through a model
#include "tsbridge/benchmark.h"    // benchmark: timed calls and their statistics
#include "tsbridge/compare.h"      // results compared within tolerances
#include "tsbridge/dtype.h"        // dtype names
#include "tsbridge/error.h"        // Error and its codes
#include "tsbridge/input_files.h"  // inputs read from files, by input name
#include "tsbridge/inputs.h"       // stand-in inputs made from the specs
#include "tsbridge/integrity.h"    // an archive's entries against its digests
#include "tsbridge/manifest.h"     // what tsbridge.export recorded
#include "tsbridge/model.h"        // Model: load and run
#include "tsbridge/process.h"      // process-wide LibTorch settings (threads, executor)
#include "tsbridge/self_test.h"    // replay of the golden sample
#include "tsbridge/tensor_io.h"    // .npy, .npz and .pt tensor files
#include "tsbridge/tuning.h"       // runtime settings, tuning records, sidecars
#include "tsbridge/version.h"      // this build's version
