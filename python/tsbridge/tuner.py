"""The tuner's Python half: which files to build (the TorchScript archive,
the .pt2 variants that need a compile), within the budget, and what to
record. The timing and the choice are libtsbridge's (tsbridge::tune, the
loop tsrun --bench runs), for export(tune=True), format="auto" and
tsbridge.tune alike: one implementation of timing."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from . import _core, archive, manifest as manifest_
from .errors import Error, ExportError, InvalidArgumentError

# One default for every tuning surface (export, tsbridge tune, tsrun --tune): docs/tuning.md.
DEFAULT_BUDGET_SECONDS = 60.0
# What the timing keeps for itself: its share of the budget, and at least this much.
TIMING_SHARE, TIMING_FLOOR_SECONDS = 0.25, 5.0
# A max-autotune compile benchmarks GEMM kernels as it goes: measured at 1.4-2.2x
# a plain compile (ResNet-18, the transformer, the MLP; docs/tuning.md).
AUTOTUNE_COST = 3.0


@dataclass
class AotiBuild:
    """One way to compile the .pt2: the default, or a variant the tuner tries."""

    name: str = "default"
    freeze: bool | None = None  # None: the export's freeze
    prepack: bool | None = None  # None: aoti's rule (packed for convolutional models)
    extra_configs: dict[str, Any] = field(default_factory=dict)
    cost: float = 1.0  # compile time relative to the default's


def aoti_variants(default_prepacks: bool) -> list[AotiBuild]:
    """The compile-time variants, simplest first: freezing off, prepacking the
    other way, Inductor's max-autotune with its C++ GEMM template."""
    return [
        AotiBuild("no-freezing", freeze=False),
        AotiBuild("prepack-on" if not default_prepacks else "prepack-off", prepack=not default_prepacks),
        AotiBuild(
            "max-autotune",
            extra_configs={"max_autotune": True, "max_autotune_gemm_backends": "CPP,ATEN"},
            cost=AUTOTUNE_COST,
        ),
    ]


def check_budget(tune: bool, budget: float | None) -> float:
    if budget is None:
        return DEFAULT_BUDGET_SECONDS
    if not tune:
        raise ValueError("tune_budget_seconds applies only with tune=True")
    if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not budget > 0:
        raise ValueError(f"tune_budget_seconds must be a number > 0, got {budget!r}")
    return float(budget)


@dataclass
class Staged:
    """A built candidate file beside the target, and its export report."""

    format: str
    build: str
    path: str
    report: Any


@dataclass
class Search:
    """Builds the candidate files of one export within the budget, then times them."""

    folder: str
    budget: float
    tune: bool
    started: float = field(default_factory=time.perf_counter)
    staged: list[Staged] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.started)

    def build(self, fmt: str, name: str, make: Callable[[str], Any], estimate: float | None = None) -> Staged | None:
        """Runs `make(staged_path)`; a variant (estimate given) that the budget
        cannot fit is skipped, and one that fails is recorded as failed."""
        reserve = max(TIMING_FLOOR_SECONDS, TIMING_SHARE * self.budget)
        if estimate is not None and estimate > self.left() - reserve:
            why = f"skipped: its compile (~{estimate:.0f} s) does not fit the {self.budget:g} s budget"
            self.skipped.append(unbuilt(fmt, name, why))
            return None
        fd, path = tempfile.mkstemp(prefix=f".tsbridge-tune-{fmt}-", dir=self.folder)
        os.close(fd)
        try:
            staged = Staged(fmt, name, path, make(path))
        except ExportError as error:
            os.unlink(path)
            if estimate is None:
                raise
            self.skipped.append(unbuilt(fmt, name, f"failed: {error}"))
            return None
        self.staged.append(staged)
        return staged

    def time(self) -> dict:
        """tsbridge::tune over the staged files: the record, as the manifest stores it."""
        files = [(s.path, s.build) for s in self.staged]
        try:
            record = _core.tune(files, budget_seconds=max(self.left(), TIMING_FLOOR_SECONDS), search_settings=self.tune)
        except Error as error:
            raise ExportError(f"tuning: {error}") from None
        result = json.loads(record.json())
        result["candidates"] += self.skipped
        return result

    def winner(self, record: dict) -> Staged:
        won = next(c for c in record["candidates"] if c["name"] == record["winner"])
        return next(s for s in self.staged if s.format == won["format"] and s.build == won["build"])

    def cleanup(self) -> None:
        for staged in self.staged:
            if os.path.exists(staged.path):
                os.unlink(staged.path)


