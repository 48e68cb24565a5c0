"""format="torchscript": script or trace the model (a channels-last copy of
a conv net, exporting.layout), check it against eager, freeze it (and keep
optimize_for_inference where it survives), and write the archive with its
manifest and golden sample."""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings

import torch

from .. import archive
from .._quiet import quiet_torch_jit
from ..capture import script, trace
from ..errors import ExportError, TorchScriptUnavailableError
from ..report import CheckResult, ExportReport
from .job import GOLDEN_ENTRY, Job
from .layout import channels_last, moved_output, wanted
from .lowering import lowered_module, unfused
from .messages import first_line
from .precision import DTYPES, record
from .references import check, output_dims


def export_torchscript(job: Job, path: str) -> ExportReport:
    options = job.options
    dtype = DTYPES[options.precision]
    module, used, reason, checks, layout = _captured_in_layout(job)
    frozen = False
    frozen_reason = "freeze=False"
    if options.freeze:
        module, frozen, frozen_reason, frozen_checks = _freeze(module, job, dtype)
        checks += frozen_checks
    if dtype is not None and not frozen:
        module, checks = _lowered_unfrozen(module, job, dtype, checks, used)
    names = job.names
    final = [c for c in checks if c.stage == ("frozen" if frozen else "export")]  # of the file as written
    precision = record(options, final)
    manifest = archive.build_manifest(
        module,
        capture=used,
        frozen=frozen,
        examples=job.examples,
        outputs=job.references[0][1],
        input_names=names if len(names) == len(module.forward.schema.arguments) - 1 else None,
        output_names=options.output_names,
        metadata=options.metadata,
        input_dims=job.dims,
        output_dims=output_dims(job.references, job.dims),
        golden=job.golden_record(),
        precision=precision,
        layout=layout,
    )
    archive.write(module, path, manifest, options.extra_files, {GOLDEN_ENTRY: job.golden()})
    return ExportReport(
        path=path,
        capture=used,
        capture_reason=reason,
        frozen=frozen,
        frozen_reason=frozen_reason,
        dynamic_dims=job.dims,
        checks=checks,
        warnings=job.notes,
        precision=precision,
        layout=layout,
    )


def _captured_in_layout(job: Job) -> tuple[torch.jit.ScriptModule, str, str, list[CheckResult], str]:
    """_checked_capture of a channels-last copy where layout= wants one, and
    the layout used. With layout="auto", a copy that cannot be made, captured
    or matched, or that changes an output's layout, gives way to the model as
    given, with a note; layout="channels_last" refuses it."""
    asked = job.options.layout
    if not wanted(asked, job.module):
        return (*_checked_capture(job, job.module), "contiguous")
    mark = len(job.notes)
    try:
        module, used, reason, checks = _checked_capture(job, channels_last(job.module))
        moved = moved_output(module, job.examples, job.references[0][1])
        if moved:
            raise ExportError(moved)
        return module, used, reason, checks, "channels_last"
    except TorchScriptUnavailableError:
        raise  # the model as given fails the same way
    except Exception as error:
        if asked == "channels_last":
            if isinstance(error, ExportError):
                raise ExportError(f"layout='channels_last': {error}") from None
            raise ExportError(f"layout='channels_last': the model cannot be copied ({first_line(error)})") from None
        del job.notes[mark:]  # the channels-last attempt's notes; the capture below makes its own
        job.notes.append(f"layout: channels-last weights not kept, contiguous instead: {first_line(error)}")
    return (*_checked_capture(job, job.module), "contiguous")


