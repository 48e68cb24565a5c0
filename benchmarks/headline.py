"""The headline of results.md (issues 17 and 26): per case, the fastest
tsbridge runner on an fp32 file over the fastest peer computing in fp32, and
the fastest tsbridge runner with bf16 allowed over OpenVINO at its default
precision; each side with the precision it used and its largest error
against fp32 eager; the same ratios taken inside each round; and its chart."""

from __future__ import annotations

from pathlib import Path

from benchmarks.runners import ONE_THREAD_PEERS, PEER_DEFAULT, TSBRIDGE_ANY, TSBRIDGE_FP32, checked_as

COLUMNS = (
    ("tsrun", "tsbridge default (`tsrun`)"),
    ("auto_tsrun", 'tsbridge `format="auto"`'),
    ("tuned_tsrun", "tsbridge tuned (`tune=True`)"),
    ("bf16_tsrun", "tsbridge bf16 archive"),
    ("bf16_aoti_tsrun", "tsbridge bf16 `.pt2` (native)"),
    ("eager", "Python eager"),
    ("onnxruntime", "ONNX Runtime"),
    ("openvino_f32", "OpenVINO f32"),
    ("openvino", "OpenVINO default"),
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
    "bf16_tsrun": "bf16 tsrun",
    "bf16_aoti_tsrun": "bf16 .pt2 tsrun",
    "onnxruntime": "ONNX Runtime",
    "openvino": "OpenVINO default",
    "openvino_f32": "OpenVINO f32",
    "onnxruntime_1thread": "ONNX Runtime at 1 thread",
    "openvino_1thread": "OpenVINO default at 1 thread",
    "openvino_f32_1thread": "OpenVINO f32 at 1 thread",
}
FORMAT_TAG = {"aoti": ".pt2", "torchscript": "TS"}
CHART = "headline.png"
# Results written before OpenVINO ran twice: both peers were pinned to f32.
LEGACY_FP32_PEERS = ("onnxruntime", "openvino", "onnxruntime_1thread", "openvino_1thread")


def _p50(summary: dict, case: str, runner: str) -> float | None:
    entry = summary["latency"].get(case, {}).get(runner)
    if not entry or entry["status"] != "ok" or not entry.get("p50_ms"):
        return None
    return entry["p50_ms"]["median"]


def _fastest(summary: dict, case: str, runners) -> tuple[str, float] | None:
    measured = [(r, v) for r in runners if (v := _p50(summary, case, r)) is not None]
    return min(measured, key=lambda item: item[1]) if measured else None


def _round_range(raw: dict, case: str, ours, theirs) -> tuple[float, float] | None:
    """The ratio inside each round: that round's fastest of `ours` over its fastest of `theirs`."""

    def per_round(runners):
        best: dict[int, float] = {}
        for runner in runners:
            for r in raw["latency"].get(case, {}).get(runner, {"rounds": []})["rounds"]:
                best[r["round"]] = min(best.get(r["round"], float("inf")), r["p50_ms"])
        return best

    mine, yours = per_round(ours), per_round(theirs)
    ratios = [mine[k] / yours[k] for k in mine if k in yours and yours[k]]
    return (min(ratios), max(ratios)) if ratios else None


def check_of(meta: dict, case: str, runner: str) -> dict | None:
    """The runner's check against fp32 eager on the case (its precision, its largest error)."""
    return meta.get("accuracy", {}).get(case, {}).get(checked_as(runner))


def fp32_peers(meta: dict, case: str) -> list[str]:
    """The peer runners that computed in fp32 on the case, as each reported."""
    if "accuracy" not in meta:
        return list(LEGACY_FP32_PEERS)
    peers = [*ONE_THREAD_PEERS.values(), *ONE_THREAD_PEERS]
    return [p for p in peers if (check_of(meta, case, p) or {}).get("precision") == "fp32"]


