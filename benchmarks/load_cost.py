"""What loading costs: the time `tsrun` reports for Model::load and the peak
RSS of the whole process (load plus one call), for the TorchScript archive
and the .pt2 package of the same models, interleaved over rounds. The .pt2
comes three ways: as tsbridge makes it (weights in a blob beside the shared
object) and with AOTInductor's other two weight placements (in the shared
object's data section, its default; appended to it and mmap-ed), the
measurement behind tsbridge's choice.

    .venv/bin/python -m benchmarks.load_cost [--rounds 5]

Prints a Markdown table (median over rounds) and writes every figure to
benchmarks/results/load_cost.json.
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
from unittest import mock

import torch

import tsbridge
import tsbridge.aoti

from .models import build

CASES = {"mlp": (1, 256), "cnn": (1, 3, 224, 224), "transformer": (1, 128, 256)}
# name -> (suffix, format, Inductor settings over tsbridge's own)
FORMATS = {
    "torchscript": (".pt", "torchscript", {}),
    "aoti": (".pt2", "aoti", {}),
    "aoti, weights in the .so": (".in-so.pt2", "aoti", tsbridge.aoti.WEIGHTS_IN_SO),
    "aoti, weights mmap-ed": (
        ".mmap.pt2",
        "aoti",
        {**tsbridge.aoti.WEIGHTS_IN_SO, "aot_inductor.force_mmap_weights": True},
    ),
}
RESULTS = os.path.join(os.path.dirname(__file__), "results", "load_cost.json")


def run_once(tsrun: str, path: str) -> tuple[float, float]:
    """(load ms as tsrun reports it, the process's peak RSS in MiB). Through
    /usr/bin/time: a child forked straight from this Python process would
    count the fork's copy of it (about 1 GiB after compiling) in its peak."""
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", tsrun, path, "--json"], capture_output=True, text=True, check=True
    )
    peak_kib = int(result.stderr.strip().splitlines()[-1])
    return json.loads(result.stdout)["timings"]["load_ms"], peak_kib / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    tsrun = shutil.which("tsrun", path=sysconfig.get_path("scripts"))
    folder = tempfile.mkdtemp(prefix="tsbridge-load-")
    try:
        paths, sizes = {}, {}
        for model, shape in CASES.items():
            for form, (suffix, kind, settings) in FORMATS.items():
                path = os.path.join(folder, model + suffix)
                with mock.patch.dict(tsbridge.aoti.INDUCTOR_CONFIGS, settings):
                    tsbridge.export(build(model), torch.randn(*shape), path, format=kind, atol=1e-4, rtol=1e-4)
                paths[(model, form)], sizes[(model, form)] = path, os.path.getsize(path) / 2**20
        figures = {f"{m}/{f}": {"load_ms": [], "rss_mib": []} for m, f in paths}
        for _ in range(args.rounds):
            for (model, form), path in paths.items():
                load_ms, rss = run_once(tsrun, path)
                figures[f"{model}/{form}"]["load_ms"].append(load_ms)
                figures[f"{model}/{form}"]["rss_mib"].append(rss)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = ["| model | format | file | load (median, range) | peak RSS |", "|---|---|---|---|---|"]
    for (model, form), size in sizes.items():
        entry = figures[f"{model}/{form}"]
        loads = entry["load_ms"]
        lines.append(
            f"| {model} | {form} | {size:.1f} MiB | {statistics.median(loads):.0f} ms "
            f"({min(loads):.0f}–{max(loads):.0f}) | {statistics.median(entry['rss_mib']):.0f} MiB |"
        )
    text = "\n".join(lines)
    print(text)
    with open(RESULTS, "w", encoding="utf-8") as file:
        json.dump({"rounds": args.rounds, "figures": figures, "table": text}, file, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
