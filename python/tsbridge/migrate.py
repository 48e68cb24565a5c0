"""tsbridge.migrate: an existing TorchScript archive (from tsbridge or plain
torch.jit.save, no Python source needed) to a checked .pt2 package, through
PyTorch's TorchScript-to-ExportedProgram converter. Nothing is written unless
the package matches the archive run in the C++ runtime."""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any

import torch

from . import _core, archive, manifest as manifest_
from ._quiet import quiet_torch_jit
from .aoti import _quiet
from .checks import other_sizes, problem, resized, value_variants
from .errors import ExportError, InvalidArgumentError, LoadError
from .exporting import export, writable_path as _writable_path
from .report import ExportReport
from .runtime import load

CONVERTER = "torch._export.converter.TS2EPConverter"


def migrate(
    source: str | os.PathLike,
    f: str | os.PathLike,
    *,
    shapes: dict[str, Any] | None = None,
    target: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
) -> ExportReport:
    """Convert the TorchScript archive `source` to a .pt2 package at `f`.

    Inputs come from the archive's golden sample, else its manifest's shapes,
    else `shapes` ({"x": (1, 3, 224, 224)} or {"x": "1x3x224x224:float32"}).
    The package keeps the manifest's names, dynamic dims and metadata, and
    records where it came from (`migrated_from`)."""
    source, path = os.fspath(source), _writable_path(f)
    runtime = _torchscript_runtime(source)
    manifest = runtime.manifest  # None: a plain TorchScript file
    names = [spec.name for spec in runtime.inputs()]
    examples = _examples(runtime, source, names, shapes)
    program = _convert(source, examples)
    dims = _declared_dims(manifest)
    outputs = [spec.name for spec in manifest.outputs] if manifest and manifest.outputs else None
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory(prefix=".tsbridge-migrate-", dir=folder) as staging:
        staged = os.path.join(staging, "package.pt2")
        # The converter retraces with Dim.AUTO: the program is dynamic where the graph allows.
        report = export(
            _Converted(program.module()),
            examples,
            staged,
            format="aoti",
            input_names=names,
            output_names=outputs,
            # An archive with a manifest says which dims vary (none: all fixed); one without, nothing.
            dynamic_dims=dims if manifest and manifest.inputs else None,
            target=target,
            metadata=manifest.metadata if manifest else None,
            rtol=rtol,
            atol=atol,
            _program=program,
        )
        report.warnings += _check_against_archive(runtime, staged, examples, names, report.dynamic_dims, rtol, atol)
        written = _with_provenance(staged, os.path.join(staging, "final.pt2"), source, manifest)
        os.replace(written, path)
    report.path = path
    report.capture_reason = f"migrated from {os.path.basename(source)} with {CONVERTER}"
    return report


class _Converted(torch.nn.Module):
    """The converter's program as a module: the reference tsbridge.export
    checks the compiled package against (the C++ runtime's TorchScript is the
    other). Its graph refuses eval(): train() here leaves it alone."""

    def __init__(self, graph: torch.nn.Module):
        super().__init__()
        self.graph = graph

    def forward(self, *args):
        return self.graph(*args)

    def train(self, mode: bool = True):
        self.training = mode
        return self


def _torchscript_runtime(source: str):
    try:
        runtime = load(source)
    except LoadError as error:
        raise ExportError(f"cannot migrate {source}: {error}") from None
    if runtime.format != "torchscript":
        raise ExportError(f"cannot migrate {source}: it is already a .pt2 package (format {runtime.format})")
    if not all(spec.is_tensor for spec in runtime.inputs()):
        kinds = ", ".join(f"{s.name}: {s.type}" for s in runtime.inputs() if not s.is_tensor)
        raise ExportError(
            f"cannot migrate {source}: forward takes non-tensor inputs ({kinds}); .pt2 packages take "
            "tensors only: stay on TorchScript"
        )
    return runtime


def _examples(runtime, source: str, names: list[str], shapes: dict | None) -> tuple:
    """The golden sample's inputs, else the C++ runtime's stand-ins (make_inputs,
    seed 0) of the given or recorded shapes."""
    if runtime.manifest is not None and runtime.manifest.golden is not None and not shapes:
        return _core.read_golden_sample(runtime._core).inputs
    given = {name: _shape(name, value) for name, value in (shapes or {}).items()}
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ExportError(f"--shape names {', '.join(unknown)}, but forward takes {', '.join(names)}")
    specs = runtime.inputs()
    for spec in specs:
        # make_inputs would size a dynamic dim 1; the converter would then specialise the program to it.
        fixed = spec.shape is not None and all(isinstance(d, int) for d in spec.shape)
        if spec.name not in given and not fixed:
            raise ExportError(
                f"cannot migrate {source}: no input shapes for {spec.name!r} (the archive has no "
                "golden sample and records no fixed shape): give each input's shape, e.g. "
                f"--shape {spec.name}=1x3x224x224 (or shapes={{{spec.name!r}: (1, 3, 224, 224)}})"
            )
    sizes = {name: shape for name, (shape, _) in given.items()}
    dtypes = {name: dtype for name, (_, dtype) in given.items() if dtype}
    return tuple(_core.make_inputs(specs, shapes=sizes, dtypes=dtypes))


