"""What `pip install` puts on the machine: a real tsrun binary and a library
that depend on LibTorch only, never on Python."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

import tsbridge

PACKAGE_DIR = os.path.dirname(tsbridge.__file__)
LIBRARY = os.path.join(PACKAGE_DIR, "lib", "libtsbridge.so")
REPO = Path(__file__).resolve().parent.parent


def linked_libraries(path: str) -> str:
    return subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout


def test_tsrun_is_a_real_executable(tsrun_path):
    with open(tsrun_path, "rb") as binary:
        assert binary.read(4) == b"\x7fELF"
    assert os.access(tsrun_path, os.X_OK)


def test_no_libpython_in_tsrun_or_the_library(tsrun_path, clean_env):
    runner = os.path.join(PACKAGE_DIR, "lib", "libtsrun.so")
    for path in (tsrun_path, runner, LIBRARY):
        libraries = subprocess.run(["ldd", path], capture_output=True, text=True, env=clean_env, check=True).stdout
        assert "libpython" not in libraries
        assert "libtorch_python" not in libraries
        assert "not found" not in libraries, libraries
        # The tsrun executable loads LibTorch itself, once it has checked its
        # version (cpp/tools/tsrun/launcher.cpp); the runner links it.
        assert ("libtorch_cpu" in libraries) == (path != tsrun_path), (path, libraries)


def test_no_cuda_library_is_named_directly():
    # The release pin lets a build against the CUDA torch run beside the CPU
    # torch of the same release: libtorch.so loads libtorch_cuda.so where
    # there is one (cmake/LibTorch.cmake). Meaningful on a CUDA build of
    # torch (CI's second torch); on the CPU build there is none to name.
    extension = [f for f in os.listdir(PACKAGE_DIR) if f.startswith("_core")][0]
    runner = os.path.join(PACKAGE_DIR, "lib", "libtsrun.so")
    for path in (LIBRARY, runner, os.path.join(PACKAGE_DIR, extension)):
        section = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
        needed = [line.split("[")[1].rstrip("]") for line in section.splitlines() if "(NEEDED)" in line]
        assert "libtorch.so" in needed, (path, needed)
        assert not [name for name in needed if "cuda" in name or name.startswith("libcu")], (path, needed)


def test_only_the_extension_links_torch_python():
    extension = [f for f in os.listdir(PACKAGE_DIR) if f.startswith("_core")][0]
    libraries = linked_libraries(os.path.join(PACKAGE_DIR, extension))
    assert "libtorch_python" in libraries and "libtsbridge" in libraries


def test_the_installed_headers_are_the_public_api_and_no_more():
    # docs/cpp-api.md's table names each header an app gets; what only tsrun
    # and _core use (cpp/internal/tsbridge) must not be installed.
    include = os.path.join(PACKAGE_DIR, "include", "tsbridge")
    installed = set(os.listdir(include))
    documented = set(re.findall(r"^\| `tsbridge/(\w+\.h)` \|", (REPO / "docs" / "cpp-api.md").read_text(), re.M))
    assert installed == documented
    internal = set(os.listdir(REPO / "cpp" / "internal" / "tsbridge"))
    assert internal and not internal & installed


def test_one_note_instead_of_a_warning_wall(tmp_path):
    # Also the guard for every tsbridge call that uses torch.jit: pytest's
    # settings ignore torch.jit's deprecation warnings (DeprecationWarning or
    # FutureWarning, by torch release), which the tests trigger themselves, so
    # a call of tsbridge's that let one through shows here.
    script = textwrap.dedent(
        f"""
        import warnings
        warnings.simplefilter("default")
        import torch, tsbridge, tsbridge.cli
        m = torch.nn.Linear(3, 2).eval()
        x = torch.randn(1, 3)
        for i in range(3):
            tsbridge.save(tsbridge.script(m), r"{tmp_path}/s.pt")
            tsbridge.save(tsbridge.trace(m, x), r"{tmp_path}/t.pt")
            tsbridge.load(r"{tmp_path}/s.pt")(x)
        tsbridge.export(m, x, r"{tmp_path}/e.pt")
        tsbridge.verify(r"{tmp_path}/e.pt")
        tsbridge.cli.main(["info", r"{tmp_path}/e.pt"])
        tsbridge.to_triton(r"{tmp_path}/e.pt", r"{tmp_path}/repository")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "is deprecated" not in result.stderr
    assert "`torch.jit." not in result.stderr  # torch's wording, whatever the category
    assert result.stderr.count("TorchScriptDeprecationNote") == 1
    assert f"torch {torch.__version__} deprecates torch.jit" in result.stderr


def test_versions_name_every_feature_of_this_build(tsrun_path, clean_env):
    tsrun = subprocess.run([tsrun_path, "--version"], capture_output=True, text=True, env=clean_env, check=True)
    python = subprocess.run([sys.executable, "-m", "tsbridge", "--version"], capture_output=True, text=True, check=True)
    features = {f.name: f for f in tsbridge._core.build_features()}
    assert set(features) == {"npz", "integrity", "aoti", "cpu", "cuda"}
    expected = tsbridge._core.features_text(list(features.values()))
    assert tsrun.stdout.splitlines()[1] == python.stdout.splitlines()[1] == f"features: {expected}"
    assert features["cpu"].detail == torch.backends.cpu.get_cpu_capability()
    assert features["cuda"].available == torch.cuda.is_available()


def test_doctor_finds_nothing_wrong_here():
    result = subprocess.run([sys.executable, "-m", "tsbridge", "doctor"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("FAIL")], result.stdout
    for name in ("tsrun:", "libtsbridge:", "CMake package:", "feature npz:"):
        assert any(line.startswith("ok") and name in line for line in lines), (name, result.stdout)


def test_doctor_names_a_tsrun_that_cannot_start(tmp_path, monkeypatch):
    from tsbridge import doctor

    broken = tmp_path / "bin"
    broken.mkdir()
    (broken / "tsrun").write_text(
        "#!/bin/sh\necho 'tsrun: error while loading shared libraries: libc10.so' >&2\nexit 127\n"
    )
    (broken / "tsrun").chmod(0o755)
    monkeypatch.setattr(doctor.sysconfig, "get_path", lambda name: str(broken))
    check = doctor._tsrun()
    assert not check.ok and "libc10.so" in check.detail and str(broken / "tsrun") in check.detail
