#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include "tsbridge/manifest.h"
#include "tsbridge/tuning.h"
#include "tsbridge/version.h"

namespace tsbridge {

// One leaf of a (possibly nested) model result, named by its position
// ("output", "output[0]", "output['logits']") or by the manifest's output
// specs (Model::output_leaves).
struct NamedValue {
  std::string name;
  c10::IValue value;
};

// The most AOTInductor runners one .pt2 Model may hold.
inline constexpr int kMaxRunners = 256;

// Settings only a TorchScript archive has; a .pt2 package is refused them
// (Error(InvalidArgument)), never silently ignores them.
struct TorchScriptOptions {
  // TorchScript's graph-executor optimisations: profile the first call,
  // specialise and optimise the graph on the second. Off by default: on a
  // CPU they made no call faster in our measurements (LibTorch's CPU build
  // has no fuser for them to feed) and made the first calls up to 2,800x
  // slower (docs/performance.md). Per model: set around each of its calls.
  // Turn it on for CUDA fusers or oneDNN fusion (process.h).
  bool optimize_graph = false;
  // Convolutions on constant weights (a frozen archive's 2-d ones) run on
  // weights packed for oneDNN once, at load, rather than reordered on every
  // call (docs/performance.md). Off: LibTorch's own convolution, and no extra
  // copy of those weights in memory (ResNet-18: 197 against 236 MB peak).
  // Applies where optimize_graph is off.
  bool pack_convolutions = true;
};

// Settings only a .pt2 package has; a TorchScript archive is refused them.
struct AotiOptions {
  // AOTInductor model instances: concurrent calls on one Model run on
  // separate runners, up to this many at once, and queue beyond it (each
  // runner keeps its own activation buffers; the weights are shared). Unset:
  // this machine's cores divided by the intra-op threads at load, 1 to 8.
  // 0 or more than kMaxRunners is Error(InvalidArgument).
  std::optional<int> runners;
};

// How one model is loaded. Settings LibTorch keeps once per process
// (threads, executor, fusion) are not here: see process.h. A recorded
// tuning may set them at load (apply_tuning), by process.h's rule.
struct LoadOptions {
  // "cpu", "cuda" or "cuda:N". Asking for a device this process lacks is an
  // Error(DeviceUnavailable), never a silent fallback.
  std::string device = "cpu";
  // Check every entry of the archive against the SHA-256 digests its
  // manifest records before LibTorch reads it (integrity.h); a mismatch, a
  // missing or an unlisted entry is Error(InvalidArchive). Archives without
  // a manifest or without digests load either way. Detects corruption and
  // edits of an entry, not a forger: see docs/reliability.md.
  bool verify_integrity = true;

  // Calls forward this many times at load, on the golden sample's inputs (or,
  // without one, inputs made from the manifest's specs), so LibTorch's
  // one-time costs are paid before the first call you make: see warm_up().
  // Skipped for a file that declares no inputs to make; 0: none.
  int warmup_calls = 0;

  // Apply the runtime settings a tuning recorded (tune.h, docs/tuning.md):
  // the archive's sidecar ("<path>.tuning.json", tsrun --tune) when it was
  // written for this file on this machine, else the manifest's record when it
  // was measured on this machine. Options set here (torchscript, aoti) win
  // over recorded ones; process-wide settings follow process.h's rule (the
  // application's, then the first load's). Model::tuning() says what applied.
  bool apply_tuning = true;

  // Set only what applies to the file's format (Model::Format).
  std::optional<TorchScriptOptions> torchscript;
  std::optional<AotiOptions> aoti;
};

// What a warm-up did: how many calls, and their time.
struct WarmUp {
  int calls = 0;
  double seconds = 0;
};

// A loaded model. Cheap to copy (copies share the loaded module) and safe to
// call from several threads at once: every call runs under
// c10::InferenceMode and leaves the model unchanged. (A .pt2's calls run on
// its runners, AotiOptions::runners, and queue when all are busy.)
class TSBRIDGE_API Model {
 public:
  // What the file holds, recognised from its contents (never its name).
  enum class Format {
    TorchScript,  // a TorchScript archive (torch.jit.save)
    Aoti,         // a .pt2 package (torch.export + AOTInductor): forward only, tensors only
  };

  // Loads a TorchScript archive or a .pt2 package, with or without a
  // tsbridge manifest.
  static Model load(const std::string& path, const LoadOptions& options = {});

