"""What a model file holds, as data: what `tsbridge info` shows (and, for
the counts, what tsrun --info shows)."""

from __future__ import annotations

import os
from typing import Any


def info(path: str) -> dict[str, Any]:
    """The file at `path`: its size, format, methods, parameters and manifest."""
    from .runtime import load

    return runtime_info(load(path))


def runtime_info(runtime) -> dict[str, Any]:
    """info() of a loaded tsbridge.Model."""
    # The C++ runtime's count, as tsrun --info's: each distinct tensor once (tied weights).
    stats = runtime.stats()
    return {
        "path": runtime.path,
        "file_bytes": os.path.getsize(runtime.path),
        "format": runtime.format,
        "methods": runtime.methods,
        "parameters": stats.parameters,
        "parameter_bytes": stats.parameter_bytes,
        # The whole document, as the C++ reader parsed it; None for a plain TorchScript file.
        "manifest": runtime.manifest.document if runtime.manifest is not None else None,
    }
