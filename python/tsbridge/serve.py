"""A tsbridge model as a Ray Serve deployment (docs/serving.md).

Each replica loads the archive or package into tsbridge's C++ runtime
(`tsbridge.load`; forward releases the GIL), and `@serve.batch` stacks the
requests waiting at a replica along the batch dim into one forward call.
Requests and responses are JSON:

    POST {"inputs": {"x": [[...], ...]}}  ->  {"outputs": {"output": [[...], ...]}}

each input a nested list of numbers with the manifest's shape, the batch dim
included (a request may carry several samples). A request that does not fit
the manifest gets HTTP 400 naming the input, before it joins a batch.

Ray is imported only when a deployment is made: `import tsbridge` works
without it (install the `serve` extra: pip install 'tsbridge[serve]').
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import torch

from . import _core, manifest as manifest_
from .batching import batch_dim
from .errors import Error, InputError, InvalidArgumentError
from .specs import dtype_from_name


def deployment(
    model: str | os.PathLike,
    *,
    num_replicas: int = 1,
    max_batch_size: int = 8,
    batch_wait_timeout_s: float = 0.01,
    num_cpus: float = 1,
    threads: int | None = 1,
    name: str = "tsbridge",
):
    """A Ray Serve application serving `model` over HTTP (pass it to
    `serve.run`). `max_batch_size` requests at most are stacked into one call
    (1 when the model has no batch dim 0); `threads` sets LibTorch's intra-op
    threads in each replica (None leaves LibTorch's default: one per core,
    which oversubscribes a machine shared by several replicas)."""
    try:
        from ray import serve
    except ImportError:
        raise ImportError("tsbridge.serve needs Ray Serve: pip install 'tsbridge[serve]'") from None
    if not isinstance(num_replicas, int) or num_replicas < 1:
        raise InvalidArgumentError(f"num_replicas must be a positive integer, got {num_replicas!r}")
    if not isinstance(max_batch_size, int) or max_batch_size < 1:
        raise InvalidArgumentError(f"max_batch_size must be a positive integer, got {max_batch_size!r}")
    path = os.path.abspath(os.fspath(model))
    return serve.deployment(
        ModelDeployment, name=name, num_replicas=num_replicas, ray_actor_options={"num_cpus": num_cpus}
    ).bind(path, max_batch_size=max_batch_size, batch_wait_timeout_s=batch_wait_timeout_s, threads=threads)


class ModelDeployment:
    """One replica: the model in the C++ runtime behind an HTTP handler."""

    def __init__(self, path: str, *, max_batch_size: int, batch_wait_timeout_s: float, threads: int | None):
        from ray import serve

        from .runtime import load

        if threads is not None:
            torch.set_num_threads(threads)
        self._model = load(path)
        manifest = self._model.manifest
        if manifest is None or not manifest.outputs:
            raise InvalidArgumentError(f"{path}: serving needs a tsbridge manifest with input and output specs")
        self._inputs = self._model.inputs()  # the C++ runtime's specs: forward's, from the manifest
        for spec in self._inputs:
            if not spec.is_tensor or spec.shape is None:
                raise InvalidArgumentError(
                    f"{path}: input {spec.name!r} is {spec.type}, not a tensor; JSON requests carry tensors only"
                )
        self._batch, _ = batch_dim(
            [manifest_.spec_record(s) for s in manifest.inputs],
            [manifest_.spec_record(s, output=True) for s in manifest.outputs],
        )
        # Bound here, not at class level, so each deployment picks its own batch size.
        self._batched = serve.batch(
            max_batch_size=max_batch_size if self._batch else 1, batch_wait_timeout_s=batch_wait_timeout_s
        )(self._run_batch)

    async def __call__(self, request) -> Any:
        from starlette.responses import JSONResponse

        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the request body is not JSON"}, status_code=400)
        try:
            inputs = self._decode(body)
        except InputError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        try:
            outputs = await self._batched(inputs)
        except Error as error:
            return JSONResponse({"error": str(error)}, status_code=500)
        return JSONResponse({"outputs": {name: value.tolist() for name, value in outputs}})

    def _decode(self, body: Any) -> list[torch.Tensor]:
        given = body.get("inputs") if isinstance(body, dict) else None
        names = [spec.name for spec in self._inputs]
        if not isinstance(given, dict) or sorted(given) != sorted(names):
            shown = sorted(given) if isinstance(given, dict) else type(given).__name__
            raise InputError(f'expected a JSON object with "inputs" holding {", ".join(map(repr, names))}; got {shown}')
        tensors = [_tensor(spec, given[spec.name]) for spec in self._inputs]
        # The C++ runtime's checks, per request: on the stacked batch one bad
        # request would fail every request batched with it.
        try:
            self._model.check_inputs(tensors)
        except InputError as error:  # the client is not told where the replica's file lives
            raise InputError(str(error).removeprefix(f"{self._model.path}: ")) from None
        return tensors

    async def _run_batch(self, requests: list[list[torch.Tensor]]) -> list[list[tuple[str, torch.Tensor]]]:
        sizes = [request[0].shape[0] for request in requests] if self._batch else [None] * len(requests)
        stacked = [torch.cat(column) for column in zip(*requests, strict=True)] if self._batch else requests[0]
        # forward releases the GIL; a worker thread keeps this replica's event
        # loop taking requests for the next batch meanwhile.
        result = await asyncio.to_thread(self._model, *stacked)
        leaves = self._model.output_leaves(result)  # named as the manifest's outputs
        if not self._batch:
            return [leaves]
        names = [name for name, _ in leaves]
        parts = zip(*(torch.split(value, sizes) for _, value in leaves), strict=True)
        return [list(zip(names, part, strict=True)) for part in parts]


def _tensor(spec: _core.TensorSpec, value: Any) -> torch.Tensor:
    """A JSON value as a tensor of the spec's dtype; its shape is the C++
    runtime's to check."""
    try:
        return torch.tensor(value, dtype=dtype_from_name(spec.dtype))
    except (TypeError, ValueError, RuntimeError, OverflowError):
        raise InputError(f"input {spec.name!r}: expected {spec} as a nested list of numbers") from None
