"""The arguments of tsbridge.export, checked before any work: the model as a
module, the inputs as argument tuples, the choices, the names, the path."""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from typing import Any

import torch

from ..errors import ExportError
from .layout import check_layout
from .precision import PRECISIONS

CAPTURES = ("auto", "script", "trace")
FORMATS = ("torchscript", "aoti", "auto")


class Function(torch.nn.Module):
    """Wraps a plain function so it can be scripted, traced and saved as a module."""

    def __init__(self, fn: Callable):
        super().__init__()
        self.fn = fn

    def forward(self, *args):
        return self.fn(*args)


def as_module(model: Any) -> torch.nn.Module:
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError("model is already a ScriptModule: pass the eager nn.Module, or use tsbridge.save")
    if isinstance(model, torch.nn.Module):
        return model
    if callable(model):
        return Function(model)
    raise TypeError(f"model must be an nn.Module or a function, got {type(model).__name__}")


def as_args(value: Any, what: str) -> tuple:
    if value is None:
        raise ValueError(f"{what} is required: a tensor, or a tuple of forward's arguments")
    args = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    for index, arg in enumerate(args):
        _check_value(arg, f"{what}[{index}]")
    return args


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, (torch.Tensor, bool, int, float, str)) or value is None:
        return
    if isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            _check_value(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: dict keys must be str or int, got {type(key).__name__}")
            _check_value(item, f"{where}[{key!r}]")
        return
    raise TypeError(
        f"{where}: a {type(value).__name__} cannot be a model input "
        "(use tensors, numbers, strings, and tuples/lists/dicts of them)"
    )


def check_arguments(
    module,
    examples,
    capture,
    format,
    target,
    metadata,
    input_names,
    tune,
    precision,
    tolerance,
    layout,
    kernel_profile=False,
    program=None,
) -> None:
    """Every choice export takes, checked before any work: ValueError (or
    TypeError) names the first one that is wrong."""
    check_choices(capture, format, target, metadata, input_names, examples, tune)
    check_precision(precision, program)
    check_tolerance(tolerance, tune, precision)
    check_layout(layout, format)
    check_kernel_profile(kernel_profile, format, tune)


def check_choices(capture: str, format: str, target: str | None, metadata, input_names, examples, tune) -> None:
    """Refuses an unknown capture or format, a capture or target that the
    format does not use, metadata that is not JSON, input names that do not
    line up with the examples, and a timing search on examples off the CPU."""
    _check_metadata(metadata)
    _check_input_names(input_names, examples)
    if capture not in CAPTURES:
        raise ValueError(f"capture must be one of {', '.join(map(repr, CAPTURES))}, got {capture!r}")
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, got {format!r}")
    if format == "aoti" and capture != "auto":
        raise ValueError(
            f"capture={capture!r} chooses how TorchScript captures the model; format='aoti' always uses torch.export"
        )
    if target is not None and format == "torchscript":
        raise ValueError(
            f"target={target!r} chooses the CPU a .pt2 is compiled for; format='torchscript' "
            "archives run on any CPU LibTorch runs on"
        )
    elsewhere = [t.device for t in examples if isinstance(t, torch.Tensor) and not t.is_cpu]
    if elsewhere and (tune or format == "auto"):
        raise ValueError(
            "tune=True and format='auto' time candidates in the C++ runtime on the CPU, and the examples are "
            f"on {elsewhere[0]}: export with format='torchscript' or format='aoti'"
        )


def check_precision(precision: str, program) -> None:
    """Refuses an unknown precision, and a reduced one for a program made
    elsewhere (the products are lowered while torch.export traces)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}")
    if program is not None and precision != "fp32":
        raise ValueError(f"precision={precision!r} lowers the model while torch.export traces: it takes no _program")


def check_tolerance(tolerance, tune: bool, precision: str) -> None:
    """tolerance= lets tune=True try reduced precisions: it needs the search
    and an fp32 export to start from."""
    if tolerance is None:
        return
    if not tune:
        raise ValueError("tolerance applies only with tune=True (it lets the tuner try bf16 and fp16)")
    if precision != "fp32":
        raise ValueError(f"tolerance lets the tuner choose the precision; precision={precision!r} fixes it")
    if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a number in (0, 1), e.g. 1e-2, got {tolerance!r}")


def check_kernel_profile(kernel_profile, format: str, tune: bool) -> None:
    """kernel_profile=True makes a profiling build of a .pt2: its marks cost
    every call, so it is neither a TorchScript option nor a tuning candidate."""
    if not isinstance(kernel_profile, bool):
        raise TypeError(f"kernel_profile must be True or False, got {kernel_profile!r}")
    if not kernel_profile:
        return
    if format == "torchscript":
        raise ValueError(
            "kernel_profile=True marks a .pt2's compiled kernels for tsrun --profile; a TorchScript archive's "
            "operators show in the trace without it: use format='aoti'"
        )
    if format == "auto":
        raise ValueError(
            "kernel_profile=True applies to format='aoti' only: format='auto' would time a profiling build, "
            "slower per call, against the archive"
        )
    if tune:
        raise ValueError(
            "kernel_profile=True builds a package for profiling, slower per call than the one to ship: "
            "it cannot be combined with tune=True"
        )


def _check_metadata(metadata: dict | None) -> None:
    try:
        json.dumps(metadata or {})
    except (TypeError, ValueError) as error:
        raise TypeError(f"metadata must be JSON-serialisable: {error}") from None


def _check_input_names(names: list[str] | None, examples: tuple) -> None:
    """One unique name per example input, or none: names that do not line up
    would be dropped or misapplied, not used."""
    if names is None:
        return
    if len(names) != len(examples):
        raise ValueError(f"input_names has {len(names)} names, but there are {len(examples)} example inputs")
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"input_names must be distinct non-empty strings, got {list(names)!r}")


def argument_names(module: torch.nn.Module, count: int) -> list[str]:
    """The names of forward's first `count` positional parameters, then
    input<i> for arguments it takes as *args."""
    fn = module.fn if isinstance(module, Function) else module.forward
    try:
        parameters = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters[:count]]
    return names + [f"input{i}" for i in range(len(names), count)]


def writable_path(f: Any) -> str:
    if not isinstance(f, (str, os.PathLike)):
        raise TypeError(f"f must be a file path, got {type(f).__name__}")
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ExportError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write {path}: folder {folder} is not writable")
    if os.path.isdir(path):
        raise ExportError(f"cannot write {path}: it is a folder")
    return path
