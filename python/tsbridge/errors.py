"""Exceptions raised by tsbridge, one class per failure a caller can act on.

The C++ runtime raises ``tsbridge::Error`` with a code; the bindings turn each
code into the matching class here (see :func:`from_code`).
"""

from __future__ import annotations

# ErrorCode name -> class, filled by each class that declares `cpp_code`.
_BY_CODE: dict[str, type[Error]] = {}


class Error(Exception):
    """Base class of every tsbridge error."""

    code = "Error"

    def __init_subclass__(cls, cpp_code: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if cpp_code is not None:  # raised by the C++ runtime as tsbridge::ErrorCode::<cpp_code>
            cls.code = cpp_code
            _BY_CODE[cpp_code] = cls


class InvalidArgumentError(Error, ValueError, cpp_code="InvalidArgument"):
    """An argument the runtime cannot take (a bad device, option or value)."""


class LoadError(Error):
    """The model file cannot be loaded."""

    code = "LoadError"


class ModelNotFoundError(LoadError, FileNotFoundError, cpp_code="FileNotFound"):
    """No file at the path."""


class InvalidArchiveError(LoadError, cpp_code="InvalidArchive"):
    """The file is not a sound archive or package."""


class UnsupportedVersionError(LoadError, cpp_code="UnsupportedVersion"):
    """A manifest format, digest or torch version this runtime does not read."""


class UnsupportedCpuError(LoadError, cpp_code="UnsupportedCpu"):
    """A .pt2 package compiled for CPU features this machine lacks."""


class MethodNotFoundError(Error, AttributeError, cpp_code="MethodNotFound"):
    """The model has no method of that name."""


class InputError(Error, ValueError, cpp_code="InputMismatch"):
    """Inputs do not match what the model takes."""


class DeviceUnavailableError(Error, cpp_code="DeviceUnavailable"):
    """The device asked for is not available to this process."""


class InferenceError(Error, RuntimeError, cpp_code="InferenceFailed"):
    """The model raised while running."""


class InputFileError(Error, ValueError, cpp_code="InvalidInputFile"):
    """A tensor file (.npy/.npz/.pt) is missing, corrupt or unsupported."""


class ExportError(Error):
    """A model could not be exported, or the export does not match eager PyTorch."""

    code = "ExportError"


class TorchScriptUnavailableError(ExportError):
    """This torch's torch.jit raises on any model, not just this one: export a .pt2 instead."""


def from_code(code: str, message: str) -> Error:
    """The exception for a C++ ``tsbridge::ErrorCode`` name."""
    return _BY_CODE.get(code, Error)(message)
