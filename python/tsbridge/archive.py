"""tsbridge.save: torch.jit.save plus the manifest, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import IO, Any

import torch

from . import manifest as manifest_, specs
from ._quiet import quiet_torch_jit
from .capture import capture_of

_NO_OUTPUTS = object()


def save(
    module: torch.jit.ScriptModule,
    f: str | os.PathLike | IO[bytes],
    _extra_files: dict[str, str | bytes] | None = None,
    *,
    example_inputs: Any = None,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    metadata: dict | None = None,
) -> dict:
    """Save like torch.jit.save, adding tsbridge/manifest.json to the archive.

    Input dtypes and shapes, and the outputs, are recorded when example inputs
    are known: given here, or remembered from tsbridge.trace. Returns the
    manifest written. The file stays loadable by plain torch.jit.load.
    """
    if not isinstance(module, torch.jit.ScriptModule):
        raise TypeError(
            f"save expects a ScriptModule (from tsbridge.script or tsbridge.trace), got {type(module).__name__}"
        )
    capture = capture_of(module)
    if example_inputs is not None:
        examples = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    else:
        examples = capture.example_inputs
    outputs = _NO_OUTPUTS
    if examples is not None:
        # no_grad, not inference_mode: TorchScript's executor fails when one
        # module sees both normal and inference-mode calls.
        with torch.no_grad():
            outputs = module(*examples)
    manifest = build_manifest(
        module,
        capture=capture.kind,
        frozen=capture.frozen,
        examples=examples,
        outputs=outputs,
        input_names=input_names,
        output_names=output_names,
        metadata=metadata,
    )
    return write(module, f, manifest, _extra_files)


def build_manifest(
    module: torch.jit.ScriptModule,
    *,
    capture: str,
    frozen: bool,
    examples: tuple | None,
    outputs: Any = _NO_OUTPUTS,
    input_names: list[str] | None = None,
    output_names: list[str] | None = None,
    metadata: dict | None = None,
    input_dims: dict[str, dict[int, str]] | None = None,
    output_dims: dict[int, dict[int, str]] | None = None,
    golden: dict | None = None,
    precision: dict | None = None,
    layout: str | None = None,
) -> dict:
    """The manifest of a module (`golden` from manifest.golden()); `input_dims`/`output_dims` name dynamic dims
    (by input name / output leaf index)."""
    try:
        json.dumps(metadata or {})
    except (TypeError, ValueError) as error:
        raise TypeError(f"metadata must be JSON-serialisable: {error}") from None
    inputs = specs.input_specs(module, examples, input_names)
    for spec in inputs:
        _name_dims(spec, (input_dims or {}).get(spec["name"], {}))
    output_specs = [] if outputs is _NO_OUTPUTS else specs.output_specs(outputs, output_names)
    for index, spec in enumerate(output_specs):
        _name_dims(spec, (output_dims or {}).get(index, {}))
    return manifest_.build(
        capture=capture,
        frozen=frozen,
        inputs=inputs,
        outputs=output_specs,
        metadata=metadata,
        golden=golden,
        precision=precision,
        layout=layout,
    )


def build_package_manifest(
    *,
    examples: tuple,
    names: list[str],
    outputs: Any,
    output_names: list[str] | None,
    metadata: dict | None,
    input_dims: dict[str, dict[int, str]],
    output_dims: dict[int, dict[int, str]],
    golden: dict,
    dim_ranges: dict[str, dict],
    aoti: dict,
    cpu: dict,
    precision: dict | None = None,
) -> dict:
    """The manifest of a .pt2 package (`golden` from manifest.golden(), `aoti`
    from manifest.aoti_record()): tensor inputs only, named from the
    signature; integer dims are compiled in, named dims are dynamic within
    `dim_ranges` (the sizes the kernels were compiled for)."""
    # Not strict: export does not check input_names against the number of examples.
    inputs = [specs.value_spec(name, "Tensor", value) for name, value in zip(names, examples, strict=False)]
    for spec in inputs:
        _name_dims(spec, input_dims.get(spec["name"], {}))
    output_specs = specs.output_specs(outputs, output_names)
    for index, spec in enumerate(output_specs):
        _name_dims(spec, output_dims.get(index, {}))
    return manifest_.build(
        capture="export",
        frozen=bool(aoti["inductor_configs"].get("freezing")),
        inputs=inputs,
        outputs=output_specs,
        metadata=metadata,
        format="aoti",
        dims=dim_ranges,
        golden=golden,
        aoti=aoti,
        cpu=cpu,
        precision=precision,
    )


def rewrite(path: str, f: str | os.PathLike, manifest: dict) -> dict:
    """Copies the archive or package at `path` to `f` with `manifest` in place
    of the one it holds (digests recomputed)."""
    return _rewrite(path, f, manifest, {})


def _name_dims(spec: dict, dims: dict[int, str]) -> None:
    if spec.get("shape") is not None:
        spec["shape"] = [dims.get(i, size) for i, size in enumerate(spec["shape"])]


def write(
    module: torch.jit.ScriptModule,
    f: str | os.PathLike | IO[bytes],
    manifest: dict,
    extra_files: dict[str, str | bytes] | None = None,
    entries: dict[str, bytes] | None = None,
) -> dict:
    """Writes the archive: the module, the user's extra files, the manifest and
    tsbridge's own `entries`; returns the manifest as written, with the
    SHA-256 of every other entry under "integrity". A path is written beside
    the target and renamed, so a failed save leaves nothing behind."""
    files = _merged_extra_files(extra_files, entries)
    folder = _folder_of(f)
    fd, staging = tempfile.mkstemp(prefix=".tsbridge-stage-", suffix=".pt", dir=folder)
    os.close(fd)
    try:
        with quiet_torch_jit():
            torch.jit.save(module, staging, _extra_files=files)
        return _rewrite(staging, f, manifest, {})
    finally:
        os.unlink(staging)


def write_package(
    package: str,
    f: str | os.PathLike,
    manifest: dict,
    extra_files: dict[str, str | bytes] | None = None,
    entries: dict[str, bytes] | None = None,
) -> dict:
    """Writes a .pt2 package (made by aoti_compile_and_package at `package`)
    to `f` with the user's extra files, tsbridge's `entries` and the manifest
    added under extra/, the folder the .pt2 format keeps for them; returns the
    manifest as written. Atomic like `write`."""
    files = _merged_extra_files(extra_files, entries)
    for name, content in files.items():
        try:
            _bytes(content).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                f"extra file {name!r} is not UTF-8 text: a .pt2 package holds text extra files "
                "(PyTorch's loader decodes them), so encode binary content, e.g. base64"
            ) from None
    return _rewrite(package, f, manifest, {"extra/" + name: _bytes(content) for name, content in files.items()})


def _merged_extra_files(extra_files, entries) -> dict[str, str | bytes]:
    files = dict(extra_files or {})
    for reserved in [manifest_.ENTRY, *(entries or {})]:
        if reserved in files:
            raise ValueError(f"_extra_files may not contain {reserved!r}: tsbridge writes it")
    files.update(entries or {})
    return files


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else bytes(content)


def _folder_of(f) -> str | None:
    if isinstance(f, (str, os.PathLike)):
        return os.path.dirname(os.path.abspath(os.fspath(f)))
    return None  # the system's temporary folder


def _rewrite(staging: str, f, manifest: dict, added: dict[str, bytes]) -> dict:
    """`staging` copied to `f` with `added` records and the manifest; a path
    is written beside it and renamed into place."""
    folder = _folder_of(f)
    if folder is None:
        return _with_integrity(staging, f, manifest, added)
    target = os.fspath(f)
    # The zip writer names the archive's root folder after the file: write
    # under the target's own name, in a private folder beside it.
    with tempfile.TemporaryDirectory(prefix=".tsbridge-", dir=folder) as private:
        name = os.path.basename(target)
        if not name.rpartition(".")[0]:  # LibTorch's writer takes the root's name from before the last dot
            name = name.lstrip(".") + ".pt"
        temporary = os.path.join(private, name)
        written = _with_integrity(staging, temporary, manifest, added)
        os.replace(temporary, target)
    return written


# LibTorch's writer makes this id up afresh (partly at random) each time it
# closes a file, so no digest of it can be written beforehand; it holds no
# model content and torch::jit::load does not read it.
_SERIALIZATION_ID = ".data/serialization_id"


def _with_integrity(staging: str, out: str | IO[bytes], manifest: dict, added: dict[str, bytes]) -> dict:
    """Copies every record of the archive torch.jit.save wrote at `staging`
    into `out` byte for byte, through LibTorch's own zip writer (so alignment
    and zip64 stay as torch.jit.load expects), then adds the manifest with the
    SHA-256 of each record. torch.jit.save cannot take the digests itself: they
    are known only once the records are written. `added` records are
    written after the copied ones."""
    reader = torch._C.PyTorchFileReader(staging)
    writer = torch._C.PyTorchFileWriter(out)
    digests = {}
    replaced = {_SERIALIZATION_ID, "extra/" + manifest_.ENTRY}  # a manifest rewritten (format="auto") is replaced
    copied = ((name, reader.get_record(name)) for name in reader.get_all_records() if name not in replaced)
    for name, data in [*copied, *added.items()]:
        digests[name] = hashlib.sha256(data).hexdigest()
        writer.write_record(name, data, len(data))
    written = manifest_.with_integrity(manifest, digests)
    text = manifest_.dumps(written).encode()
    writer.write_record("extra/" + manifest_.ENTRY, text, len(text))
    writer.write_end_of_file()
    return written
