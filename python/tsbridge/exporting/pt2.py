"""format="aoti": torch.export and AOTInductor (tsbridge.aoti) compile the
model to a .pt2 package for the examples' device and shapes; the package is
checked against eager on the sizes it was compiled for, then written with its
manifest and golden sample."""

from __future__ import annotations

import base64
import inspect
import types

import torch

from .. import aoti, archive, manifest as manifest_, tuner
from ..errors import ExportError
from ..report import ExportReport
from ..specs import flatten_output
from .job import PACKAGE_GOLDEN_ENTRY, Job, plain
from .lowering import lowered_note, lowered_program_module, unfused
from .precision import DTYPES, record
from .references import check, output_dims


def export_aoti(job: Job, path: str, build: tuner.AotiBuild | None = None) -> ExportReport:
    options = job.options
    build = build or _default_build(options, job.notes)
    aoti.require_tensor_inputs(job.examples, job.names)
    device = aoti.device_of(job.examples)
    _require_tensor_outputs(job.references[0][1])
    module, output_names = _plain_outputs(job.module, job.names, job.references[0][1], options.output_names)
    program = job.program = job.program or _exported(module, job)
    ranges = aoti.dim_ranges(program, job.names, job.dims)
    dims = _compiled_dims(job.dims, ranges, job.notes)
    references = _within(job.references, ranges, job.notes)
    freeze = options.freeze if build.freeze is None else build.freeze
    compiled = aoti.compile_package(
        program, freeze=freeze, cpu=options.cpu, prepack=build.prepack, extra_configs=build.extra_configs
    )
    try:
        checks = check(compiled.runner, references, options.rtol, options.atol, "aoti")
        _require_match(checks, references, options.rtol, options.atol)
        precision = record(options, checks, compiled.cpu)
        manifest = archive.build_package_manifest(
            examples=job.examples,
            names=job.names,
            outputs=job.references[0][1],
            output_names=output_names,
            metadata=options.metadata,
            input_dims=dims,
            output_dims=output_dims(references, dims),
            golden=job.golden_record(entry=PACKAGE_GOLDEN_ENTRY, encoding="base64"),
            dim_ranges=ranges,
            aoti=_aoti_record(compiled, build, program, device),
            cpu=compiled.cpu,
            precision=precision,
        )
        golden = base64.b64encode(job.golden())
        archive.write_package(compiled.path, path, manifest, options.extra_files, {PACKAGE_GOLDEN_ENTRY: golden})
    finally:
        del compiled.runner  # the loaded package, before its folder goes
        compiled.folder.cleanup()
    frozen = bool(compiled.inductor_configs.get("freezing"))
    return ExportReport(
        path=path,
        capture="export",
        capture_reason="torch.export.export (non-strict) + torch._inductor.aoti_compile_and_package",
        frozen=frozen,
        frozen_reason="Inductor freezing" if frozen else "Inductor without freezing",
        dynamic_dims=dims,
        checks=checks,
        warnings=job.notes,
        format="aoti",
        compile_seconds=compiled.compile_seconds,
        cpu=compiled.cpu,
        precision=precision,
    )


def _default_build(options, notes: list[str]) -> tuner.AotiBuild:
    """The build export makes when no tuner asks for a variant: the default,
    or with kernel_profile the profiling build."""
    if not options.kernel_profile:
        return tuner.AotiBuild()
    notes.append(
        "kernel_profile: a profiling build: tsrun --profile shows each kernel, and each call pays for the "
        "marks (export without kernel_profile for the package to ship)"
    )
    return tuner.AotiBuild(aoti.KERNEL_PROFILE_BUILD, extra_configs=dict(aoti.KERNEL_PROFILE))


def _exported(module: torch.nn.Module, job: Job) -> torch.export.ExportedProgram:
    """torch.export's program of `module`, its products in a reduced
    precision where asked (attention traced without PyTorch's fused kernels)."""
    dtype = DTYPES[job.options.precision]
    if dtype is None:
        return aoti.export_program(module, job.examples, job.names, job.dims, job.notes)
    with unfused():
        program = aoti.export_program(module, job.examples, job.names, job.dims, job.notes)
    lowered, count = lowered_program_module(program, dtype)
    job.notes.append(lowered_note(count, dtype))
    return aoti.export_program(lowered, job.examples, job.names, job.dims, [])


def _require_tensor_outputs(output) -> None:
    for name, _, leaf in flatten_output(output):
        if not isinstance(leaf, torch.Tensor):
            raise ExportError(
                f"format='aoti': {name} is {aoti.with_article(type(leaf).__name__)}; .pt2 packages return tensors "
                "only (use format='torchscript')"
            )


