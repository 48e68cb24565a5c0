"""What every `tsbridge` command shares: the exit codes, the usage error, and
option values read with the library's grammars."""

from __future__ import annotations

from .. import _core
from ..errors import InvalidArgumentError

# 70 is sysexits.h's EX_SOFTWARE: an exception tsbridge did not expect, a bug of its own.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LOAD, EXIT_BUG = 0, 1, 2, 3, 70


class UsageError(Exception):
    """An option's value the command cannot take: exit 2, one line."""


def input_spec(option: str, text: str, *, dynamic: bool) -> _core.TensorSpec:
    """OPTION's NAME=DIMS[:DTYPE] (the library's one grammar); dynamic dims
    only where the command takes them (not where it makes inputs)."""
    try:
        return _core.parse_input_spec(text, allow_dynamic=dynamic)
    except InvalidArgumentError as error:
        raise UsageError(f"{option}: {error}") from None


def tune_budget(seconds: float) -> float:
    """--tune-budget's value: seconds > 0."""
    if not seconds > 0:
        raise UsageError(f"--tune-budget must be a number of seconds > 0, got {seconds:g}")
    return seconds
