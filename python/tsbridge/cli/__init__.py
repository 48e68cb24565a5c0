"""The `tsbridge` command: export, inspect and verify archives without
writing a script.

main() maps what a command raises to an exit code: a usage error (argparse's,
or UsageError) exits 2; tsbridge's documented errors exit 3 (LoadError) or 1
(the others), each with one line; anything else is a bug of tsbridge's own and
exits 70 with its traceback, never passed off as the caller's mistake."""

from __future__ import annotations

import sys
import traceback

from ..errors import Error, LoadError
from .parser import COMMANDS, build_parser
from .usage import EXIT_BUG, EXIT_FAILED, EXIT_LOAD, EXIT_OK, EXIT_USAGE, UsageError

__all__ = ["EXIT_BUG", "EXIT_FAILED", "EXIT_LOAD", "EXIT_OK", "EXIT_USAGE", "UsageError", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a bad option or value: argparse exits 2 with one line
    if args.cmake_dir:
        from ..doctor import cmake_dir

        print(cmake_dir())
        return EXIT_OK
    if args.show_version:
        from ..doctor import version_text

        print(version_text())
        return EXIT_OK
    if args.command is None:
        parser.error(f"a command is required ({COMMANDS})")
    try:
        return args.run(args)
    except UsageError as error:
        return _error(error, EXIT_USAGE)
    except LoadError as error:
        return _error(error, EXIT_LOAD)
    except Error as error:  # ExportError and the runtime's errors
        return _error(error, EXIT_FAILED)
    except Exception as error:
        traceback.print_exc(file=sys.stderr)
        print(
            f"tsbridge: internal error (a bug in tsbridge, not in how it was called): {type(error).__name__}: "
            f"{error}; please report it to tsbridge's maintainers with the traceback above and `tsbridge --version`",
            file=sys.stderr,
        )
        return EXIT_BUG


def _error(error: Exception, code: int) -> int:
    print(f"tsbridge: error: {error}", file=sys.stderr)
    return code
