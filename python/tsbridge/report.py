"""ExportReport: what tsbridge.export did and what it proved."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CheckResult:
    """One comparison of the exported module with eager PyTorch."""

    name: str  # e.g. "example inputs", "batch=8", "check_inputs[0]"
    max_abs_error: float
    max_rel_error: float
    passed: bool
    problem: str = ""
    stage: str = "export"  # "export" (the captured module) or "frozen"
    outputs: tuple = ()  # (leaf name, max abs error, max rel error) per output


@dataclass
class ExportReport:
    path: str
    capture: str  # "script", "trace" or "export"
    capture_reason: str  # why this capture: asked for, or why scripting failed
    frozen: bool
    frozen_reason: str
    dynamic_dims: dict[str, dict[int, str]]
    checks: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    export_seconds: float = 0.0
    file_bytes: int = 0
    format: str = "torchscript"  # "torchscript" (a TorchScript archive) or "aoti" (a .pt2 package)
    compile_seconds: float = 0.0  # AOTInductor's compile, part of export_seconds
    selection: dict | None = None  # format="auto": the timings both formats had, and the one kept
    cpu: dict | None = None  # a .pt2: the manifest's `cpu` record (target, features needed, vec ISA)
    tuning: dict | None = None  # tune=True: the manifest's `tuning` record (every candidate, the winner, why)
    precision: dict | None = None  # bf16/fp16: the manifest's `precision` record (tolerance, error per output)
    layout: str = ""  # a TorchScript archive's weights: "channels_last" or "contiguous" (exporting.layout)

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.checks), default=0.0)

    def __str__(self) -> str:
        dims = ", ".join(f"{name}{dict(d)}" for name, d in self.dynamic_dims.items()) or "none"
        lines = [
            f"tsbridge export: {self.path} ({self.file_bytes / 1024:.1f} KiB, {self.export_seconds:.2f} s)",
            f"  format   {self.format}"
            + (f" (compiled in {self.compile_seconds:.1f} s)" if self.compile_seconds else ""),
            f"  capture  {self.capture} ({self.capture_reason})",
            f"  frozen   {'yes' if self.frozen else 'no'} ({self.frozen_reason})",
            f"  dynamic  {dims}",
        ]
        if self.layout:
            lines.append(f"  layout   {self.layout.replace('_', '-')} weights")
        if self.cpu:
            lines.append(
                f"  cpu      {self.cpu['target']} (vec ISA {self.cpu['vec_isa']}; needs "
                f"{', '.join(self.cpu['features']) or 'nothing beyond x86-64'})"
            )
        if self.precision:
            p = self.precision
            needs = f"needs {', '.join(p['cpu_features'])}" if p["cpu_features"] else "no CPU feature required"
            lines.append(
                f"  precision {p['compute']} (checked against fp32 eager within rtol {p['rtol']:g}, atol "
                f"{p['atol']:g}; {needs})"
            )
        lines += [
            f"  {'check':<28} {'stage':<7} {'max abs':>10} {'max rel':>10}  ok",
        ]
        for check in self.checks:
            lines.append(
                f"  {check.name:<28} {check.stage:<7} {check.max_abs_error:>10.3g} {check.max_rel_error:>10.3g}"
                f"  {'yes' if check.passed else 'NO: ' + check.problem}"
            )
            if self.precision and len(check.outputs) > 1:  # the error of each output
                lines += [f"    {name:<26} {'':<7} {a:>10.3g} {r:>10.3g}" for name, a, r in check.outputs]
        if self.tuning:
            from .tuner import describe

            lines += describe(self.tuning)
        if self.warnings:
            lines.append("  warnings")
            lines += [f"    - {warning}" for warning in self.warnings]
        return "\n".join(lines)
