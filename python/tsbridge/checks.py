"""Checking an exported module against eager PyTorch: comparing results, and
making the input variants that expose what tracing gets wrong silently."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .specs import flatten_output


@dataclass
class Comparison:
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    problem: str = ""  # empty when the results agree within tolerance

    @property
    def ok(self) -> bool:
        return not self.problem


def compare(expected: Any, got: Any, rtol: float, atol: float) -> Comparison:
    """Leaf-by-leaf: same structure, dtypes and shapes, values within
    |got - expected| <= atol + rtol * |expected|."""
    want, have = flatten_output(expected), flatten_output(got)
    result = Comparison()
    if [name for name, _, _ in want] != [name for name, _, _ in have]:
        result.problem = f"result structure differs: expected {len(want)} values, got {len(have)}"
        return result
    for (name, _, a), (_, _, b) in zip(want, have, strict=True):
        problem = _compare_leaf(name, a, b, rtol, atol, result)
        if problem and not result.problem:
            result.problem = problem
    return result


def _compare_leaf(name: str, a: Any, b: Any, rtol: float, atol: float, into: Comparison) -> str:
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        return "" if a == b else f"{name}: expected {a!r}, got {b!r}"
    if a.shape != b.shape:
        return f"{name}: shape {_shape_text(b.shape)} != expected {_shape_text(a.shape)}"
    if a.dtype != b.dtype:
        return f"{name}: dtype {b.dtype} != expected {a.dtype}"
    a, b = a.detach().cpu(), b.detach().cpu()
    if not (a.is_floating_point() or a.is_complex()):
        return "" if torch.equal(a, b) else f"{name}: values differ"
    if a.numel() == 0:
        return ""
    diff = (a.double() - b.double()).abs()
    scale = a.double().abs()
    into.max_abs_error = max(into.max_abs_error, diff.max().item())
    rel = diff / scale.clamp_min(torch.finfo(torch.float64).tiny)
    into.max_rel_error = max(into.max_rel_error, rel.max().item())
    if torch.allclose(b, a, rtol=rtol, atol=atol, equal_nan=True):
        return ""
    return f"{name}: max abs error {diff.max().item():.3g}"


def _shape_text(shape) -> str:
    """"[5,10]", as the C++ runtime's messages write a shape."""
    return "[" + ",".join(str(size) for size in shape) + "]"


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
    """New values of t's kind: normal floats, ints within t's own range (so ids stay valid)."""
    shape = list(t.shape) if shape is None else shape
    if t.is_floating_point() or t.is_complex():
        return torch.randn(shape, dtype=t.dtype, generator=generator)
    if t.dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=generator).bool()
    low = int(t.min()) if t.numel() else 0
    high = int(t.max()) + 1 if t.numel() else 2
    return torch.randint(low, high, shape, dtype=t.dtype, generator=generator)


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


def resized(examples: tuple, names: list[str], dims: dict[str, dict[int, str]], dim_name: str, size: int,
            generator=None) -> tuple:
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
