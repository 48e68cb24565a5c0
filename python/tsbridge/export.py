"""tsbridge.export: the one call that turns a model into a deployable archive
and proves it matches eager PyTorch."""

from __future__ import annotations

import base64
import contextlib
import inspect
import io
import json
import os
import re
import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from . import _core, aoti, archive, cpu_target, tuner
from ._quiet import quiet_torch_jit
from .capture import script, trace
from .checks import Variant, map_tensors, other_sizes, problem, resized, value_variants
from .errors import ExportError, InvalidArgumentError, TorchScriptUnavailableError
from .report import CheckResult, ExportReport
from .specs import flatten_output

CAPTURES = ("auto", "script", "trace")
FORMATS = ("torchscript", "aoti", "auto")
GOLDEN_ENTRY = "tsbridge/golden.pt"
# .pt2 packages hold text extra files (PyTorch's loader decodes them as UTF-8).
PACKAGE_GOLDEN_ENTRY = "tsbridge/golden.pt.b64"


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
    rtol: float = 1e-5,
    atol: float = 1e-5,
    _program: torch.export.ExportedProgram | None = None,
    tune: bool = False,
    tune_budget_seconds: float | None = None,
) -> ExportReport:
    """Capture `model`, check it against eager PyTorch, and write one file
    with a manifest and a golden sample.

    `format="torchscript"` (the default) scripts or traces (`capture`) and
    freezes; `format="aoti"` runs torch.export.export and AOTInductor (with
    Inductor's freezing unless freeze=False) and writes a .pt2 package for the
    examples' device and shapes (except along `dynamic_dims`; docs/gpu.md);
    `format="auto"` builds both, times both in the C++ runtime and keeps the
    .pt2 only when faster beyond the noise (TorchScript alone when torch.export
    cannot capture it). `tune=True` also searches, within `tune_budget_seconds`
    (default 180), runtime settings and .pt2 compile variants (docs/tuning.md).

    `target` is the CPU a .pt2's code (on a GPU, its host side) is compiled
    for: "x86-64-v3" (default: AVX2, FMA), "x86-64-v2", "x86-64-v4" (AVX-512)
    or "native"; the runtime refuses it on a CPU lacking a feature it needs.

    `example_inputs` is the argument tuple of forward (anything else is one
    argument). Checks run on the examples, every `check_inputs` set, new random
    and negated values and other sizes along each dynamic dim (`dynamic_dims=
    {"x": {0: "batch"}}`; inferred for dim 0 when not given). Raises
    ExportError naming the input and the error when the export diverges.

    `_program` (format="aoti"): an ExportedProgram of `model` made elsewhere
    (tsbridge.migrate), compiled instead of running torch.export.
    """
    started = time.perf_counter()
    module_in = _as_module(model)
    examples = _as_args(example_inputs, "example_inputs")
    _check_choices(capture, format, target, metadata, input_names, examples, tune)
    cpu = cpu_target.resolve(target) if format != "torchscript" else None
    check_sets = [_as_args(c, f"check_inputs[{i}]") for i, c in enumerate(check_inputs or [])]
    budget = tuner.check_budget(tune, tune_budget_seconds)
    path = _writable_path(f)

    notes: list[str] = []
    with _in_eval_mode(module_in, notes):
        names, dims, references = _eager_run(module_in, examples, check_sets, input_names, dynamic_dims, notes)
        job = _Job(
            module_in,
            examples,
            names,
            dims,
            references,
            capture,
            freeze,
            output_names,
            metadata,
            _extra_files,
            rtol,
            atol,
            notes,
            cpu,
            _program,
        )
        searched = tune or format == "auto"
        report = _export_searched(job, path, format, tune, budget) if searched else _EXPORTERS[format](job, path)
    report.export_seconds = time.perf_counter() - started
    report.file_bytes = os.path.getsize(path)
    return report


