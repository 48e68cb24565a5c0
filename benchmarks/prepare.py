"""The set-up before the rounds: the programs, every file the runners load,
every peer and tsbridge file checked against fp32 eager, and what is skipped
and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.accuracy import check_file
from benchmarks.binaries import build_bare, find_tsrun
from benchmarks.exports import export_archives, export_packages, export_reduced, export_searched
from benchmarks.models import DATA_DEPENDENT, Case, build, check_inputs
from benchmarks.peers import NAMES as PEER_NAMES, PEERS, check as check_peer, export_onnx, missing as peer_missing
from benchmarks.progress import log
from benchmarks.runners import (
    AOTI_RUNNERS,
    ONE_THREAD_PEERS,
    REDUCED,
    SEARCHED,
    TSBRIDGE_ANY,
    TSRUN_RUNNERS,
    checked_as,
)


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
    accuracy: dict = field(default_factory=dict)  # case -> {peer or file key: its check against fp32 eager}


def _find_programs(setup: Setup, cache: Path) -> None:
    """tsrun, the bare loop and the coldstart launcher, or why a runner goes without."""
    if not setup.tsrun:
        for runner in TSRUN_RUNNERS:
            setup.skipped[runner] = "skipped: tsrun not found"
    binary, note = build_bare(cache)
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


def _peer_inputs(setup: Setup, case: Case, live: list[str], module, inputs) -> str | None:
    """The case's ONNX file and its input as .npy; None (and every live peer
    skipped on the case) when the export fails."""
    import numpy as np

    path = str(setup.work / f"{case.name}.onnx")
    try:
        how = export_onnx(module, inputs[0], path, scripted=case.model in DATA_DEPENDENT)
    except RuntimeError as error:
        for peer in live:
            setup.case_skipped[(case.name, peer)] = "skipped: ONNX export failed"
        setup.onnx_notes[case.name] = f"export failed: {error}"
        return None
    setup.onnx[case.name] = path
    setup.inputs[case.name] = str(setup.work / f"{case.name}.input.npy")
    np.save(setup.inputs[case.name], inputs[0].numpy())
    setup.onnx_notes[case.name] = how
    return path


def _record(setup: Setup, case: Case, who: str, label: str, record: dict, runners) -> None:
    """A check's record kept and printed; a failed check skips the runners that stand on it."""
    setup.accuracy[case.name][who] = record
    log(f"{case.name}: {label}: {record['note']}")
    if not record["passed"]:
        for runner in runners:
            setup.case_skipped.setdefault((case.name, runner), record["note"])


def _check_peers(setup: Setup, case: Case, live: list[str], threads: int, module, inputs, expected) -> None:
    """Each live peer run on the case's inputs, compared with fp32 eager."""
    path = _peer_inputs(setup, case, live, module, inputs)
    if path is None:
        return
    for peer in live:
        try:
            record = check_peer(peer, path, threads, [x.numpy() for x in inputs], expected)
        except Exception as error:  # noqa: BLE001 - a peer that cannot run the file
            note = f"check failed: could not run the ONNX file ({str(error).strip()[:160]})"
            record = {"precision": None, "passed": False, "max_abs_error": None, "note": note}
        _record(setup, case, peer, PEER_NAMES[peer], record, (peer,))
        setup.onnx_notes[case.name] += f"; {PEER_NAMES[peer]}: {record['note']}"


def _check_files(setup: Setup, case: Case, runners: list[str], inputs, expected) -> None:
    """Each tsbridge file a tsbridge runner loads, run by tsbridge's runtime
    and compared with fp32 eager at its precision's tolerance."""
    reduced = {key for key, _ in REDUCED.values()}
    ours = [r for r in TSBRIDGE_ANY if r in runners and (case.name, r) not in setup.case_skipped]
    for key in dict.fromkeys(checked_as(r) for r in ours):
        path = setup.archives[case.model].get(key)
        if not path:
            continue
        precision = "bf16" if key in reduced else "fp32"
        try:
            record = check_file(path, inputs, expected, precision)
        except Exception as error:  # noqa: BLE001 - a file the runtime cannot run
            note = f"check failed: could not run the file ({str(error).strip()[:160]})"
            record = {"precision": precision, "passed": False, "max_abs_error": None, "note": note}
        _record(setup, case, key, f"tsbridge {key} file", record, [r for r in ours if checked_as(r) == key])


def check_cases(setup: Setup, cases: list[Case], runners: list[str], threads: int) -> None:
    """Per case, before anything is timed: every live peer (on one ONNX file)
    and every tsbridge file against fp32 eager, on the case's check inputs; a
    failed check skips what stands on it there, and its row says why."""
    import torch

    peers = [p for p in PEERS if p in runners or f"{p}_1thread" in runners]
    for peer in peers:
        why = peer_missing(peer)
        if why:
            setup.skipped[peer] = why
            log(f"{PEER_NAMES[peer]}: {why}")
    live = [p for p in peers if p not in setup.skipped]
    log("checking every runner against fp32 eager" + (f" ({', '.join(PEER_NAMES[p] for p in live)})" if live else ""))
    for case in cases:
        module, inputs = build(case.model), check_inputs(case)
        with torch.no_grad():
            expected = [module(x).numpy() for x in inputs]
        setup.accuracy[case.name] = {}
        if live:
            _check_peers(setup, case, live, threads, module, inputs, expected)
        _check_files(setup, case, runners, inputs, expected)


def _export_searched_files(setup: Setup, args, cases: list[Case]) -> None:
    """The format="auto" and tuned files, unless --quick leaves them out."""
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


def _skip_one_thread_peers(setup: Setup, threads: int) -> None:
    """A peer's 1-thread runner is skipped wherever the peer itself is."""
    for runner, peer in ONE_THREAD_PEERS.items():
        if threads == 1:
            setup.skipped[runner] = "skipped: --threads is 1, so the peer's own row is at one thread"
        elif peer in setup.skipped:
            setup.skipped[runner] = setup.skipped[peer]
        for (case, who), why in list(setup.case_skipped.items()):
            if who == peer:
                setup.case_skipped[(case, runner)] = why


def prepare(args, cases: list[Case], work: Path) -> Setup:
    setup = Setup(work=work, tsrun=find_tsrun(args.tsrun), bare=None)
    _find_programs(setup, Path(args.cache))
    log("exporting archives with tsbridge.export (frozen and unfrozen)")
    export_archives(setup, cases)
    for case in cases:
        if case.model != "cnn":
            setup.case_skipped[(case.name, "tsrun_onednn")] = (
                "skipped: opt-in, for the CNN only (LibTorch's oneDNN fuser fails on the other models; "
                "docs/performance.md)"
            )
    if any(r in args.runners for r in AOTI_RUNNERS):
        log("exporting .pt2 packages with tsbridge.export(format='aoti')")
        export_packages(setup, cases)
    if any(r in args.runners for r in REDUCED):
        log("exporting bf16 files with tsbridge.export(precision='bf16')")
        export_reduced(setup, cases, args.runners)
    _export_searched_files(setup, args, cases)
    check_cases(setup, cases, args.runners, args.threads)
    _skip_one_thread_peers(setup, args.threads)
    return setup
