"""Checking an exported module against eager PyTorch: what a comparison found
(the comparison itself is the C++ runtime's), and the input variants that
expose what tracing gets wrong silently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from . import _core


def problem(comparison: _core.Comparison, shown: int = 3) -> str:
    """The leaves that failed a comparison (tsbridge::compare_results, the
    self-test's rule) on one line: "output[0]: shape [5, 1] != expected [5, 2]"."""
    failed = [f"{check.name}: {check.problem}" for check in comparison.outputs if not check.passed]
    more = f" (and {len(failed) - shown} more)" if len(failed) > shown else ""
    return "; ".join(failed[:shown]) + more


# ── input variants ──


@dataclass
class Variant:
    name: str
    inputs: tuple
    resize: tuple[str, int] | None = None  # (dynamic dim name, size) for size variants


def map_tensors(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(map_tensors(v, fn) for v in value)
    if isinstance(value, list):
        return [map_tensors(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: map_tensors(v, fn) for k, v in value.items()}
    return value


def random_like(t: torch.Tensor, shape: list[int] | None = None, generator=None) -> torch.Tensor:
    """New values of t's kind: normal floats, ints within t's own range (so ids stay valid),
    on t's device (drawn on the CPU, so a seed gives the same values on any device)."""
    shape = list(t.shape) if shape is None else shape
    if t.is_floating_point() or t.is_complex():
        values = torch.randn(shape, dtype=t.dtype, generator=generator)
    elif t.dtype == torch.bool:
        values = torch.randint(0, 2, shape, generator=generator).bool()
    else:
        low = int(t.min()) if t.numel() else 0
        high = int(t.max()) + 1 if t.numel() else 2
        values = torch.randint(low, high, shape, dtype=t.dtype, generator=generator)
    return values.to(t.device)


def value_variants(examples: tuple, seed: int = 8191) -> list[Variant]:
    """The examples, fresh random values (from a seed of their own, so they
    differ from examples made with torch.manual_seed(0)), and the floats negated (which flips
    sign-driven branches such as `if x.sum() > 0`)."""
    generator = torch.Generator().manual_seed(seed)
    variants = [Variant("example inputs", examples)]
    variants.append(Variant("random values", map_tensors(examples, lambda t: random_like(t, generator=generator))))
    if any(isinstance(t, torch.Tensor) and t.is_floating_point() for t in _tensors(examples)):
        negated = map_tensors(examples, lambda t: -t if t.is_floating_point() else t)
        variants.append(Variant("negated values", negated))
    return variants


def resized(
    examples: tuple, names: list[str], dims: dict[str, dict[int, str]], dim_name: str, size: int, generator=None
) -> tuple:
    """Examples with every dim called `dim_name` set to `size` (new random values)."""
    out = list(examples)
    for index, name in enumerate(names):
        wanted = {d for d, n in dims.get(name, {}).items() if n == dim_name}
        tensor = out[index]
        if wanted and isinstance(tensor, torch.Tensor):
            shape = [size if d in wanted else s for d, s in enumerate(tensor.shape)]
            out[index] = random_like(tensor, shape, generator)
    return tuple(out)


def other_sizes(size: int) -> list[int]:
    return sorted({max(1, size // 2), size + 3} - {size})


def _tensors(value: Any) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    map_tensors(value, lambda t: found.append(t) or t)
    return found
