"""The file in the format asked for, built once or, for format="auto" and
tune=True, searched for: candidates of both formats (and, tuning, the
.pt2's compile variants) built beside the target by tsbridge.tuner's Search,
timed in the C++ runtime, the winner kept."""

from __future__ import annotations

import dataclasses
import os

from .. import aoti, cpu_target, tuner
from ..errors import ExportError, TorchScriptUnavailableError
from ..report import ExportReport
from . import precision as precision_
from .job import Job
from .pt2 import export_aoti
from .torchscript import export_torchscript


def export_as(job: Job, path: str, format: str, tune: bool, budget: float, tolerance: float | None) -> ExportReport:
    """The file in `format`: one build, or the best of a search (`tolerance`:
    reduced-precision candidates allowed within it)."""
    if tune or format == "auto":
        return _export_searched(job, path, format, tune, budget, tolerance)
    return {"torchscript": export_torchscript, "aoti": export_aoti}[format](job, path)


def _export_searched(job: Job, path: str, format: str, tune: bool, budget: float, tolerance) -> ExportReport:
    """The candidate files built beside the target, timed by tsbridge::tune,
    the winner renamed into place with the record in its manifest."""
    search = tuner.Search(os.path.dirname(os.path.abspath(path)), budget, tune)
    try:
        _build_candidates(job, search, format, tune, _reduced(job, search, format, tolerance))
        record = search.time()
        kept = search.winner(record)
        updates = {"tuning": record} if tune else {}
        if format == "auto":
            updates["selection"] = tuner.selection_of(record)
        tuner.rewrite_manifest(kept.path, path, **updates)
    finally:
        search.cleanup()
    report = kept.report
    report.path = path
    report.tuning = record if tune else None
    report.selection = updates.get("selection")
    if not tune:  # with tune, the report's tuning table says it
        job.notes.append(f"format='auto': kept {record['winner']}: {record['reason']}")
    job.notes += [f"tune: {c['name']} {c['status']}" for c in search.skipped]
    return report


def _build_candidates(job: Job, search: tuner.Search, format: str, tune: bool, reduced: list[Job]) -> None:
    """The TorchScript candidate, then the .pt2 ones, each followed by its
    `reduced` precision jobs; format="auto" goes on with the format that can
    be built when the other cannot."""
    unavailable = None
    if format in ("torchscript", "auto"):
        try:
            search.build("torchscript", "default", lambda p: export_torchscript(job, p))
            for lowered in reduced:  # quick to build: estimated at nothing, recorded when they miss
                name = lowered.options.precision
                search.build("torchscript", name, lambda p, j=lowered: export_torchscript(j, p), estimate=0)
        except TorchScriptUnavailableError as error:
            if format != "auto":
                raise
            unavailable = error  # "auto" goes on with the .pt2 alone
            job.notes.append(f"format='auto': no torchscript candidate: {error}")
    if format in ("aoti", "auto"):
        try:
            _build_packages(job, search, required=not search.staged, tune=tune, reduced=reduced)
        except ExportError as error:
            if unavailable is None:
                raise
            raise ExportError(f"format='auto': neither format can be built here: {error}; {unavailable}") from None


def _build_packages(job: Job, search: tuner.Search, required: bool, tune: bool, reduced: list[Job]) -> None:
    """The .pt2 as it is built by default and, when tuning, in each reduced
    precision, then its variants, as far as the budget has room to compile
    (each estimated from the first compile). `required`: no other candidate
    was built, so a failure stops the export."""
    try:
        first = search.build("aoti", "default", lambda p: export_aoti(job, p))
    except ExportError as error:
        if required:
            raise
        job.notes.append(f"format='auto': no aoti candidate: {error}")
        return
    if not tune:
        return
    seconds = max(first.report.compile_seconds, 1.0)
    for lowered in reduced:
        name = lowered.options.precision
        search.build("aoti", name, lambda p, j=lowered: export_aoti(j, p), estimate=seconds)
    for build in tuner.aoti_variants(aoti.prepacks(job.program)):
        search.build("aoti", build.name, lambda p, b=build: export_aoti(job, p, b), estimate=seconds * build.cost)


def _reduced(job: Job, search: tuner.Search, format: str, tolerance: float | None) -> list[Job]:
    """The job in each reduced precision this CPU runs natively, checked
    within `tolerance` (rtol and atol); one it would convert in software is
    recorded as skipped. None: the search stays in the export's precision."""
    if tolerance is None:
        return []
    jobs = []
    for name in precision_.REDUCED:
        wanted = precision_.NATIVE_FEATURES[name]
        if not set(wanted) & set(cpu_target.host_features()):
            why = f"skipped: this CPU has none of {', '.join(wanted)}, so {name} would be converted in software"
            search.skipped.append(tuner.unbuilt("aoti" if format == "aoti" else "torchscript", name, why))
            continue
        options = dataclasses.replace(job.options, precision=name, rtol=tolerance, atol=tolerance)
        jobs.append(dataclasses.replace(job, options=options, notes=[], program=None))
    return jobs
