"""One (model, runner) measurement in a fresh process: the Python runners.

    python -m benchmarks.worker RUNNER --shape 1x256 --untimed-calls N --iters N --threads N
           [--model NAME] [--archive PATH] [--onnx PATH --input NPY]

prints one line `RESULT {json}` with load_ms, first_call_ms (the first call
after load, timed on its own) and latencies_ms (every timed call). The C++
runners (tsrun, the bare LibTorch loop) are separate programs; run.py
starts them directly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

from benchmarks.peers import PEERS, open_peer, version

PYTHON_RUNNERS = ("eager", "ts_frozen", "ts_unfrozen", "tsbridge_pybind", "tsbridge_pycall", *PEERS, "aoti_pybind")


def _loop(call, untimed_calls: int, iters: int) -> tuple[float, list[float]]:
    clock = time.perf_counter_ns
    start = clock()
    call()
    first_ms = (clock() - start) / 1e6
    for _ in range(untimed_calls):
        call()
    latencies = []
    append = latencies.append
    for _ in range(iters):
        start = clock()
        call()
        append((clock() - start) / 1e6)
    return first_ms, latencies


def measure(args) -> dict:
    warnings.filterwarnings("ignore")  # torch.jit's DeprecationWarning on every call
    shape = [int(d) for d in args.shape.split("x")]
    runner = args.runner
    extra: dict = {}

    if runner in PEERS:  # no torch in this process: the peer's own thread pool only
        import numpy as np

        x = np.load(args.input)  # the driver's seeded torch.randn, the input every runner gets
        extra[runner] = version(runner)  # imports it: load_ms starts after the import, as for torch
        start = time.perf_counter_ns()
        call = open_peer(runner, args.onnx, args.threads).bind(x)
        load_ms = (time.perf_counter_ns() - start) / 1e6
        first_ms, latencies = _loop(call, args.untimed_calls, args.iters)
        return {"load_ms": load_ms, "first_call_ms": first_ms, "latencies_ms": latencies, **extra}

    import torch

    from benchmarks.models import make_input

    torch.set_num_threads(args.threads)
    x = make_input(args.model, shape)  # the case's input, as the driver made it
    start = time.perf_counter_ns()

    if runner == "eager":
        from benchmarks.models import build

        module = build(args.model)
        load_ms = (time.perf_counter_ns() - start) / 1e6
        with torch.inference_mode():
            first_ms, latencies = _loop(lambda: module(x), args.untimed_calls, args.iters)
    elif runner in ("ts_frozen", "ts_unfrozen"):
        module = torch.jit.load(args.archive)
        module.eval()
        load_ms = (time.perf_counter_ns() - start) / 1e6
        with torch.inference_mode():
            first_ms, latencies = _loop(lambda: module(x), args.untimed_calls, args.iters)
    elif runner in ("tsbridge_pybind", "aoti_pybind"):  # the same runtime; --archive is a .pt2 for aoti
        import tsbridge
        from tsbridge import _core

        start = time.perf_counter_ns()  # after the import, as for torch.jit.load
        core = tsbridge.load(args.archive)._core
        load_ms = (time.perf_counter_ns() - start) / 1e6
        # As tsrun does by default: two calls on the run's inputs, timed apart.
        extra["warmup_ms"] = core.warm_up(x, calls=2).seconds * 1000
        result = _core.benchmark(core, [x], untimed_calls=args.untimed_calls, iterations=args.iters)
        first_ms, latencies = result.first_call_ms, result.latencies_ms
        extra["tsbridge"] = tsbridge.__version__
    elif runner == "tsbridge_pycall":
        import tsbridge

        start = time.perf_counter_ns()
        model = tsbridge.load(args.archive)
        load_ms = (time.perf_counter_ns() - start) / 1e6
        extra["warmup_ms"] = model.warm_up(x, calls=2).seconds * 1000
        first_ms, latencies = _loop(lambda: model(x), args.untimed_calls, args.iters)
    else:
        raise SystemExit(f"unknown runner {runner!r}")
    return {"load_ms": load_ms, "first_call_ms": first_ms, "latencies_ms": latencies, **extra}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runner", choices=PYTHON_RUNNERS)
    parser.add_argument("--shape", required=True)
    parser.add_argument("--untimed-calls", type=int, default=10)
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model")
    parser.add_argument("--archive")
    parser.add_argument("--onnx")
    parser.add_argument("--input", help="the input as .npy (the peers)")
    args = parser.parse_args(argv)
    result = measure(args)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