def _shape(name: str, value: Any) -> tuple[list[int], str | None]:
    """A shapes= value as (sizes, dtype name or None for the recorded dtype, else float32):
    DIMS[:DTYPE] text, read as NAME=DIMS[:DTYPE] (the grammar of every command), or sizes."""
    if isinstance(value, str):
        try:
            spec = _core.parse_input_spec(f"{name}={value}", allow_dynamic=False)
        except InvalidArgumentError as error:
            raise ExportError(f"shapes[{name!r}]: {error}") from None
        return list(spec.shape), spec.dtype
    return [int(d) for d in value], None


def _convert(source: str, examples: tuple) -> torch.export.ExportedProgram:
    from torch._export.converter import TS2EPConverter

    try:
        with quiet_torch_jit(), _quiet():
            return TS2EPConverter(torch.jit.load(source), examples).convert()
    except Exception as error:  # the converter raises many kinds, internal asserts among them
        raise ExportError(_conversion_failure(source, error)) from None


def _conversion_failure(source: str, error: Exception) -> str:
    text = str(error)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)[:240]
    advice = (
        "re-export it from its Python source with tsbridge.export(..., format='aoti') (rewriting "
        "data-dependent branches with torch.cond), or stay on TorchScript"
    )
    if "prim::If" in text or "prim::Loop" in text:
        construct = "scripted control flow (prim::If / prim::Loop: an if, a loop, or a layer like LSTM built on them)"
    elif "Optional" in text or "INTERNAL ASSERT" in text:
        construct = "a construct it does not handle (an Optional argument or an internal assert)"
    else:
        construct = "the model"
    return f"cannot migrate {source}: {CONVERTER} cannot convert {construct}: {first}. To move it to .pt2, {advice}"


def _declared_dims(manifest: _core.Manifest | None) -> dict[str, dict[int, str]]:
    return {
        spec.name: {i: d for i, d in enumerate(spec.shape) if isinstance(d, str)}
        for spec in (manifest.inputs if manifest else [])
        if spec.shape and any(isinstance(d, str) for d in spec.shape)
    }


def _check_against_archive(runtime, package: str, examples: tuple, names, dims, rtol: float, atol: float) -> list:
    """The package against the TorchScript archive, both in the C++ runtime:
    on the examples, fresh and negated values, and other sizes of each dim
    within the bounds the program was compiled for. Returns notes."""
    migrated = load(package)
    bounds = migrated.manifest.dims
    variants = [(v.name, v.inputs) for v in value_variants(examples)]
    generator = torch.Generator().manual_seed(1)
    notes = []
    for name, mapping in dims.items():
        for dim, dim_name in mapping.items():
            low = bounds[dim_name].min if dim_name in bounds else 0
            for size in other_sizes(examples[names.index(name)].shape[dim]):
                if size < low:  # the converter retraces with Dim.AUTO, whose sizes start at 2
                    notes.append(
                        f"migrate: dim {dim_name!r} is compiled for sizes >= {low} (the converter's "
                        f"bound); size {size} is refused at run time: re-export from Python for it"
                    )
                    continue
                variants.append((f"{dim_name}={size}", resized(examples, names, dims, dim_name, size, generator)))
    for label, inputs in variants:
        result = _core.compare_results(runtime(*inputs), migrated(*inputs), rtol, atol)
        if not result.passed:
            raise ExportError(
                f"the migrated package does not match the TorchScript archive on {label}: "
                f"{problem(result)} (rtol {rtol:g}, atol {atol:g}); nothing written"
            )
    return notes


def _with_provenance(staged: str, final: str, source: str, original: _core.Manifest | None) -> str:
    with open(source, "rb") as file:
        digest = hashlib.sha256(file.read()).hexdigest()
    provenance = manifest_.migrated_from(
        file=os.path.basename(source),
        sha256=digest,
        converter=CONVERTER,
        capture=original.capture if original else "unknown",
        tsbridge_version=original.tsbridge_version if original else None,
        torch_version=original.torch_version if original else None,
    )
    revised = manifest_.revised(load(staged).manifest.document, migrated_from=provenance)
    archive.rewrite(staged, final, revised)
    return final