def _check_input_names(names: list[str] | None, examples: tuple) -> None:
    """One unique name per example input, or none: names that do not line up
    would be dropped or misapplied, not used."""
    if names is None:
        return
    if len(names) != len(examples):
        raise ValueError(f"input_names has {len(names)} names, but there are {len(examples)} example inputs")
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"input_names must be distinct non-empty strings, got {list(names)!r}")


def _check_choices(capture: str, format: str, target: str | None, metadata, input_names, examples, tune) -> None:
    """Refuses an unknown capture or format, a capture or target that the
    format does not use, metadata that is not JSON, input names that do not
    line up with the examples, and a timing search on examples off the CPU."""
    _check_metadata(metadata)
    _check_input_names(input_names, examples)
    if capture not in CAPTURES:
        raise ValueError(f"capture must be one of {', '.join(map(repr, CAPTURES))}, got {capture!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, got {format!r}")
    if format == "aoti" and capture != "auto":
        raise ValueError(
            f"capture={capture!r} chooses how TorchScript captures the model; format='aoti' always uses torch.export"
        )
    if target is not None and format == "torchscript":
        raise ValueError(
            f"target={target!r} chooses the CPU a .pt2 is compiled for; format='torchscript' "
            "archives run on any CPU LibTorch runs on"
        )
    elsewhere = [t.device for t in examples if isinstance(t, torch.Tensor) and not t.is_cpu]
    if elsewhere and (tune or format == "auto"):
        raise ValueError(
            "tune=True and format='auto' time candidates in the C++ runtime on the CPU, and the examples are "
            f"on {elsewhere[0]}: export with format='torchscript' or format='aoti'"
        )


def _check_metadata(metadata: dict | None) -> None:
    try:
        json.dumps(metadata or {})
    except (TypeError, ValueError) as error:
        raise TypeError(f"metadata must be JSON-serialisable: {error}") from None


def _eager_run(module, examples, check_sets, input_names, dynamic_dims, notes) -> tuple[list, dict, list]:
    """The input names, the dynamic dims (given or inferred) and the results
    eager PyTorch gives on every variant of the inputs, the references."""
    names = list(input_names) if input_names else _argument_names(module, len(examples))
    dims = _dynamic_dims(module, examples, names, dynamic_dims, notes)
    return names, dims, _references(module, examples, check_sets, names, dims, notes)


@contextlib.contextmanager
def _in_eval_mode(module: torch.nn.Module, notes: list[str]):
    """Runs the export in eval mode and gives every submodule its own mode back."""
    modes = {m: m.training for m in module.modules()}
    if module.training:
        notes.append(
            "the model was in training mode: exported in eval mode (dropout off, "
            "batch-norm running statistics); its mode is restored"
        )
    module.eval()
    try:
        yield
    finally:
        for submodule, mode in modes.items():
            submodule.training = mode


@dataclass
class _Job:
    """What every format's export needs: the model, its inputs and the
    reference results eager PyTorch gave."""

    module: torch.nn.Module
    examples: tuple
    names: list[str]
    dims: dict[str, dict[int, str]]
    references: list
    capture: str
    freeze: bool
    output_names: list[str] | None
    metadata: dict | None
    extra_files: dict | None
    rtol: float
    atol: float
    notes: list[str]
    cpu: cpu_target.CpuTarget | None = None  # .pt2 only
    program: torch.export.ExportedProgram | None = None  # .pt2: made elsewhere, or by the first build's torch.export

    def golden(self) -> bytes:
        buffer = io.BytesIO()
        sample = {"inputs": _plain(self.examples), "outputs": _plain(self.references[0][1])}
        # On the CPU: a sample taken on a GPU must load where there is none.
        torch.save(map_tensors(sample, torch.Tensor.cpu), buffer)
        return buffer.getvalue()

    def golden_record(self) -> dict:
        return {"entry": GOLDEN_ENTRY, "rtol": self.rtol, "atol": self.atol}


