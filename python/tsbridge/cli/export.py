"""`tsbridge export`: a model made by a factory function, exported with
example inputs made from NAME=DIMS[:DTYPE] specs."""

from __future__ import annotations

import importlib
import json
import os
import sys

from .. import _core
from ..errors import ExportError
from .usage import EXIT_OK, UsageError, input_spec, tune_budget


def run_export(args) -> int:
    from ..exporting import export

    factory = _load_factory(args.factory)
    specs = [input_spec("--example", text, dynamic=False) for text in args.example]
    options = {
        "capture": args.capture,
        "format": args.format,
        "input_names": [spec.name for spec in specs],
        "dynamic_dims": _dynamic(args.dynamic, specs) if args.dynamic else None,
        "freeze": not args.no_freeze,
        "target": args.target,
        "metadata": _json_object(args.metadata, "--metadata") if args.metadata else None,
        "rtol": args.rtol,
        "atol": args.atol,
        "precision": args.precision,
        "layout": args.layout,
        "tune": args.tune,
        "tune_budget_seconds": _budget(args),
        "tolerance": args.tolerance,
        "kernel_profile": args.kernel_profile,
    }
    model = _made_by(factory, args.factory)
    # tsrun's stand-ins: seed 0, randn for floats, 0-9 for ints.
    examples = tuple(_core.make_inputs([_core.TensorSpec(s.name, s.dtype or "float32", s.shape) for s in specs]))
    _check_arguments(model, examples, options)
    print(export(model, examples, args.output, **options))
    return EXIT_OK


def _load_factory(target: str):
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"factory must look like pkg.module:callable, got {target!r}")
    sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # ImportError, or whatever the module raises as it runs
        raise UsageError(f"cannot import {module_name}: {error}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise UsageError(f"{module_name} has no callable {attribute!r}")
    return factory


def _made_by(factory, target: str):
    try:
        return factory()
    except Exception as error:  # the user's code: an export failure, not a tsbridge bug
        raise ExportError(f"{target}() raised {type(error).__name__}: {error}") from None


def _budget(args) -> float | None:
    if args.tune_budget is None:
        return None
    if not args.tune:
        raise UsageError("--tune-budget applies only with --tune")
    return tune_budget(args.tune_budget)


def _check_arguments(model, examples: tuple, options: dict) -> None:
    """export's own argument checks, run first: what they refuse is a usage
    error (exit 2), and a TypeError or ValueError export raises later is not
    taken for one."""
    from ..exporting.arguments import as_module, check_arguments

    names = ("capture", "format", "target", "metadata", "input_names", "tune", "precision", "tolerance", "layout")
    try:
        check_arguments(as_module(model), examples, *(options[name] for name in (*names, "kernel_profile")))
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def _dynamic(items: list[str], specs: list[_core.TensorSpec]) -> dict[str, dict[int, str]]:
    ranks = {spec.name: len(spec.shape) for spec in specs}
    dims: dict[str, dict[int, str]] = {}
    for item in items:
        target, _, dim_name = item.partition("=")
        name, _, dim = target.partition(":")
        if not (name and dim.lstrip("-").isdigit() and dim_name):
            raise UsageError(f"--dynamic expects NAME:DIM=DIMNAME like x:0=batch, got {item!r}")
        if name not in ranks:
            raise UsageError(f"--dynamic {item}: no --example named {name!r} (given: {', '.join(ranks)})")
        if not -ranks[name] <= int(dim) < ranks[name]:
            raise UsageError(f"--dynamic {item}: dim {dim} is out of range for {name}'s {ranks[name]} dims")
        dims.setdefault(name, {})[int(dim)] = dim_name
    return dims


def _json_object(text: str, option: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{option} is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option} must be a JSON object")
    return value
