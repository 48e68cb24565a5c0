"""`tsbridge migrate`: a TorchScript archive to a checked .pt2 package."""

from __future__ import annotations

from .usage import EXIT_OK, input_spec


def run_migrate(args) -> int:
    from ..migrate import migrate

    shapes = {}
    for text in args.shape:
        # Checked here so a malformed one is a usage error; migrate() reads the DIMS[:DTYPE] part again.
        spec = input_spec("--shape", text, dynamic=False)
        shapes[spec.name] = text.partition("=")[2]
    report = migrate(args.old, args.new, shapes=shapes or None, target=args.target, rtol=args.rtol, atol=args.atol)
    print(report)
    return EXIT_OK
