"""Every way a user installs tsbridge gives the whole product: `pip install`
from a checkout with pip's default build isolation, and the repaired
manylinux wheel `.ci/wheels` makes, installed into a fresh venv at another
path after its build folder is gone (setup.sh's `--no-build-isolation`
install is the one the rest of the suite runs). In each: tsrun
runs from any folder with nothing set in the environment, every library
resolves (LibTorch from the torch beside it, never from the build; libzip
and libcrypto from the system a source build was built on, and from inside
the package in the repaired wheel), a find_package(tsbridge) C++ app and a
C program build and run, and .npz output works.

Each install builds tsbridge from scratch (about 2-3 minutes on 2 cores);
the checks of one install share it through a session fixture."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from native.harness import ROOT, generator_args

pytestmark = [pytest.mark.native, pytest.mark.slow]

INSTALLS = ["pip-install-isolated", "repaired-wheel"]


@dataclass
class Install:
    kind: str
    prefix: Path  # the venv
    python: Path
    tsrun: Path
    package: Path  # site-packages/tsbridge
    work: Path  # a scratch folder outside the venv and the checkout


def clean_env() -> dict:
    """A user's shell: no LD_LIBRARY_PATH, no venv activated, no pip settings of ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LD_LIBRARY_PATH", "VIRTUAL_ENV", "PYTHONPATH") and not k.startswith("PIP_")
    }
    return env


def run(args, cwd, timeout=1200, **kwargs):
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, env=clean_env(), timeout=timeout, **kwargs
    )
    assert result.returncode == 0, (
        f"{args[:3]} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def make_venv(prefix: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(prefix)
    python = prefix / "bin" / "python"
    # The pip that venv bundles predates --build-constraint (pip 25.3).
    run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], cwd=prefix)
    return python


def finish(kind: str, prefix: Path, python: Path, work: Path) -> Install:
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('platlib'))"], cwd=work).stdout.strip()
    return Install(kind, prefix, python, prefix / "bin" / "tsrun", Path(site) / "tsbridge", work)


@pytest.fixture(scope="session")
def checkout(tmp_path_factory) -> Path:
    """The project's files (what git tracks, plus new files it does not
    ignore), copied as a fresh checkout elsewhere would have them: no build
    folder, no venv, and no edits landing while pip builds."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    target = tmp_path_factory.mktemp("checkout") / "tsbridge"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="session", params=INSTALLS)
def install(request, tmp_path_factory, checkout):
    """pip-install-isolated: `pip install /path/to/checkout` run from another
    folder, with pip's default build isolation. repaired-wheel: `.ci/wheels`
    (pip wheel, then auditwheel repair; its own checks skipped, these are
    them) with this machine's pip configuration, its build folder deleted,
    the wheel installed into a new venv at another path. Both build against
    this torch's release, as the README's isolated install does
    (--build-constraint); the wheel's venv gets torch from the wheel's pin."""
    base = tmp_path_factory.mktemp(request.param)
    work = base / "elsewhere"
    work.mkdir()
    constraint = base / "build-constraint.txt"
    constraint.write_text(f"torch=={torch.__version__.split('+')[0]}\n")
    if request.param == "pip-install-isolated":
        prefix = base / "venvs" / "isolated"
        python = make_venv(prefix)
        run([python, "-m", "pip", "install", "--quiet", "--build-constraint", constraint, checkout], cwd=work)
    else:
        release = torch.__version__.split("+")[0]
        script = [checkout / ".ci" / "wheels", "--torch", release, "--use-pip-config", "--no-check"]
        run([*script, "--out", base / "dist", "--work", base / "work", "--python", sys.executable], cwd=work)
        shutil.rmtree(base / "work")  # the raw wheel's build and the tools venv
        wheels = list((base / "dist").glob(f"torch-{release}/tsbridge-*manylinux*.whl"))
        assert len(wheels) == 1, wheels
        prefix = base / "deploy" / "venv"
        python = make_venv(prefix)
        run([python, "-m", "pip", "install", "--quiet", wheels[0]], cwd=work)
    yield finish(request.param, prefix, python, work)
    shutil.rmtree(prefix, ignore_errors=True)


@pytest.fixture(scope="session")
def exported(install) -> dict:
    """The seed example exported by the installed tsbridge, with eager
    PyTorch's outputs for an input file and for c_api_run_shapes' values."""
    folder = install.work / "model"
    folder.mkdir(exist_ok=True)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np, torch
        sys.path.insert(0, {str(ROOT / "examples" / "simple_model")!r})
        from export import SimpleModel
        import tsbridge
        torch.manual_seed(3)
        model = SimpleModel().eval()
        x = torch.randn(6, 10)
        tsbridge.export(model, x, {str(folder / "model.pt")!r})
        filled = torch.from_numpy(((np.arange(50) % 13) * 0.25 - 1.5).astype(np.float32)).reshape(5, 10)
        with torch.no_grad():
            np.save({str(folder / "x.npy")!r}, x.numpy())
            np.save({str(folder / "eager.npy")!r}, model(x).numpy())
            np.save({str(folder / "eager_filled.npy")!r}, model(filled).numpy())
    """)
    run([install.python, "-c", script], cwd=install.work)
    return {name: folder / name for name in ("model.pt", "x.npy", "eager.npy", "eager_filled.npy")}


