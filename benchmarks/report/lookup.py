"""Figures looked up in the summary and the raw rounds, shared by the targets
and the reference ratios."""

from __future__ import annotations


def median(summary, table, case, who, metric):
    """The median of `metric` for `who` on `case`, or None when it did not run or has no figure."""
    entry = summary[table].get(case, {}).get(who)
    if not entry or entry["status"] != "ok" or not entry.get(metric):
        return None
    return entry[metric]["median"]


def paired(raw, table, case, a, b, metric, combine=lambda x, y: x / y):
    """The ratio a/b within each round where both ran: its min and max."""
    rounds_a = {r["round"]: r.get(metric) for r in raw[table].get(case, {}).get(a, {"rounds": []})["rounds"]}
    rounds_b = {r["round"]: r.get(metric) for r in raw[table].get(case, {}).get(b, {"rounds": []})["rounds"]}
    ratios = [
        combine(rounds_a[k], rounds_b[k]) for k in rounds_a if k in rounds_b and rounds_a[k] is not None and rounds_b[k]
    ]
    return (min(ratios), max(ratios)) if ratios else None


def missing(summary, table, case, *who) -> str:
    """Why a figure that needs every one of `who` is missing."""
    for w in who:
        entry = summary[table].get(case, {}).get(w)
        if not entry:
            return f"{w} not run"
        if entry["status"] != "ok":
            return f"{w} {entry['status']}"
    return "not measured"
