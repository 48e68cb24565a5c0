"""One model of the coverage table, in a process of its own (run by
benchmarks/coverage.py): TorchScript export, .pt2 export, migrate of the
TorchScript archive, and tsrun --selftest on each .pt2. Each step's result
is written to the result file as soon as it is known, so a step that hangs
past the driver's time limit leaves the ones before it.

    python -m benchmarks.coverage_worker NAME RESULT.json FOLDER
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import time
import traceback

import torch

import tsbridge

from .coverage_cases import CASES

STEPS = ("build", "torchscript", "aoti", "aoti_tsrun", "migrate", "migrate_tsrun")


def main(name: str, result_path: str, folder: str) -> None:
    torch.set_num_threads(1)  # the driver runs two workers on two cores
    results: dict = {"name": name, "source": CASES[name].source, "steps": {}}

    def record(step: str, ok: bool, reason: str = "", seconds: float = 0.0) -> None:
        reason = reason.replace(folder + os.sep, "")  # the run's temporary folder says nothing
        results["steps"][step] = {"ok": ok, "reason": reason, "seconds": round(seconds, 1)}
        with open(result_path, "w") as file:
            json.dump(results, file, indent=1)

    ts_path, pt2_path, migrated_path = (os.path.join(folder, f) for f in ("model.pt", "model.pt2", "migrated.pt2"))
    built = _step(record, "build", CASES[name].build)
    if built is None:
        return
    model, examples, dims = built
    _step(record, "torchscript", lambda: tsbridge.export(model, examples, ts_path, dynamic_dims=dims))
    if _step(record, "aoti", lambda: tsbridge.export(model, examples, pt2_path, format="aoti", dynamic_dims=dims)):
        _selftest(record, "aoti_tsrun", pt2_path)
    if not results["steps"]["torchscript"]["ok"]:
        record("migrate", False, "no TorchScript archive to migrate")
        return
    if _step(record, "migrate", lambda: tsbridge.migrate(ts_path, migrated_path)):
        _selftest(record, "migrate_tsrun", migrated_path)


def _step(record, step: str, run):
    """run(), its outcome recorded: tsbridge's one-line message when it refuses,
    the exception's type and first line otherwise (a crash, not a refusal)."""
    started = time.perf_counter()
    try:
        value = run()
    except tsbridge.Error as error:
        record(step, False, str(error), time.perf_counter() - started)
        return None
    except Exception as error:
        where = traceback.extract_tb(error.__traceback__)[-1]
        first = (str(error).strip().splitlines() or [""])[0]
        why = f"{type(error).__name__}: {first} ({os.path.basename(where.filename)}:{where.lineno})"
        record(step, False, why, time.perf_counter() - started)
        return None
    notes = [w for w in getattr(value, "warnings", []) if w.startswith("torch.export bounded")]
    record(step, True, "; ".join(notes), time.perf_counter() - started)
    return value if value is not None else True


def _selftest(record, step: str, path: str) -> None:
    tsrun = os.path.join(sysconfig.get_path("scripts"), "tsrun")
    started = time.perf_counter()
    done = subprocess.run([tsrun, path, "--selftest", "--threads", "1"], capture_output=True, text=True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    reason = "" if done.returncode == 0 else f"tsrun exit {done.returncode}: {lines[-1] if lines else ''}"
    record(step, done.returncode == 0, reason, time.perf_counter() - started)


if __name__ == "__main__":
    main(*sys.argv[1:4])
