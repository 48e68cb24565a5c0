"""The AOTInductor path of tsbridge.export: torch.export.export, then
torch._inductor.aoti_compile_and_package to a .pt2 package that the C++
runtime loads with AOTIModelPackageLoader."""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch.fx.experimental.symbolic_shapes import optimization_hint

from . import cpu_target
from .checks import map_tensors, resized
from .cpu_target import CpuTarget
from .errors import ExportError

# Inductor settings for the CPU packages tsbridge makes (export's freeze=True).
# Freezing folds the weights into the compiled graph as constants (BatchNorm
# into conv, weight layouts prepacked for oneDNN): on a ResNet-18 it is what
# makes a .pt2 beat frozen TorchScript (docs/aoti.md has the measurements).
# AOTInductor's own input checks (off unless AOTI_RUNTIME_CHECK_INPUTS=1; the
# C++ runtime checks inputs itself) would refuse size 1 on a dynamic dim,
# since torch.export bounds backed sizes at 2 internally: check_lowerbound off
# keeps a debugging user from being refused a batch the package runs.
# cpp.dynamic_threads: parallel loops read the runtime's intra-op thread
# count instead of being specialised to the exporting machine's (Inductor's
# default), so a package uses what the deploying process sets.
# Weights in one blob beside the shared object, not in its data section: the
# loaded library's copy of them no longer counts in the process's memory
# (peak RSS 202 against 239 MiB on a ResNet-18, same load time; docs/aoti.md).
# A model with no weights keeps AOTInductor's default: an empty blob cannot
# be mapped ("mmap() failed" at load).
INDUCTOR_CONFIGS: dict[str, Any] = {
    "freezing": True,
    "aot_inductor.check_lowerbound": False,
    "cpp.dynamic_threads": True,
    "aot_inductor.package_constants_in_so": False,
    "aot_inductor.package_constants_on_disk_format": "binary_blob",
}
WEIGHTS_IN_SO = {"aot_inductor.package_constants_in_so": True, "aot_inductor.package_constants_on_disk_format": None}
# export(kernel_profile=True): each kernel and ATen call recorded for LibTorch's
# profiler. Off in shipped packages: the marks cost every call (the seed
# model 3.8 -> 9.2 us, docs/export.md).
KERNEL_PROFILE = {"cpp.enable_kernel_profile": True}
KERNEL_PROFILE_BUILD = "kernel-profile"  # the manifest's aoti.build for that build (tsrun reads it too)


@dataclass
class Compiled:
    """A package compiled into a temporary folder (`path`), not yet written."""

    path: str
    folder: tempfile.TemporaryDirectory
    compile_seconds: float
    inductor_configs: dict[str, Any]
    runner: Any  # torch._inductor.aoti_load_package's callable, for the checks
    cpu: dict  # the manifest's `cpu` record: target, features, vec ISA


def require_tensor_inputs(examples: tuple, names: list[str]) -> None:
    for name, value in zip(names, examples, strict=True):  # export gives one name per example
        if not isinstance(value, torch.Tensor):
            raise ExportError(
                f"format='aoti': input {name!r} is {with_article(type(value).__name__)}; .pt2 packages take "
                "tensor inputs only (use format='torchscript' for other inputs)"
            )


def device_of(examples: tuple) -> str:
    """The device kind the example tensors are on ("cpu", "cuda"): a .pt2 is
    compiled for the device its exported program runs on, and the manifest
    records it so that the runtime refuses the package elsewhere."""
    kinds = {t.device.type for t in examples if isinstance(t, torch.Tensor)}
    if len(kinds) > 1:
        raise ExportError(f"the example inputs are on {' and '.join(sorted(kinds))}: put them on one device")
    return kinds.pop() if kinds else "cpu"


