"""The targets of issues 7 and 26: which rows a run over given cases reports
(`plan`), and each row measured, met or missed (`targets`); issue 26's
(tsbridge against the peers) are in peer_targets.py."""

from __future__ import annotations

from benchmarks.report import peer_targets
from benchmarks.report.formatting import ms
from benchmarks.report.lookup import median, missing, paired
from benchmarks.report.target_rows import Planned, row

TSBRIDGE_PATHS = (("tsrun", "tsrun (C++)"), ("tsbridge_pybind", "pybind11 (_core.benchmark)"))
# An opt-in setting, not a default: its rows appear only where it was measured.
OPT_IN_PATH = ("tsrun_onednn", "tsrun --onednn-fusion (opt-in)")
# Target 3 against Python eager: the cases it names and the bound on each.
EAGER_BOUNDS = (("simple_b5", 0.5), ("mlp_b1", 0.9))
COLD_START = "tsrun cold start ≤ 1/3 of Python's"
PEAK_RSS = "tsrun peak RSS ≤ 60% of Python's"
# Targets 1 and 2: (metric, measured as, limit as written, bound on tsrun / Python).
COLD_LIMITS = {
    "cold_start": ("first_output_s", "{:.3f} s vs {:.3f} s", "≤ 0.333×", 1 / 3),
    "peak_rss": ("peak_rss_mib", "{:.0f} MiB vs {:.0f} MiB", "≤ 0.60×", 0.60),
}


def plan(names: list[str]) -> list[Planned]:
    """Every target row a run over these cases can report, in the table's order."""
    paths = TSBRIDGE_PATHS
    with_opt_in = [(p, False) for p in paths] + [(OPT_IN_PATH, True)]
    rows = [Planned("1", "cold_start", COLD_START, case, "tsrun") for case in names]
    rows += [Planned("2", "peak_rss", PEAK_RSS, case, "tsrun") for case in names]
    rows += [
        Planned("3", "bare", f"{label} p50 within 10% (or 1 µs) of the bare loop", case, path)
        for case in names
        for path, label in paths
    ]
    rows += [
        Planned("3", "eager", f"{label} p50 ≤ {bound}× Python eager", case, path, bound)
        for case, bound in EAGER_BOUNDS
        if case in names
        for path, label in paths
    ]
    rows += [
        Planned("4", "throughput", f"{label} throughput ≥ best of eager / TS frozen", case, path, opt_in=opt_in)
        for case in names
        if case.startswith("cnn") or case.startswith("transformer")
        for (path, label), opt_in in with_opt_in
    ]
    rows += [
        Planned("5", "first_call", f"{label} first call ≤ 2× steady state", case, path)
        for case in names
        for path, label in paths
    ]
    if "cnn_b1" in names:
        rows += [
            Planned("6", "stretch", f"stretch: {label} CNN b1 p50 ≤ 1.1× ONNX Runtime", "cnn_b1", path, opt_in=opt_in)
            for (path, label), opt_in in ((("tsrun", "tsrun"), False), (OPT_IN_PATH, True))
        ]
    return rows + peer_targets.plan(names)


def _cold(summary: dict, raw: dict, p: Planned) -> dict:
    """Targets 1 and 2: the tsrun process over the Python one, on one cold-start metric."""
    metric, text, limit, bound = COLD_LIMITS[p.kind]
    t = median(summary, "cold", p.case, "tsrun", metric)
    py = median(summary, "cold", p.case, "python", metric)
    if t is None or py is None:
        return row(p, missing(summary, "cold", p.case, "tsrun", "python"), limit)
    ratio_range = paired(raw, "cold", p.case, "tsrun", "python", metric)
    return row(p, text.format(t, py), limit, t / py, ratio_range, t / py <= bound)


