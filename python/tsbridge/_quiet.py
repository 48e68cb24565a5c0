"""One note instead of a DeprecationWarning on every torch.jit call.

torch 2.13 marks torch.jit.script/trace/save/load as deprecated. tsbridge
uses them on purpose: TorchScript is what LibTorch runs with no Python.
"""

import contextlib
import threading
import warnings

_noted = False
_lock = threading.Lock()


class TorchScriptDeprecationNote(UserWarning):
    """Shown once per process: torch.jit is deprecated upstream, used on purpose here."""


@contextlib.contextmanager
def quiet_torch_jit():
    """Silence torch.jit's per-call deprecation warnings; note it once."""
    global _noted
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)
        yield
    with _lock:
        first, _noted = not _noted, True
    if first:
        warnings.warn(
            "torch 2.13 deprecates torch.jit in favour of torch.export; tsbridge uses "
            "TorchScript deliberately (its archives run in LibTorch with no Python) and "
            "hides the per-call warnings. This note is shown once.",
            TorchScriptDeprecationNote,
            stacklevel=4,
        )
