"""The peer runtimes: ONNX Runtime and OpenVINO, both on the same ONNX file.

One way to open a peer (used by the worker that times it and by the driver
that checks it first), the ONNX export of a case, and the check of a peer's
outputs against eager PyTorch. Importing this module imports neither torch
nor a peer: a peer's worker process must not carry torch's thread pool.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

PEERS = ("onnxruntime", "openvino")
NAMES = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}
# Peers compute in float32 like eager; a check allows reordered float sums.
RTOL, ATOL = 1e-3, 1e-4
CONTROL_FLOW_OPS = ("If", "Loop", "Scan")


def missing(peer: str) -> str | None:
    """Why the peer cannot run here, or None."""
    if importlib.util.find_spec(peer) is None:
        return f"skipped: {peer} is not installed (optional: pip install {peer})"
    return None


def version(peer: str) -> str | None:
    if missing(peer):
        return None
    return importlib.import_module(peer).__version__


def open_peer(peer: str, path: str, threads: int) -> Callable:
    """Loads the ONNX file; returns bind(x) -> a zero-argument call that runs
    one inference on x and returns the outputs (out[0] is the first)."""
    if peer == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        run = session.run

        def bind(x):
            feed = {name: x}
            return lambda: run(None, feed)

        return bind
    if peer == "openvino":
        import openvino as ov

        config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": threads,
            # float32 as eager computes; OpenVINO would pick bf16 on CPUs that have it.
            "INFERENCE_PRECISION_HINT": "f32",
        }
        request = ov.Core().compile_model(path, "CPU", config).create_infer_request()
        infer = request.infer

        def bind(x):
            feed = {0: x}
            # share_inputs: no copy of the input, as ONNX Runtime reads numpy in place.
            return lambda: infer(feed, share_inputs=True)

        return bind
    raise ValueError(f"unknown peer {peer!r}")


def check(peer: str, path: str, threads: int, inputs: list, expected: list) -> tuple[bool, str]:
    """Runs the peer on each input (numpy) and compares its first output with
    eager's. Returns (passed, a one-line note with the largest error)."""
    import numpy as np

    bind = open_peer(peer, path, threads)
    worst = 0.0
    for index, (x, want) in enumerate(zip(inputs, expected, strict=True)):
        got = np.asarray(bind(x)()[0])
        if got.shape != want.shape:
            return False, f"check failed: output shape {got.shape} vs eager {want.shape} (input {index})"
        worst = max(worst, float(np.max(np.abs(got - want))) if got.size else 0.0)
        if not np.allclose(got, want, rtol=RTOL, atol=ATOL):
            return False, (
                f"check failed: max abs error {worst:.2g} vs eager on input {index} (rtol {RTOL:g}, atol {ATOL:g})"
            )
    return True, f"max abs error vs eager {worst:.2g} on {len(inputs)} inputs"


def export_onnx(module, x, path: str, scripted: bool) -> str:
    """Writes the ONNX file; returns how. A model with data-dependent control
    flow is scripted first and goes through the TorchScript exporter, the one
    that turns prim::If/prim::Loop into ONNX If/Loop (a trace or the dynamo
    exporter would bake in one branch or refuse)."""
    import contextlib
    import io
    import warnings

    import torch

    attempts = (
        [("torch.jit.script, then torch.onnx.export(dynamo=False)", False)]
        if scripted
        else [("torch.onnx.export(dynamo=True)", True), ("torch.onnx.export(dynamo=False)", False)]
    )
    errors = []
    for how, dynamo in attempts:
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                model = torch.jit.script(module) if scripted else module
                torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], dynamo=dynamo)
            return how + _control_flow_note(path)
        except Exception as exc:  # noqa: BLE001 - any exporter failure: try the next, then report
            text = str(exc).strip()
            errors.append(f"{how}: {text.splitlines()[0][:160] if text else type(exc).__name__}")
    raise RuntimeError("; ".join(errors))


def _control_flow_note(path: str) -> str:
    """', with If×1, Loop×1' when the graph kept control-flow nodes (nested graphs counted)."""
    try:
        import onnx
    except ImportError:
        return ""
    counts: dict[str, int] = {}

    def walk(graph):
        for node in graph.node:
            if node.op_type in CONTROL_FLOW_OPS:
                counts[node.op_type] = counts.get(node.op_type, 0) + 1
            for attribute in node.attribute:
                if attribute.g.node:
                    walk(attribute.g)

    walk(onnx.load(path, load_external_data=False).graph)
    return ", with " + ", ".join(f"{op}×{n}" for op, n in counts.items()) if counts else ""