def _export_torchscript(job: _Job, path: str) -> ExportReport:
    module, used, reason = _capture(job.module, job.examples, job.capture, job.notes)
    checks = _check(module, job.references, job.rtol, job.atol, "export")
    failed = [c for c in checks if not c.passed]
    if failed and job.capture == "auto" and used == "script":
        # A scripted module can differ from eager where tracing does not
        # (torchvision's googlenet scripts to a named tuple of 3, eager
        # returns one tensor in eval): try the trace before giving up.
        mismatch = _divergence(used, failed, job.rtol, job.atol, job.notes)
        module, used, _ = _capture(job.module, job.examples, "trace", job.notes)
        checks = _check(module, job.references, job.rtol, job.atol, "export")
        failed = [c for c in checks if not c.passed]
        if failed:
            raise ExportError(
                f"{mismatch}; tracing does not match either: {_divergence(used, failed, job.rtol, job.atol, job.notes)}"
            )
        reason = f"{mismatch.split(' (rtol')[0]}: traced instead"
        job.notes.append(reason)
    if failed:
        raise ExportError(_divergence(used, failed, job.rtol, job.atol, job.notes))
    frozen = False
    frozen_reason = "freeze=False"
    if job.freeze:
        module, frozen, frozen_reason, frozen_checks = _freeze(module, job.references, job.rtol, job.atol)
        checks += frozen_checks
    names = job.names
    manifest = archive.build_manifest(
        module,
        capture=used,
        frozen=frozen,
        examples=job.examples,
        outputs=job.references[0][1],
        input_names=names if len(names) == len(module.forward.schema.arguments) - 1 else None,
        output_names=job.output_names,
        metadata=job.metadata,
        input_dims=job.dims,
        output_dims=_output_dims(job.references, job.dims),
        golden=job.golden_record(),
    )
    archive.write(module, path, manifest, job.extra_files, {GOLDEN_ENTRY: job.golden()})
    return ExportReport(
        path=path,
        capture=used,
        capture_reason=reason,
        frozen=frozen,
        frozen_reason=frozen_reason,
        dynamic_dims=job.dims,
        checks=checks,
        warnings=job.notes,
    )


def _export_aoti(job: _Job, path: str, build: tuner.AotiBuild | None = None) -> ExportReport:
    build = build or tuner.AotiBuild()
    aoti.require_tensor_inputs(job.examples, job.names)
    device = aoti.device_of(job.examples)
    for name, _, leaf in flatten_output(job.references[0][1]):
        if not isinstance(leaf, torch.Tensor):
            raise ExportError(
                f"format='aoti': {name} is {aoti.with_article(type(leaf).__name__)}; .pt2 packages return tensors "
                "only (use format='torchscript')"
            )
    module, output_names = _plain_outputs(job.module, job.names, job.references[0][1], job.output_names)
    program = job.program = job.program or aoti.export_program(module, job.examples, job.names, job.dims, job.notes)
    ranges = aoti.dim_ranges(program, job.names, job.dims)
    dims = _compiled_dims(job.dims, ranges, job.notes)
    references = _within(job.references, ranges, job.notes)
    freeze = job.freeze if build.freeze is None else build.freeze
    compiled = aoti.compile_package(
        program, freeze=freeze, cpu=job.cpu, prepack=build.prepack, extra_configs=build.extra_configs
    )
    try:
        checks = _check(compiled.runner, references, job.rtol, job.atol, "aoti")
        failed = [c for c in checks if not c.passed]
        if failed:
            first = failed[0]
            also = f"; also on {', '.join(c.name for c in failed[1:])}" if len(failed) > 1 else ""
            # The largest error says whether this is rounding (Inductor fuses and reorders float
            # arithmetic; freezing folds BatchNorm) or a wrong result, and what tolerance would do.
            raise ExportError(
                f"the compiled .pt2 package does not match eager PyTorch on {first.name}: "
                f"{first.problem}, max abs error {first.max_abs_error:.3g} on outputs up to "
                f"{_largest(references, first.name):.3g} in magnitude (rtol {job.rtol:g}, "
                f"atol {job.atol:g}){also}. If that is float rounding, export with looser rtol/atol "
                "(or freeze=False); else use format='torchscript'"
            )
        manifest = archive.build_package_manifest(
            examples=job.examples,
            names=job.names,
            outputs=job.references[0][1],
            output_names=output_names,
            metadata=job.metadata,
            input_dims=dims,
            output_dims=_output_dims(references, dims),
            golden={**job.golden_record(), "entry": PACKAGE_GOLDEN_ENTRY, "encoding": "base64"},
            dim_ranges=ranges,
            aoti={
                "compile_seconds": round(compiled.compile_seconds, 3),
                "inductor_configs": compiled.inductor_configs,
                "threads": "runtime" if compiled.inductor_configs.get("cpp.dynamic_threads") else "fixed",
                "build": build.name,
                "prepacked": aoti.prepacks(program) if build.prepack is None else build.prepack,
                "device": device,
            },
            cpu=compiled.cpu,
        )
        golden = base64.b64encode(job.golden())
        archive.write_package(compiled.path, path, manifest, job.extra_files, {PACKAGE_GOLDEN_ENTRY: golden})
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


