"""Exceptions raised by tsbridge, one class per failure a caller can act on.

The C++ runtime raises ``tsbridge::Error`` with a code; the bindings turn each
code into the matching class here (see :func:`from_code`).
"""


class Error(Exception):
    """Base class of every tsbridge error."""

    code = "Error"


class InvalidArgumentError(Error, ValueError):
    code = "InvalidArgument"


class LoadError(Error):
    """The model file cannot be loaded."""

    code = "LoadError"


class ModelNotFoundError(LoadError, FileNotFoundError):
    code = "FileNotFound"


class InvalidArchiveError(LoadError):
    code = "InvalidArchive"


class UnsupportedVersionError(LoadError):
    code = "UnsupportedVersion"


class UnsupportedCpuError(LoadError):
    """A .pt2 package compiled for CPU features this machine lacks."""

    code = "UnsupportedCpu"


class MethodNotFoundError(Error, AttributeError):
    code = "MethodNotFound"


class InputError(Error, ValueError):
    """Inputs do not match what the model takes."""

    code = "InputMismatch"


class DeviceUnavailableError(Error):
    code = "DeviceUnavailable"


class InferenceError(Error, RuntimeError):
    """The model raised while running."""

    code = "InferenceFailed"


class InputFileError(Error, ValueError):
    """A tensor file (.npy/.npz/.pt) is missing, corrupt or unsupported."""

    code = "InvalidInputFile"


class ExportError(Error):
    """A model could not be exported, or the export does not match eager PyTorch."""

    code = "ExportError"


_BY_CODE = {
    cls.code: cls
    for cls in (
        InvalidArgumentError,
        ModelNotFoundError,
        InvalidArchiveError,
        UnsupportedVersionError,
        UnsupportedCpuError,
        MethodNotFoundError,
        InputError,
        DeviceUnavailableError,
        InferenceError,
        InputFileError,
    )
}


def from_code(code: str, message: str) -> Error:
    """The exception for a C++ ``tsbridge::ErrorCode`` name."""
    return _BY_CODE.get(code, Error)(message)
