"""`tsbridge triton`: a Triton Inference Server model repository entry."""

from __future__ import annotations

from ..errors import InvalidArgumentError
from .usage import EXIT_OK, UsageError, input_spec


def run_triton(args) -> int:
    from ..triton import to_triton

    specs = [_manifest_spec(text) for text in args.shape] if args.shape else None
    try:
        written = to_triton(
            args.model,
            args.repository,
            name=args.name,
            version=args.version,
            instances=args.instances,
            kind=args.kind,
            max_batch_size=args.max_batch_size,
            dynamic_batching=args.dynamic_batching,
            max_queue_delay_us=args.max_queue_delay_us,
            naming=args.naming,
            input_specs=specs,
            replace=args.replace,
        )
    except InvalidArgumentError as error:  # an option's value: a usage error (exit 2)
        raise UsageError(str(error)) from None
    print(written)
    print(written.text, end="")
    return EXIT_OK


def _manifest_spec(text: str) -> dict:
    """--shape NAME=DIMS[:DTYPE] as a manifest-style spec (float32 unless given);
    -1 or a name is a dynamic dim."""
    spec = input_spec("--shape", text, dynamic=True)
    if not spec.shape:
        raise UsageError(f"--shape {text!r}: Triton's config needs at least one dim")
    return {"name": spec.name, "dtype": spec.dtype or "float32", "shape": list(spec.shape)}