def _export_searched(job: _Job, path: str, format: str, tune: bool, budget: float) -> ExportReport:
    """format="auto" and tune=True: the candidate files built beside the
    target, timed by tsbridge::tune, the winner renamed into place with the
    record in its manifest."""
    search = tuner.Search(os.path.dirname(os.path.abspath(path)), budget, tune)
    try:
        unavailable = None
        if format in ("torchscript", "auto"):
            try:
                search.build("torchscript", "default", lambda p: _export_torchscript(job, p))
            except TorchScriptUnavailableError as error:
                if format != "auto":
                    raise
                unavailable = error  # "auto" goes on with the .pt2 alone
                job.notes.append(f"format='auto': no torchscript candidate: {error}")
        if format in ("aoti", "auto"):
            try:
                _build_packages(job, search, required=not search.staged, tune=tune)
            except ExportError as error:
                if unavailable is None:
                    raise
                raise ExportError(f"format='auto': neither format can be built here: {error}; {unavailable}") from None
        record = search.time()
        kept = search.winner(record)
        updates = {"tuning": record} if tune else {}
        if format == "auto":
            updates["selection"] = tuner.selection_of(record)
        tuner.rewrite_manifest(kept.path, path, updates)
    finally:
        search.cleanup()
    report = kept.report
    report.path = path
    report.tuning = record if tune else None
    report.selection = updates.get("selection")
    if not tune:  # with tune, the report's tuning table says it
        job.notes.append(f"format='auto': kept {record['winner']}: {record['reason']}")
    job.notes += [f"tune: {c['name']} {c['status']}" for c in search.skipped]
    return report


def _build_packages(job: _Job, search: tuner.Search, required: bool, tune: bool) -> None:
    """The .pt2 as it is built by default and, when tuning, its variants that
    the budget has room to compile (each estimated from the first compile).
    `required`: no other candidate was built, so a failure stops the export."""
    try:
        first = search.build("aoti", "default", lambda p: _export_aoti(job, p))
    except ExportError as error:
        if required:
            raise
        job.notes.append(f"format='auto': no aoti candidate: {error}")
        return
    if not tune:
        return
    seconds = max(first.report.compile_seconds, 1.0)
    for build in tuner.aoti_variants(aoti.prepacks(job.program)):
        search.build("aoti", build.name, lambda p, b=build: _export_aoti(job, p, b), estimate=seconds * build.cost)


_EXPORTERS = {"torchscript": _export_torchscript, "aoti": _export_aoti}


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
            return _plain(self.inner(*args))

        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        forward.__signature__ = inspect.Signature([inspect.Parameter(n, kind) for n in names])
        self.forward = forward


# ── arguments ──


class _Function(torch.nn.Module):
    """Wraps a plain function so it can be scripted, traced and saved as a module."""

    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def _as_module(model: Any) -> torch.nn.Module:
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError("model is already a ScriptModule: pass the eager nn.Module, or use tsbridge.save")
    if isinstance(model, torch.nn.Module):
        return model
    if callable(model):
        return _Function(model)
    raise TypeError(f"model must be an nn.Module or a function, got {type(model).__name__}")


