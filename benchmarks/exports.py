"""The files the runners load, written with tsbridge.export: each model frozen
and unfrozen, as a .pt2, in bf16 (an archive and a native .pt2), and as the
file format="auto" (and tune=True) keeps."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from benchmarks.models import DATA_DEPENDENT, Case, build, case_input
from benchmarks.runners import AOTI_RUNNERS, ARCHIVE_OF, REDUCED, SEARCHED

if TYPE_CHECKING:
    from benchmarks.prepare import Setup


def models_of(cases: list[Case]) -> list[str]:
    """The cases' models, each once, in the cases' order."""
    return sorted({c.model for c in cases}, key=[c.model for c in cases].index)


def first_line(error: Exception) -> str:
    """An export error's first line, short enough for a table cell."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _example(cases: list[Case], model: str):
    """The model's example input: its first case's."""
    return case_input(next(c for c in cases if c.model == model))


def export_archives(setup: Setup, cases: list[Case]) -> None:
    import tsbridge

    for model in models_of(cases):
        example = _example(cases, model)
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
    import tsbridge

    for model in models_of(cases):
        path = setup.work / f"{model}_aoti.pt2"
        try:
            result = tsbridge.export(build(model), _example(cases, model), path, format="aoti")
        except Exception as error:  # one model torch.export cannot take must not stop the suite
            _skip(setup, cases, model, AOTI_RUNNERS, _why_not(model, error, ".pt2"))
            continue
        setup.archives[model]["aoti"] = str(path)
        setup.exports[model].update(
            {
                "aoti_compile_s": round(result.compile_seconds, 2),
                "aoti_seconds": round(result.export_seconds, 2),
                "aoti_mib": round(os.path.getsize(path) / 2**20, 2),
            }
        )


def _why_not(model: str, error: Exception, what: str) -> str:
    first = first_line(error)
    if model in DATA_DEPENDENT and "data-dependent" in first:  # expected: say it plainly
        return "skipped: no .pt2 — torch.export cannot capture this model's data-dependent control flow"
    return f"skipped: {what} export failed ({first})"


def _skip(setup: Setup, cases: list[Case], model: str, runners, why: str) -> None:
    for case in (c for c in cases if c.model == model):
        for runner in runners:
            setup.case_skipped[(case.name, runner)] = why


def export_reduced(setup: Setup, cases: list[Case], runners: list[str]) -> None:
    """Each model in bf16 for each bf16 runner asked for: tsbridge's own check
    against fp32 eager (rtol = atol = 1e-2) must pass for the file to be written."""
    import tsbridge

    for model in models_of(cases):
        for runner in (r for r in REDUCED if r in runners):
            key, options = REDUCED[runner]
            path = setup.work / f"{model}_{key}.{'pt2' if options.get('format') == 'aoti' else 'pt'}"
            started = time.perf_counter()
            try:
                result = tsbridge.export(build(model), _example(cases, model), path, **options)
            except Exception as error:  # noqa: BLE001 - one model must not stop the suite
                _skip(setup, cases, model, (runner,), _why_not(model, error, key))
                continue
            setup.archives[model][key] = str(path)
            record = result.precision or {}
            errors = [o["max_abs_error"] for c in record.get("checks", []) for o in c["outputs"]]
            setup.exports[model][key] = {
                "options": dict(options),
                "compute": record.get("compute"),
                "rtol": record.get("rtol"),
                "atol": record.get("atol"),
                # tsbridge's own largest error over its check sets, as its report gives it.
                "max_abs_error": max((e for e in errors if e is not None), default=None),
                "cpu_features": record.get("cpu_features"),
                "seconds": round(time.perf_counter() - started, 1),
                "notes": [w for w in result.warnings if "precision" in w],
            }


def export_searched(setup: Setup, cases: list[Case], runner: str, tune_budget: float) -> None:
    """Each model once more with format="auto" (and for the tuned runner
    tune=True as well): the file tsbridge keeps after timing its candidates
    itself, measured by tsrun like every other file."""
    import tsbridge

    tune = SEARCHED[runner]
    key = ARCHIVE_OF[runner]
    options = {"tune": True, "tune_budget_seconds": tune_budget} if tune else {}
    for model in models_of(cases):
        first_case = next(c for c in cases if c.model == model)
        staged = setup.work / f"{model}_{key}.bin"
        started = time.perf_counter()
        try:
            result = tsbridge.export(build(model), case_input(first_case), staged, format="auto", **options)
        except Exception as error:  # noqa: BLE001 - one model must not stop the suite
            first = first_line(error)
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
