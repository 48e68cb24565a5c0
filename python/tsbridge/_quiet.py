"""One note instead of a deprecation warning on every torch.jit call.

torch marks torch.jit.script/trace/save/load/freeze deprecated: torch 2.13 with
a DeprecationWarning, torch 2.15 with a FutureWarning, in the same words (on
Python 3.14+, "is not supported in Python 3.14+"). tsbridge uses them on
purpose: TorchScript is what LibTorch runs with no Python.
"""

import contextlib
import threading
import warnings

import torch

# Matched by message: the category changes between torch releases, the words do not.
TORCH_JIT_WARNING = r"`torch\.jit\.\w+` is (deprecated|not supported)"

_noted = False
_lock = threading.Lock()


class TorchScriptDeprecationNote(UserWarning):
    """Shown once per process: torch.jit is deprecated upstream, used on purpose here."""


@contextlib.contextmanager
def quiet_torch_jit():
    """Silence torch.jit's per-call deprecation warnings; note it once."""
    global _noted
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=TORCH_JIT_WARNING)
        yield
    with _lock:
        first, _noted = not _noted, True
    if first:
        warnings.warn(
            f"torch {torch.__version__} deprecates torch.jit in favour of torch.export; tsbridge uses "
            "TorchScript deliberately (its archives run in LibTorch with no Python) and "
            "hides the per-call warnings. This note is shown once.",
            TorchScriptDeprecationNote,
            stacklevel=4,
        )
