"""The tsbridge manifest's one writer. Every key a manifest holds is written
here, from typed arguments, and each document is checked against
manifest.schema.json (next to this file) before it is handed back to be
stored: the schema is the one definition, which docs/manifest.md and the C++
reader (tsbridge._core.Manifest, the one reader) are tested against.

Three names differ between the Python and C++ surfaces and the JSON, and are
translated here (and in cpp/src/core/manifest.cpp, the reader) only:
capture is stored as "method", a file's format ("torchscript" or "aoti") as
"backend", a .pt2's parallel loops ("runtime" or "fixed") as aoti.threads."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

import torch

from ._version import __version__

FORMAT_VERSION = 1
ENTRY = "tsbridge/manifest.json"  # an extra file of torch.jit.save
MARKER = "tsbridge"  # the manifest's "format": what says the JSON is a tsbridge manifest

# The surfaces' name -> the JSON key it is stored under.
STORED_AS = {"capture": "method", "format": "backend", "parallel_loops": "threads"}

_KEEP = object()


def build(
    *,
    capture: str,
    frozen: bool,
    inputs: list[dict],
    outputs: list[dict],
    metadata: dict | None = None,
    format: str = "torchscript",
    dims: dict[str, dict] | None = None,
    golden: dict | None = None,
    aoti: dict | None = None,
    cpu: dict | None = None,
    precision: dict | None = None,
    layout: str | None = None,
) -> dict:
    """A new manifest: `capture` is "script", "trace" or "export"; `format`
    "aoti" for a .pt2 package (a TorchScript archive records none); `dims`
    the named dims' bounds; `golden` from golden(); `aoti` from aoti_record();
    `cpu` a cpu_target record; `precision` a reduced precision's record
    (exporting.precision.record; None for fp32); `layout` a TorchScript
    archive's conv weights ("channels_last" or "contiguous")."""
    manifest = {
        "format": MARKER,
        "format_version": FORMAT_VERSION,
        "tsbridge_version": __version__,
        "torch_version": torch.__version__,
        STORED_AS["capture"]: capture,
        "frozen": frozen,
        "inputs": inputs,
        "outputs": outputs,
        "metadata": metadata or {},
    }
    if format != "torchscript":
        manifest[STORED_AS["format"]] = format
    sections = {"dims": dims, "golden": golden, "aoti": aoti, "cpu": cpu, "precision": precision, "layout": layout}
    manifest.update({key: value for key, value in sections.items() if value is not None})
    return checked(manifest)


def golden(*, entry: str, rtol: float, atol: float, encoding: str | None = None) -> dict:
    """Where the golden sample is stored and its tolerances; `encoding`
    "base64" in .pt2 packages (their extra files are text)."""
    record: dict[str, Any] = {"entry": entry, "rtol": rtol, "atol": atol}
    if encoding is not None:
        record["encoding"] = encoding
    return record


def aoti_record(
    *,
    compile_seconds: float,
    inductor_configs: dict,
    parallel_loops: str,
    build: str,
    prepacked: bool,
    device: str,
) -> dict:
    """How a .pt2 was compiled: `parallel_loops` "runtime" (the caller's
    intra-op thread count) or "fixed" (the exporting machine's); `build` the
    tuner's compile variant ("default", "no-freezing", ...); `prepacked`
    whether weights were prepacked for oneDNN."""
    return {
        "compile_seconds": compile_seconds,
        "inductor_configs": inductor_configs,
        STORED_AS["parallel_loops"]: parallel_loops,
        "build": build,
        "prepacked": prepacked,
        "device": device,
    }


def migrated_from(
    *, file: str, sha256: str, converter: str, capture: str, tsbridge_version: str | None, torch_version: str | None
) -> dict:
    """tsbridge.migrate's provenance: the archive converted, and how it had
    been captured ("unknown" for a plain TorchScript file)."""
    return {
        "file": file,
        "sha256": sha256,
        "converter": converter,
        STORED_AS["capture"]: capture,
        "tsbridge_version": tsbridge_version,
        "torch_version": torch_version,
    }


def revised(
    document: dict,
    *,
    tuning: Any = _KEEP,
    selection: Any = _KEEP,
    migrated_from: Any = _KEEP,
) -> dict:
    """A copy of a stored manifest (its document, as the C++ reader gives it)
    with the sections given replaced (a dict; None removes one), without its
    integrity record: the writer adds a new one."""
    manifest = copy.deepcopy(document)
    manifest.pop("integrity", None)
    for key, value in (("tuning", tuning), ("selection", selection), ("migrated_from", migrated_from)):
        if value is None:
            manifest.pop(key, None)
        elif value is not _KEEP:
            manifest[key] = value
    return checked(manifest)


def with_integrity(manifest: dict, digests: dict[str, str]) -> dict:
    """The manifest as stored: with the SHA-256 of every other entry."""
    return {**manifest, "integrity": {"algorithm": "sha256", "entries": digests}}


def checked(manifest: dict) -> dict:
    """`manifest`, once the schema accepts it: a key the schema does not
    define is refused here, before any file holds it."""
    errors = list(_validator().iter_errors(manifest))
    if errors:
        first = errors[0]
        where = "/".join(map(str, first.path)) or "top level"
        raise ValueError(f"tsbridge manifest does not match its schema at {where}: {first.message}")
    return manifest


def spec_record(spec: Any, *, output: bool = False) -> dict:
    """A spec the reader parsed (a tsbridge._core.TensorSpec) in the form the
    manifest stores it: name, type, dtype, shape (a str is a dynamic dim) and,
    for an output, its path into the result."""
    record = {"name": spec.name, "type": spec.type, "dtype": spec.dtype, "shape": spec.shape}
    if output:
        record["path"] = spec.path
    return record


def dumps(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False)


def schema() -> dict[str, Any]:
    """The JSON Schema every manifest conforms to."""
    return json.loads(resources.files(__package__).joinpath("manifest.schema.json").read_text())


@functools.cache
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(schema())
