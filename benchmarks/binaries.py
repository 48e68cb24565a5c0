"""The programs the suite runs besides Python: tsrun, found in this
environment, and the bare LibTorch loop (with the coldstart launcher), built once."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sysconfig
from pathlib import Path

from benchmarks.progress import log

HERE = Path(__file__).resolve().parent


def find_tsrun(given: str | None) -> str | None:
    if given:
        return given
    path = Path(sysconfig.get_path("scripts")) / "tsrun"
    return str(path) if path.exists() else shutil.which("tsrun")


def build_bare(cache: Path) -> tuple[str | None, str]:
    """bare_loop built once against this torch, cached by source and torch version."""
    import torch
    import torch.utils

    source = HERE / "bare_loop"
    digest = hashlib.sha256()
    for name in ("bare_loop.cpp", "coldstart.c", "CMakeLists.txt"):
        digest.update((source / name).read_bytes())
    digest.update(torch.__version__.encode())
    build_dir = cache / f"bare_loop-{digest.hexdigest()[:12]}"
    binary = build_dir / "bare_loop"
    if binary.exists():
        return str(binary), f"cached build {build_dir}"
    if not shutil.which("cmake"):
        return None, "cmake not found"
    torch_lib = Path(torch.__file__).parent / "lib"
    log(f"building the bare LibTorch loop in {build_dir} (once)")
    configure = [
        "cmake",
        "-S",
        str(source),
        "-B",
        str(build_dir),
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
        f"-DTORCH_LIB_DIR={torch_lib}",
    ]
    ninja = shutil.which("ninja") or (Path(sysconfig.get_path("scripts")) / "ninja")
    if ninja and Path(ninja).exists():
        configure += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
    for command in (configure, ["cmake", "--build", str(build_dir), "-j", "2"]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
            return None, f"build failed: {' / '.join(tail)}"
    return (str(binary), f"built {build_dir}") if binary.exists() else (None, "build produced no binary")
