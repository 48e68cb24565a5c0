"""tsbridge.load: a model run by the C++ runtime (libtsbridge), called like a
torch module."""

from __future__ import annotations

import functools
import os
import tempfile
import weakref
from collections.abc import Sequence
from typing import IO, Any

import torch

from . import _core


class Model:
    """A model loaded by the C++ runtime. Call it like a module; other
    exported methods are attributes."""

    def __init__(self, core: _core.Model):
        self._core = core

    @property
    def manifest(self) -> _core.Manifest | None:
        """The manifest as the C++ reader parsed it (typed fields; `.document`
        is the whole of it as a dict), or None for a plain TorchScript file."""
        return self._core.manifest

    @property
    def tuning(self) -> _core.AppliedTuning:
        """What the load applied of a recorded tuning: .source, .recorded,
        .applied and .notes (docs/tuning.md)."""
        return self._core.tuning

    @property
    def load_warm_up(self) -> _core.WarmUp:
        """What load's `warmup_calls` did: .calls and .seconds."""
        return self._core.load_warm_up

    def check_inputs(self, inputs: Sequence[Any], method: str = "forward") -> None:
        """The checks a call makes before the graph runs (the arguments' count,
        types, dtypes, shapes and shared dims against the specs), without
        running it: tsbridge.InputError and its kinds when one fails."""
        self._core.check_inputs(method, list(inputs))

    def output_leaves(self, result: Any, method: str = "forward") -> list[tuple[str, Any]]:
        """A result's leaves, flattened in order, as [(name, value)]: named
        after the manifest's outputs when they match one to one, else by position."""
        return self._core.output_leaves(method, result)

    def __call__(self, *inputs: Any) -> Any:
        return self._core.forward(*inputs)

    forward = __call__

    def run(self, method: str, *inputs: Any) -> Any:
        return self._core.run(method, *inputs)

    def __getattr__(self, name: str):
        core = self.__dict__.get("_core")
        if core is not None and not name.startswith("_") and core.has_method(name):
            return functools.partial(core.run, name)
        raise AttributeError(f"{type(self).__name__} has no attribute or method '{name}'")

    def warm_up(self, *inputs: Any, calls: int = 1) -> _core.WarmUp:
        """Runs forward `calls` times on `inputs` (default: the golden sample's,
        or inputs made from the manifest's specs) so the calls after it run at
        steady-state speed. Returns what it did: .calls and .seconds."""
        return self._core.warm_up(*inputs, calls=calls)

    def self_test(self) -> _core.SelfTestReport:
        """Replays the golden sample in C++: .passed, .max_abs_error, .max_rel_error, .rtol, .atol and
        .outputs (one OutputCheck per output leaf)."""
        return self._core.self_test()

    def stats(self) -> _core.ModelStats:
        """.parameters and .parameter_bytes: what the archive holds (weights, or constants once frozen),
        each distinct tensor once."""
        return self._core.stats()

    def code(self, method: str = "forward") -> str:
        """The TorchScript source of a method (InvalidArgumentError for a .pt2 package)."""
        return self._core.code(method)

    @property
    def methods(self) -> list[str]:
        return self._core.methods

    def inputs(self, method: str = "forward") -> list[_core.TensorSpec]:
        """Input specs as the C++ runtime reads them."""
        return self._core.inputs(method)

    @property
    def outputs(self) -> list[_core.TensorSpec]:
        return self._core.outputs

    @property
    def runners(self) -> int:
        """A .pt2's AOTInductor runners (calls that run at once); 0 for TorchScript."""
        return self._core.runners

    @property
    def path(self) -> str:
        return self._core.path

    @property
    def format(self) -> str:
        """ "torchscript" or "aoti" (a .pt2 package), as recognised from the file's contents."""
        return self._core.format

    @property
    def device(self) -> torch.device:
        return torch.device(self._core.device)

    def __repr__(self) -> str:
        return f"tsbridge.Model({self.path!r}, device={self._core.device!r}, methods={self.methods})"


def _device_name(map_location: Any) -> str:
    if map_location is None:
        return "cpu"
    if isinstance(map_location, (str, torch.device)):
        return str(map_location)
    raise TypeError(f"map_location must be None, a str or a torch.device, got {type(map_location).__name__}")


def load(
    f: str | os.PathLike | IO[bytes],
    map_location: str | torch.device | None = None,
    _extra_files: dict[str, Any] | None = None,
    *,
    verify_integrity: bool = True,
    warmup_calls: int = 0,
    optimize_graph: bool = False,
    pack_convolutions: bool = True,
    runners: int | None = None,
    apply_tuning: bool = True,
) -> Model:
    """Load an archive into the C++ runtime, like torch.jit.load: a
    TorchScript archive or a .pt2 package, told apart by its contents.

    `_extra_files` maps names to fill in: on return each holds that extra
    file's bytes (as torch.jit.load does). With `verify_integrity` (the
    default) every entry is checked against the SHA-256 digests the manifest
    records, and a mismatch is refused (tsbridge.InvalidArchiveError,
    "integrity check failed"). Raises tsbridge.LoadError and its subclasses
    for a missing, corrupt or unsupported file.

    The rest are the C++ LoadOptions (docs/cpp-api.md): `warmup_calls` calls
    forward that many times at load on the golden sample's inputs, so the
    first call you make runs at steady-state speed; `optimize_graph`
    (TorchScript only) turns on the graph-executor optimisations (off: on a
    CPU they cost slow first calls and gained nothing in our measurements);
    `pack_convolutions` (TorchScript only; on by default) runs a frozen
    archive's convolutions on weights packed for oneDNN once, at load (off:
    LibTorch's own convolutions, and no second copy of their weights);
    `runners` (.pt2 only) is how many calls on a .pt2 run at once from
    several threads (default: cores / intra-op threads; 1 to 256). An option
    of the other format is refused (tsbridge.InvalidArgumentError).
    `apply_tuning` (the default) applies the runtime settings a tuning
    recorded (a matching sidecar's, else the manifest's when measured on this
    machine); `model.tuning` says what applied (docs/tuning.md).
    Process-wide settings are tsbridge.set_threads and tsbridge.set_executor.
    """
    device = _device_name(map_location)
    options = dict(
        verify_integrity=verify_integrity,
        warmup_calls=warmup_calls,
        optimize_graph=optimize_graph,
        pack_convolutions=pack_convolutions,
        runners=runners,
        apply_tuning=apply_tuning,
    )
    if isinstance(f, (str, os.PathLike)):
        model = Model(_core.Model.load(os.fspath(f), device, **options))
    else:
        model = _load_stream(f, device, options)
    for name in list(_extra_files or {}):
        content = model._core.extra_file(name)
        _extra_files[name] = content if content is not None else b""
    return model


def _load_stream(stream: IO[bytes], device: str, options: dict) -> Model:
    # The C++ runtime reads files; keep a private copy alive as long as the model.
    fd, path = tempfile.mkstemp(prefix="tsbridge-", suffix=".pt")
    with os.fdopen(fd, "wb") as copy:
        copy.write(stream.read())
    try:
        model = Model(_core.Model.load(path, device, **options))
    except BaseException:
        os.unlink(path)
        raise
    weakref.finalize(model, os.unlink, path)
    return model
