"""The coverage table of docs/aoti.md: for every model of tsbridge's test zoo
and the classic architectures of torchvision and timm (random weights,
batch 2, small inputs; benchmarks/coverage_cases.py), whether tsbridge
exports it as TorchScript, as a .pt2 (a dynamic batch dim, then `tsrun
--selftest`), and migrates its TorchScript archive to a .pt2 (then `tsrun
--selftest`), and the one line tsbridge gave where it did not.

    .venv/bin/python -m benchmarks.coverage [--jobs 2] [--timeout 420] [--only NAME,NAME [--update]]
    .venv/bin/python -m benchmarks.coverage --report-from benchmarks/results/coverage.json   # the table again

Each model runs in a process of its own (benchmarks/coverage_worker.py),
killed with its children past --timeout seconds, so a crash or a hang costs
one row. Writes benchmarks/results/coverage.json and the table between the
coverage markers of docs/aoti.md. About 40 minutes on 2 cores. `--only`
alone runs some models and touches neither file; with `--update` their rows
replace those of the last full run, and both files are written.

torchvision and timm are not tsbridge dependencies; install them into the
environment tsbridge is in:

    .venv/bin/pip install torchvision==0.28.0 timm

torchvision 0.28.0 is the release for torch 2.13; pip keeps the CPU torch
already installed (0.28.0 asks for torch==2.13.0, which 2.13.0+cpu meets).
That torchvision's C++ extension is built against CUDA's torch and cannot
load beside the CPU one, and then `import torchvision` raises on
`torchvision::nms`. benchmarks/torchvision_cpu.py defines the schemas of
the two operators it trips on before importing it (only when the
extension does not load); the model definitions are plain Python and use
none of those operators. Its docstring says why that is enough.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from .coverage_cases import CASES

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results", "coverage.json")
DOC = os.path.join(HERE, "..", "docs", "aoti.md")
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def run_case(name: str, timeout: float, root: str) -> dict:
    folder = tempfile.mkdtemp(prefix="case-", dir=root)
    result_path = os.path.join(folder, "result.json")
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "benchmarks.coverage_worker", name, result_path, folder]
    # A session of its own: on a time-out the worker and the compilers it started are killed together.
    process = subprocess.Popen(
        command,
        cwd=os.path.join(HERE, ".."),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=timeout)
        ended = f"worker exit {process.returncode}" if process.returncode else ""
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        ended = f"timed out after {timeout:.0f} s"
    result = _read(result_path) or {"name": name, "source": CASES[name].source, "steps": {}}
    if ended:
        last = [line for line in (output or "").splitlines() if line.strip()][-1:]
        result["ended"] = ended + (f" ({last[0][:200]})" if last and not ended.startswith("timed") else "")
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(f"{name}: {_summary(result)} ({result['seconds']} s)", flush=True)
    return result


def _read(path: str) -> dict | None:
    try:
        with open(path) as file:
            return json.load(file)
    except (OSError, ValueError):
        return None


def _ok(result: dict, *steps: str) -> bool:
    return all(result["steps"].get(step, {}).get("ok") for step in steps)


def _summary(result: dict) -> str:
    marks = {
        "TorchScript": _ok(result, "torchscript"),
        ".pt2": _ok(result, "aoti", "aoti_tsrun"),
        "migrate": _ok(result, "migrate", "migrate_tsrun"),
    }
    return ", ".join(f"{k} {'ok' if v else 'no'}" for k, v in marks.items())


def why_not(result: dict) -> str:
    """The first refusal of each column, with its step named; a step that never
    ran because the worker ended says how it ended."""
    reasons = []
    for label, steps in (
        ("TorchScript", ("build", "torchscript")),
        (".pt2", ("aoti", "aoti_tsrun")),
        ("migrate", ("migrate", "migrate_tsrun")),
    ):
        for step in steps:
            found = result["steps"].get(step)
            if found is None:
                if result.get("ended") and step != "migrate_tsrun" and step != "aoti_tsrun":
                    reasons.append(f"{label}: {result['ended']}")
                    break
                continue
            if not found["ok"]:
                reasons.append(f"{label}: {found['reason']}")
                break
    return "; ".join(reasons)


def table(results: list[dict]) -> str:
    rows = ["| model | from | TorchScript | `.pt2` | migrate | why not |", "|---|---|---|---|---|---|"]
    for result in results:
        notes = [s["reason"] for s in result["steps"].values() if s["ok"] and s["reason"]]
        # A note (a bound torch.export asked for) first: the refusals after it can be long.
        why = "; ".join(filter(None, [*(f"note: {n}" for n in notes), why_not(result)]))
        cells = [
            result["name"].split(" ", 1)[-1],
            result["source"],
            *(
                "yes" if flag else "**no**"
                for flag in (
                    _ok(result, "torchscript"),
                    _ok(result, "aoti", "aoti_tsrun"),
                    _ok(result, "migrate", "migrate_tsrun"),
                )
            ),
            _cell(why),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _cell(text: str, limit: int = 400) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def write_doc(markdown: str) -> None:
    with open(DOC) as file:
        doc = file.read()
    head, start, rest = doc.partition(START)
    _, end, tail = rest.partition(END)
    if not (start and end):
        raise SystemExit(f"{DOC} has no {START} ... {END} markers")
    with open(DOC, "w") as file:
        file.write(f"{head}{START}\n{markdown}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=420)
    parser.add_argument("--only", default="", help="comma-separated case names (default: all)")
    parser.add_argument(
        "--update", action="store_true", help="with --only: replace those rows of the last full run, rewrite the docs"
    )
    parser.add_argument("--report-from", metavar="JSON", help="run nothing: write the table again from a run's JSON")
    args = parser.parse_args()
    if args.report_from:
        saved = _read(args.report_from)
        write_doc(f"{_header(saved['meta'])}\n\n{table(saved['results'])}")
        return
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown cases: {', '.join(unknown)} (known: {', '.join(CASES)})")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tsbridge-coverage-") as root:
        with ThreadPoolExecutor(args.jobs) as pool:
            results = list(pool.map(lambda n: run_case(n, args.timeout, root), names))
    meta = _meta(args, time.perf_counter() - started)
    if args.update:  # the last full run, those rows run again
        previous = _read(RESULTS)
        rerun = {r["name"]: r for r in results}
        results = [rerun.get(r["name"], r) for r in previous["results"]]
        earlier = previous["meta"].get("rerun", {}).get("names", [])  # every row run again since the full run
        again = [n for n in earlier if n not in names] + list(names)
        meta = {**previous["meta"], "rerun": {"date": meta["date"], "names": again, "seconds": meta["seconds"]}}
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as file:
        json.dump({"meta": meta, "results": results}, file, indent=1)
    markdown = table(results)
    if not args.only or args.update:  # a partial run alone does not replace the table
        write_doc(f"{_header(meta)}\n\n{markdown}")
    print(markdown)


def _meta(args, seconds: float) -> dict:
    import torch

    versions = {"torch": torch.__version__}
    for package in ("torchvision", "timm", "tsbridge"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = None
    return {
        "date": time.strftime("%Y-%m-%d"),
        "versions": versions,
        "jobs": args.jobs,
        "timeout_s": args.timeout,
        "seconds": round(seconds),
        "cpus": os.cpu_count(),
    }


def _header(meta: dict) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    return (
        f"Generated by `python -m benchmarks.coverage` on {meta['date']} ({versions}; {meta['jobs']} models at a "
        f"time, one thread each, {meta['timeout_s']:.0f} s limit per model; the run took {meta['seconds'] // 60} "
        "min). Raw results: [benchmarks/results/coverage.json](../benchmarks/results/coverage.json)."
        + (f" Run again on {meta['rerun']['date']}: {', '.join(meta['rerun']['names'])}." if "rerun" in meta else "")
    )


if __name__ == "__main__":
    main()
