"""The torch tsbridge was built for against the torch running, checked on
import, before the extension loads: LibTorch's C++ ABI changes between
releases, and a mismatch would otherwise surface as `undefined symbol` from
the loader."""

import os
import sys

import torch

from . import _torch_build
from ._version import __version__


class TorchMismatchError(ImportError):
    """This tsbridge was compiled against another torch release than the one installed."""


def _release(version: str) -> str:
    # 2.15.0+cu132 and 2.15.0+cpu share their C++ ABI: the release must match.
    return version.split("+")[0]


def rebuild_command() -> str:
    source = _torch_build.SOURCE_DIR if os.path.isdir(_torch_build.SOURCE_DIR) else "<tsbridge source>"
    return f"pip install --no-build-isolation --no-deps --force-reinstall {source}"


def check() -> None:
    """Raise TorchMismatchError, shown as its one line, when the releases differ."""
    built, running = _torch_build.TORCH_VERSION, torch.__version__
    if _release(built) == _release(running):
        return
    message = (
        f"tsbridge {__version__} was built for torch {built}, but this environment has torch {running}: "
        f"rebuild it for this torch ({rebuild_command()}) or install torch=={_release(built)}"
    )
    _show_as_one_line()
    raise TorchMismatchError(message)


def _show_as_one_line() -> None:
    # `tsbridge doctor`, `python -m tsbridge` and a script that imports us get
    # the message alone, not a traceback through the import machinery.
    previous = sys.excepthook

    def hook(kind, error, traceback):
        if issubclass(kind, TorchMismatchError):
            print(f"tsbridge: error: {error}", file=sys.stderr)
        else:
            previous(kind, error, traceback)

    sys.excepthook = hook


check()
