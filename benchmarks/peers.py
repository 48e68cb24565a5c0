"""The peer runtimes: ONNX Runtime, and OpenVINO twice (at its default
precision and pinned to f32), all on the same ONNX file.

One way to open a peer (used by the worker that times it and by the driver
that checks it first), the ONNX export of a case, and the check of a peer's
outputs against eager PyTorch. Importing this module imports neither torch
nor a peer: a peer's worker process must not carry torch's thread pool.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.accuracy import compare

PEERS = ("onnxruntime", "openvino", "openvino_f32")
NAMES = {"onnxruntime": "ONNX Runtime", "openvino": "OpenVINO default", "openvino_f32": "OpenVINO f32"}
MODULES = {"onnxruntime": "onnxruntime", "openvino": "openvino", "openvino_f32": "openvino"}
# OpenVINO's names for its inference precisions, in the words the suite uses.
OPENVINO_PRECISIONS = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}
CONTROL_FLOW_OPS = ("If", "Loop", "Scan")


@dataclass
class Opened:
    """A peer with its file loaded: bind(x) gives a zero-argument call that
    runs one inference on x and returns the outputs (out[0] is the first);
    precision is what it computes in, as the runtime reports it."""

    bind: Callable
    precision: str


def missing(peer: str) -> str | None:
    """Why the peer cannot run here, or None."""
    module = MODULES[peer]
    if importlib.util.find_spec(module) is None:
        return f"skipped: {module} is not installed (optional: pip install {module})"
    return None


def version(peer: str) -> str | None:
    if missing(peer):
        return None
    return importlib.import_module(MODULES[peer]).__version__


def _onnxruntime(path: str, threads: int) -> Opened:
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

    return Opened(bind, "fp32")  # the CPU provider computes float32 graphs in float32


def _openvino(path: str, threads: int, pinned: str | None) -> Opened:
    import openvino as ov

    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    if pinned:
        config["INFERENCE_PRECISION_HINT"] = pinned
    compiled = ov.Core().compile_model(path, "CPU", config)
    # Without a hint OpenVINO picks bf16 where the CPU has it: ask what it picked.
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    name = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
    infer = compiled.create_infer_request().infer

    def bind(x):
        feed = {0: x}
        # share_inputs: no copy of the input, as ONNX Runtime reads numpy in place.
        return lambda: infer(feed, share_inputs=True)

    return Opened(bind, OPENVINO_PRECISIONS.get(name, name))


def open_peer(peer: str, path: str, threads: int) -> Opened:
    """Loads the ONNX file in the peer."""
    if peer == "onnxruntime":
        return _onnxruntime(path, threads)
    if peer in ("openvino", "openvino_f32"):
        return _openvino(path, threads, "f32" if peer == "openvino_f32" else None)
    raise ValueError(f"unknown peer {peer!r}")


def check(peer: str, path: str, threads: int, inputs: list, expected: list) -> dict:
    """Runs the peer on each input (numpy) and compares its first output with
    fp32 eager's, within the tolerance of the precision it reports."""
    import numpy as np

    opened = open_peer(peer, path, threads)
    outputs = [np.asarray(opened.bind(x)()[0]) for x in inputs]
    return compare(outputs, expected, opened.precision)


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
