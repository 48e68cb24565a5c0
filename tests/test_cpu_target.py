"""Portable .pt2 packages: the CPU target they are compiled for, the CPU
features their manifest records, and the load-time refusal of a package this
CPU cannot run (in Python, tsrun and the C API's status), instead of SIGILL."""

import json
import shutil
import subprocess
import zipfile

import jsonschema
import pytest
import torch

import tsbridge
from models import SimpleModel
from tsbridge import _core, archive, cpu_target, manifest as manifest_

pytestmark = pytest.mark.aoti


def manifest_of(path):
    with zipfile.ZipFile(path) as package:
        name = next(n for n in package.namelist() if n.endswith("/extra/" + manifest_.ENTRY))
        return json.loads(package.read(name))


def disassembly(path, tmp_path):
    """objdump of every shared library inside the package."""
    text = ""
    with zipfile.ZipFile(path) as package:
        for name in package.namelist():
            if name.endswith(".so"):
                library = tmp_path / name.replace("/", "_")
                library.write_bytes(package.read(name))
                text += subprocess.run(
                    ["objdump", "-d", "--no-show-raw-insn", str(library)], capture_output=True, text=True, check=True
                ).stdout
    assert text, f"{path} holds no shared library"
    return text


def with_cpu(source, path, change):
    """The package at `source` rewritten to `path` with its manifest's `cpu`
    record changed, as an exporter on another machine would have written it."""
    manifest = manifest_of(source)
    change(manifest["cpu"])
    manifest.pop("integrity")
    archive.rewrite(str(source), path, manifest)
    return path


def lacking():
    """A feature this runtime detects and this CPU lacks."""
    missing = [f for f in _core.known_cpu_features() if f not in _core.cpu_features()]
    if not missing:
        pytest.skip("this CPU has every feature the runtime knows")
    return missing[-1]


# ── what the manifest records ──


def test_default_package_records_its_target_and_needs(packages):
    manifest = manifest_of(packages["mlp"].path)
    jsonschema.validate(manifest, manifest_.schema())
    cpu = manifest["cpu"]
    assert cpu["target"] == "x86-64-v3" and cpu["arch"] == "x86_64"
    assert cpu["features"] == list(cpu_target.LEVEL_FEATURES["x86-64-v3"])
    assert cpu["vec_isa"] == "avx2"
    assert manifest["aoti"]["threads"] == "runtime"
    assert manifest["aoti"]["inductor_configs"]["cpp.march"] == "x86-64-v3"
    assert packages["mlp"].report.cpu == cpu
    # It loads and runs here, and agrees with the eager model.
    runtime = tsbridge.load(packages["mlp"].path)
    x = torch.randn(3, 16)
    torch.testing.assert_close(runtime(x), packages["mlp"].model(x), rtol=1e-5, atol=1e-5)


def linux_flags() -> set:
    """What Linux reports in /proc/cpuinfo, sse3 under its own name."""
    with open("/proc/cpuinfo", encoding="utf-8") as file:
        line = next(line for line in file if line.startswith("flags"))
    flags = set(line.split(":", 1)[1].split())
    return flags | {"sse3"} if "pni" in flags else flags


def test_the_runtime_detects_what_linux_reports():
    known = _core.known_cpu_features()
    assert list(_core.cpu_features()) == [f for f in known if f in linux_flags()]
    assert cpu_target.host_features() == tuple(_core.cpu_features())  # export checks what load checks
    assert set(cpu_target.LEVEL_FEATURES["x86-64-v4"]) <= set(known)  # every level is checkable


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
def test_default_package_has_no_avx512_instructions(packages, tmp_path):
    # On an AVX-512 host Inductor adds -mavx512f ... to every kernel unless
    # tsbridge holds its vec ISA to the target: no zmm register may appear.
    text = disassembly(packages["encoder"].path, tmp_path)
    assert "%zmm" not in text and "%k1" not in text
    assert "%ymm" in text  # it still vectorises (AVX2)


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump")
def test_x86_64_v2_package_has_no_avx_at_all(tmp_path):
    model = SimpleModel().eval()
    x = torch.randn(4, 10)
    path = tmp_path / "v2.pt2"
    report = tsbridge.export(model, x, path, format="aoti", target="x86-64-v2")
    assert report.cpu["target"] == "x86-64-v2" and report.cpu["vec_isa"] == "none"
    assert "avx" not in report.cpu["features"]
    text = disassembly(path, tmp_path)
    assert "%ymm" not in text and "%zmm" not in text
    assert not any(line.split("\t")[-1].startswith("v") for line in text.splitlines() if "\t" in line)
    torch.testing.assert_close(tsbridge.load(path)(x), model(x), rtol=1e-5, atol=1e-5)


