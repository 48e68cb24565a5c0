"""Ratios the issue quotes from earlier bare-LibTorch measurements, for comparison (not targets)."""

from __future__ import annotations

from benchmarks.report.lookup import median, paired

# (runner, over runner, what, quoted for the CNN): p50 per call.
LATENCY_PAIRS = (
    ("ts_frozen", "eager", "Python TS frozen / eager, p50", "~0.75× on a ResNet-18"),
    ("ts_unfrozen", "eager", "Python TS unfrozen / eager, p50", "~1.1–1.2× on a ResNet-18"),
    ("onnxruntime", "eager", "ONNX Runtime / eager, p50", "~0.5× on ResNet-18 b1"),
    ("tsrun", "ts_frozen", "tsrun / Python TS frozen, p50", ""),
    ("tsrun_onednn", "tsrun", "tsrun --onednn-fusion / tsrun default, p50", ""),
    ("aoti_tsrun", "tsrun", ".pt2 / frozen TorchScript, both in tsrun, p50", ""),
    ("aoti_tsrun", "onnxruntime", ".pt2 in tsrun / ONNX Runtime, p50", ""),
    ("openvino_f32", "onnxruntime", "OpenVINO f32 / ONNX Runtime, p50", ""),
    ("openvino", "openvino_f32", "OpenVINO at its default precision / pinned to f32, p50", ""),
    ("bf16_tsrun", "tsrun", "bf16 archive / fp32 archive, both in tsrun, p50", ""),
    ("bf16_aoti_tsrun", "aoti_tsrun", "bf16 native .pt2 / fp32 .pt2, both in tsrun, p50", ""),
)
# (metric, what, quoted): the bare LibTorch binary over Python, whole process.
COLD_PAIRS = (
    ("first_output_s", "bare C++ / Python cold start", "0.19–0.38×"),
    ("peak_rss_mib", "bare C++ / Python peak RSS", "0.51–0.58×"),
)


def reference_ratios(summary: dict, raw: dict, cases) -> list[dict]:
    rows = []
    for case in (c.name for c in cases):
        for a, b, what, quoted in LATENCY_PAIRS:
            x = median(summary, "latency", case, a, "p50_ms")
            y = median(summary, "latency", case, b, "p50_ms")
            if x is not None and y is not None:
                rows.append(
                    {
                        "case": case,
                        "what": what,
                        "ratio": x / y,
                        "quoted": quoted if case.startswith("cnn") else "",
                        "range": paired(raw, "latency", case, a, b, "p50_ms"),
                    }
                )
        for metric, what, quoted in COLD_PAIRS:
            x = median(summary, "cold", case, "bare", metric)
            y = median(summary, "cold", case, "python", metric)
            if x is not None and y is not None:
                rows.append(
                    {
                        "case": case,
                        "what": what,
                        "ratio": x / y,
                        "quoted": quoted,
                        "range": paired(raw, "cold", case, "bare", "python", metric),
                    }
                )
    return rows
