"""The measurements behind tsbridge's executor defaults (LoadOptions,
docs/performance.md): for each model of the suite and each setting, in a
fresh process, the first three calls after load and the steady state.

    .venv/bin/python -m benchmarks.executor_settings [--rounds 3] [--threads 2]

Prints a Markdown table; every figure is the median over the rounds, and the
rounds interleave the settings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# name -> (load options, process-wide executor settings)
SETTINGS = {
    "default (no graph optimisation)": ({}, {}),
    "optimize_graph": ({"optimize_graph": True}, {}),
    "optimize_graph, legacy executor": ({"optimize_graph": True}, {"profiling_executor": False}),
    "optimize_graph + oneDNN fusion": ({"optimize_graph": True}, {"onednn_fusion": True}),
}
CASES = {
    "simple_b5": ("simple", "5x10"),
    "mlp_b1": ("mlp", "1x256"),
    "cnn_b1": ("cnn", "1x3x224x224"),
    "transformer_b1": ("transformer", "1x128x256"),
    "lstm_b1": ("lstm", "1x32x64"),
}


def _child(archive: str, shape: str, settings: str, threads: int, calls: int) -> dict:
    import torch

    import tsbridge

    torch.set_num_threads(threads)
    x = torch.randn([int(d) for d in shape.split("x")], generator=torch.Generator().manual_seed(0))
    load_options, executor = json.loads(settings)
    tsbridge.set_executor(**executor)
    model = tsbridge.load(archive, **load_options)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - start) * 1000)
    return {"first": times[:3], "steady": statistics.median(times[len(times) // 2 :])}


def _export(model_name: str, shape: str, folder: Path) -> str:
    import torch

    import tsbridge
    from benchmarks.models import build

    path = folder / f"{model_name}.pt"
    example = torch.randn([int(d) for d in shape.split("x")])
    tsbridge.export(build(model_name).eval(), (example,), path)
    return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child, args.threads, args.calls)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="tsbridge-executor-"))
    archives = {case: _export(model, shape, work) for case, (model, shape) in CASES.items()}
    results: dict = {}
    for round_index in range(args.rounds):
        for case, (_, shape) in CASES.items():
            for name, settings in SETTINGS.items():
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "benchmarks.executor_settings",
                        "--threads",
                        str(args.threads),
                        "--calls",
                        str(args.calls),
                        "--child",
                        archives[case],
                        shape,
                        json.dumps(settings),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                entry = results.setdefault((case, name), [])
                if done.returncode != 0:
                    error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
                    entry.append({"error": error})
                else:
                    entry.append(json.loads(done.stdout))
        print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    print(f"{args.threads} intra-op thread(s), {args.calls} calls per process, medians of {args.rounds} rounds\n")
    print("| case | setting | call 1 ms | call 2 ms | call 3 ms | steady ms | call 1 / steady |")
    print("|---|---|---|---|---|---|---|")
    for (case, name), runs in results.items():
        good = [run for run in runs if "error" not in run]
        if not good:
            print(f"| {case} | {name} | fails: {runs[0]['error'][:90]} | | | | |")
            continue
        firsts = [statistics.median(run["first"][i] for run in good) for i in range(3)]
        steady = statistics.median(run["steady"] for run in good)
        print(
            f"| {case} | {name} | {firsts[0]:.3g} | {firsts[1]:.3g} | {firsts[2]:.3g} | {steady:.3g} | "
            f"{firsts[0] / steady:.3g} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
