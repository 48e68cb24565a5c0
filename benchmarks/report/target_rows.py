"""One row of the targets table: what is planned, and how a measured row is written."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Planned:
    """One row of the targets table: which target, on which case, for which tsbridge runner."""

    number: str
    kind: str  # which evaluator measures it
    target: str  # as the table states it
    case: str
    runner: str
    bound: float | None = None
    opt_in: bool = False  # reported only where it was measured


def row(p: Planned, measured, limit, ratio=None, ratio_range=None, met=None, note="", applicable=True) -> dict:
    """met is None where there is no figure; applicable is False where the
    target does not apply to this machine (then neither met nor missed)."""
    return {
        "id": p.number,
        "target": p.target,
        "case": p.case,
        "measured": measured,
        "limit": limit,
        "ratio": ratio,
        "ratio_range": ratio_range,
        "met": met,
        "applicable": applicable,
        "note": note,
    }
