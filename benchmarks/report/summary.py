"""Every (case, runner) figure aggregated over the rounds: the summary that
results.json holds and every table is written from."""

from __future__ import annotations

import math
import statistics

from benchmarks import headline
from benchmarks.report.reference import reference_ratios
from benchmarks.report.target_checks import targets

LATENCY_METRICS = (
    "p50_ms",
    "p99_ms",
    "mean_ms",
    "samples_per_s",
    "first_call_ms",
    "first_over_p50",
    "load_ms",
    "warmup_ms",
)
COLD_METRICS = ("first_output_s", "exit_s", "peak_rss_mib")


def aggregate(values: list[float]) -> dict | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None
    median = statistics.median(values)
    return {
        "median": median,
        "min": min(values),
        "max": max(values),
        "spread_pct": (max(values) - min(values)) / median * 100 if median else 0.0,
        "n": len(values),
    }


def _status(meta: dict, slot: dict, case: str, runner: str) -> str:
    if runner in meta["skipped"]:
        return meta["skipped"][runner]
    if f"{case}/{runner}" in meta["case_skipped"]:
        return meta["case_skipped"][f"{case}/{runner}"]
    if not slot["rounds"]:
        return "failed: " + (slot["errors"][-1] if slot["errors"] else "not run")
    return "ok"


def _entry(slot: dict, status: str, metrics) -> dict:
    entry = {"status": status, "errors": slot["errors"]}
    for metric in metrics:
        entry[metric] = aggregate([r.get(metric) for r in slot["rounds"]])
    return entry


def summarise(meta: dict, raw: dict, cases) -> dict:
    summary: dict = {"latency": {}, "cold": {}}
    for case in cases:
        summary["latency"][case.name] = {}
        for runner in meta["runners"]:
            slot = raw["latency"][case.name][runner]
            status = _status(meta, slot, case.name, runner)
            summary["latency"][case.name][runner] = _entry(slot, status, LATENCY_METRICS)
        summary["cold"][case.name] = {}
        for kind in meta["cold"]:
            slot = raw["cold"][case.name][kind]
            status = "ok" if slot["rounds"] else ("failed: " + slot["errors"][-1] if slot["errors"] else "not run")
            summary["cold"][case.name][kind] = _entry(slot, status, COLD_METRICS)
    summary["targets"] = targets(summary, raw, meta, cases)
    summary["reference"] = reference_ratios(summary, raw, cases)
    summary["headline"] = headline.rows(summary, raw, meta, cases)
    return summary
