"""tsbridge.script and tsbridge.trace: torch.jit.script / torch.jit.trace with
the arguments users know, minus the warning wall, remembering how each module
was made so that save() can describe it."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ._quiet import quiet_torch_jit
from ._torch_jit import torch_jit_call


@dataclass
class Capture:
    kind: str  # "script" or "trace"
    example_inputs: tuple | None = None
    frozen: bool = False


_captures: weakref.WeakKeyDictionary[torch.jit.ScriptModule, Capture] = weakref.WeakKeyDictionary()


def capture_of(module: torch.jit.ScriptModule) -> Capture:
    """How a module was made: recorded by script()/trace(), else inferred."""
    known = _captures.get(module)
    if known is not None:
        return known
    traced = isinstance(module, torch.jit.TopLevelTracedModule)
    return Capture(kind="trace" if traced else "script")


def remember(module: torch.jit.ScriptModule, capture: Capture) -> torch.jit.ScriptModule:
    _captures[module] = capture
    return module


def _as_tuple(example_inputs: Any) -> tuple:
    if isinstance(example_inputs, tuple):
        return example_inputs
    if isinstance(example_inputs, list):
        return tuple(example_inputs)
    return (example_inputs,)


def script(model: torch.nn.Module | Callable, method_name: str | Sequence[str] | None = None):
    """torch.jit.script. `method_name` names methods to compile besides
    forward and the @torch.jit.export ones, without decorating the class."""
    extra = [method_name] if isinstance(method_name, str) else list(method_name or [])
    if extra and not isinstance(model, torch.nn.Module):
        raise TypeError("method_name applies to nn.Module models only")
    for name in extra:
        if not callable(getattr(model, name, None)):
            raise ValueError(f"method_name: {type(model).__name__} has no method '{name}'")
    with quiet_torch_jit(), torch_jit_call("script"):
        if not extra:
            scripted = torch.jit.script(model)
        else:
            scripted = _script_with_methods(model, extra)
    if isinstance(scripted, torch.jit.ScriptModule):
        remember(scripted, Capture(kind="script"))
    return scripted


def _script_with_methods(model: torch.nn.Module, names: list[str]) -> torch.jit.ScriptModule:
    from torch.jit import _recursive

    def methods_to_compile(module: torch.nn.Module):
        stubs = _recursive.infer_methods_to_compile(module)
        if module is model:
            present = {stub.def_.name().name for stub in stubs}
            stubs += [_recursive.make_stub_from_method(module, n) for n in names if n not in present]
        return stubs

    # share_types=False: TorchScript caches one compiled type per class, and a
    # cached one (scripted earlier without these methods) would lack them.
    return _recursive.create_script_module(model, methods_to_compile, share_types=False)


def trace(
    model: torch.nn.Module | Callable,
    example_inputs: Any,
    optimize: bool | None = None,
    check_trace: bool = True,
    check_inputs: list | None = None,
    check_tolerance: float = 1e-5,
    strict: bool | None = None,
    example_kwarg_inputs: dict | None = None,
):
    """torch.jit.trace, run under torch.no_grad() as an inference export
    should be (autograd's bookkeeping made LibTorch's trace check fail on an
    nn.TransformerEncoder). `strict=None` (the default) traces strictly, and
    when the model returns a dict or list, which strict tracing refuses,
    traces it non-strictly: the container's keys and length are then fixed by
    the example, as the checks against eager confirm. `optimize` is accepted
    for compatibility (torch ignores it too); use tsbridge.export(freeze=True)
    to optimize for inference."""
    del optimize
    if example_inputs is None and example_kwarg_inputs is None:
        raise ValueError("trace needs example_inputs: a tensor or a tuple of the forward arguments")
    examples = _as_tuple(example_inputs) if example_inputs is not None else None

    def run(strict_mode: bool):
        with quiet_torch_jit(), torch_jit_call("trace"), torch.no_grad():
            return torch.jit.trace(
                model,
                examples,
                check_trace=check_trace,
                check_inputs=check_inputs,
                check_tolerance=check_tolerance,
                strict=strict_mode,
                example_kwarg_inputs=example_kwarg_inputs,
            )

    try:
        traced = run(strict is not False)
    except RuntimeError as error:
        if strict is not None or "at the output of the tracer" not in str(error):
            raise
        traced = run(False)
    if isinstance(traced, torch.jit.ScriptModule):
        remember(traced, Capture(kind="trace", example_inputs=examples))
    return traced
