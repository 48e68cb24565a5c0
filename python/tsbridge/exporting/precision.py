"""precision="bf16"/"fp16": the model's products in a reduced precision
(exporting.lowering says which), its inputs and outputs in the dtypes eager
PyTorch gave them, every check against fp32 eager within a looser stated
tolerance."""

from __future__ import annotations

import torch

from .. import cpu_target
from ..cpu_target import CpuTarget
from ..report import CheckResult

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
PRECISIONS = tuple(DTYPES)
REDUCED = ("bf16", "fp16")  # what tune=True with a tolerance may try
# rtol and atol when export is given none: what each format's rounding allows
# (fp32: Inductor's and freezing's reordering; bf16 keeps 8 significant bits,
# fp16 11, and the error grows over a network's layers).
DEFAULT_TOLERANCES = {"fp32": (1e-5, 1e-5), "bf16": (1e-2, 1e-2), "fp16": (2e-3, 2e-3)}
# The instructions that run each precision natively (/proc/cpuinfo names);
# without them LibTorch and Inductor convert in software, usually slower
# than fp32.
NATIVE_FEATURES = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}


def tolerances(precision: str, rtol: float | None, atol: float | None) -> tuple[float, float]:
    default_rtol, default_atol = DEFAULT_TOLERANCES[precision]
    return (default_rtol if rtol is None else rtol, default_atol if atol is None else atol)


def record(options, checks: list[CheckResult], aoti_cpu: dict | None = None) -> dict | None:
    """The manifest's `precision` record (None for fp32): the compute
    precision, the tolerance every check used, the largest error per output
    on each check set of the file as written, and the native features its
    code needs (a .pt2's `aoti_cpu` record; LibTorch picks its kernels at run
    time)."""
    precision, rtol, atol = options.precision, options.rtol, options.atol
    if precision == "fp32":
        return None
    native = NATIVE_FEATURES[precision]
    needed = [f for f in (aoti_cpu or {}).get("features", []) if f in native]
    return {
        "compute": precision,
        "rtol": rtol,
        "atol": atol,
        "checks": [
            {
                "name": check.name,
                "outputs": [
                    {"output": name, "max_abs_error": _finite(abs_error), "max_rel_error": _finite(rel_error)}
                    for name, abs_error, rel_error in check.outputs
                ],
            }
            for check in checks
        ],
        "cpu_features": needed,
    }


def note(precision: str, format: str, cpu: CpuTarget | None) -> str:
    """What the precision does on this machine, for the report; `cpu` the
    target a .pt2's kernels are compiled for."""
    wanted = NATIVE_FEATURES[precision]
    native = [f for f in wanted if f in cpu_target.host_features()]
    if not native:
        return (
            f"precision {precision}: this CPU has none of {', '.join(wanted)}, so the arithmetic is "
            "converted in software: expect it slower than fp32 here; it is checked all the same"
        )
    text = f"precision {precision}: this CPU runs it natively ({', '.join(native)})"
    if format != "torchscript" and cpu is not None and not set(native) & set(cpu.features):
        text += (
            f"; a .pt2 for target {cpu.name!r} compiles its own kernels without them (they convert in "
            "software): target='native' compiles them for this CPU"
        )
    return text


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None