def resolved_libraries(binary: Path) -> dict:
    """{soname: the file the loader picks (real path), or None when not found}, as ldd says."""
    listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, env=clean_env()).stdout
    found = {}
    for line in listed.splitlines():
        name, arrow, target = line.strip().partition(" => ")
        if arrow:
            path = target.split(" (")[0].strip()
            found[name] = None if path == "not found" else os.path.realpath(path)
    return found


def dynamic_section(path: Path) -> str:
    return subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout


def test_tsrun_runs_from_any_folder_and_reports_every_feature(install):
    result = run([install.tsrun, "--version"], cwd=install.work)
    features = result.stdout.splitlines()[1]
    for feature in ("npz (libzip", "integrity (sha256", "aoti (", "cpu ("):
        assert feature in features, result.stdout
    doctor = run([install.prefix / "bin" / "tsbridge", "doctor"], cwd=install.work)
    assert "FAIL" not in doctor.stdout, doctor.stdout


def test_every_library_resolves_and_none_points_at_the_build(install):
    torch_lib = os.path.realpath(install.package.parent / "torch" / "lib")
    lib = install.package / "lib"
    binaries = [install.tsrun, lib / "libtsrun.so", lib / "libtsbridge.so", *install.package.glob("_core*.so")]
    for binary in binaries:
        libraries = resolved_libraries(binary)
        assert None not in libraries.values(), f"{binary}: {libraries}"
        if binary != install.tsrun:  # which loads LibTorch itself, after checking its version
            assert libraries["libtorch_cpu.so"] == os.path.join(torch_lib, "libtorch_cpu.so"), libraries
        if not binary.name.startswith("_core"):
            assert not any(name.startswith(("libpython", "libtorch_python")) for name in libraries), libraries
        for entry in dynamic_section(binary).splitlines():
            if "RUNPATH" in entry or "RPATH" in entry:
                paths = entry.split("[", 1)[1].rstrip("]").split(":")
                assert all(p.startswith("$ORIGIN") for p in paths), f"{binary}: {entry}"


# What a manylinux wheel may take from the system (glibc, libstdc++, libgcc_s, zlib).
MANYLINUX_SYSTEM_LIBRARIES = ("libc.so", "libm.so", "libdl.so", "libpthread.so", "librt.so", "libutil.so")
MANYLINUX_SYSTEM_LIBRARIES += ("libresolv.so", "libz.so", "libstdc++.so", "libgcc_s.so", "ld-linux")


