"""One measurement in a fresh process: a runner's per-call latency on a case
(tsrun, the bare loop or a Python worker), or a whole cold-start process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.models import Case
from benchmarks.peers import PEERS
from benchmarks.runners import ARCHIVE_OF, INPUT_NAME, ONE_THREAD_PEERS, OWN_THREADS, TSRUN_RUNNERS

if TYPE_CHECKING:
    from benchmarks.prepare import Setup

REPO = Path(__file__).resolve().parent.parent
PROCESS_TIMEOUT_S = 600


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("LD_LIBRARY_PATH", None)
    return env


def latency_stats(result: dict, batch: int) -> dict:
    import numpy as np

    latencies = np.asarray(result["latencies_ms"], dtype=float)
    stats = {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "mean_ms": float(latencies.mean()),
        "samples_per_s": float(batch * len(latencies) / latencies.sum() * 1000.0),
        "first_call_ms": float(result["first_call_ms"]),
        "load_ms": float(result["load_ms"]) if result.get("load_ms") is not None else None,
        "calls": int(len(latencies)),
    }
    stats["first_over_p50"] = stats["first_call_ms"] / stats["p50_ms"]
    for key in ("warmup_ms",):
        if result.get(key) is not None:
            stats[key] = float(result[key])
    return stats


def tsrun_shape(case: Case) -> str:
    """tsrun's --shape for the case: the dtype named (token ids are int64;
    tsrun draws them itself, from 0 to 9, as the bare loop does)."""
    return f"{INPUT_NAME}={case.shape_arg}:{case.dtype}"


def bare_shape(case: Case) -> list[str]:
    return ["--shape", case.shape_arg, *(["--dtype", case.dtype] if case.dtype != "float32" else [])]


def _tsrun_latency(setup: Setup, case: Case, runner: str, archive: str, common: list[str], env: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", dir=setup.work, delete=False) as handle:
        times = handle.name
    command = [
        setup.tsrun,
        archive,
        "--bench",
        "--json",
        "--shape",
        tsrun_shape(case),
        "--export-times",
        times,
        *common,
        *TSRUN_RUNNERS[runner],
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=PROCESS_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"tsrun exit {done.returncode}: {done.stderr.strip()[-300:]}")
    with open(times) as handle:
        result = json.load(handle)
    os.unlink(times)
    try:
        timings = json.loads(done.stdout).get("timings", {})
        bench = timings.get("bench", {})
        for key in ("warmup_ms", "warm_up_ms"):
            value = timings.get(key, bench.get(key))
            if value is not None:
                result["warmup_ms"] = value
    except (json.JSONDecodeError, AttributeError):
        pass
    return latency_stats(result, case.batch)


def _bare_latency(setup: Setup, case: Case, archive: str, common: list[str], env: dict) -> dict:
    command = [setup.bare, archive, *bare_shape(case), *common]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=PROCESS_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"bare_loop exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return latency_stats(json.loads(done.stdout), case.batch)


def _worker_latency(setup: Setup, case: Case, runner: str, archive: str, common: list[str], env: dict) -> dict:
    """A Python runner, in benchmarks/worker.py."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        runner,
        "--shape",
        case.shape_arg,
        "--model",
        case.model,
        *common,
    ]
    if runner == "ts_unfrozen":
        command += ["--archive", setup.archives[case.model]["unfrozen"]]
    elif runner in PEERS:
        command += ["--onnx", setup.onnx[case.name], "--input", setup.inputs[case.name]]
    elif runner != "eager":
        command += ["--archive", archive]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=PROCESS_TIMEOUT_S)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{runner} exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return latency_stats(json.loads(lines[-1][len("RESULT ") :]), case.batch)


def run_latency(setup: Setup, case: Case, runner: str, threads: int) -> dict:
    archive = setup.archives[case.model][ARCHIVE_OF.get(runner, "frozen")]
    common = ["--untimed-calls", str(case.warmup), "--iters", str(case.iters)]
    if runner in ONE_THREAD_PEERS:
        runner, threads = ONE_THREAD_PEERS[runner], 1
    if runner not in OWN_THREADS:
        common += ["--threads", str(threads)]
    env = child_env()
    if runner in TSRUN_RUNNERS:
        return _tsrun_latency(setup, case, runner, archive, common, env)
    if runner == "bare":
        return _bare_latency(setup, case, archive, common, env)
    return _worker_latency(setup, case, runner, archive, common, env)


def _cold_via_launcher(command: list[str], env: dict, launcher: str, errors) -> dict:
    done = subprocess.run(
        [launcher, *command],
        stdout=subprocess.PIPE,
        stderr=errors,
        env=env,
        cwd=REPO,
        timeout=PROCESS_TIMEOUT_S,
    )
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    result = json.loads(lines[-1]) if lines else {}
    if done.returncode != 0 or result.get("exit_code", 1) != 0:
        errors.seek(0)
        raise RuntimeError(f"exit {done.returncode}: {errors.read().decode(errors='replace').strip()[-300:]}")
    return {
        "first_output_s": result["first_output_s"],
        "exit_s": result["exit_s"],
        "peak_rss_mib": result["peak_rss_kib"] / 1024.0,
    }


def _cold_from_python(command: list[str], env: dict, errors) -> dict:
    """Without the launcher: the times only (a peak RSS would include this driver's)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=REPO)
    try:
        first = None
        for _ in iter(lambda: process.stdout.read1(65536), b""):
            if first is None:
                first = time.perf_counter() - started
        code = process.wait(timeout=PROCESS_TIMEOUT_S)
        exited = time.perf_counter() - started
    finally:
        process.stdout.close()
    if code != 0:
        errors.seek(0)
        raise RuntimeError(f"exit {code}: {errors.read().decode(errors='replace').strip()[-300:]}")
    return {"first_output_s": first if first is not None else exited, "exit_s": exited, "peak_rss_mib": None}


def run_cold(command: list[str], env: dict, launcher: str | None) -> dict:
    """A whole process: seconds from spawn to its first byte on stdout and to
    its exit, and its peak RSS. Through the coldstart launcher (a tiny C
    process: Linux keeps a peak RSS across exec, so a child forked from this
    driver would report at least the driver's own memory)."""
    with tempfile.TemporaryFile() as errors:
        if launcher:
            return _cold_via_launcher(command, env, launcher, errors)
        return _cold_from_python(command, env, errors)


def cold_command(setup: Setup, case: Case, kind: str) -> list[str]:
    frozen = setup.archives[case.model]["frozen"]
    if kind == "tsrun":
        return [setup.tsrun, frozen, "--shape", tsrun_shape(case)]
    if kind == "bare":
        return [setup.bare, frozen, *bare_shape(case), "--cold"]
    shape = ", ".join(str(d) for d in case.shape)
    make = f"torch.randint(0, 10, ({shape},))" if case.dtype == "int64" else f"torch.randn({shape})"
    code = f"import torch; m = torch.jit.load({frozen!r}); x = {make}; y = m(x); print(tuple(y.shape))"
    return [sys.executable, "-c", code]
