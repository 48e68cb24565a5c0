"""The file in the format asked for, built once or, for format="auto" and
tune=True, searched for: candidates of both formats (and, tuning, the
.pt2's compile variants) built beside the target by tsbridge.tuner's Search,
timed in the C++ runtime, the winner kept."""

from __future__ import annotations

import os

from .. import aoti, tuner
from ..errors import ExportError, TorchScriptUnavailableError
from ..report import ExportReport
from .job import Job
from .pt2 import export_aoti
from .torchscript import export_torchscript


def export_as(job: Job, path: str, format: str, tune: bool, budget: float) -> ExportReport:
    """The file in `format`: one build, or the best of a search."""
    if tune or format == "auto":
        return _export_searched(job, path, format, tune, budget)
    return {"torchscript": export_torchscript, "aoti": export_aoti}[format](job, path)


def _export_searched(job: Job, path: str, format: str, tune: bool, budget: float) -> ExportReport:
    """The candidate files built beside the target, timed by tsbridge::tune,
    the winner renamed into place with the record in its manifest."""
    search = tuner.Search(os.path.dirname(os.path.abspath(path)), budget, tune)
    try:
        _build_candidates(job, search, format, tune)
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


def _build_candidates(job: Job, search: tuner.Search, format: str, tune: bool) -> None:
    """The TorchScript candidate, then the .pt2 ones; format="auto" goes on
    with the format that can be built when the other cannot."""
    unavailable = None
    if format in ("torchscript", "auto"):
        try:
            search.build("torchscript", "default", lambda p: export_torchscript(job, p))
        except TorchScriptUnavailableError as error:
            if format != "auto":
                raise
            unavailable = error  # "auto" goes on with the .pt2 alone
            job.notes.append(f"format='auto': no torchscript candidate: {error}")
    if format in ("aoti", "auto"):
        try:
            _build_packages(job, search, required=not search.staged, tune=tune)
        except ExportError as error:
            if unavailable is None:
                raise
            raise ExportError(f"format='auto': neither format can be built here: {error}; {unavailable}") from None


def _build_packages(job: Job, search: tuner.Search, required: bool, tune: bool) -> None:
    """The .pt2 as it is built by default and, when tuning, its variants that
    the budget has room to compile (each estimated from the first compile).
    `required`: no other candidate was built, so a failure stops the export."""
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
    for build in tuner.aoti_variants(aoti.prepacks(job.program)):
        search.build("aoti", build.name, lambda p, b=build: export_aoti(job, p, b), estimate=seconds * build.cost)
