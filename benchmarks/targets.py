"""What a portable .pt2 costs: the same models compiled for the default target
(x86-64-v3), for `native`, and for x86-64-v3 with loops specialised to the
exporting thread count (Inductor's default, cpp.dynamic_threads=False),
timed with `tsrun --bench` in one run, interleaved over rounds.

    .venv/bin/python -m benchmarks.targets [--rounds 5] [--threads 2]

Prints a Markdown table of the median p50 per call over the rounds (and the
range), and writes it with every figure to benchmarks/results/targets.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sysconfig
import tempfile

import torch

import tsbridge
from tsbridge import aoti

from .models import build

CASES = {"mlp": (1, 256), "cnn": (1, 3, 224, 224), "transformer": (1, 128, 256)}
ITERS = {"mlp": 2000, "cnn": 30, "transformer": 60}
VARIANTS = ("x86-64-v3", "native", "x86-64-v3 fixed threads")
RESULTS = os.path.join(os.path.dirname(__file__), "results", "targets.json")


def export_variant(model: str, variant: str, folder: str) -> str:
    path = os.path.join(folder, f"{model}-{variant.replace(' ', '-')}.pt2")
    torch.manual_seed(0)
    example = torch.randn(*CASES[model])
    fixed = variant.endswith("fixed threads")
    # Benchmark only: the exporter's default before tsbridge turned dynamic threads on.
    saved = dict(aoti.INDUCTOR_CONFIGS)
    aoti.INDUCTOR_CONFIGS["cpp.dynamic_threads"] = not fixed
    try:
        tsbridge.export(build(model), example, path, format="aoti", target=variant.split()[0], atol=1e-4, rtol=1e-4)
    finally:
        aoti.INDUCTOR_CONFIGS.clear()
        aoti.INDUCTOR_CONFIGS.update(saved)
    return path


def bench(tsrun: str, path: str, iters: int, threads: int) -> float:
    result = subprocess.run(
        [
            tsrun,
            path,
            "--bench",
            "--iters",
            str(iters),
            "--untimed-calls",
            str(max(3, iters // 10)),
            "--threads",
            str(threads),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)["timings"]["bench"]["percentiles_ms"]["50"]


def table(p50: dict, threads: int) -> str:
    lines = [
        f"| model | {' | '.join(VARIANTS)} | v3 / native | fixed / runtime threads |",
        "|---|" + "---|" * (len(VARIANTS) + 2),
    ]
    for model in CASES:
        cells, medians = [], {}
        for variant in VARIANTS:
            values = p50[model][variant]
            medians[variant] = statistics.median(values)
            cells.append(f"{_ms(medians[variant])} ({_ms(min(values))}–{_ms(max(values))})")
        ratio = medians["x86-64-v3"] / medians["native"]
        fixed = medians["x86-64-v3 fixed threads"] / medians["x86-64-v3"]
        lines.append(
            f"| {model} {'x'.join(map(str, CASES[model]))} | {' | '.join(cells)} | {ratio:.2f}× | {fixed:.2f}× |"
        )
    return "\n".join(lines) + f"\n\n(p50 per call in `tsrun --bench --threads {threads}`, median of rounds and range)"


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} µs" if value < 1 else f"{value:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    tsrun = shutil.which("tsrun", path=sysconfig.get_path("scripts"))
    folder = tempfile.mkdtemp(prefix="tsbridge-targets-")
    try:
        paths = {(m, v): export_variant(m, v, folder) for m in CASES for v in VARIANTS}
        p50: dict = {m: {v: [] for v in VARIANTS} for m in CASES}
        for _ in range(args.rounds):
            for (model, variant), path in paths.items():  # interleaved: every variant once a round
                p50[model][variant].append(bench(tsrun, path, ITERS[model], args.threads))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    text = table(p50, args.threads)
    print(text)
    with open(RESULTS, "w", encoding="utf-8") as file:
        json.dump(
            {
                "threads": args.threads,
                "rounds": args.rounds,
                "cpu": tsbridge._core.cpu_features(),
                "p50_ms": p50,
                "table": text,
            },
            file,
            indent=2,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
