"""tsbridge.export: the one call that turns a model into a deployable archive
and proves it matches eager PyTorch.

The steps, one module each: `arguments` (checked before any work),
`references` (what eager PyTorch gives, and the check against it),
`torchscript` and `pt2` (the two formats), `search` (one of them, or the
best of both for format="auto" and tune=True); `options` and `job` carry
what they share."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import torch

from .. import cpu_target, tuner
from ..report import ExportReport
from . import precision as precision_
from .arguments import as_args, as_module, check_arguments, writable_path
from .job import Job
from .options import ExportOptions
from .references import eager_run, in_eval_mode
from .search import export_as

__all__ = ["ExportOptions", "export", "writable_path"]


def export(
    model: torch.nn.Module | Callable,
    example_inputs: Any,
    f: str | os.PathLike,
    *,
    capture: str = "auto",
    format: str = "torchscript",
    check_inputs: list | None = None,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    dynamic_dims: dict[str, dict[int, str]] | None = None,
    freeze: bool = True,
    target: str | None = None,
    metadata: dict | None = None,
    _extra_files: dict[str, str | bytes] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    precision: str = "fp32",
    layout: str = "auto",
    _program: torch.export.ExportedProgram | None = None,  # made elsewhere (migrate): compiled as is
    tune: bool = False,
    tune_budget_seconds: float | None = None,
    tolerance: float | None = None,
    kernel_profile: bool = False,
) -> ExportReport:
    """Capture `model`, check it against eager PyTorch, and write one file
    with a manifest and a golden sample (docs/export.md).

    `format`: "torchscript" (default: scripted or traced per `capture`,
    frozen), "aoti" (a .pt2 via torch.export and AOTInductor, for the
    examples' device and shapes except along `dynamic_dims`) or "auto" (both
    built; the .pt2 kept only when the C++ runtime times it faster beyond the
    noise). `tune=True` also searches runtime settings and .pt2 compile
    variants within `tune_budget_seconds` (default 60; docs/tuning.md), and
    with a `tolerance`, bf16/fp16 candidates checked within it. `target`: the
    CPU a .pt2 is compiled for ("x86-64-v3", -v2, -v4 or "native").

    `example_inputs`: forward's argument tuple (else one argument). Checks
    run on them, every `check_inputs` set, new random and negated values and
    other sizes along each dynamic dim (`{"x": {0: "batch"}}`; dim 0 inferred);
    ExportError names the input and the error. `precision` "bf16"/"fp16":
    weights and math in it, checked within rtol/atol of fp32 eager. `layout`:
    an archive's Conv2d weights ("auto": channels-last where it holds).
    `kernel_profile=True`: a .pt2 whose kernels show in `tsrun --profile`.
    """
    started, module_in, examples = time.perf_counter(), as_module(model), as_args(example_inputs, "example_inputs")
    choices = (capture, format, target, metadata, input_names, tune, precision, tolerance, layout, kernel_profile)
    check_arguments(module_in, examples, *choices, program=_program)
    rtol, atol = precision_.tolerances(precision, rtol, atol)
    options = ExportOptions(
        capture=capture,
        freeze=freeze,
        output_names=output_names,
        metadata=metadata,
        extra_files=_extra_files,
        rtol=rtol,
        atol=atol,
        precision=precision,
        layout=layout,
        cpu=cpu_target.resolve(target) if format != "torchscript" else None,
        kernel_profile=kernel_profile,
    )
    check_sets = [as_args(c, f"check_inputs[{i}]") for i, c in enumerate(check_inputs or [])]
    budget = tuner.check_budget(tune, tune_budget_seconds)
    path = writable_path(f)
    notes: list[str] = [precision_.note(precision, format, options.cpu)] if precision != "fp32" else []
    with in_eval_mode(module_in, notes):
        names, dims, references = eager_run(module_in, examples, check_sets, input_names, dynamic_dims, notes)
        job = Job(module_in, examples, names, dims, references, options, notes, program=_program)
        report = export_as(job, path, format, tune, budget, tolerance)
    report.export_seconds = time.perf_counter() - started
    report.file_bytes = os.path.getsize(path)
    return report
