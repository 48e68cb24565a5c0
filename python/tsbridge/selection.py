"""format="auto": time the TorchScript archive and the .pt2 package in the C++
runtime that will run them, keep the faster, and say so in the manifest."""

from __future__ import annotations

import torch

from . import _core, archive, manifest as manifest_

# Interleaved rounds, median per candidate: timings on shared 2-core machines
# move 20-70% between runs, so the two candidates take turns.
ROUNDS = 7
ROUND_SECONDS = 0.05


def measure(paths: dict[str, str], examples: tuple) -> dict[str, float]:
    """Median microseconds per forward call of each file, timed by
    libtsbridge's benchmark (tsrun --bench's loop, no Python in it)."""
    models = {name: _core.Model.load(path, "cpu", True) for name, path in paths.items()}
    samples: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(ROUNDS):
        for name, model in models.items():
            # Each round's first calls (TorchScript's profiling run) are untimed: the first call and warmup.
            result = _core.benchmark(model, list(examples), warmup=2, iterations=0, duration_seconds=ROUND_SECONDS)
            samples[name].append(result.mean_ms() * 1000)
    return {name: sorted(values)[len(values) // 2] for name, values in samples.items()}


def record(measured: dict[str, float], chosen: str) -> dict:
    return {
        "chosen": chosen,
        "median_us": {name: round(value, 3) for name, value in measured.items()},
        "rounds": ROUNDS if measured else 0,
    }


def describe(measured: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.1f} µs/call" for name, value in sorted(measured.items(), key=lambda i: i[1]))


def rewrite_manifest(path: str, target: str, selection: dict) -> None:
    """Writes `path` to `target` with the selection added to its manifest."""
    reader = torch._C.PyTorchFileReader(path)
    current = manifest_.parse(reader.get_record("extra/" + manifest_.ENTRY))
    del reader
    current.pop("integrity", None)
    current["selection"] = selection
    archive.rewrite(path, target, current)