def _require_match(checks: list, references: list, rtol: float, atol: float) -> None:
    failed = [c for c in checks if not c.passed]
    if not failed:
        return
    first = failed[0]
    also = f"; also on {', '.join(c.name for c in failed[1:])}" if len(failed) > 1 else ""
    # The largest error says whether this is rounding (Inductor fuses and reorders float
    # arithmetic; freezing folds BatchNorm) or a wrong result, and what tolerance would do.
    raise ExportError(
        f"the compiled .pt2 package does not match eager PyTorch on {first.name}: "
        f"{first.problem}, max abs error {first.max_abs_error:.3g} on outputs up to "
        f"{_largest(references, first.name):.3g} in magnitude (rtol {rtol:g}, "
        f"atol {atol:g}){also}. If that is float rounding, export with looser rtol/atol "
        "(or freeze=False); else use format='torchscript'"
    )


def _aoti_record(compiled: aoti.Compiled, build: tuner.AotiBuild, program, device: str) -> dict:
    """The manifest's `aoti` record: how the package was compiled."""
    return manifest_.aoti_record(
        compile_seconds=round(compiled.compile_seconds, 3),
        inductor_configs=compiled.inductor_configs,
        parallel_loops="runtime" if compiled.inductor_configs.get("cpp.dynamic_threads") else "fixed",
        build=build.name,
        prepacked=aoti.prepacks(program) if build.prepack is None else build.prepack,
        device=device,
    )


def _note(notes: list[str], text: str) -> None:
    """Once: a search builds several packages from one job."""
    if text not in notes:
        notes.append(text)


def _largest(references: list, name: str) -> float:
    """The largest |value| eager PyTorch gave on the variant called `name`: the
    scale an absolute error is to be judged against."""
    expected = next(result for variant, result in references if variant.name == name)
    leaves = [leaf for _, _, leaf in flatten_output(expected) if isinstance(leaf, torch.Tensor) and leaf.numel()]
    return max((float(leaf.detach().abs().max()) for leaf in leaves if leaf.is_floating_point()), default=0.0)


def _compiled_dims(dims: dict, ranges: dict, notes: list[str]) -> dict[str, dict[int, str]]:
    """The declared dims the program keeps dynamic. torch.export refuses to
    specialise a declared dim, but a program made elsewhere (migrate's
    converter) may have: the manifest must then show the fixed size, or the
    runtime would pass other sizes to kernels compiled for one."""
    fixed = sorted({n for mapping in dims.values() for n in mapping.values()} - set(ranges))
    for dim_name in fixed:
        _note(
            notes,
            f"dim {dim_name!r} is compiled to the example's size (the program given has it fixed): the "
            "package takes that size only; export from Python with format='aoti' to keep it dynamic",
        )
    kept = {name: {d: n for d, n in mapping.items() if n in ranges} for name, mapping in dims.items()}
    return {name: mapping for name, mapping in kept.items() if mapping}


def _within(references: list, ranges: dict, notes: list[str]) -> list:
    """The references the package can be run on: its kernels trust shapes, so
    a size variant of a dim compiled fixed, or past a dim's upper bound (a
    table of that many rows), would read past a buffer. Lower bounds are
    torch.export's own assumption of 2 for backed sizes, below which packages
    still run."""
    kept = []
    for variant, expected in references:
        dim_name, size = variant.resize or (None, None)
        if dim_name is not None and dim_name not in ranges:
            _note(notes, f"check on {variant.name} skipped: the package is compiled for one size of {dim_name}")
            continue
        upper = ranges.get(dim_name, {}).get("max")
        if upper is not None and size > upper:
            _note(notes, f"check on {variant.name} skipped: the package is compiled for {dim_name} <= {upper}")
            continue
        kept.append((variant, expected))
    return kept


# ── torch.return_types ──


def _plain_outputs(module, names, output, output_names):
    """The .pt2 packager has no serialization name for torch.return_types
    (topk, max, ...): such results are returned as plain tuples, a top-level
    one's leaves named after its fields ("values", "indices") unless
    output_names says otherwise."""
    if not _has_structseq(output):
        return module, output_names
    if output_names is None and _is_structseq(output) and all(isinstance(v, torch.Tensor) for v in output):
        fields = [n for n in dir(type(output)) if isinstance(getattr(type(output), n), types.MemberDescriptorType)]
        by_position = {i: f for f in fields for i, v in enumerate(output) if getattr(output, f) is v}
        output_names = [by_position.get(i, f"output[{i}]") for i in range(len(output))]
    return _PlainOutputs(module, names), output_names


def _is_structseq(value) -> bool:
    return isinstance(value, tuple) and type(value).__module__ == "torch.return_types"


def _has_structseq(value) -> bool:
    if _is_structseq(value):
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else ()
    return any(_has_structseq(item) for item in items)


class _PlainOutputs(torch.nn.Module):
    """Runs the model and returns its result with return types as tuples.
    forward carries the model's parameter names (torch.export reads them)."""

    def __init__(self, inner: torch.nn.Module, names: list[str]):
        super().__init__()
        self.inner = inner

        def forward(*args):
            return plain(self.inner(*args))

        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        forward.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in names])
        self.forward = forward
