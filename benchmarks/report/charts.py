"""The PNG charts of results.md (with matplotlib, the `bench` extra); the
headline's chart is drawn by benchmarks/headline.py."""

from __future__ import annotations

import math
from pathlib import Path

from benchmarks import headline

# Runner names short enough for an axis label.
SHORT = {
    "eager": "eager",
    "ts_unfrozen": "TS unfrozen",
    "ts_frozen": "TS frozen",
    "tsbridge_pybind": "tsbridge\npybind",
    "tsbridge_pycall": "tsbridge\npy-loop",
    "tsrun": "tsrun",
    "tsrun_onednn": "tsrun\noneDNN",
    "bare": "bare C++",
    "onnxruntime": "ONNX RT",
    "onnxruntime_1thread": "ONNX RT\n1 thread",
    "openvino_1thread": "OpenVINO\n1 thread",
    "openvino": "OpenVINO\ndefault",
    "openvino_f32": "OpenVINO\nf32",
    "openvino_f32_1thread": "OpenVINO f32\n1 thread",
    "bf16_tsrun": "bf16\ntsrun",
    "bf16_aoti_tsrun": "bf16 .pt2\ntsrun",
    "aoti_pybind": ".pt2\npybind",
    "aoti_tsrun": ".pt2\ntsrun",
    "auto_tsrun": "auto\ntsrun",
    "tuned_tsrun": "tuned\ntsrun",
}
NOTE = "median of rounds; bars: min–max of the rounds; shared noisy 2-core machine"
# The cold-start processes' charts: (metric, y label, title, file).
COLD_CHARTS = (
    ("first_output_s", "seconds from spawn to first output", "Cold start, whole process", "cold_start.png"),
    ("peak_rss_mib", "peak RSS, MiB", "Peak memory of the cold-start processes", "memory.png"),
)


def charts(summary: dict, meta: dict, cases, out: Path) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["not drawn: matplotlib is not installed (`pip install matplotlib`, or the `bench` extra)"]
    written = [c for c in [headline.chart(summary.get("headline") or [], out, plt)] if c]
    colours = {r: plt.get_cmap("tab20")(i % 20) for i, r in enumerate(meta["runners"])}
    written.append(_latency_chart(summary, meta, cases, out, plt, colours))
    if any(e["status"] == "ok" for c in cases for e in summary["cold"].get(c.name, {}).values()):
        for metric, ylabel, title, filename in COLD_CHARTS:
            written.append(_cold_chart(summary, meta, cases, out, plt, metric, ylabel, f"{title} — {NOTE}", filename))
    written.append(_first_call_chart(summary, meta, cases, out, plt, colours))
    return written


def _latency_chart(summary: dict, meta: dict, cases, out: Path, plt, colours: dict) -> str:
    """One panel per case (scales differ by 10^4)."""
    runners = list(meta["runners"])
    columns = min(4, len(cases))
    rows = math.ceil(len(cases) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.6 * rows), squeeze=False)
    for ax, case in zip(axes.flat, cases, strict=False):  # the grid can have more panels than cases
        table = summary["latency"][case.name]
        names, heights, lows, highs, colour = [], [], [], [], []
        for r in runners:
            entry = table.get(r)
            names.append(SHORT.get(r, r))
            if entry and entry["status"] == "ok":
                p = entry["p50_ms"]
                heights.append(p["median"])
                lows.append(p["median"] - p["min"])
                highs.append(p["max"] - p["median"])
            else:
                heights.append(0)
                lows.append(0)
                highs.append(0)
            colour.append(colours[r])
        x = range(len(names))
        ax.bar(x, heights, color=colour, yerr=[lows, highs], capsize=2)
        for i, h in enumerate(heights):
            if h == 0:
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks(list(x), names, rotation=60, ha="right", fontsize=7)
        ax.set_title(f"{case.name} ({case.shape_arg})", fontsize=9)
        ax.set_ylabel("p50 ms per call", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(cases) :]:
        ax.axis("off")
    fig.suptitle(f"Per-call latency (p50; lower is better) — {NOTE}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)
    return "latency.png"


def _cold_chart(
    summary: dict, meta: dict, cases, out: Path, plt, metric: str, ylabel: str, title: str, filename: str, scale=1.0
) -> str:
    """One metric of the cold-start processes, grouped by case."""
    kinds = list(meta["cold"])
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(cases)), 4))
    width = 0.8 / len(kinds)
    for k, kind in enumerate(kinds):
        values, lows, highs = [], [], []
        for case in cases:
            entry = summary["cold"].get(case.name, {}).get(kind)
            if entry and entry["status"] == "ok" and entry[metric]:
                e = entry[metric]
                values.append(e["median"] * scale)
                lows.append((e["median"] - e["min"]) * scale)
                highs.append((e["max"] - e["median"]) * scale)
            else:
                values.append(0)
                lows.append(0)
                highs.append(0)
        positions = [i + (k - (len(kinds) - 1) / 2) * width for i in range(len(cases))]
        ax.bar(positions, values, width, yerr=[lows, highs], capsize=2, label=meta["cold"][kind][:60])
    ax.set_xticks(range(len(cases)), [c.name for c in cases], rotation=20, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / filename, dpi=110)
    plt.close(fig)
    return filename


def _first_call_chart(summary: dict, meta: dict, cases, out: Path, plt, colours: dict) -> str:
    """First call after load over the steady state."""
    runners = list(meta["runners"])
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(cases)), 4))
    width = 0.8 / len(runners)
    for k, r in enumerate(runners):
        values = []
        for case in cases:
            entry = summary["latency"][case.name].get(r)
            values.append(entry["first_over_p50"]["median"] if entry and entry["status"] == "ok" else float("nan"))
        positions = [i + (k - (len(runners) - 1) / 2) * width for i in range(len(cases))]
        ax.bar(positions, values, width, color=colours[r], label=SHORT.get(r, r).replace("\n", " "))
    ax.axhline(2.0, color="black", linestyle="--", linewidth=0.8)
    ax.text(len(cases) - 0.5, 2.0, " target 2×", va="bottom", ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)), [c.name for c in cases], rotation=20, fontsize=8)
    ax.set_ylabel("first call / steady p50 (log)")
    ax.set_title("First call after load versus steady state (lower is better)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "first_call.png", dpi=110)
    plt.close(fig)
    return "first_call.png"
