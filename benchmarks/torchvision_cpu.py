"""Importing torchvision's model definitions beside the CPU build of torch.

The torchvision on the package index for torch 2.13 (0.28.0) is built
against CUDA's torch: beside the CPU torch its C++ extension (`_C.so`, the
detection ops nms, roi_align, ...) cannot load. torchvision tolerates that
(`extension._has_ops()` turns False and it skips those ops' registrations)
except for two: `_meta_registrations` registers fake kernels for
`torchvision::nms` and `torchvision::qnms` unconditionally, which raises
"operator torchvision::nms does not exist", so `import torchvision` fails.

The model definitions are plain Python and no classifier calls a detection
op. So, only when `_C.so` cannot load, this defines the schemas of those two
operators (as torchvision's C++ declares them) with torch.library before
importing torchvision: its fake-kernel registrations then succeed, and
calling nms would raise "no kernel" instead of running anything. Nothing
is patched inside torchvision, and with a torchvision whose extension loads
(built for the CPU torch) this does nothing.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import os

import torch

# torchvision's own schemas (csrc/ops/nms.cpp, csrc/ops/quantized/cpu/qnms_kernel.cpp).
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library = None  # kept alive: dropping a torch.library.Library removes its definitions


def import_torchvision():
    global _library
    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        raise ImportError("torchvision is not installed: see the docstring of benchmarks/coverage.py")
    if _library is None and not _extension_loads(spec.submodule_search_locations[0]):
        _library = torch.library.Library("torchvision", "DEF")
        for schema in _SCHEMAS:
            _library.define(schema)
    return importlib.import_module("torchvision")


def _extension_loads(folder: str) -> bool:
    for path in glob.glob(os.path.join(folder, "_C*.so")):
        try:
            torch.ops.load_library(path)
            return True
        except (OSError, RuntimeError):
            return False
    return False
