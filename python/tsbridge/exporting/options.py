"""ExportOptions: how tsbridge.export was asked to capture, check and write
a model, fixed once the arguments are checked."""

from __future__ import annotations

from dataclasses import dataclass

from ..cpu_target import CpuTarget


@dataclass(frozen=True)
class ExportOptions:
    capture: str = "auto"  # TorchScript: "auto", "script" or "trace"
    freeze: bool = True
    output_names: list[str] | None = None
    metadata: dict | None = None
    extra_files: dict[str, str | bytes] | None = None
    rtol: float = 1e-5
    atol: float = 1e-5
    precision: str = "fp32"  # "bf16" or "fp16": the products (exporting.lowering)
    layout: str = "auto"  # TorchScript: the conv weights' layout (exporting.layout)
    cpu: CpuTarget | None = None  # .pt2 only: the CPU its code is compiled for
    kernel_profile: bool = False  # .pt2 only: each kernel marked for LibTorch's profiler
