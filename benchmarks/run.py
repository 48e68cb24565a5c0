"""The tsbridge benchmark suite: every runner side by side, in one run.

    .venv/bin/python -m benchmarks.run            # full suite (~20 min on 2 cores)
    .venv/bin/python -m benchmarks.run --quick    # smoke run: small models, tiny counts, one round

Writes OUT (default benchmarks/results/): results.md (tables, targets met or
missed), results.json (every round's figures) and PNG charts (with matplotlib,
the `bench` extra). Each (case, runner) runs in its own fresh process; runners
are interleaved in a rotated order over several rounds; a figure is the median
of the round medians, printed with its spread. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks import report
from benchmarks.models import DATA_DEPENDENT, HEADLINE, Case, build, case_input, cases as all_cases
from benchmarks.peers import NAMES as PEER_NAMES, PEERS, check as check_peer, export_onnx, missing as peer_missing

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
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
    ("openvino", "OpenVINO (Python, LATENCY hint)", "python"),
    ("onnxruntime_1thread", "ONNX Runtime (Python), 1 intra-op thread", "python"),
    ("openvino_1thread", "OpenVINO (Python, LATENCY hint), 1 intra-op thread", "python"),
    ("aoti_pybind", "tsbridge pybind11 on the .pt2 (_core.benchmark)", "python"),
    ("aoti_tsrun", "tsrun --bench on the .pt2 (C++)", "cpp"),
    ("auto_tsrun", 'tsrun --bench on the format="auto" file (C++)', "cpp"),
    ("tuned_tsrun", 'tsrun --bench on the tuned file (format="auto", tune=True; its recorded threads) (C++)', "cpp"),
]
AOTI_RUNNERS = ("aoti_pybind", "aoti_tsrun")
# Which of a model's files a runner loads (the rest load the frozen archive).
ARCHIVE_OF = {"aoti_pybind": "aoti", "aoti_tsrun": "aoti", "auto_tsrun": "auto", "tuned_tsrun": "tuned"}
# Files that tsbridge.export searches for (format="auto"; tune=True as well): what --quick leaves out.
SEARCHED = {"auto_tsrun": False, "tuned_tsrun": True}
TSRUN_RUNNERS = {
    "tsrun": [],
    "tsrun_onednn": ["--optimize-graph", "--onednn-fusion"],
    "aoti_tsrun": [],
    "auto_tsrun": [],
    "tuned_tsrun": [],
}
# The runners whose thread count is the file's own (its tuning record), not --threads.
OWN_THREADS = ("tuned_tsrun",)
# Each peer once more at one thread: the tuned runner may pick one, so the
# peers get the same choice (the faster of the two counts is the best peer).
ONE_THREAD_PEERS = {f"{peer}_1thread": peer for peer in PEERS}
RUNNER_KEYS = [key for key, _, _ in RUNNERS]
# Whole processes timed from start to first output.
COLD = [
    ("python", 'python -c "import torch; m = torch.jit.load(...); m(x)"'),
    ("tsrun", "tsrun model.pt"),
    ("bare", "bare LibTorch binary (load, one call, print)"),
]
COLD_KEYS = [key for key, _ in COLD]
PROCESS_TIMEOUT_S = 600


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ── set-up: archives, ONNX files, the bare loop ──


@dataclass
class Setup:
    work: Path
    tsrun: str | None
    bare: str | None
    coldstart: str | None = None  # the C launcher that times whole processes
    skipped: dict = field(default_factory=dict)  # runner -> why (for every case)
    case_skipped: dict = field(default_factory=dict)  # (case, runner) -> why
    archives: dict = field(default_factory=dict)  # model -> {"frozen", "unfrozen", "aoti", "auto", "tuned": path}
    onnx: dict = field(default_factory=dict)  # case -> path
    inputs: dict = field(default_factory=dict)  # case -> the input as .npy (for the peers)
    exports: dict = field(default_factory=dict)  # model -> export notes
    onnx_notes: dict = field(default_factory=dict)  # case -> note


def find_tsrun(given: str | None) -> str | None:
    if given:
        return given
    path = Path(sysconfig.get_path("scripts")) / "tsrun"
    return str(path) if path.exists() else shutil.which("tsrun")


def build_bare(cache: Path) -> tuple[str | None, str]:
    """bare_loop built once against this torch, cached by source and torch version."""
    import torch
    import torch.utils

    source = HERE / "bare_loop"
    digest = hashlib.sha256()
    for name in ("bare_loop.cpp", "coldstart.c", "CMakeLists.txt"):
        digest.update((source / name).read_bytes())
    digest.update(torch.__version__.encode())
    build_dir = cache / f"bare_loop-{digest.hexdigest()[:12]}"
    binary = build_dir / "bare_loop"
    if binary.exists():
        return str(binary), f"cached build {build_dir}"
    if not shutil.which("cmake"):
        return None, "cmake not found"
    torch_lib = Path(torch.__file__).parent / "lib"
    log(f"building the bare LibTorch loop in {build_dir} (once)")
    configure = [
        "cmake",
        "-S",
        str(source),
        "-B",
        str(build_dir),
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
        f"-DTORCH_LIB_DIR={torch_lib}",
    ]
    ninja = shutil.which("ninja") or (Path(sysconfig.get_path("scripts")) / "ninja")
    if ninja and Path(ninja).exists():
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    for command in (configure, ["cmake", "--build", str(build_dir), "-j", "2"]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            return None, f"build failed: {' / '.join(tail)}"
    return (str(binary), f"built {build_dir}") if binary.exists() else (None, "build produced no binary")


def export_archives(setup: Setup, models: list[str]) -> None:
    import torch

    import tsbridge
    from benchmarks.models import CASES

    for model in models:
        shape = next(c.shape for c in CASES if c.model == model)
        example = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        paths = {}
        for kind, freeze in (("frozen", True), ("unfrozen", False)):
            path = setup.work / f"{model}_{kind}.pt"
            started = time.perf_counter()
            result = tsbridge.export(build(model), example, path, freeze=freeze)
            paths[kind] = str(path)
            if freeze:
                setup.exports[model] = {
                    "capture": result.capture,
                    "frozen": result.frozen,
                    "how": result.frozen_reason,
                    "dynamic_dims": result.dynamic_dims,
                    "seconds": round(time.perf_counter() - started, 2),
                    "mib": round(os.path.getsize(path) / 2**20, 2),
                }
        setup.archives[model] = paths


def export_packages(setup: Setup, cases: list[Case]) -> None:
    """Each model once more with format="aoti" (a .pt2; Inductor freezing)."""
    import torch

    import tsbridge

    for model in sorted({c.model for c in cases}, key=[c.model for c in cases].index):
        shape = next(c.shape for c in cases if c.model == model)
        example = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        path = setup.work / f"{model}_aoti.pt2"
        try:
            result = tsbridge.export(build(model), example, path, format="aoti")
        except Exception as error:  # one model torch.export cannot take must not stop the suite
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            why = f"skipped: .pt2 export failed ({first})"
            if model in DATA_DEPENDENT and "data-dependent" in first:  # expected: say it plainly
                why = "skipped: no .pt2 — torch.export cannot capture this model's data-dependent control flow"
            for case in (c for c in cases if c.model == model):
                for runner in AOTI_RUNNERS:
                    setup.case_skipped[(case.name, runner)] = why
            continue
        setup.archives[model]["aoti"] = str(path)
        setup.exports[model].update(
            {
                "aoti_compile_s": round(result.compile_seconds, 2),
                "aoti_seconds": round(result.export_seconds, 2),
                "aoti_mib": round(os.path.getsize(path) / 2**20, 2),
            }
        )


def export_searched(setup: Setup, cases: list[Case], runner: str, tune_budget: float) -> None:
    """Each model once more with format="auto" (and for the tuned runner
    tune=True as well): the file tsbridge keeps after timing its candidates
    itself, measured by tsrun like every other file."""
    import tsbridge

    tune = SEARCHED[runner]
    key = ARCHIVE_OF[runner]
    options = {"tune": True, "tune_budget_seconds": tune_budget} if tune else {}
    for model in sorted({c.model for c in cases}, key=[c.model for c in cases].index):
        first_case = next(c for c in cases if c.model == model)
        staged = setup.work / f"{model}_{key}.bin"
        started = time.perf_counter()
        try:
            result = tsbridge.export(build(model), case_input(first_case), staged, format="auto", **options)
        except Exception as error:  # noqa: BLE001 - one model must not stop the suite
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            for case in (c for c in cases if c.model == model):
                setup.case_skipped[(case.name, runner)] = f"skipped: format='auto' export failed ({first})"
            continue
        path = staged.with_suffix(".pt2" if result.format == "aoti" else ".pt")
        os.replace(staged, path)
        setup.archives[model][key] = str(path)
        entry = {
            "format": result.format,
            "selection": result.selection,
            "seconds": round(time.perf_counter() - started, 1),
        }
        if tune:
            record = result.tuning
            won = next(c for c in record["candidates"] if c["name"] == record["winner"])
            entry.update(winner=record["winner"], build=won["build"], reason=record["reason"], settings=won["settings"])
        setup.exports[model][key] = entry


def prepare_peers(setup: Setup, cases: list[Case], peers: list[str], threads: int) -> None:
    """Per case: one ONNX file for every peer, the input as .npy, and each
    peer's outputs checked against eager before it is timed (a failed check
    skips that peer on that case, and its row says why)."""
    import numpy as np
    import torch

    for peer in peers:
        why = peer_missing(peer)
        if why:
            setup.skipped[peer] = why
            log(f"{PEER_NAMES[peer]}: {why}")
    live = [p for p in peers if p not in setup.skipped]
    if not live:
        return
    log(f"exporting ONNX files and checking {', '.join(PEER_NAMES[p] for p in live)} against eager")
    for case in cases:
        module, x = build(case.model), case_input(case)
        path = str(setup.work / f"{case.name}.onnx")
        try:
            how = export_onnx(module, x, path, scripted=case.model in DATA_DEPENDENT)
        except RuntimeError as error:
            for peer in live:
                setup.case_skipped[(case.name, peer)] = "skipped: ONNX export failed"
            setup.onnx_notes[case.name] = f"export failed: {error}"
            continue
        setup.onnx[case.name] = path
        setup.inputs[case.name] = str(setup.work / f"{case.name}.input.npy")
        np.save(setup.inputs[case.name], x.numpy())
        # -x as well: it takes the other branch of a data-dependent `if`, so a
        # graph that baked one branch in fails here.
        inputs = [x.numpy(), (-x).numpy()]
        with torch.no_grad():
            expected = [module(torch.from_numpy(i)).numpy() for i in inputs]
        notes = [how]
        for peer in live:
            try:
                passed, note = check_peer(peer, path, threads, inputs, expected)
            except Exception as error:  # noqa: BLE001 - a peer that cannot run the file
                passed, note = False, f"check failed: could not run the ONNX file ({str(error).strip()[:160]})"
            notes.append(f"{PEER_NAMES[peer]}: {note}")
            if not passed:
                setup.case_skipped[(case.name, peer)] = note
        setup.onnx_notes[case.name] = "; ".join(notes)


def prepare(args, cases: list[Case], work: Path) -> Setup:
    setup = Setup(work=work, tsrun=find_tsrun(args.tsrun), bare=None)
    if not setup.tsrun:
        for runner in TSRUN_RUNNERS:
            setup.skipped[runner] = "skipped: tsrun not found"
    binary, note = build_bare(Path(args.cache))
    setup.bare = binary
    setup.exports["_bare"] = note
    if not binary:
        setup.skipped["bare"] = f"skipped: {note}"
    else:
        launcher = Path(binary).parent / "coldstart"
        setup.coldstart = str(launcher) if launcher.exists() else None
    if not setup.coldstart:
        setup.exports["_coldstart"] = (
            "the coldstart launcher is not built: cold starts timed from Python, "
            "peak RSS not measured (it would include this driver's memory)"
        )
    log("exporting archives with tsbridge.export (frozen and unfrozen)")
    export_archives(setup, sorted({c.model for c in cases}, key=[c.model for c in cases].index))
    for case in cases:
        if case.model != "cnn":
            setup.case_skipped[(case.name, "tsrun_onednn")] = (
                "skipped: opt-in, for the CNN only (LibTorch's oneDNN fuser fails on the other models; "
                "docs/performance.md)"
            )
    if any(r in args.runners for r in AOTI_RUNNERS):
        log("exporting .pt2 packages with tsbridge.export(format='aoti')")
        export_packages(setup, cases)
    for runner, tune in SEARCHED.items():
        if runner not in args.runners or runner in setup.skipped:
            continue
        how = "format='auto', tune=True" if tune else "format='auto'"
        if args.quick and not args.runners_given:
            setup.skipped[runner] = (
                f"skipped: not in --quick ({how} compiles every .pt2 again; --runners {runner} measures it)"
            )
        else:
            log(f"exporting with tsbridge.export({how})")
            export_searched(setup, cases, runner, args.tune_budget)
    peers = [p for p in PEERS if p in args.runners or f"{p}_1thread" in args.runners]
    if peers:
        prepare_peers(setup, cases, peers, args.threads)
    for runner, peer in ONE_THREAD_PEERS.items():
        if args.threads == 1:
            setup.skipped[runner] = "skipped: --threads is 1, so the peer's own row is at one thread"
        elif peer in setup.skipped:
            setup.skipped[runner] = setup.skipped[peer]
        for (case, who), why in list(setup.case_skipped.items()):
            if who == peer:
                setup.case_skipped[(case, runner)] = why
    return setup


# ── one measurement ──


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


def run_latency(setup: Setup, case: Case, runner: str, threads: int) -> dict:
    frozen = setup.archives[case.model][ARCHIVE_OF.get(runner, "frozen")]
    common = ["--warmup", str(case.warmup), "--iters", str(case.iters)]
    if runner in ONE_THREAD_PEERS:
        runner, threads = ONE_THREAD_PEERS[runner], 1
    if runner not in OWN_THREADS:
        common += ["--threads", str(threads)]
    env = child_env()
    if runner in TSRUN_RUNNERS:
        with tempfile.NamedTemporaryFile(suffix=".json", dir=setup.work, delete=False) as handle:
            times = handle.name
        command = [
            setup.tsrun,
            frozen,
            "--bench",
            "--json",
            "--shape",
            f"{INPUT_NAME}={case.shape_arg}",
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
    if runner == "bare":
        command = [setup.bare, frozen, "--shape", case.shape_arg, *common]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=PROCESS_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(f"bare_loop exit {done.returncode}: {done.stderr.strip()[-300:]}")
        return latency_stats(json.loads(done.stdout), case.batch)
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
        command += ["--archive", frozen]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=PROCESS_TIMEOUT_S)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{runner} exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return latency_stats(json.loads(lines[-1][len("RESULT ") :]), case.batch)


def run_cold(command: list[str], env: dict, launcher: str | None) -> dict:
    """A whole process: seconds from spawn to its first byte on stdout and to
    its exit, and its peak RSS. Through the coldstart launcher (a tiny C
    process: Linux keeps a peak RSS across exec, so a child forked from this
    driver would report at least the driver's own memory)."""
    with tempfile.TemporaryFile() as errors:
        if launcher:
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


def cold_command(setup: Setup, case: Case, kind: str) -> list[str]:
    frozen = setup.archives[case.model]["frozen"]
    if kind == "tsrun":
        return [setup.tsrun, frozen, "--shape", f"{INPUT_NAME}={case.shape_arg}"]
    if kind == "bare":
        return [setup.bare, frozen, "--shape", case.shape_arg, "--cold"]
    shape = ", ".join(str(d) for d in case.shape)
    code = f"import torch; m = torch.jit.load({frozen!r}); x = torch.randn({shape}); y = m(x); print(tuple(y.shape))"
    return [sys.executable, "-c", code]


# ── the rounds ──


def attempt(what: str, action, retries: int = 1, pause_s: float = 20.0):
    """One measurement; a failure is retried once after a pause (the installed
    package may be mid-rebuild), then recorded as an error string."""
    for tries in range(retries + 1):
        try:
            return action(), None
        except Exception as exc:  # noqa: BLE001
            error = str(exc).strip().splitlines()[-1][:300] if str(exc).strip() else type(exc).__name__
            if tries < retries:
                log(f"{what} failed ({error}); retrying in {pause_s:.0f} s")
                time.sleep(pause_s)
    return None, error


def run_rounds(args, setup: Setup, cases: list[Case]) -> dict:
    raw: dict = {"latency": {}, "cold": {}, "rounds": []}
    for case in cases:
        raw["latency"][case.name] = {r: {"rounds": [], "errors": []} for r in args.runners}
        raw["cold"][case.name] = {k: {"rounds": [], "errors": []} for k in COLD_KEYS}
    env = child_env()
    runners = [r for r in args.runners if r not in setup.skipped]
    cold_kinds = [
        k for k in COLD_KEYS if not (k == "tsrun" and not setup.tsrun) and not (k == "bare" and not setup.bare)
    ]
    for round_index in range(args.rounds):
        round_started = time.perf_counter()
        load_start = os.getloadavg()[0]
        for case_index, case in enumerate(cases):
            shift = round_index + case_index
            order = runners[shift % len(runners) :] + runners[: shift % len(runners)]
            for runner in order:
                if (case.name, runner) in setup.case_skipped:
                    continue
                load = os.getloadavg()[0]
                # attempt() calls the action at once; the defaults bind this iteration's case and runner.
                stats, error = attempt(
                    f"{case.name}/{runner}",
                    lambda case=case, runner=runner: run_latency(setup, case, runner, args.threads),
                )
                slot = raw["latency"][case.name][runner]
                if stats:
                    stats["round"] = round_index
                    stats["load_before"] = load
                    slot["rounds"].append(stats)
                else:
                    slot["errors"].append(error)
            if not args.no_cold:
                kinds = cold_kinds[shift % len(cold_kinds) :] + cold_kinds[: shift % len(cold_kinds)]
                for kind in kinds:
                    load = os.getloadavg()[0]
                    stats, error = attempt(
                        f"cold {case.name}/{kind}",
                        lambda case=case, kind=kind: run_cold(cold_command(setup, case, kind), env, setup.coldstart),
                    )
                    slot = raw["cold"][case.name][kind]
                    if stats:
                        stats["round"] = round_index
                        stats["load_before"] = load
                        slot["rounds"].append(stats)
                    else:
                        slot["errors"].append(error)
            log(f"round {round_index + 1}/{args.rounds}: {case.name} done")
        seconds = time.perf_counter() - round_started
        raw["rounds"].append(
            {
                "round": round_index,
                "seconds": round(seconds, 1),
                "load_start": round(load_start, 2),
                "load_end": round(os.getloadavg()[0], 2),
            }
        )
        log(f"round {round_index + 1}/{args.rounds} took {seconds:.0f} s")
    return raw


# ── main ──


def machine_info(threads: int) -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    import torch

    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    try:
        import tsbridge

        info["tsbridge"] = tsbridge.__version__
    except Exception as exc:  # noqa: BLE001
        info["tsbridge"] = f"import failed: {exc}"
    for peer in PEERS:
        try:
            info[peer] = importlib.import_module(peer).__version__
        except ImportError:
            info[peer] = None
    return info


def parse_args(argv):
    parser = argparse.ArgumentParser(description="tsbridge benchmark suite (see benchmarks/README.md)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small models only, tiny iteration counts, one round"
    )
    parser.add_argument("--out", default=str(HERE / "results"), help="output folder (default benchmarks/results)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; 1 with --quick)")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="intra-op threads for every runner (default: all cores)",
    )
    parser.add_argument(
        "--cases",
        help="comma-separated case names to run, or `headline` for the headline "
        f"table's ({','.join(HEADLINE)}) (default: all)",
    )
    parser.add_argument(
        "--runners", default=None, help=f"comma-separated runners (default: all of {','.join(RUNNER_KEYS)})"
    )
    parser.add_argument(
        "--tune-budget",
        type=float,
        default=120.0,
        help="seconds of tsbridge.export(tune=True)'s search per model, for the tuned runner (default 120)",
    )
    parser.add_argument("--no-cold", action="store_true", help="skip cold-start and peak-memory processes")
    parser.add_argument("--no-charts", action="store_true", help="write no PNG charts")
    parser.add_argument("--tsrun", help="tsrun to measure (default: the one in this environment's scripts)")
    parser.add_argument("--cache", default=str(HERE / ".cache"), help="where the bare loop is built (cached)")
    parser.add_argument(
        "--report-from",
        metavar="RESULTS_JSON",
        help="measure nothing: write results.md and the charts again from a results.json",
    )
    args = parser.parse_args(argv)
    args.runners_given = args.runners is not None
    args.runners = [r.strip() for r in (args.runners or ",".join(RUNNER_KEYS)).split(",") if r.strip()]
    unknown = [r for r in args.runners if r not in RUNNER_KEYS]
    if unknown:
        parser.error(f"unknown runner(s) {', '.join(unknown)}; choose from {', '.join(RUNNER_KEYS)}")
    if args.rounds is None:
        args.rounds = 1 if args.quick else 5
    return args