def versus(summary: dict, raw: dict, meta: dict, case: str, ours, theirs) -> dict:
    """The fastest of `ours` over the fastest of `theirs` on the case: who,
    the ratio of the medians, its per-round range and each side's check."""
    mine, yours = _fastest(summary, case, ours), _fastest(summary, case, theirs)
    if not mine or not yours:
        return {"ratio": None, "ours": mine and mine[0], "theirs": yours and yours[0]}
    return {
        "ours": mine[0],
        "theirs": yours[0],
        "ratio": mine[1] / yours[1],
        "range": _round_range(raw, case, ours, theirs),
        "ours_check": check_of(meta, case, mine[0]),
        "theirs_check": check_of(meta, case, yours[0]),
    }


def rows(summary: dict, raw: dict, meta: dict, cases) -> list[dict]:
    result = []
    for case in cases:
        exports = meta.get("exports", {}).get(case.model, {})
        row = {
            "case": case.name,
            "title": case.title or case.name,
            "cells": {r: _p50(summary, case.name, r) for r, _ in COLUMNS},
            "status": {
                r: summary["latency"].get(case.name, {}).get(r, {}).get("status", "not run") for r, _ in COLUMNS
            },
            "precision": {r: (check_of(meta, case.name, r) or {}).get("precision") for r, _ in COLUMNS},
            "kept": {"auto_tsrun": _kept(exports.get("auto")), "tuned_tsrun": _kept(exports.get("tuned"))},
            "fp32": versus(summary, raw, meta, case.name, TSBRIDGE_FP32, fp32_peers(meta, case.name)),
            "bf16": versus(summary, raw, meta, case.name, TSBRIDGE_ANY, PEER_DEFAULT),
        }
        if "accuracy" not in meta:  # older results: their `openvino` was pinned to f32
            row["cells"]["openvino_f32"], row["cells"]["openvino"] = row["cells"]["openvino"], None
            row["status"]["openvino"] = "not run (these results predate OpenVINO at its default precision)"
            row["bf16"] = {"ratio": None, "ours": row["bf16"]["ours"], "theirs": None}
        result.append(row)
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
    if runner == "openvino":  # what OpenVINO's default was on this machine
        tag = row["precision"].get(runner)
    return time_text(value) + (f" ({tag})" if tag else "")


def side(runner: str, check: dict | None) -> str:
    """A side of a ratio: who, its precision and its largest error against fp32 eager."""
    if not check or check.get("max_abs_error") is None:
        return f"{NAMES[runner]}, not checked"
    return f"{NAMES[runner]}, {check['precision']}, max err {check['max_abs_error']:.1g}"


def ratio_cell(comparison: dict, missing: str) -> str:
    if comparison["ratio"] is None:
        return f"not measured ({'no tsbridge runner' if not comparison['ours'] else missing})"
    span = "" if not comparison["range"] else f"{comparison['range'][0]:.2f}–{comparison['range'][1]:.2f}; "
    ours = side(comparison["ours"], comparison["ours_check"])
    theirs = side(comparison["theirs"], comparison["theirs_check"])
    return f"**{comparison['ratio']:.2f}** ({span}{ours} / {theirs})"


INTRO = (
    "p50 per call, the median of the rounds. **fp32**: *tsbridge best* is the fastest tsbridge runner on an "
    "fp32 file ({fp32}); *best fp32 peer* the fastest peer that computed in fp32 (ONNX Runtime, OpenVINO pinned "
    "to f32, and OpenVINO's default where that was f32 here), each at the run's thread count and at 1 thread "
    "(the tuned file may pick 1 thread, so the peers may too; the columns show them at the run's count). "
    "**bf16 allowed**: the fastest of those and the bf16 files ({bf16}), over OpenVINO at its default precision "
    "(no hint: it picks bf16 on CPUs with AMX or avx512_bf16; the column gives what it read back here), at "
    "either thread count. Every runner was checked against fp32 eager PyTorch on the case's input and a second "
    "one before it was timed: fp32 within rtol {fp32_tol[0]:g}, atol {fp32_tol[1]:g}; bf16 within rtol "
    "{bf16_tol[0]:g}, atol {bf16_tol[1]:g} (tsbridge's own bf16 default); each side of a ratio gives its "
    "precision and its largest absolute error there (the whole list is under *Accuracy*). Peers run the same "
    "ONNX file. In brackets: the same ratio taken inside each round (min–max; the ratio of the medians can "
    "fall outside it when rounds had different winners), and which runners were fastest. Below 1, tsbridge is "
    "faster. tsbridge has more runners in the minimum than the peers have, and on a noisy machine the fastest "
    "of more candidates is lower by chance: read a ratio near 1 as a tie."
)


