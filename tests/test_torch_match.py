"""One torch per build: the installed tsbridge requires the torch release it
was compiled against, and beside any other release `import tsbridge`, `tsbridge
doctor` and `tsrun` each say so in one line naming both, instead of the
loader's `undefined symbol` or a crash."""

import importlib.metadata
import os
import re
import subprocess
import sys

import tomllib
import torch

import tsbridge
from native.harness import ROOT

RELEASE = torch.__version__.split("+")[0]
OTHER = "2.99.0+cu999"  # a torch release tsbridge was not built for


def test_the_package_requires_the_torch_it_was_built_for():
    requirements = importlib.metadata.requires("tsbridge")
    assert f"torch=={RELEASE}" in requirements, requirements
    assert tsbridge._torch_build.TORCH_VERSION == torch.__version__


def test_the_supported_range_is_stated_once_for_pip_and_cmake():
    with open(ROOT / "pyproject.toml", "rb") as file:
        requires = tomllib.load(file)["build-system"]["requires"]
    torch_requirement = next(r for r in requires if r.startswith("torch"))
    cmake = (ROOT / "cmake" / "LibTorch.cmake").read_text()
    low = re.search(r"set\(TSBRIDGE_TORCH_MIN ([\d.]+)\)", cmake)[1]
    below = re.search(r"set\(TSBRIDGE_TORCH_BELOW ([\d.]+)\)", cmake)[1]
    assert torch_requirement == f"torch>={low},<{below}"
    assert low <= RELEASE.rsplit(".", 1)[0] < below


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def assert_one_line_naming_both(result: subprocess.CompletedProcess, prefix: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(prefix), lines[0]
    assert tsbridge._torch_build.TORCH_VERSION in lines[0] and OTHER in lines[0], lines[0]
    assert "pip install --no-build-isolation" in lines[0], lines[0]


def test_import_beside_another_torch_is_one_line():
    result = run_python(f"import torch; torch.__version__ = {OTHER!r}; import tsbridge")
    assert_one_line_naming_both(result, "tsbridge: error: tsbridge ")


def test_the_check_comes_before_the_extension_loads():
    # Beside a really different torch the extension itself would fail to load
    # (`undefined symbol`): the check must refuse first.
    code = f"import sys, torch; torch.__version__ = {OTHER!r}\ntry:\n import tsbridge\nexcept ImportError:\n pass\n"
    result = run_python(code + "print('tsbridge._core' in sys.modules)")
    assert result.stdout.strip() == "False", result.stdout + result.stderr


def test_doctor_beside_another_torch_is_one_line():
    code = f"import sys, torch; torch.__version__ = {OTHER!r}; from tsbridge.cli import main; sys.exit(main())"
    result = run_python(code, "doctor")
    assert_one_line_naming_both(result, "tsbridge: error: tsbridge ")


def test_tsrun_beside_another_torch_is_one_line(tsrun_path, tmp_path, clean_env):
    # A torch package whose libc10 is the real one but whose version.py names
    # another release: what tsrun meets after `pip install torch==...`
    # upgraded the torch beside it. LD_LIBRARY_PATH puts it before tsrun's RPATH.
    lib = tmp_path / "torch" / "lib"
    lib.mkdir(parents=True)
    os.symlink(os.path.join(os.path.dirname(torch.__file__), "lib", "libc10.so"), lib / "libc10.so")
    (tmp_path / "torch" / "version.py").write_text(f"__version__ = '{OTHER}'\n")
    env = {**clean_env, "LD_LIBRARY_PATH": str(lib)}
    result = subprocess.run([tsrun_path, "--version"], capture_output=True, text=True, env=env, timeout=60)
    assert_one_line_naming_both(result, "tsrun: error: tsbridge was built for torch ")
    assert result.returncode == 9


def test_tsrun_names_the_torch_it_runs_on(tsrun_path, clean_env):
    result = subprocess.run([tsrun_path, "--version"], capture_output=True, text=True, env=clean_env, check=True)
    assert f"LibTorch {torch.__version__} (built for {RELEASE})" in result.stdout.splitlines()[0]
