"""Job: what every format's export needs (the model, its inputs, the results
eager PyTorch gave, the options) and the golden sample written beside it."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import torch

from .. import manifest as manifest_
from ..checks import Variant, map_tensors
from .options import ExportOptions

GOLDEN_ENTRY = "tsbridge/golden.pt"
# .pt2 packages hold text extra files (PyTorch's loader decodes them as UTF-8).
PACKAGE_GOLDEN_ENTRY = "tsbridge/golden.pt.b64"


@dataclass
class Job:
    module: torch.nn.Module
    examples: tuple
    names: list[str]
    dims: dict[str, dict[int, str]]
    references: list[tuple[Variant, Any]]  # the examples' first, then every other variant eager PyTorch ran
    options: ExportOptions
    notes: list[str] = field(default_factory=list)  # the report's warnings, added to by every step
    program: torch.export.ExportedProgram | None = None  # .pt2: made elsewhere, or by the first build's torch.export

    def golden(self) -> bytes:
        buffer = io.BytesIO()
        sample = {"inputs": plain(self.examples), "outputs": plain(self.references[0][1])}
        # On the CPU: a sample taken on a GPU must load where there is none. Detached: a
        # tensor torch.export traced carries dynamo's marks (Python sets), which torch.save
        # would pickle and LibTorch's unpickler cannot read.
        torch.save(map_tensors(sample, lambda t: t.detach().cpu()), buffer)
        return buffer.getvalue()

    def golden_record(self, entry: str = GOLDEN_ENTRY, encoding: str | None = None) -> dict:
        """The manifest's golden record: where the sample is, and the export's tolerances."""
        return manifest_.golden(entry=entry, rtol=self.options.rtol, atol=self.options.atol, encoding=encoding)


def plain(value: Any) -> Any:
    """Namedtuples as plain tuples: LibTorch cannot unpickle Python classes."""
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
