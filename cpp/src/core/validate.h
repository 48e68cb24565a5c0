#pragma once

#include <string>
#include <vector>

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include "tsbridge/manifest.h"

namespace tsbridge::detail {

// Checks tensor inputs against the manifest before the graph runs: dtype,
// rank, fixed dims, device, the bounds of each named dynamic dim, and that
// every input naming a dim gives it the same size. Throws
// Error(InputMismatch) naming the input(s), what was expected and what came,
// e.g. "input 'x': expected float32[batch,10], got int64[5,7]" or
// "inputs 'x' and 'y' share dim 'batch': x has 4, y has 2".
// `compiled`: a .pt2, whose kernels trust these sizes (its message says so).
void validate_inputs(const Manifest& manifest, const std::vector<c10::IValue>& inputs, c10::Device device,
                     bool compiled);

// Refuses a manifest written by a torch newer (major.minor) than this
// runtime's LibTorch, naming both versions. A newer patch release is accepted:
// TorchScript's file format changes with minor releases.
// A .pt2 (`compiled`) holds a shared library built against one LibTorch:
// any other major.minor is refused, older as well as newer.
void check_torch_version(const std::string& written_by, bool compiled = false);

// Refuses a .pt2 whose manifest names CPU features this machine lacks (or
// another architecture), before its shared library is opened: its kernels
// would die with SIGILL. Error(UnsupportedCpu) "needs avx512f, avx512bw;
// this CPU has avx2 ...".
void require_cpu(const Manifest& manifest);

// Refuses a .pt2 compiled for another device kind than `device` (a CUDA
// package on the CPU, or the reverse), before its shared library is opened:
// AOTInductor would fail deep inside, or a CPU-only LibTorch not at all
// clearly. Error(DeviceUnavailable).
void require_device(const Manifest& manifest, c10::Device device);

}  // namespace tsbridge::detail