def _as_args(value: Any, what: str) -> tuple:
    if value is None:
        raise ValueError(f"{what} is required: a tensor, or a tuple of forward's arguments")
    args = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for index, arg in enumerate(args):
        _check_value(arg, f"{what}[{index}]")
    return args


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, (torch.Tensor, bool, int, float, str)) or value is None:
        return
    if isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: dict keys must be str or int, got {type(key).__name__}")
            _check_value(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where}: a {type(value).__name__} cannot be a model input "
        "(use tensors, numbers, strings, and tuples/lists/dicts of them)"
    )


def _writable_path(f: Any) -> str:
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"f must be a file path, got {type(f).__name__}")
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ExportError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write {path}: folder {folder} is not writable")
    if os.path.isdir(path):
        raise ExportError(f"cannot write {path}: it is a folder")
    return path


def _argument_names(module: torch.nn.Module, count: int) -> list[str]:
    fn = module.fn if isinstance(module, _Function) else module.forward
    try:
        parameters = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters[:count]]
    return names + [f"input{i}" for i in range(len(names), count)]


# ── dynamic dims and the reference results ──


def _dynamic_dims(module, examples, names, given, notes) -> dict[str, dict[int, str]]:
    if given is not None:
        return _validated_dims(given, examples, names)
    batched = {  # one name per example: given ones are checked, others made by _argument_names
        name: t for name, t in zip(names, examples, strict=True) if isinstance(t, torch.Tensor) and t.dim() >= 1
    }
    sizes = {t.shape[0] for t in batched.values()}
    if not batched or len(sizes) != 1:
        return {}
    candidate = {name: {0: "batch"} for name in batched}
    size = sizes.pop()
    for other in other_sizes(size):
        try:
            _eager(module, resized(examples, names, candidate, "batch", other))
        except Exception:
            notes.append(f"dim 0 is fixed: eager PyTorch fails with batch size {other}")
            return {}
    notes.append(f"inferred dynamic dim 'batch': dim 0 of {', '.join(batched)} (eager accepts other sizes)")
    return candidate


def _validated_dims(given, examples, names) -> dict[str, dict[int, str]]:
    if not isinstance(given, dict):
        raise TypeError("dynamic_dims must map input names to {dim: name}, e.g. {'x': {0: 'batch'}}")
    dims: dict[str, dict[int, str]] = {}
    for name, mapping in given.items():
        if name not in names:
            raise ValueError(f"dynamic_dims: no input named {name!r} (inputs: {', '.join(names)})")
        tensor = examples[names.index(name)]
        if not isinstance(tensor, torch.Tensor) or not isinstance(mapping, dict):
            raise ValueError(f"dynamic_dims[{name!r}]: expected {{dim: name}} for a tensor input")
        for dim, dim_name in mapping.items():
            if not isinstance(dim, int) or not -tensor.dim() <= dim < tensor.dim():
                raise ValueError(f"dynamic_dims[{name!r}]: dim {dim!r} out of range for a {tensor.dim()}-d input")
            if not isinstance(dim_name, str) or not dim_name:
                raise ValueError(f"dynamic_dims[{name!r}][{dim}]: the name must be a non-empty string")
        dims[name] = {dim % tensor.dim(): dim_name for dim, dim_name in mapping.items()}
    return dims


def _eager(module: torch.nn.Module, inputs: tuple) -> Any:
    with torch.no_grad():
        return module(*inputs)


