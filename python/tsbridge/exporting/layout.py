"""layout=: the memory layout a TorchScript archive's 2-D convolution weights
are stored in. Channels-last (NHWC) weights make oneDNN's convolutions run
in NHWC from the first one on, without reordering each activation to and
from its blocked layout per call (docs/performance.md has the figures); the
model's inputs and outputs keep their layout at the file's interface."""

from __future__ import annotations

import copy

import torch
from torch.utils import _pytree

LAYOUTS = ("auto", "contiguous", "channels_last")


def has_conv2d(module: torch.nn.Module) -> bool:
    return any(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in module.modules())


def wanted(layout: str, module: torch.nn.Module) -> bool:
    """Whether to capture a channels-last copy: asked for, or by default
    ("auto") for a model with a 2-D convolution."""
    return layout == "channels_last" or (layout == "auto" and has_conv2d(module))


def channels_last(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of `module` with its 4-D parameters and buffers channels-last;
    the caller's model is left as it was."""
    return copy.deepcopy(module).to(memory_format=torch.channels_last)


def moved_output(module, examples: tuple, expected) -> str:
    """Why `module` (a channels-last capture) changes an output's memory
    layout from eager's `expected` on `examples`, or "" when it keeps them
    all: the file's interface must not change with its weights' layout."""
    with torch.no_grad():
        got = module(*examples)
    expected_leaves, got_leaves = _pytree.tree_leaves(expected), _pytree.tree_leaves(got)
    for index, (want, have) in enumerate(zip(expected_leaves, got_leaves, strict=False)):
        if isinstance(want, torch.Tensor) and isinstance(have, torch.Tensor) and _layout(want) != _layout(have):
            return f"output {index} would be {_layout(have)} where eager's is {_layout(want)}"
    return ""


def _layout(tensor: torch.Tensor) -> str:
    if tensor.is_contiguous():
        return "contiguous"
    if tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last):
        return "channels-last"
    return f"strided {tuple(tensor.stride())}"


def check_layout(layout: str, format: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")
    if layout != "auto" and format == "aoti":
        raise ValueError(
            f"layout={layout!r} chooses a TorchScript archive's weight layout; format='aoti' leaves layout to "
            "Inductor, which picks it per convolution"
        )
