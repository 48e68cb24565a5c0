#include "io/unpickle.h"

#include <memory>

#include <c10/util/Exception.h>
#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>

#include "archive/pickle_check.h"
#include "core/condense.h"
#include "io/tensor_file.h"
#include "tsbridge/error.h"

namespace tsbridge::detail {
namespace {

// torch.save's zip format, read the way torch::pickle_load reads it, but with
// every tensor mapped to the CPU: pickle_load restores tensors to the device
// they were saved from, so a file saved on a GPU could not be read by a
// CPU-only runtime.
template <typename MakeReader>
c10::IValue read_archive(MakeReader make_reader) {
  try {
    caffe2::serialize::PyTorchStreamReader reader = make_reader();
    check_storages(reader, "data");  // LibTorch trusts declared storage sizes (pickle_check.h)
    return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"",
                                             /*type_resolver=*/std::nullopt, /*obj_loader=*/std::nullopt,
                                             c10::Device(c10::kCPU), reader);
  } catch (const c10::Error& e) {
    // miniz adds advice about corrupt checkpoints; the first sentence is the fact.
    const std::string cause = condense(e.what_without_backtrace());
    throw UnpickleError(cause.substr(0, cause.find(". ")));
  } catch (const std::exception& e) {
    throw UnpickleError(condense(e.what()));
  }
}

}  // namespace

c10::IValue unpickle(const std::string& bytes) {
  return read_archive([&] {
    return caffe2::serialize::PyTorchStreamReader(
        std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), static_cast<off_t>(bytes.size())));
  });
}

at::Tensor read_pt(const std::string& path) {
  require_tensor_file(path);
  c10::IValue value;
  try {
    value = read_archive([&] { return caffe2::serialize::PyTorchStreamReader(path); });
  } catch (const UnpickleError& e) {
    throw Error(ErrorCode::InvalidInputFile, path + ": not a file saved by torch.save (" + e.what() + ")");
  }
  if (!value.isTensor()) {
    throw Error(ErrorCode::InvalidInputFile,
                path + ": holds a " + value.tagKind() + ", not one tensor (save it with torch.save(tensor, path))");
  }
  return value.toTensor();
}

}  // namespace tsbridge::detail
