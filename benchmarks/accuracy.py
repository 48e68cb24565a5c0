"""Every runner's outputs against fp32 eager before it is timed: the
tolerance each precision gets, the comparison, and its record (the largest
error, printed and kept in results.json). Importing this module imports
neither torch nor a peer (the peers' workers import it)."""

from __future__ import annotations

# rtol, atol per compute precision. fp32 allows reordered float sums; bf16
# and fp16 keep 8 and 11 significant bits, so they get the looser bound
# tsbridge's own bf16 export defaults to.
TOLERANCES = {"fp32": (1e-3, 1e-4), "bf16": (1e-2, 1e-2), "fp16": (1e-2, 1e-2)}


def tolerance(precision: str) -> tuple[float, float]:
    """A precision's rtol and atol; one the suite does not know gets the reduced bound."""
    return TOLERANCES.get(precision, TOLERANCES["bf16"])


def compare(outputs: list, expected: list, precision: str) -> dict:
    """Each output (numpy) against fp32 eager's: passed, the largest absolute
    error over every input, the tolerance used and a one-line note."""
    import numpy as np

    rtol, atol = tolerance(precision)
    record = {"precision": precision, "rtol": rtol, "atol": atol, "max_abs_error": 0.0, "passed": True}
    for index, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        got = np.asarray(got, dtype=np.float64)
        if got.shape != want.shape:
            record.update(passed=False, note=f"check failed: output shape {got.shape} vs eager {want.shape}")
            return record
        error = float(np.max(np.abs(got - want))) if got.size else 0.0
        record["max_abs_error"] = max(record["max_abs_error"], error)
        if not np.allclose(got, want, rtol=rtol, atol=atol):
            record.update(
                passed=False,
                note=f"check failed: max abs error {error:.2g} vs fp32 eager on input {index} "
                f"({precision}: rtol {rtol:g}, atol {atol:g})",
            )
            return record
    record["note"] = (
        f"{precision}, max abs error vs fp32 eager {record['max_abs_error']:.2g} on {len(outputs)} inputs "
        f"(rtol {rtol:g}, atol {atol:g})"
    )
    return record


def check_file(path: str, inputs: list, expected: list, precision: str) -> dict:
    """A tsbridge file, loaded by tsbridge's runtime, on each input (torch)."""
    import tsbridge

    model = tsbridge.load(path)
    outputs = [model(x).numpy() for x in inputs]
    return compare(outputs, expected, precision)
