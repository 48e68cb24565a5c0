#include "tsbridge/batch.h"

#include <filesystem>
#include <memory>

#include <ATen/ATen.h>

#include "core/text.h"
#include "tsbridge/error.h"
#include "tsbridge/results.h"
#include "tsbridge/summary.h"
#include "tsbridge/tensor_io.h"

namespace tsbridge {
namespace {

int64_t common_rows(const std::vector<at::Tensor>& inputs) {
  if (inputs.empty()) throw Error(ErrorCode::InputMismatch, "batch processing needs at least one input");
  for (const auto& input : inputs) {
    if (input.dim() == 0) throw Error(ErrorCode::InputMismatch, "batch inputs need a sample dim 0, got a scalar");
    if (input.size(0) != inputs[0].size(0)) {
      throw Error(ErrorCode::InputMismatch,
                  "batch inputs disagree on the sample count: " + std::to_string(inputs[0].size(0)) + " and " +
                      std::to_string(input.size(0)));
    }
  }
  if (inputs[0].size(0) == 0) throw Error(ErrorCode::InputMismatch, "batch inputs hold no samples");
  return inputs[0].size(0);
}

std::vector<c10::IValue> first_batch(const Model& model, const BatchOptions& options,
                                     const std::vector<at::Tensor>& inputs) {
  std::vector<c10::IValue> batch;
  for (const auto& input : inputs) {
    batch.emplace_back(input.narrow(0, 0, std::min(options.batch_size, input.size(0))).to(model.device()));
  }
  return batch;
}

void check_first_batch(const Model& model, const BatchOptions& options, const std::vector<at::Tensor>& inputs) {
  model.check_inputs(options.method, first_batch(model, options, inputs));
}

// Where the leaves stream to: `path` itself for a .npy, else a folder
// (created here) of one .npy per leaf; for an .npz a scratch folder beside
// it, whose files are assembled into the .npz at the end.
std::filesystem::path stream_folder(const std::string& path, bool npy, bool npz) {
  if (npy) return {};
  const std::filesystem::path folder = npz ? std::filesystem::path(path + ".parts") : std::filesystem::path(path);
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec || !std::filesystem::is_directory(folder)) {
    throw Error(ErrorCode::InvalidArgument, folder.string() + ": cannot create the output folder");
  }
  return folder;
}

std::vector<std::string> stream_files(const std::string& path, const std::filesystem::path& folder,
                                      const std::vector<NamedValue>& leaves) {
  std::vector<std::string> names;
  for (const auto& leaf : leaves) names.push_back(leaf.name);
  check_results_path(path, names);
  if (folder.empty()) return {path};
  std::vector<std::string> files;
  for (const auto& name : names) files.push_back((folder / (file_stem(name) + ".npy")).string());
  return files;
}

}  // namespace

BatchResult run_batches(const Model& model, const std::map<std::string, at::Tensor>& inputs, const std::string& path,
                        const BatchOptions& options) {
  const auto& specs = model.inputs(options.method);
  std::vector<at::Tensor> ordered;
  for (const auto& spec : specs) {
    const auto found = inputs.find(spec.name);
    if (found == inputs.end()) {
      throw Error(ErrorCode::InputMismatch, "input '" + spec.name +
                                                "' has no samples: batch processing needs every input of '" +
                                                options.method + "' as a tensor of samples");
    }
    ordered.push_back(found->second);
  }
  for (const auto& [name, tensor] : inputs) {
    bool known = false;
    for (const auto& spec : specs) known = known || spec.name == name;
    if (!known) throw Error(ErrorCode::InputMismatch, "'" + name + "' is not an input of '" + options.method + "'");
  }
  return run_batches(model, ordered, path, options);
}

BatchResult run_batches(const Model& model, const std::vector<at::Tensor>& inputs, const std::string& path,
                        const BatchOptions& options) {
  if (options.batch_size < 1) {
    throw Error(ErrorCode::InvalidArgument, "batch size must be >= 1, got " + std::to_string(options.batch_size));
  }
  const int64_t rows = common_rows(inputs);
  check_first_batch(model, options, inputs);
  // A .npy holds one output: refused before anything runs when the manifest
  // declares several (else once the first batch shows them).
  if (options.method == "forward") check_results_path(path, model.outputs());
  const bool npz = detail::ends_with(path, ".npz");
  const std::filesystem::path folder = stream_folder(path, detail::ends_with(path, ".npy"), npz);

  BatchResult result;
  std::vector<std::unique_ptr<NpyStreamWriter>> writers;
  for (int64_t start = 0; start < rows; start += options.batch_size) {
    const int64_t length = std::min(options.batch_size, rows - start);
    std::vector<c10::IValue> batch;
    for (const auto& input : inputs) batch.emplace_back(input.narrow(0, start, length).to(model.device()));
    const auto leaves = model.output_leaves(options.method, model.run(options.method, std::move(batch)));
    if (writers.empty()) {
      for (const auto& leaf : leaves) result.outputs.push_back(leaf.name);
      result.files = stream_files(path, folder, leaves);
      for (const auto& file : result.files) writers.push_back(std::make_unique<NpyStreamWriter>(file, rows));
    }
    if (leaves.size() != writers.size()) {
      throw Error(ErrorCode::InferenceFailed, "the model returned " + std::to_string(leaves.size()) +
                                                  " outputs for one batch and " + std::to_string(writers.size()) +
                                                  " for another");
    }
    for (size_t i = 0; i < leaves.size(); ++i) {
      const auto& value = leaves[i].value;
      if (!value.isTensor() || value.toTensor().dim() == 0 || value.toTensor().size(0) != length) {
        throw Error(ErrorCode::InferenceFailed, "output '" + leaves[i].name + "' does not have the batch (" +
                                                    std::to_string(length) +
                                                    " rows) along dim 0, so batches cannot be concatenated");
      }
      writers[i]->append(value.toTensor().detach().to(c10::kCPU));
    }
    result.rows += length;
    result.batches += 1;
    if (options.progress) options.progress(result.rows, rows);
  }
  for (auto& writer : writers) writer->finish();
  writers.clear();

  if (npz) {
    // Each streamed file read back through a memory map.
    NamedTensors arrays;
    for (size_t i = 0; i < result.files.size(); ++i) {
      arrays.emplace_back(file_stem(result.outputs[i]), map_npy(result.files[i]));
    }
    write_npz(path, arrays);
    arrays.clear();
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
    result.files = {path};
  }
  return result;
}

}  // namespace tsbridge