def _references(module, examples, check_sets, names, dims, notes) -> list[tuple[Variant, Any]]:
    """Each input variant with the result eager PyTorch gives for it."""
    try:
        references = [(Variant("example inputs", examples), _eager(module, examples))]
    except Exception as error:
        raise ExportError(f"the model fails in eager PyTorch on example_inputs: {_first_line(error)}") from error
    for variant in value_variants(examples)[1:]:
        try:
            references.append((variant, _eager(module, variant.inputs)))
        except Exception as error:
            notes.append(f"check on {variant.name} skipped: eager PyTorch fails ({_first_line(error)})")
    for index, inputs in enumerate(check_sets):
        try:
            references.append((Variant(f"check_inputs[{index}]", inputs), _eager(module, inputs)))
        except Exception as error:
            raise ExportError(
                f"check_inputs[{index}]: the model fails in eager PyTorch: {_first_line(error)}"
            ) from error
    generator = torch.Generator().manual_seed(8192)
    for dim_name in sorted({n for mapping in dims.values() for n in mapping.values()}):
        name, dim = next((k, d) for k, m in dims.items() for d, n in m.items() if n == dim_name)
        for size in other_sizes(examples[names.index(name)].shape[dim]):
            inputs = resized(examples, names, dims, dim_name, size, generator)
            variant = Variant(f"{dim_name}={size}", inputs, resize=(dim_name, size))
            try:
                references.append((variant, _eager(module, variant.inputs)))
            except Exception as error:
                notes.append(f"check on {variant.name} skipped: eager PyTorch fails ({_first_line(error)})")
    return references


def _output_dims(references, dims) -> dict[int, dict[int, str]]:
    """Output dims that followed a dynamic input dim, named after it."""
    if not dims:
        return {}
    base = [leaf for _, _, leaf in flatten_output(references[0][1])]
    named: dict[int, dict[int, str]] = {}
    for variant, result in references[1:]:
        resize = variant.resize
        if resize is None:
            continue
        for index, leaf in enumerate(leaf for _, _, leaf in flatten_output(result)):
            if index < len(base) and isinstance(leaf, torch.Tensor) and leaf.dim() == base[index].dim():
                for d, (a, b) in enumerate(zip(base[index].shape, leaf.shape, strict=True)):
                    if a != b:
                        named.setdefault(index, {})[d] = resize[0] if b == resize[1] else f"{resize[0]}_derived"
    return named


# ── capture, check, freeze ──


