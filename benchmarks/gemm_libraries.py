"""Which GEMM library serves Linear best on this CPU (issue 17): the suite's
MLP at batch 1 (256 -> 512 -> 512 -> 512 -> 10 with ReLUs) through the three
fp32 Linear kernels LibTorch has, each checked against eager first.

    .venv/bin/python -m benchmarks.gemm_libraries [--rounds 5] [--batch 1]

- MKL: aten::linear, what TorchScript and a .pt2 without prepacking call;
- MKL, packed weights: mkl::_mkl_linear, what a .pt2 with Inductor's weight
  prepacking calls for fp32 Linear;
- oneDNN, packed weights: mkldnn::_linear_pointwise with the ReLU fused.

Prints a Markdown table: the median per-call time at each thread count from 1
to the cores, rounds interleaving the kernels. The figures are Python-driven
(the same loop for each), so compare them with each other, not with tsrun.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.models import build


def kernels(batch: int):
    """name -> a forward over the MLP's layers with that library's kernel."""
    layers = [m for m in build("mlp").layers if isinstance(m, torch.nn.Linear)]
    last = len(layers) - 1

    def aten(x):
        for i, layer in enumerate(layers):
            x = torch.nn.functional.linear(x, layer.weight, layer.bias)
            x = torch.relu_(x) if i < last else x
        return x

    mkl_packed = [torch.ops.mkl._mkl_reorder_linear_weight(layer.weight, batch) for layer in layers]

    def mkl(x):
        for i, (layer, packed) in enumerate(zip(layers, mkl_packed, strict=True)):
            x = torch.ops.mkl._mkl_linear(x, packed, layer.weight, layer.bias, batch)
            x = torch.relu_(x) if i < last else x
        return x

    onednn_packed = [torch.ops.mkldnn._reorder_linear_weight(layer.weight, batch) for layer in layers]

    def onednn(x):
        for i, (layer, packed) in enumerate(zip(layers, onednn_packed, strict=True)):
            x = torch.ops.mkldnn._linear_pointwise(x, packed, layer.bias, "relu" if i < last else "none", [], "")
        return x

    return {"MKL (aten::linear)": aten, "MKL, packed weights": mkl, "oneDNN, packed weights": onednn}


def median_call_us(forward, x, calls: int) -> float:
    for _ in range(calls // 10):
        forward(x)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        forward(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per kernel, thread count and round")
    args = parser.parse_args(argv)
    x = torch.randn(args.batch, 256, generator=torch.Generator().manual_seed(0))
    threads = list(range(1, (os.cpu_count() or 1) + 1))
    figures: dict = {}
    with torch.inference_mode():
        forwards = kernels(args.batch)
        expected = build("mlp")(x)
        for name, forward in forwards.items():
            torch.testing.assert_close(forward(x), expected, rtol=1e-5, atol=1e-5, msg=lambda m, n=name: f"{n}: {m}")
        for _ in range(args.rounds):
            for count in threads:
                torch.set_num_threads(count)
                for name, forward in forwards.items():
                    figures.setdefault((name, count), []).append(median_call_us(forward, x, args.calls))
    print(f"MLP 512×3, batch {args.batch}: µs per call, median of {args.rounds} interleaved rounds\n")
    print("| Linear kernel | " + " | ".join(f"{n} thread{'s' if n > 1 else ''}" for n in threads) + " |")
    print("|---|" + "---|" * len(threads))
    for name in forwards:
        cells = [f"{statistics.median(figures[(name, n)]):.1f}" for n in threads]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
