"""Telling a torch.jit that raises from a model that cannot be captured.

PyTorch has proposed (pytorch/pytorch#189705) that torch.jit calls raise. A
failing torch.jit.script or torch.jit.trace of the user's model is then torch's
fault when the same call fails on nn.Identity too: tsbridge says so in one
line and points at the .pt2 path, instead of blaming the model.
"""

import contextlib

import torch

from .errors import TorchScriptUnavailableError

# nn.Identity: a module every working torch.jit captures (its source ships with torch).
_PROBES = {
    "script": lambda: torch.jit.script(torch.nn.Identity()),
    "trace": lambda: torch.jit.trace(torch.nn.Identity(), torch.zeros(1), check_trace=False),
}


@contextlib.contextmanager
def torch_jit_call(name: str):
    """Around torch.jit.<name> of a model, inside quiet_torch_jit() (which the
    probe relies on too): an error the probe repeats becomes
    TorchScriptUnavailableError; any other passes through unchanged."""
    try:
        yield
    except Exception as error:
        if _works(name):
            raise
        raised = next((line.strip() for line in str(error).splitlines() if line.strip()), "")[:200]
        raise TorchScriptUnavailableError(
            f"torch.jit is unavailable in torch {torch.__version__} (torch.jit.{name} raised "
            f"{type(error).__name__}: {raised}): export a .pt2 with format='aoti' instead, and convert "
            "existing TorchScript archives with `tsbridge migrate`"
        ) from None


def _works(name: str) -> bool:
    try:
        _PROBES[name]()
    except Exception:
        return False
    return True
