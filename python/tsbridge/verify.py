"""tsbridge.verify: run one archive three ways — PyTorch's own loader
(torch.jit.load, or aoti_load_package for a .pt2), the C++ runtime, and the
golden sample stored at export — and compare."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch

from . import _core, manifest as manifest_
from ._quiet import quiet_torch_jit
from .checks import problem
from .report import CheckResult
from .runtime import load


@dataclass
class VerifyReport:
    path: str
    has_manifest: bool
    has_golden: bool
    # "intact (sha256 of N entries)", "none recorded" or "FAILED"; the problems name each entry.
    integrity: str = "not checked"
    checks: list[CheckResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(c.passed for c in self.checks)

    def __str__(self) -> str:
        lines = [f"tsbridge verify: {self.path}: {'passed' if self.passed else 'FAILED'}"]
        lines.append(
            f"  manifest {'yes' if self.has_manifest else 'none'}, golden sample "
            f"{'yes' if self.has_golden else 'none'}, integrity {self.integrity}"
        )
        lines.append(f"  {'comparison':<34} {'max abs':>10} {'max rel':>10}  ok")
        for check in self.checks:
            lines.append(
                f"  {check.name:<34} {check.max_abs_error:>10.3g} {check.max_rel_error:>10.3g}"
                f"  {'yes' if check.passed else 'NO: ' + check.problem}"
            )
        lines += [f"  problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


def _python_loader(path: str, format: str):
    """PyTorch's own loader for the file: (its name, the loaded callable)."""
    if format == "aoti":
        return "aoti_load_package", torch._inductor.aoti_load_package(path)
    with quiet_torch_jit():
        return "torch.jit.load", torch.jit.load(path)


def verify(f: str | os.PathLike, rtol: float | None = None, atol: float | None = None) -> VerifyReport:
    """Check an archive: every entry against the SHA-256 digests its manifest
    records, its manifest against the schema, Python and C++ against the
    golden sample and each other, and the C++ self-test. An archive that
    fails the integrity check is still run (unverified) so the report shows
    what the damage does; it never passes."""
    path = os.fspath(f)
    integrity = _core.check_integrity(path)
    runtime = load(path, verify_integrity=False)
    manifest = runtime.manifest
    golden_spec = manifest.golden if manifest is not None else None
    report = VerifyReport(path=path, has_manifest=manifest is not None, has_golden=golden_spec is not None)
    if not integrity.recorded:
        report.integrity = "none recorded"
    elif integrity.intact:
        report.integrity = f"intact ({integrity.algorithm} of {integrity.checked} entries)"
    else:
        report.integrity = "FAILED"
        report.problems += [f"integrity: {line}" for line in integrity.problems]
    if manifest is not None:
        report.problems += _schema_problems(manifest.document)
    rtol = rtol if rtol is not None else (golden_spec.rtol if golden_spec else 1e-5)
    atol = atol if atol is not None else (golden_spec.atol if golden_spec else 1e-5)

    if golden_spec is not None:
        golden = _core.read_golden_sample(runtime._core)
        inputs, expected = golden.inputs, golden.outputs
    else:
        try:
            inputs, expected = tuple(_core.make_inputs(runtime._core.inputs(), device=runtime._core.device)), None
        except Exception as error:
            report.problems.append(f"nothing to run: no golden sample and no input shapes ({error})")
            return report

    python_name, python_module = _python_loader(path, runtime.format)
    with torch.no_grad():
        python_result = python_module(*inputs)
    cpp_result = runtime(*inputs)
    if expected is not None:
        report.checks.append(_check(f"{python_name} (Python) vs golden", expected, python_result, rtol, atol))
        report.checks.append(_check("C++ runtime vs golden", expected, cpp_result, rtol, atol))
        self_test = runtime.self_test()
        report.checks.append(
            CheckResult(
                "C++ self-test", self_test.max_abs_error, self_test.max_rel_error, self_test.passed, problem(self_test)
            )
        )
    report.checks.append(_check(f"C++ runtime vs {python_name}", python_result, cpp_result, rtol, atol))
    return report


def _check(name: str, expected: Any, got: Any, rtol: float, atol: float) -> CheckResult:
    comparison = _core.compare_results(expected, got, rtol, atol)
    return CheckResult(name, comparison.max_abs_error, comparison.max_rel_error, comparison.passed, problem(comparison))


def _schema_problems(document: dict) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(manifest_.schema())
    return [
        f"manifest: {error.message} at {'/'.join(map(str, error.path)) or 'top level'}"
        for error in validator.iter_errors(document)
    ]
