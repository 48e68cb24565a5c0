"""Client threads sharing one Model: throughput and p99 with 1, 2 and 4
threads calling it at once, for the TorchScript archive and the .pt2 package
of the same model (the .pt2 with one runner and with the default count),
timed with `tsrun --bench --clients N --threads 1`, interleaved over rounds.

    .venv/bin/python -m benchmarks.concurrency [--rounds 5] [--model mlp] [--batch 64]

Prints a Markdown table (median over rounds) and writes every figure to
benchmarks/results/concurrency.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sysconfig
import tempfile
import time

import torch

import tsbridge

from .models import build

CLIENTS = (1, 2, 4)
RESULTS = os.path.join(os.path.dirname(__file__), "results", "concurrency.json")
INPUT_SHAPES = {"mlp": (256,), "cnn": (3, 224, 224), "transformer": (128, 256)}


def _spin(seconds: float, results) -> None:
    started, cpu = time.time(), time.process_time()
    while time.time() - started < seconds:
        pass
    results.put(time.process_time() - cpu)


def available_cores(seconds: float = 1.0) -> float:
    """CPU seconds per wall second that busy processes, one per core, got:
    the parallelism this shared machine offered just then (2.0 = both cores
    free). Scaling past it cannot be measured, so it is printed beside."""
    results = multiprocessing.Queue()
    spinners = [multiprocessing.Process(target=_spin, args=(seconds, results)) for _ in range(os.cpu_count() or 1)]
    for spinner in spinners:
        spinner.start()
    for spinner in spinners:
        spinner.join()
    return sum(results.get() for _ in spinners) / seconds


def export_both(model: str, batch: int, folder: str) -> dict[str, str]:
    example = torch.randn(batch, *INPUT_SHAPES[model])
    paths = {"torchscript": os.path.join(folder, "model.pt"), "aoti": os.path.join(folder, "model.pt2")}
    for form, path in paths.items():
        tsbridge.export(build(model), example, path, format=form, atol=1e-4, rtol=1e-4)
    return paths


def bench(tsrun: str, path: str, clients: int, runners: int | None, iters: int) -> dict:
    command = [
        tsrun,
        path,
        "--bench",
        "--threads",
        "1",
        "--clients",
        str(clients),
        "--iters",
        str(iters),
        "--untimed-calls",
        str(max(5, iters // 10)),
        "--json",
    ]
    if runners is not None:
        command += ["--runners", str(runners)]
    bench_json = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    timings = bench_json["timings"]["bench"]
    return {"calls_per_second": timings["inferences_per_second"], "p99_ms": timings["percentiles_ms"]["99"]}


def table(figures: dict) -> str:
    lines = ["| file | clients | calls/s | × 1 client | p99 |", "|---|---|---|---|---|"]
    for label, by_clients in figures.items():
        base = statistics.median(r["calls_per_second"] for r in by_clients["1"])
        for clients, runs in by_clients.items():
            rate = statistics.median(r["calls_per_second"] for r in runs)
            p99 = statistics.median(r["p99_ms"] for r in runs)
            lines.append(f"| {label} | {clients} | {rate:,.0f} | {rate / base:.2f}× | {p99:.3f} ms |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", choices=sorted(INPUT_SHAPES), default="mlp")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--iters", type=int, default=400, help="timed calls per client thread")
    args = parser.parse_args(argv)
    tsrun = shutil.which("tsrun", path=sysconfig.get_path("scripts"))
    runners = {
        "TorchScript .pt": ("torchscript", None),
        ".pt2, 1 runner": ("aoti", 1),
        ".pt2, default runners": ("aoti", None),
    }
    folder = tempfile.mkdtemp(prefix="tsbridge-concurrency-")
    try:
        paths = export_both(args.model, args.batch, folder)
        figures = {label: {str(c): [] for c in CLIENTS} for label in runners}
        cores = []
        for _ in range(args.rounds):
            cores.append(available_cores())
            for clients in CLIENTS:
                for label, (form, count) in runners.items():  # interleaved: each file once per round and count
                    figures[label][str(clients)].append(bench(tsrun, paths[form], clients, count, args.iters))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    text = table(figures)
    note = (
        f"{args.model}, batch {args.batch}, 1 intra-op thread per call, {args.iters} calls per client, "
        f"{args.rounds} rounds, {os.cpu_count()} cores (default runners: cores / intra-op threads = "
        f"{os.cpu_count()}); cores free per round, measured by busy processes: "
        f"{', '.join(f'{c:.2f}' for c in cores)}"
    )
    print(text + "\n\n" + note)
    with open(RESULTS, "w", encoding="utf-8") as file:
        json.dump({"note": note, "figures": figures, "table": text}, file, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