  // Runs `forward`. Inputs and result are LibTorch values: tensors, and the
  // tuples, lists, str->Tensor dicts, ints, floats, bools and strings
  // TorchScript methods accept.
  c10::IValue forward(std::vector<c10::IValue> inputs) const;
  // One tensor in, one tensor out; Error(InferenceFailed) when forward
  // returns anything else (as forward_tensors for a non-tensor leaf).
  at::Tensor forward(const at::Tensor& input) const;
  // Tensors in, the result's tensor leaves out (in the order output_leaves
  // gives): what a .pt2 or any tensor-only model needs. Error(InferenceFailed)
  // when the result holds a leaf that is not a tensor.
  std::vector<at::Tensor> forward_tensors(const std::vector<at::Tensor>& inputs) const;
  // Runs any exported method by name.
  c10::IValue run(const std::string& method, std::vector<c10::IValue> inputs) const;

  // The checks run() makes before the graph runs, without running it: the
  // method exists (Error(MethodNotFound)), the input count, and for forward
  // with a manifest each input's dtype, rank, dims and device and the dims
  // inputs share (Error(InputMismatch), naming what was expected and what
  // came). For checking a data set before streaming it, or a request before
  // queueing it.
  void check_inputs(const std::string& method, const std::vector<c10::IValue>& inputs) const;

  // The leaves of a method's result, flattened in order (tuples, lists,
  // dicts): named after the manifest's output specs for forward when they
  // match one to one, else by position ("output[0]", "output['logits']").
  std::vector<NamedValue> output_leaves(const std::string& method, const c10::IValue& result) const;

  // Runs a method `calls` times on `inputs` and discards the results, so the
  // calls that follow run at steady-state speed (use inputs of the sizes you
  // will call it with). Thread-safe like run.
  WarmUp warm_up(const std::string& method, const std::vector<c10::IValue>& inputs, int calls = 1) const;
  // The same for forward.
  WarmUp warm_up(const std::vector<c10::IValue>& inputs, int calls = 1) const;
  // The same on the golden sample's inputs, or inputs made from the
  // manifest's specs; Error(InvalidArgument) when the file has neither.
  WarmUp warm_up(int calls = 1) const;
  // What LoadOptions::warmup_calls did at load ({0, 0} when it did nothing).
  WarmUp load_warm_up() const;
  // The .pt2's AOTInductor runners (AotiOptions::runners); 0 for TorchScript.
  int runners() const;
  // What LoadOptions::apply_tuning did: the record's source, the settings it
  // recorded, those applied, and a note for each one that was not.
  const AppliedTuning& tuning() const;

  std::vector<std::string> methods() const;
  bool has_method(const std::string& method) const;

  // Declared inputs of a method: the manifest's specs for `forward` when the
  // file has a manifest, otherwise names and types from the method itself.
  // Error(MethodNotFound), naming the methods there are, for another name.
  const std::vector<TensorSpec>& inputs(const std::string& method = "forward") const;
  // Declared outputs of `forward` (from the manifest; empty without one).
  const std::vector<TensorSpec>& outputs() const;

  // The tsbridge manifest, or nullptr for a plain TorchScript file.
  const Manifest* manifest() const;
  // An extra file stored in the archive (torch.jit.save's _extra_files).
  std::optional<std::string> extra_file(const std::string& name) const;

  // What the archive holds: parameter (or, once frozen, weight constant)
  // count and bytes. Each distinct tensor counts once (tied weights; a
  // constant several methods share; equal constants freezing merged), so a
  // frozen model can hold fewer than its eager parameters (BatchNorm folded
  // into the conv before it). Weights packed into opaque objects
  // (prepacked or quantized ops) are not seen.
  struct Stats {
    int64_t parameters = 0;
    int64_t parameter_bytes = 0;
  };
  Stats stats() const;
  // The TorchScript source of a method, printed from its graph exactly as
  // Python's `scripted.<method>.code` prints it (tensor constants as
  // CONSTANTS.cN). Error(MethodNotFound) for an unknown method.
  std::string code(const std::string& method = "forward") const;

  const std::string& path() const;
  c10::Device device() const;
  Format format() const;
  // "torchscript" or "aoti".
  static const char* format_name(Format format);

 private:
  struct Impl;
  explicit Model(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace tsbridge
