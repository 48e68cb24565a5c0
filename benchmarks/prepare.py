"""The set-up before the rounds: the programs, every file the runners load,
the peers' ONNX files checked against eager, and what is skipped and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.binaries import build_bare, find_tsrun
from benchmarks.exports import export_archives, export_packages, export_searched, models_of
from benchmarks.models import DATA_DEPENDENT, Case, build, case_input
from benchmarks.peers import NAMES as PEER_NAMES, PEERS, check as check_peer, export_onnx, missing as peer_missing
from benchmarks.progress import log
from benchmarks.runners import AOTI_RUNNERS, ONE_THREAD_PEERS, SEARCHED, TSRUN_RUNNERS


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


def _check_peers(setup: Setup, case: Case, live: list[str], path: str, threads: int, how: str, module, x) -> None:
    """Each live peer run on the case's input `x` and its negation, compared with eager `module`."""
    import numpy as np
    import torch

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


def prepare_peers(setup: Setup, cases: list[Case], peers: list[str], threads: int) -> None:
    """Per case: one ONNX file for every peer, the input as .npy, and each
    peer's outputs checked against eager before it is timed (a failed check
    skips that peer on that case, and its row says why)."""
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
        _check_peers(setup, case, live, path, threads, how, module, x)


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
    export_archives(setup, models_of(cases))
    for case in cases:
        if case.model != "cnn":
            setup.case_skipped[(case.name, "tsrun_onednn")] = (
                "skipped: opt-in, for the CNN only (LibTorch's oneDNN fuser fails on the other models; "
                "docs/performance.md)"
            )
    if any(r in args.runners for r in AOTI_RUNNERS):
        log("exporting .pt2 packages with tsbridge.export(format='aoti')")
        export_packages(setup, cases)
    _export_searched_files(setup, args, cases)
    peers = [p for p in PEERS if p in args.runners or f"{p}_1thread" in args.runners]
    if peers:
        prepare_peers(setup, cases, peers, args.threads)
    _skip_one_thread_peers(setup, args.threads)
    return setup
