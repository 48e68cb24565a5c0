"""Input and output specs as the manifest records them: name, TorchScript
type, and for tensors dtype and shape."""

from __future__ import annotations

from typing import Any

import torch

from . import _core

# The C++ runtime's table (tsbridge/dtype.h), so both sides name dtypes alike.
_DTYPES_BY_NAME = dict(_core.named_dtypes())
_DTYPE_NAMES = {dtype: name for name, dtype in _DTYPES_BY_NAME.items()}


def dtype_name(dtype: torch.dtype) -> str:
    return _DTYPE_NAMES[dtype]


def dtype_from_name(name: str) -> torch.dtype:
    return _DTYPES_BY_NAME[name]


def method_arguments(module: torch.jit.ScriptModule, method: str = "forward") -> list[tuple[str, str]]:
    """(name, TorchScript type) of each parameter of a scripted method, without self."""
    schema = getattr(module, method).schema
    return [(arg.name, arg.type.annotation_str) for arg in schema.arguments[1:]]


def value_spec(name: str, type_: str, value: Any = None) -> dict:
    """The spec of one value; dtype and shape come from an example tensor when given."""
    spec = {"name": name, "type": type_, "dtype": None, "shape": None}
    if isinstance(value, torch.Tensor):
        spec["type"] = "Tensor"
        spec["dtype"] = dtype_name(value.dtype)
        spec["shape"] = list(value.shape)
    return spec


def input_specs(module: torch.jit.ScriptModule, examples: tuple | None, names: list[str] | None) -> list[dict]:
    arguments = method_arguments(module)
    if names is not None:
        if len(names) != len(arguments):
            raise ValueError(f"input_names has {len(names)} names, but forward takes {len(arguments)} inputs")
        arguments = [(name, type_) for name, (_, type_) in zip(names, arguments, strict=True)]
    examples = tuple(examples) if examples is not None else (None,) * len(arguments)
    # Not strict: examples may cover fewer arguments than forward has; the specs describe those given.
    return [value_spec(name, type_, value) for (name, type_), value in zip(arguments, examples, strict=False)]


def flatten_output(value: Any, name: str = "output", path: tuple = ()) -> list[tuple[str, list, Any]]:
    """Leaves of a nested result as (name, path, value), named like the C++ runtime names them."""
    if isinstance(value, (tuple, list)):
        leaves = []
        for index, item in enumerate(value):
            leaves += flatten_output(item, f"{name}[{index}]", path + (index,))
        return leaves
    if isinstance(value, dict):
        leaves = []
        for key, item in value.items():
            label = f"'{key}'" if isinstance(key, str) else str(key)
            leaves += flatten_output(item, f"{name}[{label}]", path + (key,))
        return leaves
    return [(name, list(path), value)]


def output_specs(output: Any, names: list[str] | None) -> list[dict]:
    leaves = flatten_output(output)
    if names is not None and len(names) != len(leaves):
        raise ValueError(f"output_names has {len(names)} names, but the model returns {len(leaves)} values")
    specs = []
    for index, (name, path, value) in enumerate(leaves):
        type_ = "Tensor" if isinstance(value, torch.Tensor) else type(value).__name__
        spec = value_spec(names[index] if names else name, type_, value)
        spec["path"] = path
        specs.append(spec)
    return specs
