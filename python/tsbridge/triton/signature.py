"""What a model takes and returns, as Triton's config needs it: from the
manifest, or for a TorchScript file made elsewhere from input specs the
caller gives and one probe run per size."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .. import _core, manifest as manifest_, specs as specs_
from .._quiet import quiet_torch_jit
from ..errors import InvalidArgumentError
from ..runtime import Model
from .errors import UnservableError

SHAPE_OPTION = "--shape NAME=DIMS[:DTYPE] (to_triton(input_specs=[...]) in Python)"


@dataclass
class Signature:
    format: str  # "torchscript" or "aoti"
    inputs: list[dict]  # manifest-style specs: name, type, dtype, shape (a str is a dynamic dim)
    outputs: list[dict]  # the same, plus "path" into the returned structure
    argument_names: list[str] | None  # forward's own parameter names (TorchScript only)
    returns: object = None  # forward's return type, a torch._C.Type (TorchScript only)
    compiled_for: str = "cpu"  # the device a .pt2 package was compiled for


def read(model: Model, input_specs: list[dict] | None, method: str = "forward") -> Signature:
    if method != "forward":
        raise UnservableError(f"method {method!r}: Triton's PyTorch backend calls forward only")
    if "forward" not in model.methods:
        raise UnservableError(
            f"{model.path} has no forward method (it has {', '.join(model.methods)}); "
            "Triton's PyTorch backend calls forward only"
        )
    manifest = model.manifest
    argument_names, argument_types, returns = (
        _torchscript_schema(model.path) if model.format == "torchscript" else (None, None, None)
    )
    if manifest is not None and manifest.outputs:  # saved with examples: it records the shapes
        if input_specs is not None:
            raise InvalidArgumentError(
                f"{model.path} has a tsbridge manifest: its input specs come from it, drop the --shape options"
            )
        inputs = [manifest_.spec_record(spec) for spec in manifest.inputs]
        outputs = [manifest_.spec_record(spec, output=True) for spec in manifest.outputs]
        return Signature(model.format, inputs, outputs, argument_names, returns, manifest.device or "cpu")
    if input_specs is None:
        what = (
            "a tsbridge manifest without shapes (saved without example inputs)" if manifest else "no tsbridge manifest"
        )
        raise UnservableError(
            f"{model.path} has {what}, so its input shapes are unknown and Triton's config "
            f"needs them: give each input with {SHAPE_OPTION}"
        )
    if model.format != "torchscript":
        # AOTInductor trusts the sizes it is given (a wrong one can crash the
        # process), so a package is not probed for its outputs.
        raise UnservableError(
            f"{model.path} is a .pt2 package without a tsbridge manifest; its outputs cannot be "
            "probed safely (AOTInductor does not check input sizes): export it with "
            "tsbridge.export(..., format='aoti')"
        )
    for name, type_ in zip(argument_names, argument_types, strict=True):
        if type_ != "Tensor":
            raise UnservableError(f"input {name!r} is {type_}, not a tensor: Triton passes tensors only")
    inputs = _ordered(input_specs, argument_names, model.path)
    return Signature(model.format, inputs, _probe_outputs(model, inputs), argument_names, returns)


def _torchscript_schema(path: str):
    with quiet_torch_jit():
        module = torch.jit.load(path, map_location="cpu")
    schema = module.forward.schema
    arguments = schema.arguments[1:]
    return (
        [a.name for a in arguments],
        [a.type.annotation_str for a in arguments],
        schema.returns[0].type if len(schema.returns) == 1 else None,
    )


def _ordered(given: list[dict], argument_names: list[str], path: str) -> list[dict]:
    by_name = {spec["name"]: spec for spec in given}
    if sorted(by_name) != sorted(argument_names):
        raise InvalidArgumentError(
            f"{path}: forward takes {', '.join(argument_names) or 'no inputs'}; "
            f"--shape gave {', '.join(by_name) or 'none'}"
        )
    for spec in given:
        try:
            specs_.dtype_from_name(spec["dtype"])
        except KeyError:
            raise InvalidArgumentError(f"input {spec['name']!r}: unknown dtype {spec['dtype']!r}") from None
    return [
        {"name": name, "type": "Tensor", "dtype": by_name[name]["dtype"], "shape": list(by_name[name]["shape"])}
        for name in argument_names
    ]


def _probe_outputs(model: Model, inputs: list[dict]) -> list[dict]:
    """Runs forward twice with every dynamic dim at two different sizes: an
    output dim that changes is dynamic, named after the input dim it followed."""
    names = list(dict.fromkeys(d for spec in inputs for d in spec["shape"] if isinstance(d, str)))
    first = {name: 2 + k for k, name in enumerate(names)}
    second = {name: 7 + 2 * k for k, name in enumerate(names)}
    runs = [specs_.flatten_output(_run(model, inputs, sizes)) for sizes in (first, second)]
    outputs = []
    for (name, path, a), (_, _, b) in zip(*runs, strict=True):
        spec = {
            "name": name,
            "type": "Tensor" if isinstance(a, torch.Tensor) else type(a).__name__,
            "dtype": None,
            "shape": None,
            "path": path,
        }
        if isinstance(a, torch.Tensor):
            spec["dtype"] = _dtype_name(a.dtype)
            spec["shape"] = [
                _dim(x, y, first, second, f"{name}_dim{d}")
                for d, (x, y) in enumerate(zip(a.shape, b.shape, strict=True))
            ]
        outputs.append(spec)
    return outputs


def _dtype_name(dtype: torch.dtype) -> str:
    try:
        return specs_.dtype_name(dtype)
    except KeyError:  # a dtype the manifest has no name for: refused later, by name
        return str(dtype).removeprefix("torch.")


def _dim(x: int, y: int, first: dict, second: dict, fallback: str):
    if x == y:
        return x
    return next((name for name in first if first[name] == x and second[name] == y), fallback)


def _run(model: Model, inputs: list[dict], sizes: dict):
    shapes = {spec["name"]: [sizes[d] if isinstance(d, str) else d for d in spec["shape"]] for spec in inputs}
    dtypes = {spec["name"]: spec["dtype"] for spec in inputs}
    try:
        # tsrun's stand-ins (seed 0) for forward's arguments, which `inputs` lists in order.
        values = _core.make_inputs(model.inputs(), shapes=shapes, dtypes=dtypes)
        return model(*values)
    except Exception as error:  # the C++ runtime's InferenceError, or a caster's TypeError
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidArgumentError(f"forward failed on inputs of the given --shape: {first_line}") from None
