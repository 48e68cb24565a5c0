"""`tsbridge tune`: re-tune an archive's runtime settings on this machine."""

from __future__ import annotations

import json

from .. import _core
from ..errors import InvalidArgumentError
from .usage import EXIT_OK, UsageError, tune_budget


def run_tune(args) -> int:
    from ..tuner import describe, tune

    budget = tune_budget(args.tune_budget)
    threads = None
    if args.tune_threads:
        try:
            threads = [int(n) for n in args.tune_threads.split(",")]
        except ValueError:
            raise UsageError(f"--tune-threads expects counts like 1,2, got {args.tune_threads!r}") from None
    try:
        record = tune(
            args.model,
            tune_budget_seconds=budget,
            tune_threads=threads,
            tune_clients=args.tune_clients,
            sidecar=args.sidecar,
        )
    except InvalidArgumentError as error:  # an option's value, or a path it cannot write: a usage error (exit 2)
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps(record, indent=2))
        return EXIT_OK
    print(f"tsbridge tune: {args.model} on {record['machine']['cpu_model']} ({record['machine']['cores']} cores)")
    print("\n".join(describe(record)))
    print(f"  wrote    {_core.sidecar_path(args.model) if args.sidecar else args.model}")
    return EXIT_OK
