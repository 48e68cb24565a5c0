#include "tsbridge/input_files.h"

#include "core/text.h"
#include "tsbridge/error.h"
#include "tsbridge/tensor_io.h"

namespace tsbridge {
namespace {

void add_npz(const InputFile& file, std::map<std::string, at::Tensor>& tensors) {
  const auto arrays = read_npz(file.path);
  if (file.name.empty()) {
    for (const auto& [key, tensor] : arrays) tensors[key] = tensor;
  } else if (arrays.size() == 1) {
    tensors[file.name] = arrays.front().second;
  } else {
    throw Error(ErrorCode::InvalidArgument, file.name + "=" + file.path + ": the .npz holds " +
                                                std::to_string(arrays.size()) +
                                                " arrays; give it without a name to use them by their names");
  }
}

}  // namespace

std::map<std::string, at::Tensor> read_input_files(const std::vector<InputFile>& files,
                                                   const std::vector<TensorSpec>& inputs, bool map_npy_files) {
  std::map<std::string, at::Tensor> tensors;
  for (const auto& file : files) {
    if (detail::ends_with(file.path, ".npz")) {
      add_npz(file, tensors);
      continue;
    }
    std::string name = file.name;
    if (name.empty()) {
      if (inputs.size() != 1) {
        throw Error(ErrorCode::InvalidArgument, file.path + " names no input, but the model takes " +
                                                    std::to_string(inputs.size()) + "; name the input it is for");
      }
      name = inputs.front().name;
    }
    tensors[name] = map_npy_files && detail::ends_with(file.path, ".npy") ? map_npy(file.path) : read_tensor(file.path);
  }
  return tensors;
}

}  // namespace tsbridge
