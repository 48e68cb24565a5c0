"""The targets of issue 26, tsbridge against the peers, fairly: at fp32, the
tuned file and the default export over the best fp32 peer on every case; on
a CPU with AMX, tsbridge's best with bf16 allowed over OpenVINO at its default
precision on the CNN and the transformers."""

from __future__ import annotations

from benchmarks import headline
from benchmarks.models import CASES
from benchmarks.report.formatting import ms
from benchmarks.report.lookup import median, missing
from benchmarks.report.target_rows import Planned, row
from benchmarks.runners import PEER_DEFAULT, TSBRIDGE_ANY

# (runner, as the table names it, bound on its p50 / the best fp32 peer's).
FP32_PATHS = (("tuned_tsrun", "tsbridge tuned (fp32)", 1.0), ("tsrun", "tsbridge default export (tsrun, fp32)", 1.25))
# The models the bf16 target names: the CNN and the transformers.
AMX_MODELS = ("cnn", "transformer", "bert", "bert_tiny")
AMX_BOUNDS = ((1.5, "first milestone"), (1.0, "goal"))
MODEL_OF = {c.name: c.model for c in CASES}


def plan(names: list[str]) -> list[Planned]:
    rows = [
        Planned("26", "fp32_peer", f"{label} p50 ≤ {bound:.2f}× best fp32 peer", case, runner, bound)
        for case in names
        for runner, label, bound in FP32_PATHS
    ]
    rows += [
        Planned(
            "26",
            "amx",
            f"AMX CPU, {stage}: tsbridge best (bf16 allowed, rtol = atol = 1e-2) ≤ {bound:.1f}× OpenVINO default",
            case,
            "any",
            bound,
        )
        for case in names
        if MODEL_OF.get(case) in AMX_MODELS
        for bound, stage in AMX_BOUNDS
    ]
    return rows


def _measured(summary: dict, case: str, comparison: dict) -> str:
    ours = median(summary, "latency", case, comparison["ours"], "p50_ms")
    theirs = median(summary, "latency", case, comparison["theirs"], "p50_ms")
    sides = (
        f"{headline.side(comparison['ours'], comparison['ours_check'])} / "
        f"{headline.side(comparison['theirs'], comparison['theirs_check'])}"
    )
    return f"{ms(ours)} ms vs {ms(theirs)} ms ({sides})"


def _fp32_peer(summary: dict, raw: dict, meta: dict, p: Planned) -> dict:
    """The runner's p50 over the fastest peer that computed in fp32."""
    limit = f"≤ {p.bound:.2f}×"
    peers = headline.fp32_peers(meta, p.case)
    comparison = headline.versus(summary, raw, meta, p.case, (p.runner,), peers)
    if comparison["ratio"] is None:
        why = missing(summary, "latency", p.case, p.runner)
        if comparison["ours"]:
            why = f"no fp32 peer measured ({missing(summary, 'latency', p.case, 'onnxruntime', 'openvino_f32')})"
        return row(p, why, limit)
    ratio = comparison["ratio"]
    return row(p, _measured(summary, p.case, comparison), limit, ratio, comparison["range"], ratio <= p.bound)


def _amx(summary: dict, raw: dict, meta: dict, p: Planned) -> dict:
    """tsbridge's best, bf16 allowed, over OpenVINO's default; applies only on a CPU with AMX."""
    limit = f"≤ {p.bound:.1f}×"
    if "amx" not in meta["machine"]:
        return row(p, "these results predate OpenVINO at its default precision", limit)
    if not meta["machine"]["amx"]:
        default = (headline.check_of(meta, p.case, "openvino") or {}).get("precision")
        was = f"OpenVINO default was {default}" if default else missing(summary, "latency", p.case, "openvino")
        return row(p, f"not applicable here (no AMX: {was})", limit, applicable=False)
    comparison = headline.versus(summary, raw, meta, p.case, TSBRIDGE_ANY, PEER_DEFAULT)
    if comparison["ratio"] is None:
        who = "tsrun" if not comparison["ours"] else "openvino"
        return row(p, missing(summary, "latency", p.case, who), limit)
    ratio = comparison["ratio"]
    return row(p, _measured(summary, p.case, comparison), limit, ratio, comparison["range"], ratio <= p.bound)


EVALUATE = {"fp32_peer": _fp32_peer, "amx": _amx}
