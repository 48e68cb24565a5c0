"""Settings LibTorch keeps once per process (tsbridge/process.h): set them
once, before the first model runs; they apply to every model in the process."""

from __future__ import annotations

from . import _core


def set_threads(intra_op: int = 0, inter_op: int = 0) -> None:
    """Sizes LibTorch's thread pools (0 keeps the default). The inter-op pool
    can only be sized before it is first used (tsbridge.InvalidArgumentError)."""
    _core.set_threads(intra_op=intra_op, inter_op=inter_op)


def set_executor(profiling_executor: bool | None = None, onednn_fusion: bool | None = None) -> None:
    """TorchScript's graph executor (a .pt2 has none); None leaves a switch as
    it is. oneDNN fusion acts on models loaded with optimize_graph=True."""
    _core.set_executor(profiling_executor=profiling_executor, onednn_fusion=onednn_fusion)
