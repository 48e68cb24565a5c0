"""The headline of results.md (issue 17): per case, the fastest tsbridge
runner over the fastest peer (ONNX Runtime, OpenVINO), with the same ratio
taken inside each round, and its chart."""

from __future__ import annotations

from pathlib import Path

# Every runner that is tsbridge's runtime, whichever file or setting it runs.
TSBRIDGE = (
    "tsrun",
    "tsrun_onednn",
    "tsbridge_pybind",
    "tsbridge_pycall",
    "aoti_pybind",
    "aoti_tsrun",
    "auto_tsrun",
    "tuned_tsrun",
)
PEERS = ("onnxruntime", "openvino", "onnxruntime_1thread", "openvino_1thread")
COLUMNS = (
    ("tsrun", "tsbridge default (`tsrun`)"),
    ("auto_tsrun", 'tsbridge `format="auto"`'),
    ("tuned_tsrun", "tsbridge tuned (`tune=True`)"),
    ("eager", "Python eager"),
    ("onnxruntime", "ONNX Runtime"),
    ("openvino", "OpenVINO"),
)
NAMES = {
    "tsrun": "tsrun",
    "tsrun_onednn": "tsrun oneDNN",
    "tsbridge_pybind": "pybind11",
    "tsbridge_pycall": "Python loop",
    "aoti_pybind": ".pt2 pybind11",
    "aoti_tsrun": ".pt2 tsrun",
    "auto_tsrun": "auto tsrun",
    "tuned_tsrun": "tuned tsrun",
    "onnxruntime": "ONNX Runtime",
    "openvino": "OpenVINO",
    "onnxruntime_1thread": "ONNX Runtime at 1 thread",
    "openvino_1thread": "OpenVINO at 1 thread",
}
FORMAT_TAG = {"aoti": ".pt2", "torchscript": "TS"}
CHART = "headline.png"


def _p50(summary: dict, case: str, runner: str) -> float | None:
    entry = summary["latency"].get(case, {}).get(runner)
    if not entry or entry["status"] != "ok" or not entry.get("p50_ms"):
        return None
    return entry["p50_ms"]["median"]


def _fastest(summary: dict, case: str, runners) -> tuple[str, float] | None:
    measured = [(r, v) for r in runners if (v := _p50(summary, case, r)) is not None]
    return min(measured, key=lambda item: item[1]) if measured else None


def _round_range(raw: dict, case: str) -> tuple[float, float] | None:
    """The ratio inside each round: that round's fastest tsbridge runner over its fastest peer."""

    def per_round(runners):
        best: dict[int, float] = {}
        for runner in runners:
            for r in raw["latency"].get(case, {}).get(runner, {"rounds": []})["rounds"]:
                best[r["round"]] = min(best.get(r["round"], float("inf")), r["p50_ms"])
        return best

    ours, theirs = per_round(TSBRIDGE), per_round(PEERS)
    ratios = [ours[k] / theirs[k] for k in ours if k in theirs and theirs[k]]
    return (min(ratios), max(ratios)) if ratios else None


def rows(summary: dict, raw: dict, meta: dict, cases) -> list[dict]:
    result = []
    for case in cases:
        ours = _fastest(summary, case.name, TSBRIDGE)
        theirs = _fastest(summary, case.name, PEERS)
        exports = meta.get("exports", {}).get(case.model, {})
        result.append(
            {
                "case": case.name,
                "title": case.title or case.name,
                "cells": {r: _p50(summary, case.name, r) for r, _ in COLUMNS},
                "status": {
                    r: summary["latency"].get(case.name, {}).get(r, {}).get("status", "not run") for r, _ in COLUMNS
                },
                "kept": {"auto_tsrun": _kept(exports.get("auto")), "tuned_tsrun": _kept(exports.get("tuned"))},
                "tsbridge_best": ours[0] if ours else None,
                "peer_best": theirs[0] if theirs else None,
                "ratio": ours[1] / theirs[1] if ours and theirs else None,
                "range": _round_range(raw, case.name) if ours and theirs else None,
            }
        )
    return result


