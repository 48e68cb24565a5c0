"""`tsbridge doctor`: what this installation can do, and why not where it
cannot — each check run the way a user's own program would meet it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from dataclasses import dataclass

import torch

from . import _core
from ._version import __version__


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # a missing optional tool is a note, not a failure

    def __str__(self) -> str:
        status = "ok  " if self.ok else ("FAIL" if self.required else "note")
        return f"{status}  {self.name}: {self.detail}"


def version_text() -> str:
    """What `tsbridge --version` prints: versions and this build's features."""
    return f"tsbridge {__version__}, torch {torch.__version__}\nfeatures: {_core.features_text(_core.build_features())}"


def diagnose() -> list[Check]:
    checks = [Check("torch", True, f"{torch.__version__} ({_torch_build()})")]
    checks += [
        Check(f"feature {f.name}", f.available, f.detail, required=f.name != "cuda") for f in _core.build_features()
    ]
    checks += [_tsrun(), _library(), _cmake_package()]
    checks.append(
        _tool(
            "C++ compiler",
            os.environ.get("CXX") or "c++",
            "needed by export(format='aoti') and to build apps against the CMake package",
        )
    )
    checks.append(_tool("cmake", "cmake", "needed to build apps with find_package(tsbridge)"))
    return checks


def _torch_build() -> str:
    if torch.version.cuda is None:
        return "CPU build"
    return f"CUDA {torch.version.cuda} build, {torch.cuda.device_count()} device(s) visible"


def _clean_env() -> dict:
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    return env


def _tsrun() -> Check:
    path = os.path.join(sysconfig.get_path("scripts"), "tsrun")
    if not os.path.exists(path):
        return Check("tsrun", False, f"not installed at {path}: reinstall tsbridge")
    result = subprocess.run([path, "--version"], capture_output=True, text=True, env=_clean_env(), timeout=60)
    if result.returncode != 0:
        problem = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        return Check("tsrun", False, f"{path} does not run with no LD_LIBRARY_PATH: {problem}")
    return Check("tsrun", True, f"{path} runs with no LD_LIBRARY_PATH")


def _library() -> Check:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "libtsbridge.so")
    if not os.path.exists(path):
        return Check("libtsbridge", False, f"missing at {path}: reinstall tsbridge")
    if shutil.which("ldd") is None:
        return Check("libtsbridge", True, f"{path} (ldd not available to check its libraries)")
    listed = subprocess.run(["ldd", path], capture_output=True, text=True, env=_clean_env()).stdout
    missing = [line.split()[0] for line in listed.splitlines() if "not found" in line]
    if missing:
        return Check("libtsbridge", False, f"{path} cannot find {', '.join(missing)}")
    if "libpython" in listed:
        return Check("libtsbridge", False, f"{path} links libpython, which it must never do")
    return Check("libtsbridge", True, f"{path}: every library found, no libpython")


def cmake_dir() -> str:
    """Where `find_package(tsbridge)` finds the installed package (`tsbridge --cmake-dir`)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "share", "cmake", "tsbridge")


def _cmake_package() -> Check:
    folder = cmake_dir()
    if not os.path.exists(os.path.join(folder, "tsbridgeConfig.cmake")):
        return Check("CMake package", False, f"no tsbridgeConfig.cmake in {folder}: reinstall tsbridge")
    torch_config = os.path.join(os.path.dirname(torch.__file__), "share", "cmake", "Torch", "TorchConfig.cmake")
    if not os.path.exists(torch_config):
        return Check("CMake package", False, f"{folder}, but LibTorch's CMake files are missing ({torch_config})")
    return Check("CMake package", True, f"-Dtsbridge_DIR={folder} (LibTorch found beside it)")


def _tool(name: str, command: str, why: str) -> Check:
    found = shutil.which(command)
    if found:
        return Check(name, True, found, required=False)
    return Check(name, False, f"'{command}' not on PATH: {why}", required=False)
