"""tsbridge: from a PyTorch model in Python to that model running in C++.

Script or trace a model, save one archive (a plain TorchScript file plus a
manifest), and run it with the C++ runtime: from C++, from the `tsrun` CLI, or
from Python through `tsbridge.load`.
"""

import torch  # noqa: F401  (loads LibTorch before the extension that links it)

# First, and kept apart from the sorted imports below: refuses a torch other
# than the one tsbridge was built for, in one line, before the extension
# that links that torch's LibTorch is loaded.
from . import _torch_match  # noqa: F401

# isort: split
from . import _core  # noqa: F401
from ._quiet import TorchScriptDeprecationNote
from ._version import __version__
from .archive import save
from .capture import script, trace
from .errors import (
    DeviceUnavailableError,
    Error,
    ExportError,
    InferenceError,
    InputError,
    InputFileError,
    InvalidArchiveError,
    InvalidArgumentError,
    LoadError,
    MethodNotFoundError,
    ModelNotFoundError,
    TorchScriptUnavailableError,
    UnsupportedCpuError,
    UnsupportedVersionError,
)
from .exporting import export
from .migrate import migrate
from .process import set_executor, set_threads
from .report import CheckResult, ExportReport
from .runtime import Model, load
from .triton import to_triton
from .tuner import tune
from .verify import VerifyReport, verify

__all__ = [
    "CheckResult",
    "ExportReport",
    "export",
    "migrate",
    "DeviceUnavailableError",
    "Error",
    "ExportError",
    "InferenceError",
    "InputError",
    "InputFileError",
    "InvalidArchiveError",
    "InvalidArgumentError",
    "LoadError",
    "MethodNotFoundError",
    "Model",
    "ModelNotFoundError",
    "TorchScriptDeprecationNote",
    "TorchScriptUnavailableError",
    "UnsupportedCpuError",
    "UnsupportedVersionError",
    "VerifyReport",
    "__version__",
    "load",
    "save",
    "script",
    "set_executor",
    "set_threads",
    "to_triton",
    "trace",
    "tune",
    "verify",
]