def _checked_capture(job: Job, model: torch.nn.Module) -> tuple[torch.jit.ScriptModule, str, str, list[CheckResult]]:
    """The captured `model` that matches eager, how it was captured and why,
    and its checks; raises ExportError when no capture matches."""
    rtol, atol = job.options.rtol, job.options.atol
    # A reduced precision lowers the products of attention too: traced without PyTorch's fused kernels.
    with unfused() if job.options.precision != "fp32" else contextlib.nullcontext():
        module, used, reason = _capture(model, job.examples, job.options.capture, job.notes)
    checks = check(module, job.references, rtol, atol, "export")
    failed = [c for c in checks if not c.passed]
    if failed and job.options.capture == "auto" and used == "script":
        # A scripted module can differ from eager where tracing does not
        # (torchvision's googlenet scripts to a named tuple of 3, eager
        # returns one tensor in eval): try the trace before giving up.
        mismatch = _divergence(used, failed, rtol, atol, job.notes)
        module, used, _ = _capture(model, job.examples, "trace", job.notes)
        checks = check(module, job.references, rtol, atol, "export")
        failed = [c for c in checks if not c.passed]
        if failed:
            raise ExportError(
                f"{mismatch}; tracing does not match either: {_divergence(used, failed, rtol, atol, job.notes)}"
            )
        reason = f"{mismatch.split(' (rtol')[0]}: traced instead"
        job.notes.append(reason)
    if failed:
        raise ExportError(_divergence(used, failed, rtol, atol, job.notes))
    return module, used, reason, checks


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
            raise ExportError(f"the model cannot be traced: {first_line(error)}{also}") from None
    for warning in caught:
        if issubclass(warning.category, torch.jit.TracerWarning):
            source = f"{os.path.basename(warning.filename)}:{warning.lineno}"
            notes.append(f"TracerWarning at {source}: {first_line(warning.message)}")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    reason = "asked for" if capture == "trace" else f"scripting failed: {script_failure}"
    return module, "trace", reason


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


def _freeze(module, job: Job, dtype) -> tuple[torch.jit.ScriptModule, bool, str, list[CheckResult]]:
    """The frozen module (its products lowered to `dtype` after freezing,
    which folds BatchNorm into the convolutions first), with
    optimize_for_inference where it survives, and its checks."""
    references, rtol, atol = job.references, job.options.rtol, job.options.atol
    others = [name for name in module._c._method_names() if name != "forward"]
    try:
        with quiet_torch_jit():
            frozen = torch.jit.freeze(module, preserved_attrs=others)
    except Exception as error:
        return module, False, f"freezing failed, kept unfrozen: {first_line(error)}", []
    reason = "torch.jit.freeze"
    if dtype is not None:
        frozen, note = lowered_module(frozen, dtype)
        job.notes.append(note)
        # Its MKL-DNN conversion aborts the process on a lowered graph's casts.
        candidate, why_not = None, "it takes fp32 graphs only"
    else:
        # optimize_for_inference rewrites its argument in place: give it a copy
        # of its own, so a rejected optimisation leaves `frozen` untouched.
        try:
            with quiet_torch_jit():
                candidate = torch.jit.freeze(module, preserved_attrs=others)
        except Exception as error:
            candidate, why_not = None, f"freezing a copy failed ({first_line(error)})"
    if candidate is not None:
        optimized, why_not = _optimize(candidate, others, references, rtol, atol)
        if optimized is not None:
            frozen, reason = optimized, "torch.jit.freeze + optimize_for_inference"
    if reason == "torch.jit.freeze":
        reason += f"; optimize_for_inference not kept: {why_not}"
    checks = check(frozen, references, rtol, atol, "frozen")
    drift = [c for c in checks if not c.passed]
    if drift:
        worst = max(c.max_abs_error for c in drift)
        return module, False, f"the frozen module drifted (max abs error {worst:.3g}), kept unfrozen", checks
    return frozen, True, reason, checks


def _lowered_unfrozen(module, job: Job, dtype, checks: list[CheckResult], used: str):
    """The unfrozen capture with its products lowered (its weights cast at
    each call: freezing is what stores them in `dtype`), checked in place
    of the fp32 capture's checks."""
    module, note = lowered_module(module, dtype)
    job.notes.append(f"{note}; unfrozen, so each call casts the weights")
    options = job.options
    lowered = check(module, job.references, options.rtol, options.atol, "export")
    failed = [c for c in lowered if not c.passed]
    if failed:
        raise ExportError(_divergence(used, failed, options.rtol, options.atol, job.notes))
    return module, [c for c in checks if c.stage != "export"] + lowered


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
        return None, f"it fails a save/load round trip ({first_line(error)})"
    if not all(c.passed for c in check(reloaded, references, rtol, atol, "frozen")):
        return None, "it changes the results beyond tolerance"
    return reloaded, ""  # ship exactly what was checked
