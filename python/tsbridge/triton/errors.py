"""What to_triton raises besides tsbridge's own load and argument errors."""

from ..errors import Error


class UnservableError(Error):
    """The model is one Triton's PyTorch backend cannot serve as asked (the
    message names the input, output or option, and why)."""

    code = "Unservable"


class RepositoryExistsError(Error, FileExistsError):
    """The repository already holds a model of that name (pass replace=True)."""

    code = "RepositoryExists"
