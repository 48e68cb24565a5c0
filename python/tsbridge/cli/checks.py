"""`tsbridge verify` and `tsbridge doctor`: checks that pass or fail (exit 1)."""

from __future__ import annotations

from .usage import EXIT_FAILED, EXIT_OK


def run_verify(args) -> int:
    from ..verify import verify

    report = verify(args.model)
    print(report)
    return EXIT_OK if report.passed else EXIT_FAILED


def run_doctor(args) -> int:
    from ..doctor import diagnose

    checks = diagnose()
    for check in checks:
        print(check)
    return EXIT_FAILED if any(c.required and not c.ok for c in checks) else EXIT_OK
