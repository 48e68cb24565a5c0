#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include "tsbridge/manifest.h"
#include "tsbridge/version.h"

namespace tsbridge {

enum class Fill { Random, Zeros, Ones };

// How to make stand-in inputs for a model: to try it, benchmark it, or smoke
// test it without real data.
struct InputOptions {
  Fill fill = Fill::Random;
  // Random values come from LibTorch's CPU generator seeded with this, so
  // torch.Generator().manual_seed(seed) in Python reproduces them: floating
  // inputs draw torch.randn, integer inputs torch.randint(0, 10), bool inputs
  // torch.randint(0, 2), one after another in input order.
  uint64_t seed = 0;
  // Shapes by input name; they size dynamic dims and describe inputs the file
  // has no shape for. Dynamic dims not given here take size 1.
  std::map<std::string, std::vector<int64_t>> shapes;
  // Dtypes by input name, for inputs the manifest has no dtype for
  // (default float32).
  std::map<std::string, std::string> dtypes;
  // Real values by input name (e.g. read from files). They must match the
  // spec's dtype and fixed dims; `cast` converts the dtype instead of refusing.
  std::map<std::string, at::Tensor> tensors;
  bool cast = false;
  // Generated inputs larger than this are refused before anything is allocated.
  int64_t max_bytes = int64_t{2048} << 20;
  c10::Device device = c10::Device(c10::kCPU);
};

// Parses "1x3x224x224" (also "5,10" or "" for a scalar); throws
// Error(InvalidArgument) naming the bad text.
TSBRIDGE_API std::vector<int64_t> parse_shape(const std::string& text);

// Makes one input per spec: the given tensor when there is one, else a
// generated one. Throws Error(InputMismatch) naming the input, what was
// expected and what came when a dtype or shape contradicts the spec, a shape
// is unknown, or a spec is not a tensor; Error(InvalidArgument) when a
// generated input would exceed max_bytes; Error(InputMismatch) for a given
// tensor whose name is not an input.
TSBRIDGE_API std::vector<c10::IValue> make_inputs(const std::vector<TensorSpec>& specs,
                                                  const InputOptions& options = {});

}  // namespace tsbridge
