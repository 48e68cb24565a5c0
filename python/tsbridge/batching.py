"""Whether a model's dim 0 is a batch dim that a server may batch along."""

from __future__ import annotations


def batch_dim(inputs: list[dict], outputs: list[dict]) -> tuple[str | None, str]:
    """The name of dim 0 when it is one dynamic dim shared by every input and
    output (manifest specs) and found nowhere else: a server may then stack
    requests along it and split the results along it. Else None and why not."""
    tensors = [*inputs, *outputs]
    if not tensors:
        return None, "the model records no inputs or outputs"
    first = tensors[0]["shape"][0] if tensors[0].get("shape") else None
    if not isinstance(first, str):
        return None, f"dim 0 of {tensors[0]['name']!r} is not dynamic"
    for spec in tensors:
        shape = spec.get("shape")
        if not shape or shape[0] != first:
            return None, f"{spec['name']!r} has shape {shape}, not [{first}, ...]"
        if first in shape[1:]:
            return None, (
                f"{spec['name']!r} has {first!r} beyond dim 0 (shape {shape}): the model mixes the "
                "samples of a batch, so requests batched together would change each other's results"
            )
    return first, ""
