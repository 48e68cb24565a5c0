"""The registry: every runner and cold-start process the suite measures, and
what each one loads and is given. The order of RUNNERS is the order of the tables."""

from __future__ import annotations

from benchmarks.peers import PEERS

INPUT_NAME = "x"  # forward(self, x) in every benchmark model

# (key, label, kind); the order is the order of the tables.
RUNNERS = [
    ("eager", "Python eager (inference_mode)", "python"),
    ("ts_unfrozen", "Python torch.jit.load, unfrozen", "python"),
    ("ts_frozen", "Python torch.jit.load, frozen", "python"),
    ("tsbridge_pybind", "tsbridge pybind11 (_core.benchmark)", "python"),
    ("tsbridge_pycall", "tsbridge pybind11, called in a Python loop", "python"),
    ("tsrun", "tsrun --bench (C++)", "cpp"),
    ("tsrun_onednn", "tsrun --bench --optimize-graph --onednn-fusion (C++, opt-in)", "cpp"),
    ("bare", "bare LibTorch loop (C++, no tsbridge)", "cpp"),
    ("onnxruntime", "ONNX Runtime (Python)", "python"),
    ("openvino", "OpenVINO (Python, LATENCY hint, its default precision)", "python"),
    ("openvino_f32", "OpenVINO (Python, LATENCY hint, f32)", "python"),
    ("onnxruntime_1thread", "ONNX Runtime (Python), 1 intra-op thread", "python"),
    ("openvino_1thread", "OpenVINO (Python, LATENCY hint, its default precision), 1 intra-op thread", "python"),
    ("openvino_f32_1thread", "OpenVINO (Python, LATENCY hint, f32), 1 intra-op thread", "python"),
    ("aoti_pybind", "tsbridge pybind11 on the .pt2 (_core.benchmark)", "python"),
    ("aoti_tsrun", "tsrun --bench on the .pt2 (C++)", "cpp"),
    ("bf16_tsrun", 'tsrun --bench on the bf16 archive (precision="bf16") (C++)', "cpp"),
    ("bf16_aoti_tsrun", 'tsrun --bench on the bf16 .pt2 (precision="bf16", target="native") (C++)', "cpp"),
    ("auto_tsrun", 'tsrun --bench on the format="auto" file (C++)', "cpp"),
    ("tuned_tsrun", 'tsrun --bench on the tuned file (format="auto", tune=True; its recorded threads) (C++)', "cpp"),
]
AOTI_RUNNERS = ("aoti_pybind", "aoti_tsrun")
# tsbridge's files in bf16: runner -> its file's key, with the export's options.
REDUCED = {
    "bf16_tsrun": ("bf16", {"precision": "bf16"}),
    "bf16_aoti_tsrun": ("bf16_aoti", {"precision": "bf16", "format": "aoti", "target": "native"}),
}
# Which of a model's files a runner loads (the rest load the frozen archive).
ARCHIVE_OF = {
    "aoti_pybind": "aoti",
    "aoti_tsrun": "aoti",
    "auto_tsrun": "auto",
    "tuned_tsrun": "tuned",
    **{runner: key for runner, (key, _) in REDUCED.items()},
}
# Files that tsbridge.export searches for (format="auto"; tune=True as well): what --quick leaves out.
SEARCHED = {"auto_tsrun": False, "tuned_tsrun": True}
TSRUN_RUNNERS = {
    "tsrun": [],
    "tsrun_onednn": ["--optimize-graph", "--onednn-fusion"],
    "aoti_tsrun": [],
    "auto_tsrun": [],
    "tuned_tsrun": [],
    **{runner: [] for runner in REDUCED},
}
# Every runner that is tsbridge's runtime on an fp32 file, whichever file or
# setting it runs; TSBRIDGE_ANY adds the bf16 files.
TSBRIDGE_FP32 = (
    "tsrun",
    "tsrun_onednn",
    "tsbridge_pybind",
    "tsbridge_pycall",
    "aoti_pybind",
    "aoti_tsrun",
    "auto_tsrun",
    "tuned_tsrun",
)
TSBRIDGE_ANY = TSBRIDGE_FP32 + tuple(REDUCED)
# The runners whose thread count is the file's own (its tuning record), not --threads.
OWN_THREADS = ("tuned_tsrun",)
# Each peer once more at one thread: the tuned runner may pick one, so the
# peers get the same choice (the faster of the two counts is the best peer).
ONE_THREAD_PEERS = {f"{peer}_1thread": peer for peer in PEERS}
# OpenVINO at its own default precision, at either thread count.
PEER_DEFAULT = ("openvino", "openvino_1thread")


def checked_as(runner: str) -> str:
    """Whose check against fp32 eager a runner's figures stand on: a peer's
    own (at either thread count), else the file the runner loads."""
    if runner in PEERS or runner in ONE_THREAD_PEERS:
        return ONE_THREAD_PEERS.get(runner, runner)
    return ARCHIVE_OF.get(runner, "frozen")


RUNNER_KEYS = [key for key, _, _ in RUNNERS]
# Whole processes timed from start to first output.
COLD = [
    ("python", 'python -c "import torch; m = torch.jit.load(...); m(x)"'),
    ("tsrun", "tsrun model.pt"),
    ("bare", "bare LibTorch binary (load, one call, print)"),
]
COLD_KEYS = [key for key, _ in COLD]
