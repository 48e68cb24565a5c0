"""Input and output names in the convention each Triton platform reads.

pytorch_libtorch (TorchScript): inputs by forward's argument names when the
config uses all of them, else by position as INPUT__i; outputs by position as
OUTPUT__i (a tensor or a flat tuple of tensors).
torch_aoti (.pt2): the call-spec names, ARGS[i] for positional inputs and
RESULT, RESULT[i] or RESULT[key] for outputs (Triton 26.05 and later), or the
ordinal INPUT__i / OUTPUT__i that every torch_aoti release reads.
"""

from __future__ import annotations

import re

from .errors import UnservableError
from .signature import Signature

NAMINGS = ("auto", "ordinal")

# Triton's call-spec names cannot hold these in a dict key (its README).
_BAD_KEY = re.compile(r'["\[\]\s]|[^\x20-\x7e\u00a0-\U0010ffff]')


def input_names(signature: Signature, naming: str) -> list[str]:
    count = len(signature.inputs)
    if naming == "ordinal":
        return [f"INPUT__{i}" for i in range(count)]
    if signature.format == "aoti":
        return [f"ARGS[{i}]" for i in range(count)]
    names = [spec["name"] for spec in signature.inputs]
    # Triton matches config names against forward's own parameter names; a
    # manifest that renamed the inputs (export's input_names) falls back to positions.
    return names if names == signature.argument_names else [f"INPUT__{i}" for i in range(count)]


def output_names(signature: Signature, naming: str) -> list[str]:
    outputs = signature.outputs
    if naming == "ordinal":
        return [f"OUTPUT__{i}" for i in range(len(outputs))]
    if signature.format == "torchscript":
        _require_tensor_or_tuple(signature)
        return [f"OUTPUT__{i}" for i in range(len(outputs))]
    return [_result_name(spec) for spec in outputs]


def _require_tensor_or_tuple(signature: Signature) -> None:
    paths = [spec.get("path", []) for spec in signature.outputs]
    returns = signature.returns
    kind = returns.kind() if returns is not None else None
    flat_tuple = (
        kind == "TupleType"
        and all(e.kind() == "TensorType" for e in returns.elements())
        and all(len(p) == 1 for p in paths)
    )
    single = kind in ("TensorType", None) and paths == [[]]
    if not (flat_tuple or single):
        shown = returns.annotation_str if returns is not None else "a nested structure"
        raise UnservableError(
            f"forward returns {shown}: Triton's pytorch_libtorch platform takes a tensor or a "
            "flat tuple of tensors (return a tuple, or export a .pt2 package, whose call-spec "
            "names cover dicts and nesting)"
        )


def _result_name(spec: dict) -> str:
    parts = []
    for key in spec.get("path", []):
        if isinstance(key, str) and (not key or _BAD_KEY.search(key)):
            raise UnservableError(
                f"output {spec['name']}: dict key {key!r} cannot be named in Triton's call-spec "
                "names (no quotes, brackets, whitespace or unprintable characters)"
            )
        parts.append(f"[{key}]")
    return "RESULT" + "".join(parts)
