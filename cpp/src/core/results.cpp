#include "tsbridge/results.h"

#include <cctype>
#include <filesystem>

#include <ATen/ATen.h>

#include "core/text.h"
#include "tsbridge/error.h"
#include "tsbridge/tensor_io.h"

namespace tsbridge {
namespace {

at::Tensor as_tensor(const NamedValue& leaf) {
  const auto& value = leaf.value;
  if (value.isTensor()) return value.toTensor().detach().to(c10::kCPU).contiguous();
  if (value.isDouble()) return at::scalar_tensor(value.toDouble(), at::kDouble);
  if (value.isInt()) return at::scalar_tensor(value.toInt(), at::kLong);
  if (value.isBool()) return at::scalar_tensor(value.toBool(), at::kBool);
  throw Error(ErrorCode::InvalidArgument,
              "output '" + leaf.name + "' is " + value.tagKind() + ", which cannot be stored as an array");
}

}  // namespace

std::string file_stem(const std::string& leaf_name) {
  std::string stem;
  for (char c : leaf_name) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') {
      stem += c;
    } else if (!stem.empty() && stem.back() != '_') {
      stem += '_';
    }
  }
  while (!stem.empty() && stem.back() == '_') stem.pop_back();
  return stem.empty() ? "output" : stem;
}

void check_results_path(const std::string& path, const std::vector<std::string>& outputs) {
  if (!detail::ends_with(path, ".npy") || outputs.size() == 1) return;
  std::string names;
  for (const auto& name : outputs) names += (names.empty() ? "" : ", ") + name;
  const std::string stem = path.substr(0, path.size() - 4);
  throw Error(ErrorCode::InvalidArgument, path + ": a .npy file holds one array, but the model returns " +
                                              std::to_string(outputs.size()) + " outputs" +
                                              (names.empty() ? "" : " (" + names + ")") + "; write them to an .npz (" +
                                              stem + ".npz) or a folder (" + stem + ")");
}

void check_results_path(const std::string& path, const std::vector<TensorSpec>& declared) {
  if (declared.empty()) return;
  std::vector<std::string> names;
  for (const auto& spec : declared) names.push_back(spec.name);
  check_results_path(path, names);
}

std::vector<std::string> write_results(const std::string& path, const std::vector<NamedValue>& leaves) {
  std::vector<std::string> names;
  for (const auto& leaf : leaves) names.push_back(leaf.name);
  check_results_path(path, names);
  NamedTensors arrays;
  for (const auto& leaf : leaves) arrays.emplace_back(file_stem(leaf.name), as_tensor(leaf));
  if (detail::ends_with(path, ".npy")) {
    write_npy(path, arrays[0].second);
    return {path};
  }
  if (detail::ends_with(path, ".npz")) {
    write_npz(path, arrays);
    return {path};
  }
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path)) {
    throw Error(ErrorCode::InvalidArgument, path + ": cannot create the output folder");
  }
  std::vector<std::string> files;
  for (const auto& [stem, tensor] : arrays) {
    files.push_back((std::filesystem::path(path) / (stem + ".npy")).string());
    write_npy(files.back(), tensor);
  }
  return files;
}

}  // namespace tsbridge