def _capture(model, examples, capture, notes) -> tuple[torch.jit.ScriptModule, str, str]:
    script_failure = ""
    if capture in ("script", "auto"):
        try:
            return script(model), "script", "asked for" if capture == "script" else "scripting succeeded"
        except TorchScriptUnavailableError:
            raise  # tracing would fail the same way
        except Exception as error:
            script_failure = _script_error(error)
            if capture == "script":
                raise ExportError(f"the model cannot be scripted: {script_failure}") from None
            notes.append(f"scripting failed, traced instead: {script_failure}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", torch.jit.TracerWarning)
        try:
            module = trace(model, examples, check_trace=False)
        except TorchScriptUnavailableError:
            raise
        except Exception as error:
            also = f"; scripting failed too: {script_failure}" if script_failure else ""
            raise ExportError(f"the model cannot be traced: {_first_line(error)}{also}") from None
    for warning in caught:
        if issubclass(warning.category, torch.jit.TracerWarning):
            source = f"{os.path.basename(warning.filename)}:{warning.lineno}"
            notes.append(f"TracerWarning at {source}: {_first_line(warning.message)}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    reason = "asked for" if capture == "trace" else f"scripting failed: {script_failure}"
    return module, "trace", reason


def _check(module, references, rtol, atol, stage) -> list[CheckResult]:
    results = []
    for variant, expected in references:
        try:
            with torch.no_grad():
                got = module(*variant.inputs)
        except Exception as error:
            results.append(
                CheckResult(variant.name, float("inf"), float("inf"), False, f"raised {_first_line(error)}", stage)
            )
            continue
        try:
            comparison = _core.compare_results(expected, got, rtol, atol)
        except InvalidArgumentError as error:  # a result of a kind no comparison knows
            results.append(CheckResult(variant.name, float("inf"), float("inf"), False, str(error), stage))
            continue
        results.append(
            CheckResult(
                variant.name,
                comparison.max_abs_error,
                comparison.max_rel_error,
                comparison.passed,
                problem(comparison),
                stage,
            )
        )
    return results


def _divergence(capture: str, failed: list[CheckResult], rtol: float, atol: float, notes: list[str]) -> str:
    first = failed[0]
    made = "scripted" if capture == "script" else "traced"
    message = (
        f"the {made} module does not match eager PyTorch on {first.name}: {first.problem} "
        f"(rtol {rtol:g}, atol {atol:g})"
    )
    if len(failed) > 1:
        message += f"; also on {', '.join(c.name for c in failed[1:])}"
    if capture == "trace":
        message += (
            ". Tracing records the one path the example inputs took and bakes Python-side values "
            "(sizes, .item(), numpy) into the graph: use capture='script', or make that logic tensor code"
        )
        tracer = [n for n in notes if n.startswith("TracerWarning")]
        if tracer:
            message += f". {tracer[0]}"
    return message


def _freeze(module, references, rtol, atol) -> tuple[torch.jit.ScriptModule, bool, str, list[CheckResult]]:
    others = [name for name in module._c._method_names() if name != "forward"]
    try:
        with quiet_torch_jit():
            frozen = torch.jit.freeze(module, preserved_attrs=others)
    except Exception as error:
        return module, False, f"freezing failed, kept unfrozen: {_first_line(error)}", []
    reason = "torch.jit.freeze"
    # optimize_for_inference rewrites its argument in place: give it a copy
    # of its own, so a rejected optimisation leaves `frozen` untouched.
    try:
        with quiet_torch_jit():
            candidate = torch.jit.freeze(module, preserved_attrs=others)
    except Exception as error:
        candidate, why_not = None, f"freezing a copy failed ({_first_line(error)})"
    if candidate is not None:
        optimized, why_not = _optimize(candidate, others, references, rtol, atol)
        if optimized is not None:
            frozen, reason = optimized, "torch.jit.freeze + optimize_for_inference"
    if reason == "torch.jit.freeze":
        reason += f"; optimize_for_inference not kept: {why_not}"
    checks = _check(frozen, references, rtol, atol, "frozen")
    drift = [c for c in checks if not c.passed]
    if drift:
        worst = max(c.max_abs_error for c in drift)
        return module, False, f"the frozen module drifted (max abs error {worst:.3g}), kept unfrozen", checks
    return frozen, True, reason, checks


def _optimize(frozen, others, references, rtol, atol):
    """optimize_for_inference, kept only if it survives a save/load round trip
    and still matches: some of its graphs save but do not load back."""
    try:
        with quiet_torch_jit():
            optimized = torch.jit.optimize_for_inference(frozen, other_methods=others)
            buffer = io.BytesIO()
            torch.jit.save(optimized, buffer)
            buffer.seek(0)
            reloaded = torch.jit.load(buffer)
    except Exception as error:
        return None, f"it fails a save/load round trip ({_first_line(error)})"
    if not all(c.passed for c in _check(reloaded, references, rtol, atol, "frozen")):
        return None, "it changes the results beyond tolerance"
    return reloaded, ""  # ship exactly what was checked


def _plain(value: Any) -> Any:
    """Namedtuples as plain tuples: LibTorch cannot unpickle Python classes."""
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ── messages ──


def _first_line(error: Any) -> str:
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    causes = [line for line in lines if re.match(r"^\w*(Error|Exception): ", line)]
    return (causes[-1] if causes else lines[0] if lines else type(error).__name__)[:300]


def _script_error(error: Exception) -> str:
    """TorchScript's message and the source line it points at, on one line."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    message = lines[0].strip() if lines else type(error).__name__
    for index, line in enumerate(lines):
        match = re.search(r'File "([^"]+)", line (\d+)', line)
        if match:
            source = lines[index + 1].strip() if index + 1 < len(lines) else ""
            return f"{message} ({os.path.basename(match[1])}:{match[2]}: {source})"
    return message
