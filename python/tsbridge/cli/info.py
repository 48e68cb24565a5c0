"""`tsbridge info`: a model file's manifest, methods and parameters, as text
or JSON."""

from __future__ import annotations

import json

from .. import _core
from ..aoti import KERNEL_PROFILE_BUILD
from ..info import runtime_info
from .usage import EXIT_OK


def run_info(args) -> int:
    from ..runtime import load

    runtime = load(args.model)
    info = runtime_info(runtime)
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    print(f"{info['path']} ({info['file_bytes'] / 1024:.1f} KiB)")
    print(f"  format      {info['format']}")
    print(f"  methods     {', '.join(info['methods'])}")
    print(f"  parameters  {info['parameters']:,} ({info['parameter_bytes'] / 1024:.1f} KiB)")
    if runtime.manifest is None:
        print("  manifest    none (a plain TorchScript file)")
        return EXIT_OK
    _print_manifest(runtime.manifest)
    return EXIT_OK


def _spec_text(spec: _core.TensorSpec) -> str:
    return f"{spec.name}: {spec}"  # TensorSpec's str is the C++ TensorSpec::to_string


def _print_manifest(manifest: _core.Manifest) -> None:
    made = f"tsbridge {manifest.tsbridge_version}, torch {manifest.torch_version}, {manifest.capture}"
    layout = ", channels-last weights" if manifest.layout == "channels_last" else ""
    print(f"  made by     {made}{', frozen' if manifest.frozen else ''}{layout}")
    print(f"  inputs      {'; '.join(map(_spec_text, manifest.inputs)) or '-'}")
    print(f"  outputs     {'; '.join(map(_spec_text, manifest.outputs)) or '-'}")
    cpu = manifest.cpu
    if cpu:
        loops = manifest.parallel_loops or "unrecorded"  # a package older than the record
        print(
            f"  cpu         {cpu.target} ({cpu.arch}, vec ISA {cpu.vec_isa or 'none'}, "
            f"threads {loops}); needs {', '.join(cpu.features) or '-'}"
        )
    aoti = manifest.aoti
    if aoti:
        profiling = " (profiling: tsrun --profile shows each kernel, each call pays for it)"
        profiled = aoti.build == KERNEL_PROFILE_BUILD
        print(f"  compiled    {aoti.build or 'unrecorded'} build{profiling if profiled else ''}")
    tuning = manifest.tuning
    if tuning:
        machine = tuning.machine
        winner = tuning.candidates[tuning.winner_index].name if tuning.winner_index >= 0 else None
        print(f"  tuning      {winner} (measured on {machine.cpu_model}, {machine.cores} cores)")
    precision = manifest.precision
    if precision:
        worst = max((o.max_abs_error or 0.0 for c in precision.checks for o in c.outputs), default=0.0)
        print(
            f"  precision   {precision.compute} (max abs error {worst:.3g} against fp32 eager; "
            f"needs {', '.join(precision.cpu_features) or '-'})"
        )
    golden = manifest.golden
    golden_text = f"yes (rtol {golden.rtol:g}, atol {golden.atol:g})" if golden else "none"
    print(f"  golden      {golden_text}")
    print(f"  metadata    {json.dumps(manifest.metadata)}")