def markdown(rows_: list[dict], charts: list[str]) -> list[str]:
    from benchmarks.accuracy import tolerance

    intro = INTRO.format(
        fp32=", ".join(NAMES[r] for r in TSBRIDGE_FP32),
        bf16=", ".join(NAMES[r] for r in TSBRIDGE_ANY if r not in TSBRIDGE_FP32),
        fp32_tol=tolerance("fp32"),
        bf16_tol=tolerance("bf16"),
    )
    lines = [
        "## Headline: tsbridge best / best peer",
        "",
        intro,
        "",
        "| case | "
        + " | ".join(label for _, label in COLUMNS)
        + " | fp32: tsbridge best / best fp32 peer | bf16 allowed: tsbridge best / OpenVINO default |",
        "|---" * (len(COLUMNS) + 3) + "|",
    ]
    for row in rows_:
        cells = " | ".join(_cell(row, r) for r, _ in COLUMNS)
        fp32 = ratio_cell(row["fp32"], "no fp32 peer")
        bf16 = ratio_cell(row["bf16"], "no OpenVINO default")
        lines.append(f"| {row['title']} (`{row['case']}`) | {cells} | {fp32} | {bf16} |")
    if CHART in charts:
        lines += ["", f"![headline]({CHART})"]
    return lines + [""]


def _bars(ax, comparisons: list[dict], offset: float, width: float, colour: str, label: str) -> None:
    """One set of bars: each comparison's ratio, whiskers over its per-round range."""
    places = [i + offset for i, c in enumerate(comparisons) if c["ratio"] is not None]
    measured = [c for c in comparisons if c["ratio"] is not None]
    if not measured:
        return
    ratios = [c["ratio"] for c in measured]
    # The ratio of the medians can fall outside the per-round ratios: whiskers then start at the bar.
    spans = [c["range"] or (c["ratio"],) * 2 for c in measured]
    lows = [max(0.0, r - s[0]) for r, s in zip(ratios, spans, strict=True)]
    highs = [max(0.0, s[1] - r) for r, s in zip(ratios, spans, strict=True)]
    ax.bar(places, ratios, width, color=colour, yerr=[lows, highs], capsize=3, label=label)
    for x, c, high in zip(places, measured, highs, strict=True):
        text = f"{c['ratio']:.2f}\n{NAMES[c['ours']]} /\n{NAMES[c['theirs']]}"
        ax.text(x, c["ratio"] + high, text, ha="center", va="bottom", fontsize=6)


def chart(rows_: list[dict], out: Path, plt) -> str | None:
    """Per case, the fp32 ratio and the bf16-allowed one, whiskers over the per-round range, a line at parity."""
    if not any(r[k]["ratio"] is not None for r in rows_ for k in ("fp32", "bf16")):
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(rows_)), 4.5))
    _bars(ax, [r["fp32"] for r in rows_], -0.2, 0.4, "tab:blue", "fp32: tsbridge best / best fp32 peer")
    _bars(ax, [r["bf16"] for r in rows_], 0.2, 0.4, "tab:purple", "bf16 allowed: tsbridge best / OpenVINO default")
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.text(-0.45, 1.0, "parity", va="bottom", ha="left", fontsize=7)
    ax.set_xticks(range(len(rows_)), [r["title"] for r in rows_], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("tsbridge best p50 / peer p50")
    top = max(
        max(c["ratio"], c["range"][1] if c["range"] else 0.0)
        for r in rows_
        for c in (r["fp32"], r["bf16"])
        if c["ratio"] is not None
    )
    ax.set_ylim(0, max(top, 1.0) * 1.45)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("tsbridge best / peer per case (lower is better; whiskers: per-round range)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / CHART, dpi=110)
    plt.close(fig)
    return CHART
