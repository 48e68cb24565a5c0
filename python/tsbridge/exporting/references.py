"""The eager references: the inputs' names, the dynamic dims (given or
inferred), what eager PyTorch gives on every variant of the inputs, and the
check of an exported module against those results."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from .. import _core
from ..checks import Variant, other_sizes, problem, resized, value_variants
from ..errors import ExportError, InvalidArgumentError
from ..report import CheckResult
from ..specs import flatten_output
from .arguments import argument_names
from .messages import first_line


@contextlib.contextmanager
def in_eval_mode(module: torch.nn.Module, notes: list[str]):
    """Runs the export in eval mode and gives every submodule its own mode back."""
    modes = {m: m.training for m in module.modules()}
    if module.training:
        notes.append(
            "the model was in training mode: exported in eval mode (dropout off, "
            "batch-norm running statistics); its mode is restored"
        )
    module.eval()
    try:
        yield
    finally:
        for submodule, mode in modes.items():
            submodule.training = mode


def eager_run(module, examples, check_sets, input_names, dynamic_dims, notes) -> tuple[list, dict, list]:
    """The input names, the dynamic dims (given or inferred) and the results
    eager PyTorch gives on every variant of the inputs, the references."""
    names = list(input_names) if input_names else argument_names(module, len(examples))
    dims = _dynamic_dims(module, examples, names, dynamic_dims, notes)
    return names, dims, _references(module, examples, check_sets, names, dims, notes)


def _dynamic_dims(module, examples, names, given, notes) -> dict[str, dict[int, str]]:
    if given is not None:
        return _validated_dims(given, examples, names)
    batched = {  # one name per example: given ones are checked, others made by argument_names
        name: t for name, t in zip(names, examples, strict=True) if isinstance(t, torch.Tensor) and t.dim() >= 1
    }
    sizes = {t.shape[0] for t in batched.values()}
    if not batched or len(sizes) != 1:
        return {}
    candidate = {name: {0: "batch"} for name in batched}
    size = sizes.pop()
    for other in other_sizes(size):
        try:
            _eager(module, resized(examples, names, candidate, "batch", other))
        except Exception:
            notes.append(f"dim 0 is fixed: eager PyTorch fails with batch size {other}")
            return {}
    notes.append(f"inferred dynamic dim 'batch': dim 0 of {', '.join(batched)} (eager accepts other sizes)")
    return candidate


def _validated_dims(given, examples, names) -> dict[str, dict[int, str]]:
    if not isinstance(given, dict):
        raise TypeError("dynamic_dims must map input names to {dim: name}, e.g. {'x': {0: 'batch'}}")
    dims: dict[str, dict[int, str]] = {}
    for name, mapping in given.items():
        if name not in names:
            raise ValueError(f"dynamic_dims: no input named {name!r} (inputs: {', '.join(names)})")
        tensor = examples[names.index(name)]
        if not isinstance(tensor, torch.Tensor) or not isinstance(mapping, dict):
            raise ValueError(f"dynamic_dims[{name!r}]: expected {{dim: name}} for a tensor input")
        for dim, dim_name in mapping.items():
            if not isinstance(dim, int) or not -tensor.dim() <= dim < tensor.dim():
                raise ValueError(f"dynamic_dims[{name!r}]: dim {dim!r} out of range for a {tensor.dim()}-d input")
            if not isinstance(dim_name, str) or not dim_name:
                raise ValueError(f"dynamic_dims[{name!r}][{dim}]: the name must be a non-empty string")
        dims[name] = {dim % tensor.dim(): dim_name for dim, dim_name in mapping.items()}
    return dims


def _eager(module: torch.nn.Module, inputs: tuple) -> Any:
    with torch.no_grad():
        return module(*inputs)


def _references(module, examples, check_sets, names, dims, notes) -> list[tuple[Variant, Any]]:
    """Each input variant with the result eager PyTorch gives for it."""
    try:
        references = [(Variant("example inputs", examples), _eager(module, examples))]
    except Exception as error:
        raise ExportError(f"the model fails in eager PyTorch on example_inputs: {first_line(error)}") from error
    for variant in value_variants(examples)[1:]:
        try:
            references.append((variant, _eager(module, variant.inputs)))
        except Exception as error:
            notes.append(f"check on {variant.name} skipped: eager PyTorch fails ({first_line(error)})")
    for index, inputs in enumerate(check_sets):
        try:
            references.append((Variant(f"check_inputs[{index}]", inputs), _eager(module, inputs)))
        except Exception as error:
            raise ExportError(
                f"check_inputs[{index}]: the model fails in eager PyTorch: {first_line(error)}"
            ) from error
    generator = torch.Generator().manual_seed(8192)
    for dim_name in sorted({n for mapping in dims.values() for n in mapping.values()}):
        name, dim = next((k, d) for k, m in dims.items() for d, n in m.items() if n == dim_name)
        for size in other_sizes(examples[names.index(name)].shape[dim]):
            inputs = resized(examples, names, dims, dim_name, size, generator)
            variant = Variant(f"{dim_name}={size}", inputs, resize=(dim_name, size))
            try:
                references.append((variant, _eager(module, variant.inputs)))
            except Exception as error:
                notes.append(f"check on {variant.name} skipped: eager PyTorch fails ({first_line(error)})")
    return references


def output_dims(references, dims) -> dict[int, dict[int, str]]:
    """Output dims that followed a dynamic input dim, named after it."""
    if not dims:
        return {}
    base = [leaf for _, _, leaf in flatten_output(references[0][1])]
    named: dict[int, dict[int, str]] = {}
    for variant, result in references[1:]:
        resize = variant.resize
        if resize is None:
            continue
        for index, leaf in enumerate(leaf for _, _, leaf in flatten_output(result)):
            if index < len(base) and isinstance(leaf, torch.Tensor) and leaf.dim() == base[index].dim():
                for d, (a, b) in enumerate(zip(base[index].shape, leaf.shape, strict=True)):
                    if a != b:
                        named.setdefault(index, {})[d] = resize[0] if b == resize[1] else f"{resize[0]}_derived"
    return named


def check(module, references, rtol, atol, stage) -> list[CheckResult]:
    """`module` (captured, frozen or compiled) run on every reference's inputs
    and compared with eager's result by the C++ runtime's rule."""
    results = []
    for variant, expected in references:
        try:
            with torch.no_grad():
                got = module(*variant.inputs)
        except Exception as error:
            results.append(
                CheckResult(variant.name, float("inf"), float("inf"), False, f"raised {first_line(error)}", stage)
            )
            continue
        try:
            comparison = _core.compare_results(expected, got, rtol, atol)
        except InvalidArgumentError as error:  # a result of a kind no comparison knows
            results.append(CheckResult(variant.name, float("inf"), float("inf"), False, str(error), stage))
            continue
        results.append(
            CheckResult(
                variant.name,
                comparison.max_abs_error,
                comparison.max_rel_error,
                comparison.passed,
                problem(comparison),
                stage,
                tuple((o.name, o.max_abs_error, o.max_rel_error) for o in comparison.outputs),
            )
        )
    return results
