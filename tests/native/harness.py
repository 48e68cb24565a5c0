"""One CMake build of every native program the embedding tests run (the
examples, the complete programs of docs/cpp-api.md and docs/c-api.md, the C
API misuse program, the thread-safety program and a translation unit per
public header), configured against the tsbridge package
that `pip install` put into this environment, found the documented way:
`-Dtsbridge_DIR="$(python -m tsbridge --cmake-dir)"`.

Building against LibTorch takes 15-30 s per C++ file, so the build happens
once per pytest session, whichever test module asks first."""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import markers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@dataclass
class NativeBuild:
    dir: Path
    cmake_dir: str

    def program(self, *parts: str) -> str:
        path = self.dir.joinpath(*parts)
        assert path.exists(), f"{path} was not built"
        return str(path)


_built: dict = {}


def cmake_dir() -> str:
    """The documented one-liner, run as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tsbridge", "--cmake-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()


def generator_args() -> list:
    ninja = shutil.which("ninja") or shutil.which("ninja", path=sysconfig.get_path("scripts"))
    return ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if ninja else []


def build_env() -> dict:
    env = dict(os.environ)
    env.pop("LD_LIBRARY_PATH", None)
    return env


MARKER = re.compile(r"<!-- compiled and run by tests/[\w.]+ -->\n```(\w+)\n(.*?)\n```", re.DOTALL)


def docs_example(doc: str, language: str) -> str:
    """The program a docs page marks as compiled by the tests."""
    found = [code for lang, code in MARKER.findall((ROOT / "docs" / doc).read_text()) if lang == language]
    assert len(found) == 1, f"docs/{doc} should mark exactly one {language} example"
    return found[0] + "\n"


def native_build(tmp_path_factory) -> NativeBuild:
    """Configures and builds tests/native once; later calls get the same build
    (or the same failure)."""
    markers.require("native", "builds the native test programs")
    if "result" not in _built:
        try:
            build = tmp_path_factory.mktemp("native-build")
            package = cmake_dir()
            docs = build / "docs"
            docs.mkdir()
            (docs / "cpp_api_example.cpp").write_text(docs_example("cpp-api.md", "cpp"))
            (docs / "c_api_example.c").write_text(docs_example("c-api.md", "c"))
            configure = subprocess.run(
                [
                    "cmake",
                    "-S",
                    str(HERE),
                    "-B",
                    str(build),
                    *generator_args(),
                    "-DCMAKE_BUILD_TYPE=Release",
                    f"-Dtsbridge_DIR={package}",
                    f"-DTSBRIDGE_DOCS_EXAMPLES={docs}",
                ],
                capture_output=True,
                text=True,
                env=build_env(),
            )
            if configure.returncode != 0:
                raise RuntimeError("configure failed:\n" + configure.stdout[-4000:] + configure.stderr[-4000:])
            compiled = subprocess.run(
                ["cmake", "--build", str(build), "--parallel", "2"], capture_output=True, text=True, env=build_env()
            )
            if compiled.returncode != 0:
                raise RuntimeError("build failed:\n" + compiled.stdout[-6000:] + compiled.stderr[-4000:])
            _built["result"] = NativeBuild(build, package)
        except Exception as error:  # noqa: BLE001 - kept for every later test
            _built["result"] = error
    result = _built["result"]
    if isinstance(result, Exception):
        raise result
    return result
