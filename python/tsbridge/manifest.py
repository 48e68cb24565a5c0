"""The tsbridge manifest: what the archive holds, written by Python and read
by both Python and the C++ runtime. The schema is manifest.schema.json, next
to this file; docs/manifest.md explains it."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import torch

from ._version import __version__
from .errors import InvalidArchiveError, UnsupportedVersionError

FORMAT_VERSION = 1
ENTRY = "tsbridge/manifest.json"  # an extra file of torch.jit.save


def build(
    *,
    capture: str,  # "script", "trace" or "export": stored under the key "method"
    frozen: bool,
    inputs: list[dict],
    outputs: list[dict],
    metadata: dict | None = None,
) -> dict:
    manifest = {
        "format": "tsbridge",
        "format_version": FORMAT_VERSION,
        "tsbridge_version": __version__,
        "torch_version": torch.__version__,
        "method": capture,
        "frozen": frozen,
        "inputs": inputs,
        "outputs": outputs,
        "metadata": metadata or {},
    }
    return manifest


def dumps(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False)


def parse(text: str | bytes) -> dict:
    """Reads manifest JSON, refusing formats newer than this reader knows."""
    try:
        manifest = json.loads(text)
    except ValueError as error:
        raise InvalidArchiveError(f"malformed tsbridge manifest: not valid JSON ({error})") from None
    except RecursionError:
        raise InvalidArchiveError("malformed tsbridge manifest: nested too deeply") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("format_version"), int):
        raise InvalidArchiveError("malformed tsbridge manifest: no integer format_version")
    version = manifest["format_version"]
    if not 1 <= version <= FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"tsbridge manifest format {version} is not supported by this reader (it reads format "
            f"{FORMAT_VERSION}; written by tsbridge {manifest.get('tsbridge_version', '?')})"
        )
    return manifest


def schema() -> dict[str, Any]:
    """The JSON Schema every manifest conforms to."""
    return json.loads(resources.files(__package__).joinpath("manifest.schema.json").read_text())
