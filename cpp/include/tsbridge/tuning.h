#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tsbridge/version.h"

namespace tsbridge {

// How a model runs, as the tuner chose it (tune.h) and Model::load applies it.
// Three of these are LibTorch's process-wide settings (threads, executor,
// fusion: process.h); the others are per model.
struct TSBRIDGE_API RuntimeSettings {
  int threads = 0;                         // intra-op threads; 0: LibTorch's default (process-wide)
  bool optimize_graph = false;             // TorchScript: graph-executor optimisations (per model)
  std::optional<bool> profiling_executor;  // TorchScript: unset keeps LibTorch's (process-wide)
  bool onednn_fusion = false;              // TorchScript: oneDNN Graph fusion (process-wide; needs optimize_graph)
  int runners = 0;                         // .pt2: AOTInductor runners; 0: the load's default (per model)

  // e.g. "threads=2, optimize_graph, legacy executor, onednn_fusion, runners=2"; "defaults" when nothing is set.
  std::string to_string() const;
  bool operator==(const RuntimeSettings& other) const;
};

// The machine a figure was measured on. Two machines match when their arch,
// CPU model name and core count agree (features follow from the model name).
struct TSBRIDGE_API MachineInfo {
  std::string arch;                   // "x86_64"
  std::string cpu_model;              // /proc/cpuinfo's "model name", e.g. "AMD EPYC 7B13"
  int cores = 0;                      // std::thread::hardware_concurrency(): what this process may use
  std::vector<std::string> features;  // cpu.h's names this machine has

  bool matches(const MachineInfo& other) const;
  std::string to_string() const;  // "AMD EPYC 7B13, 2 cores, x86_64"
};

// This machine, read once.
TSBRIDGE_API const MachineInfo& this_machine();

// One candidate the tuner timed: what it was, its figure or why it has none.
struct TuningCandidate {
  std::string name;    // e.g. "torchscript optimize_graph legacy threads=1", "aoti max-autotune threads=2"
  std::string format;  // "torchscript" or "aoti"
  std::string build;   // how the file was made: "default" or a compile-time variant ("no-freezing", "max-autotune")
  RuntimeSettings settings;
  double us_per_call = -1;  // median over rounds of microseconds per call; -1 when not timed
  double spread = 0;        // (max - min) / median of the rounds' figures
  std::string status;       // "ok", "failed: <why>", "skipped: <why>"
};

// What a tuning run found: every candidate, the one kept and why.
struct TuningRecord {
  std::vector<TuningCandidate> candidates;
  int winner_index = -1;     // index into candidates (the JSON names the winner: "winner")
  RuntimeSettings settings;  // the winner's
  std::string reason;        // one line: why the winner was kept
  double noise = 0;          // the margin within which a simpler candidate wins a tie
  int rounds = 0;
  MachineInfo machine;      // where it was measured
  std::string measured_at;  // UTC, ISO 8601
};

// What Model::load did with the recorded tuning (LoadOptions::apply_tuning).
// A sidecar (below) that matches this archive and machine wins over the
// manifest's record; a record measured on another machine is not applied.
struct AppliedTuning {
  std::string source;              // "sidecar", "manifest", or "" when nothing was applied
  RuntimeSettings recorded;        // what the source records
  RuntimeSettings applied;         // what this load put in effect (unset fields: not applied)
  std::vector<std::string> notes;  // each recorded setting not applied, and each record ignored, with why
};

// The sidecar of an archive, "<archive>.tuning.json": a tuning measured on
// the deploy machine (tsrun --tune), tied to the archive's SHA-256 and to the
// machine, so the archive itself and its integrity digests stay untouched.
TSBRIDGE_API std::string sidecar_path(const std::string& archive_path);

}  // namespace tsbridge
