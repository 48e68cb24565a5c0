#pragma once

#include "tsbridge/version.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include "tsbridge/manifest.h"
#include "tsbridge/model.h"

namespace tsbridge::detail {

struct Argument {
  std::string name;
  std::string type;  // TorchScript annotation, e.g. "Tensor", "List[int]"
  bool has_default = false;
};

struct WeightStats {
  int64_t count = 0;  // elements
  int64_t bytes = 0;
};

// The seam between Model and whatever executes the graph. TorchScript is the
// first backend; others (AOTInductor) slot in behind the same Model. Backends
// may throw LibTorch's own errors: Model adds context at its boundary.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::vector<std::string> methods() const = 0;
  // Whether specialise would use an example for `method`: Model reads the
  // file's example (its golden sample) only for a backend that asks, or a warm-up.
  virtual bool specialises(const std::string& /*method*/) const { return false; }
  // Specialises `method` for calls like `example` (its arguments), once, at
  // load, before any call; a backend with nothing to specialise ignores it.
  virtual void specialise(const std::string& /*method*/, const std::vector<c10::IValue>& /*example*/) {}
  // The method's parameters (without `self`); nullptr when there is no such
  // method. Looked up on every call, so backends keep them from load.
  virtual const std::vector<Argument>* arguments(const std::string& method) const = 0;
  // Must be safe to call concurrently.
  virtual c10::IValue run(const std::string& method, std::vector<c10::IValue> inputs) const = 0;
  // Weight count and bytes, whether they are parameters or (once frozen) constants.
  virtual WeightStats weights() const = 0;
  // Human-readable source of a method; nullopt when there is no such method.
  virtual std::optional<std::string> code(const std::string& method) const = 0;
};

// options: the graph executor's optimisations, or the runtime's own program
// with its convolutions packed or not (TorchScriptOptions). Reads the module
// through the archive's open file.
class Archive;
std::unique_ptr<Backend> load_torchscript(const Archive& archive, c10::Device device,
                                          const TorchScriptOptions& options);

// LibTorch's process-wide executor settings (process.h); unset ones are
// left alone. This and current_executor_settings are exported for the tuner
// (cpp/src/tools), not installed.
TSBRIDGE_API void apply_executor_settings(std::optional<bool> profiling_executor, std::optional<bool> onednn_fusion);

// LibTorch's process-wide executor settings as they are now.
struct ExecutorState {
  bool profiling_executor = true;
  bool onednn_fusion = false;
};
TSBRIDGE_API ExecutorState current_executor_settings();

// True when a zip's entry names are those of a .pt2 package (a
// "<archive>/data/aotinductor/" folder), not a TorchScript archive.
bool is_aoti_package(const std::vector<std::string>& entry_names);
// Throws Error(InvalidArchive) unless the package holds a compiled model.
void require_aoti_model(const std::vector<std::string>& entry_names);

// Loads a .pt2 package made by torch._inductor.aoti_compile_and_package.
// `inputs`/`outputs` are the manifest's specs (empty without one): names for
// forward's arguments, and the nesting the flat outputs are put back into.
// `runners`: AOTInductor model instances for concurrent calls (>= 1).
std::unique_ptr<Backend> load_aoti(const std::string& path, c10::Device device, std::vector<TensorSpec> inputs,
                                   std::vector<TensorSpec> outputs, int runners);

}  // namespace tsbridge::detail
