#include "tsbridge/model.h"

#include <algorithm>
#include <map>
#include <thread>

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>

#include "archive/archive.h"
#include "archive/integrity.h"
#include "archive/pickle_check.h"
#include "backends/backend.h"
#include "core/condense.h"
#include "core/process_claims.h"
#include "core/sidecar.h"
#include "core/validate.h"
#include "core/warm_up.h"
#include "tsbridge/error.h"
#include "tsbridge/summary.h"

namespace tsbridge {

struct Model::Impl {
  std::string path;
  c10::Device device = c10::Device(c10::kCPU);
  std::optional<Manifest> manifest;
  // The file, open for the model's life: extra_file() reads through it.
  std::shared_ptr<const detail::Archive> archive;
  std::unique_ptr<detail::Backend> backend;
  Model::Format format = Model::Format::TorchScript;
  WarmUp load_warm_up;
  int runners = 0;
  AppliedTuning tuning;
  // Each method's declared inputs (Model::inputs), kept from load so a call
  // can check against them without building them.
  std::map<std::string, std::vector<TensorSpec>> inputs;
  std::vector<TensorSpec> outputs;

  // Load's steps that need the fields above (defined below).
  std::unique_ptr<detail::Backend> load_backend(const LoadOptions& options) const;
  AppliedTuning recorded_tuning() const;
  LoadOptions apply_tuning(LoadOptions options);
};

namespace {

c10::Device parse_device(const std::string& text) {
  std::optional<c10::Device> device;
  try {
    device = c10::Device(text);
  } catch (const c10::Error&) {
  }
  if (!device || !(device->is_cpu() || device->is_cuda())) {
    throw Error(ErrorCode::InvalidArgument, "invalid device '" + text + "' (expected cpu, cuda or cuda:N)");
  }
  if (device->is_cuda()) {
    const auto count = torch::cuda::device_count();
    if (count == 0) {
      throw Error(ErrorCode::DeviceUnavailable,
                  "device '" + text + "' requested, but no CUDA device is available to this process");
    }
    if (device->has_index() && device->index() >= static_cast<int>(count)) {
      throw Error(ErrorCode::DeviceUnavailable,
                  "device '" + text + "' requested, but only " + std::to_string(count) + " CUDA device(s) are visible");
    }
    // "cuda" is the current device, as in PyTorch: named by its index, so
    // that it equals the device of the tensors placed there (cuda:0).
    if (!device->has_index()) device = c10::Device(c10::kCUDA, at::detail::getCUDAHooks().current_device());
  }
  return *device;
}

std::string join(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

Error method_not_found(const std::string& path, const std::string& method, const std::vector<std::string>& available,
                       Model::Format format) {
  std::string message = path + ": no method '" + method + "' (available: " + join(available) + ")";
  if (format == Model::Format::Aoti) message += "; other methods are not supported for .pt2 packages (forward only)";
  return Error(ErrorCode::MethodNotFound, message);
}

std::string describe_arguments(const std::vector<detail::Argument>& args) {
  std::vector<std::string> parts;
  for (const auto& arg : args) parts.push_back(arg.name + ": " + arg.type);
  return join(parts);
}

void check_arity(const std::string& method, const std::vector<detail::Argument>& args, size_t given) {
  size_t required = 0;
  for (const auto& arg : args) required += arg.has_default ? 0 : 1;
  if (given >= required && given <= args.size()) return;
  std::string expected = std::to_string(required);
  if (required != args.size()) expected += " to " + std::to_string(args.size());
  throw Error(ErrorCode::InputMismatch, "method '" + method + "' takes " + expected + " input(s) (" +
                                            describe_arguments(args) + "), got " + std::to_string(given));
}

// AotiOptions::runners, checked; unset: one runner per intra-op thread
// group this machine's cores hold, so N clients with 1 thread each on N
// cores all run at once.
int runner_count(const std::optional<int>& asked) {
  if (asked) {
    if (*asked < 1 || *asked > kMaxRunners) {
      throw Error(ErrorCode::InvalidArgument,
                  "runners must be 1 to " + std::to_string(kMaxRunners) + ", got " + std::to_string(*asked));
    }
    return *asked;
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::clamp(cores / std::max(1, at::get_num_threads()), 1, 8);
}

// Refuses what the file's format does not have: an option that cannot apply
// is an error, never ignored.
void check_options_apply(const LoadOptions& options, Model::Format format) {
  if (options.warmup_calls < 0) {
    throw Error(ErrorCode::InvalidArgument,
                "warmup_calls must be 0 or more, got " + std::to_string(options.warmup_calls));
  }
  if (format == Model::Format::Aoti && options.torchscript) {
    throw Error(ErrorCode::InvalidArgument,
                "TorchScript options (optimize_graph, pack_convolutions) do not apply to a .pt2 package, which has "
                "no graph executor and whose convolutions Inductor laid out when it compiled them");
  }
  if (format == Model::Format::TorchScript && options.aoti) {
    throw Error(ErrorCode::InvalidArgument,
                "AOTInductor options (runners) do not apply to a TorchScript archive, whose calls always run "
                "concurrently");
  }
}

// Each method's declared inputs: the manifest's for forward, else the
// method's own names and types.
std::map<std::string, std::vector<TensorSpec>> declared_inputs(const detail::Backend& backend,
                                                               const std::optional<Manifest>& manifest) {
  std::map<std::string, std::vector<TensorSpec>> declared;
  for (const auto& method : backend.methods()) {
    auto& specs = declared[method];
    if (method == "forward" && manifest && !manifest->inputs.empty()) {
      specs = manifest->inputs;
      continue;
    }
    for (const auto& arg : *backend.arguments(method)) {
      TensorSpec spec;
      spec.name = arg.name;
      spec.type = arg.type;
      specs.push_back(std::move(spec));
    }
  }
  return declared;
}

// The manifest, read and checked before LibTorch sees the file: its torch
// version, a .pt2's device and CPU needs, the entries' digests.
std::optional<Manifest> read_manifest(const detail::Archive& archive, Model::Format format, c10::Device device,
                                      bool verify_integrity) {
  const std::string& path = archive.path();
  auto text = archive.extra_file(kManifestEntry);
  if (!text) return std::nullopt;
  std::optional<Manifest> manifest;
  try {
    manifest = Manifest::parse(*text);
    const bool compiled = format == Model::Format::Aoti;
    detail::check_torch_version(manifest->torch_version, compiled);
    if (compiled) {  // before its shared library is opened
      detail::require_device(*manifest, device);
      detail::require_cpu(*manifest);
    }
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  }
  if (verify_integrity) detail::require_intact(archive, *manifest);
  return manifest;
}

}  // namespace

std::unique_ptr<detail::Backend> Model::Impl::load_backend(const LoadOptions& options) const {
  const bool aoti = format == Model::Format::Aoti;
  const std::string what = aoti ? "cannot load the .pt2 package: " : "cannot load the TorchScript module: ";
  try {
    if (aoti) {
      detail::require_aoti_model(archive->entry_names());
      const auto none = std::vector<TensorSpec>{};
      return detail::load_aoti(path, device, manifest ? manifest->inputs : none, manifest ? manifest->outputs : none,
                               runners);
    }
    detail::require_sound_storages(*archive);  // sizes LibTorch would trust blindly
    return detail::load_torchscript(*archive, device, options.torchscript.value_or(TorchScriptOptions{}));
  } catch (const Error& e) {
    throw Error(e.code(), path + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArchive, path + ": " + what + detail::condense(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidArchive, path + ": " + what + detail::condense(e.what()));
  }
}

// The record to apply: a sidecar made for this file on this machine, else
// the manifest's when measured here.
AppliedTuning Model::Impl::recorded_tuning() const {
  AppliedTuning found;
  std::optional<TuningRecord> record = detail::read_sidecar(path, found.notes);
  if (record) {
    found.source = "sidecar";
  } else if (manifest && manifest->tuning) {
    const MachineInfo& measured = manifest->tuning->machine;
    if (measured.matches(this_machine())) {
      record = manifest->tuning;
      found.source = "manifest";
    } else {
      found.notes.push_back("the manifest's tuning was measured on " + measured.to_string() + ", this is " +
                            this_machine().to_string() + ": not applied (tune here with tsrun --tune)");
    }
  }
  if (record) found.recorded = record->settings;
  return found;
}

// Applies the recorded settings LoadOptions leaves open; returns the options
// the backend loads with.
LoadOptions Model::Impl::apply_tuning(LoadOptions options) {
  tuning = recorded_tuning();
  if (tuning.source.empty()) return options;
  RuntimeSettings want = tuning.recorded;
  auto& notes = tuning.notes;
  auto& applied = tuning.applied;
  if (format == Model::Format::Aoti && (want.optimize_graph || want.onednn_fusion || want.profiling_executor)) {
    notes.push_back("the record's TorchScript settings do not apply to a .pt2 package: ignored");
    want.optimize_graph = want.onednn_fusion = false;
    want.profiling_executor.reset();
  }
  if (format == Model::Format::TorchScript && want.runners > 0) {
    notes.push_back("the record's runners do not apply to a TorchScript archive: ignored");
    want.runners = 0;
  }
  detail::apply_process_settings(want, path, applied, notes);
  if (format == Model::Format::TorchScript) {
    if (options.torchscript && options.torchscript->optimize_graph != want.optimize_graph) {
      notes.push_back(std::string("optimize_graph=") + (want.optimize_graph ? "on" : "off") +
                      " not applied: the load options set it");
    } else if (want.optimize_graph) {
      if (!options.torchscript) options.torchscript.emplace();
      options.torchscript->optimize_graph = true;
      applied.optimize_graph = true;
    }
  }
  if (want.runners > 0) {
    if (options.aoti && options.aoti->runners) {
      notes.push_back("runners=" + std::to_string(want.runners) + " not applied: the load options set runners");
    } else {
      options.aoti = AotiOptions{want.runners};
      applied.runners = want.runners;
    }
  }
  return options;
}

Model::Model(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Model Model::load(const std::string& path, const LoadOptions& asked) {
  auto impl = std::make_shared<Impl>();
  impl->path = path;
  impl->archive = std::make_shared<const detail::Archive>(path);
  impl->device = parse_device(asked.device);
  if (detail::is_aoti_package(impl->archive->entry_names())) impl->format = Format::Aoti;
  check_options_apply(asked, impl->format);
  impl->manifest = read_manifest(*impl->archive, impl->format, impl->device, asked.verify_integrity);
  const LoadOptions options = asked.apply_tuning ? impl->apply_tuning(asked) : asked;
  // After the tuning's threads: the default runner count follows them.
  if (impl->format == Format::Aoti) impl->runners = runner_count(options.aoti.value_or(AotiOptions{}).runners);
  impl->backend = impl->load_backend(options);
  impl->inputs = declared_inputs(*impl->backend, impl->manifest);
  if (impl->manifest) impl->outputs = impl->manifest->outputs;
  Model model(impl);
  // The file's own example inputs, read once (and only) for the uses below:
  // the backend specialises forward for them (a TorchScript archive packs its
  // convolutions' weights for their sizes), and the warm-up runs them. An
  // example that cannot be read fails the load only when a warm-up needs it;
  // otherwise the model stays unspecialised and self_test reports it.
  const bool specialises = impl->backend->specialises("forward");
  std::optional<std::vector<c10::IValue>> example;
  if (specialises || options.warmup_calls > 0) {
    try {
      example = detail::example_inputs(model);
    } catch (const Error&) {
      if (options.warmup_calls > 0) throw;
    }
  }
  if (example) impl->backend->specialise("forward", *example);  // a backend that does not specialise ignores it
  if (options.warmup_calls > 0) impl->load_warm_up = detail::warm_up_at_load(model, example, options.warmup_calls);
  return model;
}

c10::IValue Model::forward(std::vector<c10::IValue> inputs) const { return run("forward", std::move(inputs)); }

at::Tensor Model::forward(const at::Tensor& input) const {
  c10::IValue result = run("forward", {input});
  if (!result.isTensor()) {
    throw Error(ErrorCode::InferenceFailed, impl_->path + ": forward returned " + result.tagKind() +
                                                ", not one tensor; call forward(std::vector<c10::IValue>) instead");
  }
  return result.toTensor();
}

std::vector<at::Tensor> Model::forward_tensors(const std::vector<at::Tensor>& inputs) const {
  const auto result = forward(std::vector<c10::IValue>(inputs.begin(), inputs.end()));
  std::vector<at::Tensor> tensors;
  for (const auto& leaf : output_leaves("forward", result)) {
    if (!leaf.value.isTensor()) {
      throw Error(ErrorCode::InferenceFailed, impl_->path + ": forward returned " + leaf.name + " as " +
                                                  leaf.value.tagKind() + ", not a tensor; call forward() instead");
    }
    tensors.push_back(leaf.value.toTensor());
  }
  return tensors;
}

void Model::check_inputs(const std::string& method, const std::vector<c10::IValue>& inputs) const {
  const auto args = impl_->backend->arguments(method);
  if (!args) throw method_not_found(impl_->path, method, methods(), impl_->format);
  try {
    check_arity(method, *args, inputs.size());
    if (method == "forward" && impl_->manifest) {
      // AOTInductor does not check shapes itself (a wrong one reads past
      // buffers): for a .pt2 this check is the only guard.
      detail::validate_inputs(*impl_->manifest, inputs, impl_->device, impl_->format == Format::Aoti);
    }
  } catch (const Error& e) {
    throw Error(e.code(), impl_->path + ": " + e.what());
  }
}

std::vector<NamedValue> Model::output_leaves(const std::string& method, const c10::IValue& result) const {
  return method == "forward" ? flatten(result, impl_->outputs) : flatten(result);
}

c10::IValue Model::run(const std::string& method, std::vector<c10::IValue> inputs) const {
  check_inputs(method, inputs);
  try {
    // OpenMP sizes parallel regions (MKL's GEMMs, a .pt2's dynamic-thread
    // kernels) by the calling thread's own setting, which a thread the app
    // made has at OpenMP's default (all cores), not LibTorch's intra-op
    // count: give this thread that count first (once per thread, as ATen's
    // parallel_for does). Without it 2 client threads on 2 cores ran no
    // faster than 1 (docs/performance.md).
    at::internal::lazy_init_num_threads();
    c10::InferenceMode inference;
    return impl_->backend->run(method, std::move(inputs));
  } catch (const Error& e) {
    throw Error(e.code(), impl_->path + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InferenceFailed,
                impl_->path + ": method '" + method + "' failed: " + detail::condense(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InferenceFailed,
                impl_->path + ": method '" + method + "' failed: " + detail::condense(e.what()));
  }
}

std::vector<std::string> Model::methods() const { return impl_->backend->methods(); }

bool Model::has_method(const std::string& method) const { return impl_->backend->arguments(method) != nullptr; }

const std::vector<TensorSpec>& Model::inputs(const std::string& method) const {
  const auto found = impl_->inputs.find(method);
  if (found == impl_->inputs.end()) throw method_not_found(impl_->path, method, methods(), impl_->format);
  return found->second;
}

const std::vector<TensorSpec>& Model::outputs() const { return impl_->outputs; }

const Manifest* Model::manifest() const { return impl_->manifest ? &*impl_->manifest : nullptr; }

std::optional<std::string> Model::extra_file(const std::string& name) const { return impl_->archive->extra_file(name); }

Model::Stats Model::stats() const {
  detail::WeightStats weights;
  try {
    weights = impl_->backend->weights();
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArchive,
                impl_->path + ": cannot count the weights: " + detail::condense(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidArchive, impl_->path + ": cannot count the weights: " + detail::condense(e.what()));
  }
  Stats stats;
  stats.parameters = weights.count;
  stats.parameter_bytes = weights.bytes;
  return stats;
}

std::string Model::code(const std::string& method) const {
  std::optional<std::string> source;
  try {
    source = impl_->backend->code(method);
  } catch (const Error& e) {
    throw Error(e.code(), impl_->path + ": " + e.what());
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::InvalidArchive, impl_->path + ": cannot print method '" + method +
                                               "': " + detail::condense(e.what_without_backtrace()));
  } catch (const std::exception& e) {
    throw Error(ErrorCode::InvalidArchive,
                impl_->path + ": cannot print method '" + method + "': " + detail::condense(e.what()));
  }
  if (!source) throw method_not_found(impl_->path, method, methods(), impl_->format);
  return *source;
}

WarmUp Model::load_warm_up() const { return impl_->load_warm_up; }

int Model::runners() const { return impl_->runners; }

const AppliedTuning& Model::tuning() const { return impl_->tuning; }

const std::string& Model::path() const { return impl_->path; }

Model::Format Model::format() const { return impl_->format; }

const char* Model::format_name(Format format) { return format == Format::Aoti ? "aoti" : "torchscript"; }

c10::Device Model::device() const { return impl_->device; }

}  // namespace tsbridge
