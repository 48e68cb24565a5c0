#pragma once

#include <string>
#include <vector>

#include "tsbridge/tuning.h"
#include "tsbridge/version.h"

namespace tsbridge {

// A bounded search for the fastest way to run a model on this machine
// (docs/tuning.md). Every candidate is a file and runtime settings that need
// no recompilation; each is checked against the file's golden sample under
// its own settings (a candidate that fails or drifts is out) and timed as
// tsrun --bench times it (libtsbridge's benchmark, warmed), in interleaved
// rounds, median of the rounds. A simpler candidate within the noise margin
// of the fastest wins: the order of simplicity is the files' order, then
// TorchScript's defaults, graph optimisation with the profiling executor,
// with the legacy one, with oneDNN fusion; then the thread counts, LibTorch's
// default first.
//
// While it runs it changes LibTorch's process-wide settings (threads,
// executor, fusion) and puts them back when it returns: run no other model
// in the process meanwhile.
struct TuneOptions {
  // Wall-clock bound of the whole search, > 0. Loading and checking each
  // candidate comes first; the timing rounds share what is left (at least
  // kMinRoundSeconds per candidate and round): candidates that do not fit
  // are skipped, the most complex first, and the record says so.
  double budget_seconds = 60;
  // Intra-op thread counts to try, each 1 to this machine's cores; empty:
  // every count from 1 to the cores.
  std::vector<int> threads;
  // The least margin (a fraction of the fastest figure) within which a
  // simpler candidate wins a tie; the fastest's own spread over the rounds
  // widens it. 0 to < 1.
  double noise = 0.05;
  int rounds = 5;  // interleaved timing rounds, 1 to 100
  // Concurrent callers the figure is for: 1 times latency (the median call);
  // more times throughput (wall time per call with that many threads calling),
  // and a .pt2's runner count (1 to clients) joins the search. 1 to 64.
  int clients = 1;
  // false: each file only at its defaults and the thread count now in effect
  // (export's format="auto" without tune: which format, nothing else).
  bool search_settings = true;
};

inline constexpr double kMinRoundSeconds = 0.01;
// The most one round of one candidate takes: a longer budget is not spent for nothing.
inline constexpr double kMaxRoundSeconds = 0.5;

// One file to tune: its path, and how it was built ("default", or the
// compile-time variant it is, e.g. "no-freezing"), which names its candidates.
struct TuneFile {
  std::string path;
  std::string build = "default";
};

// Tunes the files' runtime settings together: the record holds every
// candidate (timed, failed or skipped), the winner, its settings and this
// machine. Error(InvalidArgument) for options out of range or a file with no
// golden sample to check against; load errors as Model::load raises them;
// Error(InferenceFailed) when no candidate passes its checks.
TuningRecord tune(const std::vector<TuneFile>& files, const TuneOptions& options = {});

// tsrun --tune: tunes the archive at `path` on this machine and writes the
// result as its sidecar (sidecar_path, write_sidecar), which Model::load
// applies from then on. Checks that the sidecar can be written before the
// search starts; nothing is written when the search fails.
TuningRecord tune_runtime(const std::string& path, const TuneOptions& options = {});

}  // namespace tsbridge
