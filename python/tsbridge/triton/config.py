"""A model's Triton config (ModelConfig, as a dict in protobuf's field names)
from its signature and the serving options."""

from __future__ import annotations

from ..batching import batch_dim
from ..errors import InvalidArgumentError
from . import naming as naming_
from .datatypes import triton_type
from .errors import UnservableError
from .pbtxt import Symbol
from .signature import Signature

PLATFORMS = {"torchscript": "pytorch_libtorch", "aoti": "torch_aoti"}
KINDS = {"cpu": "KIND_CPU", "gpu": "KIND_GPU"}
# What a batchable TorchScript model gets when no max batch size is asked for.
DEFAULT_MAX_BATCH_SIZE = 8
# Triton's torch_aoti platform does not batch above this yet (pytorch_backend README).
AOTI_MAX_BATCH_SIZE = 1


def build(
    signature: Signature,
    *,
    name: str,
    max_batch_size: int | None,
    dynamic_batching: bool | None,
    max_queue_delay_us: int | None,
    instances: int,
    kind: str,
    naming: str,
) -> dict:
    for role, specs in (("input", signature.inputs), ("output", signature.outputs)):
        for spec in specs:
            if spec.get("type") != "Tensor" or spec.get("shape") is None:
                raise UnservableError(
                    f"{role} {spec['name']!r} is {spec.get('type') or 'untyped'}, not a tensor "
                    "of known shape: Triton passes tensors only"
                )
    batch, why_not = batch_dim(signature.inputs, signature.outputs)
    max_batch = _max_batch_size(signature, max_batch_size, batch, why_not)
    batching = _dynamic_batching(dynamic_batching, max_batch, max_queue_delay_us)
    if kind not in KINDS:
        raise InvalidArgumentError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(instances, int) or instances < 1:
        raise InvalidArgumentError(f"instances must be a positive integer, got {instances!r}")
    if signature.format == "aoti" and kind == "gpu" and not signature.compiled_for.startswith("cuda"):
        raise UnservableError(
            f"the .pt2 package was compiled for {signature.compiled_for}; a KIND_GPU instance "
            "needs a package compiled for CUDA (or use kind 'cpu')"
        )
    if naming not in naming_.NAMINGS:
        raise InvalidArgumentError(f"naming must be one of {', '.join(naming_.NAMINGS)}, got {naming!r}")

    config: dict = {
        "name": name,
        "platform": PLATFORMS[signature.format],
        "backend": "pytorch",
        "max_batch_size": max_batch,
        "input": [
            _tensor(n, s, max_batch, "input")
            for n, s in zip(naming_.input_names(signature, naming), signature.inputs, strict=True)
        ],
        "output": [
            _tensor(n, s, max_batch, "output")
            for n, s in zip(naming_.output_names(signature, naming), signature.outputs, strict=True)
        ],
        "instance_group": [{"count": instances, "kind": Symbol(KINDS[kind])}],
    }
    if batching is not None:
        config["dynamic_batching"] = batching
    config["parameters"] = [
        {"key": key, "value": {"string_value": value}} for key, value in _parameters(signature).items()
    ]
    return config


def _max_batch_size(signature: Signature, asked: int | None, batch: str | None, why_not: str) -> int:
    if asked is None:
        return DEFAULT_MAX_BATCH_SIZE if batch is not None and signature.format == "torchscript" else 0
    if isinstance(asked, bool) or not isinstance(asked, int) or asked < 0:
        raise InvalidArgumentError(f"max_batch_size must be a non-negative integer, got {asked!r}")
    if asked > 0 and batch is None:
        raise UnservableError(
            f"max batch size {asked} needs dim 0 to be a batch dim of every input and output, "
            f"but {why_not}; use max batch size 0 (full dims)"
        )
    if signature.format == "aoti" and asked > AOTI_MAX_BATCH_SIZE:
        raise UnservableError(
            f"max batch size {asked}: Triton's torch_aoti platform does not yet support batch "
            "sizes above 1 for .pt2 packages; use 0 (full dims, the batch dim as -1) or 1"
        )
    return asked


def _dynamic_batching(asked: bool | None, max_batch: int, delay_us: int | None) -> dict | None:
    if delay_us is not None and (isinstance(delay_us, bool) or not isinstance(delay_us, int) or delay_us < 0):
        raise InvalidArgumentError(f"max_queue_delay_us must be a non-negative integer, got {delay_us!r}")
    on = max_batch > 0 if asked is None else asked
    if on and max_batch == 0:
        raise InvalidArgumentError("dynamic batching needs a max batch size above 0 (and a batch dim 0)")
    if not on:
        if delay_us is not None:
            raise InvalidArgumentError("max_queue_delay_us applies only with dynamic batching on")
        return None
    return {} if delay_us is None else {"max_queue_delay_microseconds": delay_us}


def _parameters(signature: Signature) -> dict[str, str]:
    # Inference mode: tsbridge's C++ runtime runs every call under
    # c10::InferenceMode too. Optimised execution off: tsbridge's default
    # (docs/performance.md) - it made no CPU model faster in our measurements
    # and cost first calls up to 330x the steady state. TorchScript only: a
    # .pt2 is compiled ahead of time and has no graph executor.
    parameters = {"INFERENCE_MODE": "true"}
    if signature.format == "torchscript":
        parameters["DISABLE_OPTIMIZED_EXECUTION"] = "true"
    return parameters


def _tensor(name: str, spec: dict, max_batch: int, role: str) -> dict:
    shape = spec["shape"][1:] if max_batch > 0 else spec["shape"]
    tensor = {
        "name": name,
        "data_type": Symbol(triton_type(spec.get("dtype"), f"{role} {spec['name']!r}")),
        "dims": [-1 if isinstance(d, str) else int(d) for d in shape],
    }
    if not tensor["dims"]:
        # Triton needs at least one dim: a scalar (or a batch of scalars) is
        # declared [1] and reshaped to no dims, as its model-configuration guide does.
        tensor["dims"] = [1]
        tensor["reshape"] = {"shape": []}
    return tensor