def _bare(summary: dict, raw: dict, p: Planned) -> dict:
    bare = median(summary, "latency", p.case, "bare", "p50_ms")
    value = median(summary, "latency", p.case, p.runner, "p50_ms")
    if value is None or bare is None:
        return row(p, missing(summary, "latency", p.case, p.runner, "bare"), "")
    limit = max(1.10 * bare, bare + 0.001)
    return row(
        p,
        f"{ms(value)} ms vs {ms(bare)} ms",
        f"≤ {ms(limit)} ms ({limit / bare:.3f}×)",
        value / bare,
        paired(raw, "latency", p.case, p.runner, "bare", "p50_ms"),
        value <= limit,
    )


def _eager(summary: dict, raw: dict, p: Planned) -> dict:
    eager = median(summary, "latency", p.case, "eager", "p50_ms")
    value = median(summary, "latency", p.case, p.runner, "p50_ms")
    if value is None or eager is None:
        return row(p, missing(summary, "latency", p.case, p.runner, "eager"), f"≤ {p.bound}×")
    return row(
        p,
        f"{ms(value)} ms vs {ms(eager)} ms",
        f"≤ {p.bound}×",
        value / eager,
        paired(raw, "latency", p.case, p.runner, "eager", "p50_ms"),
        value / eager <= p.bound,
    )


def _throughput(summary: dict, raw: dict, p: Planned) -> dict | None:
    best = None  # the faster Python runner, by samples per second
    for who in ("eager", "ts_frozen"):
        value = median(summary, "latency", p.case, who, "samples_per_s")
        if value is not None and (best is None or value > best[1]):
            best = (who, value)
    value = median(summary, "latency", p.case, p.runner, "samples_per_s")
    if value is None or best is None:
        why = missing(summary, "latency", p.case, p.runner, "eager", "ts_frozen")
        return None if p.opt_in else row(p, why, "≥ 1.00×")
    return row(
        p,
        f"{value:.4g} vs {best[1]:.4g} samples/s ({best[0]})",
        "≥ 1.00×",
        value / best[1],
        paired(raw, "latency", p.case, p.runner, best[0], "samples_per_s"),
        value >= best[1],
    )


def _first_call(summary: dict, raw: dict, p: Planned) -> dict:
    entry = summary["latency"].get(p.case, {}).get(p.runner)
    if not entry or entry["status"] != "ok":
        return row(p, missing(summary, "latency", p.case, p.runner), "≤ 2×")
    first, p50, ratio = (
        entry["first_call_ms"]["median"],
        entry["p50_ms"]["median"],
        entry["first_over_p50"]["median"],
    )
    note = ""
    if entry.get("warmup_ms"):
        note = f"warm-up at load reported: {ms(entry['warmup_ms']['median'])} ms"
    ratio_range = (entry["first_over_p50"]["min"], entry["first_over_p50"]["max"])
    return row(p, f"{ms(first)} ms vs p50 {ms(p50)} ms", "≤ 2×", ratio, ratio_range, ratio <= 2.0, note)


def _stretch(summary: dict, raw: dict, p: Planned) -> dict | None:
    ort = median(summary, "latency", p.case, "onnxruntime", "p50_ms")
    value = median(summary, "latency", p.case, p.runner, "p50_ms")
    if value is None or ort is None:
        why = missing(summary, "latency", p.case, p.runner, "onnxruntime")
        return None if p.opt_in else row(p, why, "≤ 1.10×")
    return row(
        p,
        f"{ms(value)} ms vs {ms(ort)} ms",
        "≤ 1.10×",
        value / ort,
        paired(raw, "latency", p.case, p.runner, "onnxruntime", "p50_ms"),
        value / ort <= 1.10,
    )


EVALUATE = {
    "cold_start": _cold,
    "peak_rss": _cold,
    "bare": _bare,
    "eager": _eager,
    "throughput": _throughput,
    "first_call": _first_call,
    "stretch": _stretch,
}


def targets(summary: dict, raw: dict, meta: dict, cases) -> list[dict]:
    """The table's rows; an opt-in row only where its runner was measured."""
    rows = (
        peer_targets.EVALUATE[p.kind](summary, raw, meta, p)
        if p.kind in peer_targets.EVALUATE
        else EVALUATE[p.kind](summary, raw, p)
        for p in plan([c.name for c in cases])
    )
    return [r for r in rows if r is not None]
