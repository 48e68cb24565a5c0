"""tsbridge.save: torch.jit.save plus the manifest, written atomically."""

from __future__ import annotations

import json
import os
import tempfile
from typing import IO, Any

import torch

from . import manifest as manifest_
from . import specs
from ._quiet import quiet_torch_jit
from .capture import capture_of


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
    outputs: list[dict] = []
    if examples is not None:
        # no_grad, not inference_mode: TorchScript's executor fails when one
        # module sees both normal and inference-mode calls.
        with torch.no_grad():
            outputs = specs.output_specs(module(*examples), output_names)
    try:
        json.dumps(metadata or {})
    except (TypeError, ValueError) as error:
        raise TypeError(f"metadata must be JSON-serialisable: {error}") from None
    manifest = manifest_.build(
        method=capture.method,
        frozen=capture.frozen,
        inputs=specs.input_specs(module, examples, input_names),
        outputs=outputs,
        metadata=metadata,
    )
    extra_files = dict(_extra_files or {})
    if manifest_.ENTRY in extra_files:
        raise ValueError(f"_extra_files may not contain {manifest_.ENTRY!r}: tsbridge writes it")
    extra_files[manifest_.ENTRY] = manifest_.dumps(manifest)
    _write(module, f, extra_files)
    return manifest


def _write(module: torch.jit.ScriptModule, f, extra_files: dict) -> None:
    if not isinstance(f, (str, os.PathLike)):
        with quiet_torch_jit():
            torch.jit.save(module, f, _extra_files=extra_files)
        return
    # Write beside the target, then rename: a failed save leaves nothing behind.
    target = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(target))
    fd, temporary = tempfile.mkstemp(prefix=".tsbridge-", suffix=".pt", dir=folder)
    os.close(fd)
    try:
        with quiet_torch_jit():
            torch.jit.save(module, temporary, _extra_files=extra_files)
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