def _kept(export: dict | None) -> str | None:
    """What a searched export kept, for its cell: the format, and for a tuned
    file its thread count and any setting off the defaults."""
    if not export or export.get("format") not in FORMAT_TAG:
        return None
    tag = FORMAT_TAG[export["format"]]
    settings = export.get("settings")
    if not settings:
        return tag
    parts = [tag, f"{settings['threads']} thread" + ("s" if settings["threads"] != 1 else "")]
    if settings.get("optimize_graph"):
        executor = {True: "profiling", False: "legacy"}.get(settings.get("profiling_executor"), "")
        parts.append(("oneDNN fusion" if settings.get("onednn_fusion") else f"{executor} executor").strip())
    if export.get("build", "default") != "default":
        parts.append(export["build"])
    return ", ".join(parts)


def time_text(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.3g} s"
    return f"{ms * 1000:.3g} µs" if ms < 1 else f"{ms:.3g} ms"


def _cell(row: dict, runner: str) -> str:
    value = row["cells"][runner]
    if value is None:  # the status, short: "skipped: …", "check failed: …", "not run"
        status = row["status"][runner]
        return status.split(" (")[0][:60]
    tag = row["kept"].get(runner)
    return time_text(value) + (f" ({tag})" if tag else "")


def markdown(rows_: list[dict], charts: list[str]) -> list[str]:
    lines = [
        "## Headline: tsbridge best / best peer",
        "",
        "p50 per call, the median of the rounds. *tsbridge best* is the fastest tsbridge runner of this run "
        f"({', '.join(NAMES[r] for r in TSBRIDGE)}); *best peer* the fastest of ONNX Runtime and OpenVINO, each "
        "at the run's thread count and at 1 thread (the tuned file may pick 1 thread, so the peers may too; "
        "the columns show them at the run's count). They "
        "run the same ONNX file and are timed only after their outputs matched eager PyTorch (on the input and "
        "on its negation). In brackets: the same ratio taken inside each round (min–max; the ratio of the medians "
        "can fall outside it when rounds had different winners), and which runners were fastest. Below 1, "
        "tsbridge is faster. tsbridge has more runners in the minimum than the peers have, and on a noisy "
        "machine the fastest of more candidates is lower by chance: read a ratio near 1 as a tie.",
        "",
        "| case | " + " | ".join(label for _, label in COLUMNS) + " | tsbridge best / best peer |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    for row in rows_:
        if row["ratio"] is None:
            ratio = "not measured (" + ("no tsbridge runner" if not row["tsbridge_best"] else "no peer") + ")"
        else:
            span = "" if not row["range"] else f"{row['range'][0]:.2f}–{row['range'][1]:.2f}; "
            ratio = f"**{row['ratio']:.2f}** ({span}{NAMES[row['tsbridge_best']]} / {NAMES[row['peer_best']]})"
        cells = " | ".join(_cell(row, r) for r, _ in COLUMNS)
        lines.append(f"| {row['title']} (`{row['case']}`) | {cells} | {ratio} |")
    if CHART in charts:
        lines += ["", f"![headline]({CHART})"]
    return lines + [""]


def chart(rows_: list[dict], out: Path, plt) -> str | None:
    """Bars of the ratio per case, whiskers over the per-round range, a line at parity."""
    measured = [r for r in rows_ if r["ratio"] is not None]
    if not measured:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.5 * len(measured)), 4))
    ratios = [r["ratio"] for r in measured]
    # The ratio of the medians can fall outside the per-round ratios: whiskers then start at the bar.
    lows = [max(0.0, r["ratio"] - (r["range"] or (r["ratio"],) * 2)[0]) for r in measured]
    highs = [max(0.0, (r["range"] or (r["ratio"],) * 2)[1] - r["ratio"]) for r in measured]
    colours = ["tab:green" if v <= 1.0 else "tab:orange" for v in ratios]
    ax.bar(range(len(measured)), ratios, color=colours, yerr=[lows, highs], capsize=3)
    for i, (row, high) in enumerate(zip(measured, highs, strict=True)):
        ax.text(
            i,
            row["ratio"] + high,
            f"{row['ratio']:.2f}\n{NAMES[row['tsbridge_best']]} / {NAMES[row['peer_best']]}",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.text(-0.45, 1.0, "parity", va="bottom", ha="left", fontsize=7)
    ax.set_xticks(range(len(measured)), [r["title"] for r in measured], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("tsbridge best p50 / best peer p50")
    ax.set_ylim(0, max(max(ratios), max(r + h for r, h in zip(ratios, highs, strict=True))) * 1.3)
    ax.set_title("tsbridge best / best peer per case (lower is better; whiskers: per-round range)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / CHART, dpi=110)
    plt.close(fig)
    return CHART