def test_the_system_libraries_resolve_and_the_repaired_wheel_carries_them(install):
    """libzip and libcrypto: a source build (and its unrepaired wheel) links
    the system's, which it was built against; the repaired wheel carries them,
    and libzip's own dependencies, in tsbridge.libs and loads those copies."""
    libraries = resolved_libraries(install.package / "lib" / "libtsbridge.so")
    for prefix in ("libzip", "libcrypto"):
        path = next((path for name, path in libraries.items() if name.startswith(prefix)), "missing")
        assert path not in (None, "missing"), f"{prefix}: {libraries}"
    assert not list((install.package / "lib").glob("lib[zc]*.so*")), "CMake bundles nothing any more"
    if install.kind == "repaired-wheel":
        carried = os.path.realpath(install.package.parent / "tsbridge.libs")
        zip_name = next(name for name in libraries if name.startswith("libzip"))
        site = os.path.realpath(install.package.parent)
        for binary in (install.package / "lib" / "libtsbridge.so", Path(carried) / zip_name):
            for name, path in resolved_libraries(binary).items():
                if name.startswith(("libzip", "libcrypto")):
                    assert path.startswith(carried + os.sep), f"{binary}: {name} => {path}"
                elif not name.startswith(MANYLINUX_SYSTEM_LIBRARIES):  # torch's, CUDA's, or carried
                    assert path.startswith(site + os.sep), f"{binary}: {name} => {path}"


def test_tsrun_output_npz_matches_eager(install, exported):
    out = install.work / "out.npz"
    run([install.tsrun, exported["model.pt"], "--input", exported["x.npy"], "--output", out], cwd=install.work)
    np.testing.assert_allclose(np.load(out)["output"], np.load(exported["eager.npy"]), rtol=1e-5, atol=1e-6)
    run([install.tsrun, "--selftest", exported["model.pt"]], cwd=install.work)


@pytest.fixture(scope="session")
def apps(install, exported) -> Path:
    """tests/install_app built against the installed package, found the documented way."""
    build = install.work / "app-build"
    cmake_dir = run([install.python, "-m", "tsbridge", "--cmake-dir"], cwd=install.work).stdout.strip()
    run(
        [
            "cmake",
            "-S",
            ROOT / "tests" / "install_app",
            "-B",
            build,
            *generator_args(),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-Dtsbridge_DIR={cmake_dir}",
        ],
        cwd=install.work,
    )
    run(["cmake", "--build", build, "--parallel", "2"], cwd=install.work)
    return build


def test_a_cmake_cpp_app_builds_and_matches_eager(install, exported, apps):
    out = install.work / "cpp_out.npy"
    run([apps / "cpp_forward", exported["model.pt"], exported["x.npy"], out], cwd=install.work)
    np.testing.assert_allclose(np.load(out), np.load(exported["eager.npy"]), rtol=1e-5, atol=1e-6)


def test_a_c_program_builds_and_matches_eager(install, exported, apps):
    result = run([apps / "c_run_shapes", exported["model.pt"], "5x10"], cwd=install.work)
    lines = result.stdout.splitlines()
    assert lines[0] == "status: TSB_OK", result.stdout
    values = np.array([float(v) for v in lines[1].split(":", 1)[1].split()], dtype=np.float32)
    np.testing.assert_allclose(values.reshape(5, 1), np.load(exported["eager_filled.npy"]), rtol=1e-5, atol=1e-6)


def test_the_package_metadata_is_complete(install):
    script = (
        "import importlib.metadata as m, json; d = m.metadata('tsbridge'); "
        "print(json.dumps([d['License-Expression'], d['Requires-Python'], d.get_all('Provides-Extra')]))"
    )
    license_, python, extras = json.loads(run([install.python, "-c", script], cwd=install.work).stdout)
    assert license_ == "MIT" and python == ">=3.10"
    assert {"test", "bench", "serve", "triton"} <= set(extras)
    assert (install.package / "py.typed").exists() and (install.package / "_core.pyi").exists()