def test_target_names_are_checked(tmp_path):
    with pytest.raises(ValueError, match=r"target must be one of 'native', 'x86-64-v2'.*got 'pentium4'"):
        tsbridge.export(SimpleModel(), torch.randn(4, 10), tmp_path / "m.pt2", format="aoti", target="pentium4")
    with pytest.raises(ValueError, match="format='torchscript' archives run on any CPU"):
        tsbridge.export(SimpleModel(), torch.randn(4, 10), tmp_path / "m.pt", target="x86-64-v3")
    assert not list(tmp_path.iterdir())


# ── a package this CPU cannot run ──


@pytest.mark.writes_invalid_manifests  # deliberately refused at load
def test_package_needing_a_missing_feature_is_refused(packages, tmp_path):
    feature = lacking()
    path = with_cpu(
        packages["simple"].path,
        tmp_path / "future.pt2",
        lambda cpu: cpu.update(target="native", features=cpu["features"] + [feature]),
    )
    summary = "avx512f" if "avx512f" in _core.cpu_features() else "avx2"
    with pytest.raises(tsbridge.UnsupportedCpuError) as raised:
        tsbridge.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: needs {feature}; this CPU has {summary} (compiled for target native)")
    assert "\n" not in message
    assert isinstance(raised.value, tsbridge.LoadError)


@pytest.mark.writes_invalid_manifests
def test_unknown_feature_and_other_arch_are_refused(packages, tmp_path):
    unknown = with_cpu(packages["simple"].path, tmp_path / "unknown.pt2", lambda cpu: cpu["features"].append("avx10_9"))
    with pytest.raises(tsbridge.UnsupportedCpuError, match=r"needs avx10_9 \(unknown to this runtime\)"):
        tsbridge.load(unknown)
    arm = with_cpu(packages["simple"].path, tmp_path / "arm.pt2", lambda cpu: cpu.update(arch="aarch64"))
    with pytest.raises(tsbridge.UnsupportedCpuError, match=r"compiled for aarch64 CPUs; this machine is x86_64"):
        tsbridge.load(arm)


@pytest.mark.writes_invalid_manifests
def test_tsrun_refuses_it_with_its_load_exit_code(packages, tmp_path, tsrun_path):
    feature = lacking()
    path = with_cpu(packages["simple"].path, tmp_path / "future.pt2", lambda cpu: cpu["features"].append(feature))
    result = subprocess.run([tsrun_path, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tsrun: error: {path}: needs {feature}; this CPU has ")


@pytest.mark.writes_invalid_manifests
def test_package_from_an_older_torch_is_refused(packages, tmp_path):
    # A .pt2's shared library is built against one LibTorch: older is refused too.
    manifest = manifest_of(packages["simple"].path)
    manifest["torch_version"] = "2.12.1"
    manifest.pop("integrity")
    path = tmp_path / "older.pt2"
    archive.rewrite(str(packages["simple"].path), path, manifest)
    with pytest.raises(
        tsbridge.UnsupportedVersionError,
        match=r"a \.pt2 compiled with torch 2\.12\.1; this "
        r"runtime's LibTorch is 2\.13",
    ):
        tsbridge.load(path)


@pytest.mark.writes_invalid_manifests
def test_malformed_cpu_record_is_refused(packages, tmp_path):
    path = with_cpu(packages["simple"].path, tmp_path / "bad.pt2", lambda cpu: cpu.update(features="avx2"))
    with pytest.raises(
        tsbridge.InvalidArchiveError,
        match=r"malformed tsbridge manifest: cpu\.features: expected "
        r"an array, got string",
    ):
        tsbridge.load(path)


def test_tsbridge_info_shows_the_cpu_record(packages):
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "tsbridge", "info", str(packages["simple"].path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("cpu"))
    assert "x86-64-v3 (x86_64, vec ISA avx2, threads runtime); needs cx16," in line and line.endswith("xsave")
