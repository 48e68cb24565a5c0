"""Manifest dtypes as Triton's TYPE_* data types."""

from .errors import UnservableError

# Only the types Triton's PyTorch backend converts to a torch dtype
# (ModelConfigDataTypeToTorchType); TYPE_BF16 exists in the schema but the
# backend refuses it, and Triton has no complex type.
_TRITON_TYPES = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "int8": "TYPE_INT8",
    "int16": "TYPE_INT16",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float16": "TYPE_FP16",
    "float32": "TYPE_FP32",
    "float64": "TYPE_FP64",
}


def triton_type(dtype: str | None, what: str) -> str:
    """TYPE_* for a manifest dtype name; `what` names the tensor in the refusal."""
    if dtype is None:
        raise UnservableError(
            f"{what} has no recorded dtype; Triton's config needs one (re-export with example inputs)"
        )
    if dtype not in _TRITON_TYPES:
        raise UnservableError(
            f"{what} is {dtype}, which Triton's PyTorch backend does not accept (it takes {', '.join(_TRITON_TYPES)})"
        )
    return _TRITON_TYPES[dtype]


def manifest_dtype(triton: str) -> str:
    """The manifest dtype name of a TYPE_* (for tests and tools reading a config back)."""
    for name, value in _TRITON_TYPES.items():
        if value == triton:
            return name
    raise KeyError(triton)
