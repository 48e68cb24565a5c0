"""CPU targets for .pt2 packages: which instruction set the compiled kernels
may use, the CPU features a machine needs to run them, and the Inductor
settings that make the compile honour the target.

Inductor compiles a package's C++ with `-march=<cpp.march>` (native by
default) and adds the flags of the widest vector ISA *the exporting machine*
has (cpu_vec_isa.pick_vec_isa: `-mavx512f ... -mamx-tile` on an AVX-512/AMX
host) whatever march says. So `-march=x86-64-v3` alone still yields AVX-512
kernels on such a host: the vec ISA must be restricted to the target too."""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass

from . import _core
from .errors import ExportError

# Feature names are those of Linux's /proc/cpuinfo `flags` (what `lscpu`
# shows), except sse3 (Linux says "pni"): the names the C++ runtime detects
# (tsbridge/cpu.h, _core.known_cpu_features()); a package needing a name
# outside that list is refused there, unchecked.
_V2 = ("cx16", "lahf_lm", "popcnt", "sse3", "ssse3", "sse4_1", "sse4_2")
_V3 = _V2 + ("avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave")
_V4 = _V3 + ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
LEVEL_FEATURES: dict[str, tuple[str, ...]] = {"x86-64-v2": _V2, "x86-64-v3": _V3, "x86-64-v4": _V4}
TARGETS = ("native",) + tuple(LEVEL_FEATURES)
# x86-64-v3 (AVX2, FMA: Intel Haswell 2013+, AMD Excavator 2015+/Zen) runs on
# any x86-64 server of the last decade and still has 256-bit vectors.
DEFAULT_TARGET = "x86-64-v3"
# The Inductor vec ISA (cpu_vec_isa) each level may use; None: scalar kernels
# (Inductor has no 128-bit x86 ISA; g++ may still use SSE at -march=x86-64-v2).
_VEC_ISA = {"x86-64-v2": None, "x86-64-v3": "avx2", "x86-64-v4": "avx512"}


@dataclass(frozen=True)
class CpuTarget:
    name: str  # "native" or an x86-64 level
    march: str | None  # Inductor's cpp.march; None: -march=native
    features: tuple[str, ...]  # what a CPU must have to run the package

    def record(self, vec_isa: str) -> dict:
        """The manifest's `cpu` field."""
        return {"target": self.name, "arch": platform.machine(), "features": list(self.features), "vec_isa": vec_isa}


def resolve(target: str | None) -> CpuTarget:
    """The CpuTarget for export's `target=` (None: the default for this machine)."""
    x86 = platform.machine() in ("x86_64", "AMD64")
    if target is None:
        target = DEFAULT_TARGET if x86 else "native"
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(map(repr, TARGETS))}, got {target!r}")
    if target == "native":
        return CpuTarget("native", None, host_features())
    if not x86:
        raise ExportError(
            f"target {target!r} is an x86-64 level; this machine is {platform.machine()}: use target='native'"
        )
    missing = [f for f in LEVEL_FEATURES[target] if f not in host_features()]
    if missing:
        # The checks run the package here: the host must be able to run it.
        raise ExportError(
            f"target {target!r} needs {', '.join(missing)}, which this CPU lacks (tsbridge runs the "
            "package to check it: export on a machine that has them)"
        )
    return CpuTarget(target, target, LEVEL_FEATURES[target])


def host_features() -> tuple[str, ...]:
    """The features this machine has, as the C++ runtime detects them (CPUID
    and the OS-enabled state), so export checks what Model::load will."""
    return tuple(_core.cpu_features())


@contextlib.contextmanager
def vec_isa_for(target: CpuTarget):
    """Inductor picks the vec ISA from valid_vec_isa_list() (looked up at call
    time in cpu_vec_isa): narrow that list to the one ISA the target allows
    and the host has, so the kernels' -m flags stay inside the target."""
    from torch._inductor import cpu_vec_isa

    if target.march is None:
        yield
        return
    allowed = _allowed_isas(cpu_vec_isa, _VEC_ISA[target.name])
    original = cpu_vec_isa.valid_vec_isa_list
    cpu_vec_isa.valid_vec_isa_list = lambda: allowed
    try:
        yield
    finally:
        cpu_vec_isa.valid_vec_isa_list = original


def _allowed_isas(cpu_vec_isa, wanted: str | None) -> list:
    if wanted is None:
        return []
    host = {str(isa) for isa in cpu_vec_isa.valid_vec_isa_list()}
    if wanted == "avx2":
        return [cpu_vec_isa.VecAVX2()] if "avx2" in host else []
    return [_avx512_only(cpu_vec_isa.VecAVX512)] if "avx512" in host else []


def _avx512_only(VecAVX512):

    class Avx512Only(VecAVX512):
        """AVX-512 F/DQ/VL/BW (x86-64-v4) without the bf16 extension that
        VecAVX512 adds on hosts that have it."""

        def __bool__(self) -> bool:
            return True

        def build_arch_flags(self) -> str:
            return self._arch_flags

    return Avx512Only()
