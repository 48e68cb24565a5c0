"""The rounds: every runner on every case, each in a fresh process, in an
order rotated each round and case; each figure recorded with its round."""

from __future__ import annotations

import os
import time

from benchmarks.measure import child_env, cold_command, run_cold, run_latency
from benchmarks.models import Case
from benchmarks.prepare import Setup
from benchmarks.progress import log
from benchmarks.runners import COLD_KEYS


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


def _rotated(items: list, shift: int) -> list:
    return items[shift % len(items) :] + items[: shift % len(items)]


def _record(slot: dict, what: str, action, round_index: int) -> None:
    """One measurement into its slot: the figures with their round and load, or the error."""
    load = os.getloadavg()[0]
    stats, error = attempt(what, action)
    if stats:
        stats["round"] = round_index
        stats["load_before"] = load
        slot["rounds"].append(stats)
    else:
        slot["errors"].append(error)


def _one_case(args, setup: Setup, raw: dict, case: Case, order: list[str], kinds: list[str], round_index: int) -> None:
    env = child_env()
    for runner in order:
        if (case.name, runner) in setup.case_skipped:
            continue
        # _record() calls the action at once; the defaults bind this iteration's runner.
        slot, what = raw["latency"][case.name][runner], f"{case.name}/{runner}"
        _record(slot, what, lambda runner=runner: run_latency(setup, case, runner, args.threads), round_index)
    if args.no_cold:
        return
    for kind in kinds:
        slot, what = raw["cold"][case.name][kind], f"cold {case.name}/{kind}"
        _record(
            slot, what, lambda kind=kind: run_cold(cold_command(setup, case, kind), env, setup.coldstart), round_index
        )


def run_rounds(args, setup: Setup, cases: list[Case]) -> dict:
    raw: dict = {"latency": {}, "cold": {}, "rounds": []}
    for case in cases:
        raw["latency"][case.name] = {r: {"rounds": [], "errors": []} for r in args.runners}
        raw["cold"][case.name] = {k: {"rounds": [], "errors": []} for k in COLD_KEYS}
    runners = [r for r in args.runners if r not in setup.skipped]
    cold_kinds = [
        k for k in COLD_KEYS if not (k == "tsrun" and not setup.tsrun) and not (k == "bare" and not setup.bare)
    ]
    for round_index in range(args.rounds):
        round_started = time.perf_counter()
        load_start = os.getloadavg()[0]
        for case_index, case in enumerate(cases):
            shift = round_index + case_index
            order, kinds = _rotated(runners, shift), _rotated(cold_kinds, shift)
            _one_case(args, setup, raw, case, order, kinds, round_index)
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
