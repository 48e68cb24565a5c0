"""A standalone CMake build (no pip, no Python extension) against the LibTorch
of the installed torch: the path a C++-only user takes."""

import os
import shutil
import subprocess
import sys

import pytest
import torch
import torch.utils

import tsbridge
from models import SimpleModel
from tsrun_output import parse_section

pytestmark = pytest.mark.native

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def standalone_build(tmp_path_factory):
    build = tmp_path_factory.mktemp("cmake-build")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(
        [
            "cmake",
            "-S",
            ROOT,
            "-B",
            str(build),
            *generator,
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            # nlohmann/json's headers come from this environment's nlohmann-json package.
            f"-DPython3_EXECUTABLE={sys.executable}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result = subprocess.run(["cmake", "--build", str(build), "--parallel", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return build


def test_standalone_build_makes_library_and_tsrun(standalone_build, tmp_path, clean_env):
    assert (standalone_build / "libtsbridge.so").exists()
    assert not list(standalone_build.glob("_core*.so")), "the Python extension is off outside pip"
    path = tmp_path / "simple.pt"
    x = torch.randn(5, 10)
    model = SimpleModel().eval()
    tsbridge.save(tsbridge.trace(model, x), path)
    result = subprocess.run(
        [str(standalone_build / "tsrun"), str(path), "--seed", "3"], capture_output=True, text=True, env=clean_env
    )
    assert result.returncode == 0, result.stderr
    generator = torch.Generator().manual_seed(3)
    expected = model(torch.randn(5, 10, generator=generator)).detach()
    summary = parse_section(result.stdout, "outputs")["output"]
    assert summary["first"] == pytest.approx(expected.flatten()[:5].tolist(), rel=1e-5, abs=1e-6)


# ── a machine without libzip's or OpenSSL's development files ──


def configure_without(tmp_path, *hiding):
    """Configures the project with some system libraries hidden from CMake."""
    result = subprocess.run(
        [
            "cmake",
            "-S",
            ROOT,
            "-B",
            str(tmp_path / "build"),
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            f"-DPython3_EXECUTABLE={sys.executable}",
            *hiding,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PKG_CONFIG_LIBDIR": str(tmp_path / "no-pkgconfig")},
    )
    assert result.returncode != 0, "configure went on without a required library"
    return [line.strip() for line in result.stderr.splitlines() if line.strip()]


def test_without_libzip_the_build_stops_naming_the_package(tmp_path):
    # zip.h and libzip.so live in the system folders: hide them, and pkg-config's .pc files.
    lines = configure_without(tmp_path, "-DCMAKE_IGNORE_PATH=/usr/include;/usr/lib/x86_64-linux-gnu;/usr/lib")
    assert any("tsbridge needs libzip (for .npz files): install libzip-dev" in line for line in lines), lines


def test_without_openssl_the_build_stops_naming_the_package(tmp_path):
    lines = configure_without(tmp_path, "-DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON")
    assert any(
        "tsbridge needs OpenSSL's libcrypto (SHA-256 for archive integrity): install libssl-dev" in line
        for line in lines
    ), lines