def rewrite_report(source: Path, out: Path, charts: bool) -> int:
    """results.md and the charts again from a results.json (a new report layout, no new figures)."""
    from benchmarks.models import Case

    data = json.loads(source.read_text())
    meta, raw = data["meta"], data["raw"]
    cases = [
        Case(c["name"], c["model"], tuple(c["shape"]), c["warmup"], c["iters"], title=c.get("title", ""))
        for c in meta["cases"]
    ]
    summary = report.summarise(meta, raw, cases)
    out.mkdir(parents=True, exist_ok=True)
    if source.resolve() != (out / "results.json").resolve() or summary != data.get("summary"):
        with open(out / "results.json", "w") as handle:
            json.dump({"meta": meta, "summary": summary, "raw": raw}, handle, indent=1)
    drawn = report.charts(summary, meta, cases, out) if charts else []
    (out / "results.md").write_text(report.markdown(summary, meta, cases, drawn))
    log(f"wrote {out / 'results.md'} from {source}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_from:
        return rewrite_report(Path(args.report_from), Path(args.out), charts=not args.no_charts)
    started = time.perf_counter()
    cases = all_cases(args.quick)
    if args.cases:
        wanted = {c.strip() for c in args.cases.split(",")}
        if "headline" in wanted:
            wanted |= set(HEADLINE)
        cases = [c for c in cases if c.name in wanted]
        if not cases:
            choices = ", ".join(c.name for c in all_cases(args.quick))
            raise SystemExit(f"no case matches --cases (choose from {choices})")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    meta = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "rounds": args.rounds,
        "machine": machine_info(args.threads),
        "load_average_start": [round(v, 2) for v in load_before],
        "runners": {key: label for key, label, _ in RUNNERS if key in args.runners},
        "cold": dict(COLD),
        "cases": [
            {
                "name": c.name,
                "model": c.model,
                "shape": list(c.shape),
                "warmup": c.warmup,
                "iters": c.iters,
                "title": c.title,
            }
            for c in cases
        ],
    }
    with tempfile.TemporaryDirectory(prefix="tsbridge-bench-") as work:
        setup = prepare(args, cases, Path(work))
        log(f"set-up took {time.perf_counter() - started:.0f} s; {args.rounds} round(s) of {len(cases)} case(s)")
        raw = run_rounds(args, setup, cases)
    meta["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["exports"] = setup.exports
    meta["onnx"] = setup.onnx_notes
    meta["skipped"] = setup.skipped
    meta["case_skipped"] = {f"{c}/{r}": why for (c, r), why in setup.case_skipped.items()}
    meta["round_info"] = raw["rounds"]
    summary = report.summarise(meta, raw, cases)
    with open(out / "results.json", "w") as handle:
        json.dump({"meta": meta, "summary": summary, "raw": raw}, handle, indent=1)
    charts = [] if args.no_charts else report.charts(summary, meta, cases, out)
    (out / "results.md").write_text(report.markdown(summary, meta, cases, charts))
    log(f"wrote {out / 'results.md'} ({meta['seconds']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
