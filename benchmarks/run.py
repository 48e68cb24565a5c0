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
import importlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"

from benchmarks import report
from benchmarks.models import HEADLINE, Case, cases as all_cases
from benchmarks.peers import MODULES, PEERS
from benchmarks.prepare import prepare
from benchmarks.progress import log
from benchmarks.rounds import run_rounds
from benchmarks.runners import COLD, RUNNER_KEYS, RUNNERS

HERE = Path(__file__).resolve().parent


# The CPU flags that decide what bf16 costs here (/proc/cpuinfo names).
BF16_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16")


def _cpuinfo() -> tuple[str, set[str]]:
    """The CPU's model name and its flags."""
    cpu, flags = platform.processor() or "", set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    cpu = value.strip()
                if key.strip() == "flags":
                    flags = set(value.split())
                    break
    except OSError:
        pass
    return cpu, flags


def machine_info(threads: int) -> dict:
    cpu, flags = _cpuinfo()
    import torch

    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": threads,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "bf16_flags": [f for f in BF16_FLAGS if f in flags],
        "amx": "amx_bf16" in flags,
    }
    try:
        import tsbridge

        info["tsbridge"] = tsbridge.__version__
    except Exception as exc:  # noqa: BLE001
        info["tsbridge"] = f"import failed: {exc}"
    for module in dict.fromkeys(MODULES[peer] for peer in PEERS):
        try:
            info[module] = importlib.import_module(module).__version__
        except ImportError:
            info[module] = None
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


def _selected_cases(args) -> list[Case]:
    """The cases --quick and --cases pick."""
    cases = all_cases(args.quick)
    if args.cases:
        wanted = {c.strip() for c in args.cases.split(",")}
        if "headline" in wanted:
            wanted |= set(HEADLINE)
        cases = [c for c in cases if c.name in wanted]
        if not cases:
            choices = ", ".join(c.name for c in all_cases(args.quick))
            raise SystemExit(f"no case matches --cases (choose from {choices})")
    return cases


def _meta(args, argv: list[str] | None, cases: list[Case]) -> dict:
    """What results.json says about the run before it measures anything."""
    load_before = os.getloadavg()
    return {
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_from:
        return rewrite_report(Path(args.report_from), Path(args.out), charts=not args.no_charts)
    started = time.perf_counter()
    cases = _selected_cases(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = _meta(args, argv, cases)
    with tempfile.TemporaryDirectory(prefix="tsbridge-bench-") as work:
        setup = prepare(args, cases, Path(work))
        log(f"set-up took {time.perf_counter() - started:.0f} s; {args.rounds} round(s) of {len(cases)} case(s)")
        raw = run_rounds(args, setup, cases)
    meta["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["exports"] = setup.exports
    meta["onnx"] = setup.onnx_notes
    meta["accuracy"] = setup.accuracy
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