def unbuilt(fmt: str, build: str, status: str) -> dict:
    settings = {"threads": 0, "optimize_graph": False, "profiling_executor": None, "onednn_fusion": False, "runners": 0}
    name = f"{fmt} {build}" if build != "default" else fmt
    return {
        "name": name,
        "format": fmt,
        "build": build,
        "settings": settings,
        "us_per_call": None,
        "spread": 0,
        "status": status,
    }


def selection_of(record: dict) -> dict:
    """format="auto"'s record: the fastest figure of each format, and the one kept."""
    best: dict[str, float] = {}
    for c in record["candidates"]:
        if c["status"] == "ok":
            best[c["format"]] = min(best.get(c["format"], c["us_per_call"]), c["us_per_call"])
    won = next(c for c in record["candidates"] if c["name"] == record["winner"])
    return {"chosen": won["format"], "median_us": {k: round(v, 3) for k, v in best.items()}, "rounds": record["rounds"]}


def describe(record: dict) -> list[str]:
    """The report's lines: every candidate's figure or status, and why the winner."""
    lines = [f"  tuning   kept {record['winner']} ({record['reason']})"]
    for c in record["candidates"]:
        mark = "*" if c["name"] == record["winner"] else " "
        figure = f"{c['us_per_call']:>10.2f} us" if c["status"] == "ok" else f"  {c['status']}"
        lines.append(f"    {mark} {c['name']:<52}{figure}")
    return lines


def rewrite_manifest(path: str, target: str, **sections: dict | None) -> None:
    """Writes `path` to `target` with the manifest's `sections` (tuning=,
    selection=: manifest.revised's) replaced, the digests recomputed so the
    integrity check still passes."""
    reader = torch._C.PyTorchFileReader(path)
    names = reader.get_all_records()
    entry = next((n for n in names if n == "extra/" + manifest_.ENTRY), None)
    if entry is None:
        raise InvalidArgumentError(f"{path}: has no tsbridge manifest to record a tuning in")
    current = _core.Manifest.parse(reader.get_record(entry).decode()).document  # the C++ reader's
    del reader
    archive.rewrite(path, target, manifest_.revised(current, **sections))


def tune(
    path: str | os.PathLike,
    *,
    tune_budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    tune_threads: Sequence[int] | None = None,
    tune_clients: int = 1,
    sidecar: bool = False,
) -> dict:
    """Re-tunes an existing tsbridge archive's runtime settings (threads,
    executor, fusion, a .pt2's runners) on this machine, each candidate
    checked against its golden sample, and returns the record. It is stored
    in the archive's manifest (rewritten atomically, digests recomputed), or
    with sidecar=True in `<path>.tuning.json` beside the untouched archive,
    as tsrun --tune does. Compile-time settings need tsbridge.export(tune=True)."""
    source = os.fspath(path)
    options = {"budget_seconds": tune_budget_seconds, "threads": list(tune_threads or []), "clients": tune_clients}
    if sidecar:
        return json.loads(_core.tune_runtime(source, **options).json())
    loaded = _core.Model.load(source, "cpu", True, apply_tuning=False)  # refuses what is not an archive
    previous = loaded.manifest.tuning if loaded.manifest else None
    build = previous.candidates[previous.winner_index].build if previous and previous.winner_index >= 0 else "default"
    del loaded
    folder = os.path.dirname(os.path.abspath(source))
    if not os.access(folder, os.W_OK):
        raise InvalidArgumentError(f"cannot rewrite {source}: folder {folder} is not writable")
    record = json.loads(_core.tune([(source, build)], **options).json())
    rewrite_manifest(source, source, tuning=record)
    return record