def with_article(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def export_program(
    module: torch.nn.Module,
    examples: tuple,
    names: list[str],
    dims: dict[str, dict[int, str]],
    notes: list[str] | None = None,
) -> torch.export.ExportedProgram:
    """torch.export.export with the dynamic dims as torch.export.Dim objects,
    one per dim name (inputs that share a name share the Dim). Where
    torch.export finds that a dim only works within bounds (a position table
    of 64 rows) and suggests them, they are applied and said in `notes`."""
    symbols = {
        dim_name: torch.export.Dim(_identifier(dim_name), min=1)
        for mapping in dims.values()
        for dim_name in mapping.values()
    }
    # torch.export specialises a dim whose example size is 0 or 1 (and then
    # refuses to call it dynamic): trace with such dims at size 2 instead.
    # Only the traced graph depends on these inputs; the checks use the originals.
    # Detached aliases: torch.export leaves dynamo's marks on the tensors it traces,
    # even when it fails, and the user's tensors are theirs.
    traced = map_tensors(examples, torch.Tensor.detach)
    generator = torch.Generator().manual_seed(4096)
    for name, mapping in dims.items():
        tensor = examples[names.index(name)]
        for d, dim_name in mapping.items():
            if tensor.shape[d] < 2:
                traced = resized(traced, names, dims, dim_name, 2, generator)
    # Each round applies every bound torch.export suggested; a bound can
    # reveal another guard, so a few rounds, but never an endless loop.
    for _ in range(_BOUND_ROUNDS):
        shapes = _dynamic_shapes(symbols, names, dims)
        try:
            # A failing torch.export prints its partial graph to stderr; the ExportError says why.
            with _quiet(), contextlib.redirect_stderr(io.StringIO()):
                return torch.export.export(module, traced, dynamic_shapes=shapes, strict=False)
        except Exception as error:
            bounded = _suggested_bounds(error, symbols, shapes, names, dims)
            if not bounded:
                raise ExportError(_export_failure(error, dims)) from None
            last = _first_line(error)
        for dim_name, dim in bounded.items():
            symbols[dim_name] = dim
            if notes is not None:
                notes.append(
                    f"torch.export bounded dim {dim_name!r} to {_span(dim)} (the traced model only works at "
                    "those sizes, e.g. a position table with that many rows): applied its suggested fix; "
                    "sizes outside are refused at run time"
                )
    raise ExportError(f"torch.export kept suggesting new bounds for {', '.join(symbols)}: {last}")


_BOUND_ROUNDS = 4


def _dynamic_shapes(symbols: dict, names: list[str], dims: dict[str, dict[int, str]]) -> tuple | None:
    if not dims:
        return None
    return tuple({d: symbols[n] for d, n in dims[name].items()} if name in dims else None for name in names)


def _suggested_bounds(error: Exception, symbols: dict, shapes, names, dims) -> dict[str, Any]:
    """The Dims torch.export's ConstraintViolation suggests, read with its own
    refine_dynamic_shapes_from_suggested_fixes, if they only narrow bounds;
    {} when any suggestion makes a dim a constant, derived from or equal to
    another dim (those stay refusals), or there is no suggestion to read."""
    from torch._dynamo.exc import UserError, UserErrorType
    from torch.export.dynamic_shapes import refine_dynamic_shapes_from_suggested_fixes

    if not (isinstance(error, UserError) and error.error_type == UserErrorType.CONSTRAINT_VIOLATION):
        return {}
    try:  # error.msg, not str(error): torch appends advice the parser cannot read
        refined = refine_dynamic_shapes_from_suggested_fixes(error.msg, shapes)
    except Exception:
        return {}
    bounded: dict[str, Any] = {}
    for index, name in enumerate(names):
        for d, dim_name in dims.get(name, {}).items():
            old, new = symbols[dim_name], refined[index][d]
            if type(new) is not type(old) or new.__name__ != old.__name__:
                return {}  # a constant (int), a derived dim, or another input's Dim
            low = max(old.min, new.min)  # a suggestion without min means 0: keep tsbridge's 1
            high = min(old.max, new.max)
            if (low, high) != (old.min, old.max):
                bounded[dim_name] = torch.export.Dim(old.__name__, min=low, max=high if isinstance(high, int) else None)
    return bounded


def _span(dim) -> str:
    return f"{dim.min}..{dim.max}" if isinstance(dim.max, int) else f">= {dim.min}"


def dim_ranges(
    program: torch.export.ExportedProgram, names: list[str], dims: dict[str, dict[int, str]]
) -> dict[str, dict[str, int | None]]:
    """The sizes each named dynamic dim was compiled for ({"batch": {"min": 1,
    "max": None}}), read from the program's range constraints: the C++ runtime
    refuses sizes outside them, which the kernels would read past."""
    placeholders = {node.name: node for node in program.graph.nodes if node.op == "placeholder"}
    user_inputs = [placeholders[name] for name in program.graph_signature.user_inputs]
    ranges: dict[str, dict[str, int | None]] = {}
    for name, mapping in dims.items():
        shape = user_inputs[names.index(name)].meta["val"].shape
        for d, dim_name in mapping.items():
            size = shape[d]
            bound = program.range_constraints.get(size.node.expr) if isinstance(size, torch.SymInt) else None
            if bound is None:
                continue
            # Unbounded is torch's int_oo, which is neither a sympy Integer nor "infinite".
            upper = int(bound.upper) if bound.upper.is_Integer else None
            ranges.setdefault(dim_name, {"min": int(bound.lower), "max": upper})
    return ranges


def compile_package(
    program: torch.export.ExportedProgram,
    freeze: bool = True,
    cpu: CpuTarget | None = None,
    *,
    prepack: bool | None = None,
    extra_configs: dict[str, Any] | None = None,
) -> Compiled:
    """Compiles for the CPU target (cpu_target.resolve(None), the portable
    default, when not given): -march and the vec ISA both held to it.
    `prepack` overrides the weight-prepacking rule (_grad_mode_for: packed for
    models with convolutions); `extra_configs` (the tuner's variants, e.g.
    max_autotune) are added to tsbridge's Inductor settings."""
    cpu = cpu or cpu_target.resolve(None)
    folder = tempfile.TemporaryDirectory(prefix="tsbridge-aoti-")
    path = os.path.join(folder.name, "model.pt2")
    configs = {**INDUCTOR_CONFIGS, "freezing": freeze}
    if not _has_weights(program):
        configs.update(WEIGHTS_IN_SO)
    configs.update(extra_configs or {})
    if cpu.march is not None:
        configs["cpp.march"] = cpu.march
    started = time.perf_counter()
    try:
        with _quiet(), _grad_mode_for(program, prepack), cpu_target.vec_isa_for(cpu):
            isa = torch._inductor.cpu_vec_isa.pick_vec_isa()
            vec_isa = str(isa) if isa else "none"  # invalid_vec_isa: scalar kernels
            torch._inductor.aoti_compile_and_package(program, package_path=path, inductor_configs=dict(configs))
            runner = torch._inductor.aoti_load_package(path)
    except Exception as error:
        folder.cleanup()
        raise ExportError(f"AOTInductor could not compile the exported program: {_first_line(error)}") from None
    except BaseException:  # an interrupt mid-compile: leave no folder behind either
        folder.cleanup()
        raise
    return Compiled(path, folder, time.perf_counter() - started, configs, runner, cpu.record(vec_isa))


def _has_weights(program: torch.export.ExportedProgram) -> bool:
    tensors = [*program.state_dict.values(), *program.constants.values()]
    return any(isinstance(t, torch.Tensor) and t.numel() > 0 for t in tensors)


# A Linear this large at the example's sizes runs faster packed for oneDNN
# than through MKL: on the AMD EPYC (Zen 5) the MLP's .pt2 at 8 rows took 88
# against 141 us, at 32 rows 171 against 324 us, while at 1 row packing cost
# 76 against 52 us, and a tiny product pays more in oneDNN's set-up than it
# saves (docs/aoti.md).
PACKED_LINEAR_ROWS = 8
PACKED_LINEAR_MACS = 1 << 20


def prepacks(program: torch.export.ExportedProgram) -> bool:
    """Whether compile_package packs the weights by default (_grad_mode_for):
    for models with convolutions or a large Linear (above), and for programs
    with products in bf16 or fp16 (exporting.lowering), whose weights' casts
    are folded only then: unpacked, the suite's bf16 transformer cast every
    weight at every call."""
    calls = [node for node in program.graph.nodes if node.op == "call_function"]
    return any("conv" in str(node.target) or _large_linear(node) or _reduced_cast(node) for node in calls)


def _large_linear(node) -> bool:
    """A Linear with PACKED_LINEAR_ROWS rows and PACKED_LINEAR_MACS
    multiply-adds or more, at the sizes torch.export traced (its hints)."""
    if node.target is not torch.ops.aten.linear.default:
        return False
    x, weight = (getattr(arg, "meta", {}).get("val") for arg in node.args[:2])
    if not isinstance(x, torch.Tensor) or not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        return False
    rows = math.prod(optimization_hint(size, fallback=1) for size in x.shape[:-1])
    return rows >= PACKED_LINEAR_ROWS and rows * weight.numel() >= PACKED_LINEAR_MACS


def _reduced_cast(node) -> bool:
    return node.target is torch.ops.aten.to.dtype and node.args[1] in (torch.bfloat16, torch.float16)


def _grad_mode_for(program: torch.export.ExportedProgram, prepack: bool | None = None):
    """Inductor's freezing prepacks weights for oneDNN only when compiling under
    no_grad. Measured here (2 threads, batch 1): a packed ResNet-18 ran in 27 ms,
    against 44 ms unpacked. But a .pt2 cannot keep MKL's packed GEMM, so packed
    Linear layers go through oneDNN instead: the seed model took 20 µs against
    2.8 µs, and the MLP at batch 1 131 µs against 77 µs. So weights are packed
    only as `prepacks` says, unless `prepack` says otherwise (the tuner tries
    the other way)."""
    packed = prepacks(program) if prepack is None else prepack
    return torch.no_grad() if packed else contextlib.nullcontext()


def _identifier(name: str) -> str:
    """Dim names must be Python identifiers; the manifest keeps the user's name."""
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"d_{cleaned}"


def _export_failure(error: Exception, dims: dict) -> str:
    text = str(error)
    first = _first_line(error)
    if "data-dependent" in text or "data dependent" in text or "GuardOnDataDependentSymNode" in type(error).__name__:
        return (
            "torch.export cannot capture data-dependent control flow (a Python branch on tensor values, "
            f"e.g. `if x.sum() > 0`): {first}. Rewrite the branch with torch.cond, or export with "
            "format='torchscript' (or format='auto', which falls back to it)"
        )
    if "Constraints violated" in text or "specialized" in text or "ConstraintViolation" in type(error).__name__:
        declared = ", ".join(f"{name}{dict(d)}" for name, d in dims.items())
        fixes = _suggested_fixes(getattr(error, "msg", text))
        suggests = f" (torch.export suggests: {fixes})" if fixes else ""
        violated = first.split(" For more information")[0]  # the rest points at TORCH_LOGS
        return (
            f"torch.export found that a declared dynamic dim ({declared}) cannot vary: {violated}{suggests}. "
            "Declare only dims the model accepts at any size (leave out a dim that must be a constant; "
            "give dims that must be equal one name)"
        )
    return f"torch.export.export failed: {first}"


def _suggested_fixes(message: str) -> str:
    """The lines after "Suggested fixes:" in torch.export's message, up to the
    next blank line, on one line ("width = 16; yb = xb")."""
    _, found, tail = message.partition("Suggested fixes:")
    fixes: list[str] = []
    for line in tail.splitlines() if found else []:
        if line.strip():
            fixes.append(line.strip())
        elif fixes:
            break
    return "; ".join(fixes)


def _first_line(error: Any) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:400]


@contextlib.contextmanager
def _quiet():
    """torch.export and Inductor log and warn freely (FutureWarnings from
    pytree, recompilation notes); the ExportReport is where tsbridge speaks."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
