"""The device a model runs on, checked where there is no GPU: a CUDA device
asked for and absent, a .pt2 compiled for CUDA (its manifest says so) refused
with one line before AOTInductor opens it, and the export-side rules that
keep a GPU export honest. tests/gpu/check.py runs the GPU path itself."""

import json
import subprocess
import zipfile

import jsonschema
import pytest
import torch

import tsbridge
from models import SimpleModel
from tsbridge import archive, manifest as manifest_
from tsbridge.checks import random_like
from tsbridge.errors import ExportError

pytestmark = pytest.mark.aoti

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present; this checks the CPU-only path")


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("device") / "simple.pt2"
    tsbridge.export(SimpleModel().eval(), torch.randn(4, 10), path, format="aoti")
    return path


def manifest_of(path) -> dict:
    with zipfile.ZipFile(path) as package:
        name = next(n for n in package.namelist() if n.endswith("/extra/" + manifest_.ENTRY))
        return json.loads(package.read(name))


@pytest.fixture
def cuda_package(package, tmp_path):
    """The CPU package with its manifest saying cuda, as an export with the
    model and examples on a GPU writes it: the runtime trusts the record, so
    the refusal needs no GPU to be seen."""
    manifest = manifest_of(package)
    manifest["aoti"]["device"] = "cuda"
    manifest.pop("integrity")
    path = tmp_path / "cuda.pt2"
    archive.rewrite(str(package), path, manifest)
    return path


def test_package_records_the_device_it_was_compiled_for(package):
    manifest = manifest_of(package)
    assert manifest["aoti"]["device"] == "cpu"
    jsonschema.validate(manifest, manifest_.schema())


@no_gpu
def test_cuda_asked_for_a_package_where_there_is_none(package):
    with pytest.raises(tsbridge.DeviceUnavailableError, match="no CUDA device is available"):
        tsbridge.load(package, map_location="cuda")


@no_gpu
@pytest.mark.writes_invalid_manifests  # refused at load, by design
def test_cuda_package_is_refused_on_a_machine_without_one(cuda_package):
    jsonschema.validate(manifest_of(cuda_package), manifest_.schema())
    with pytest.raises(tsbridge.DeviceUnavailableError) as raised:
        tsbridge.load(cuda_package)
    message = str(raised.value)
    assert message == (
        f"{cuda_package}: a .pt2 compiled for cuda cannot run on cpu: no CUDA device is available to this "
        "process: run it where there is one, or export it again with the model and inputs on the CPU"
    )


@no_gpu
@pytest.mark.writes_invalid_manifests
def test_tsrun_refuses_a_cuda_package_with_the_device_exit_code(cuda_package, tsrun_path):
    result = subprocess.run([tsrun_path, str(cuda_package)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 7, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"tsrun: error: {cuda_package}: a .pt2 compiled for cuda ")


@pytest.mark.writes_invalid_manifests
def test_unknown_device_kind_is_refused(package, tmp_path):
    manifest = manifest_of(package)
    manifest["aoti"]["device"] = "xpu"
    manifest.pop("integrity")
    path = tmp_path / "xpu.pt2"
    archive.rewrite(str(package), path, manifest)
    with pytest.raises(tsbridge.DeviceUnavailableError, match=r"a \.pt2 compiled for xpu cannot run on cpu"):
        tsbridge.load(path)


# ── export: what keeps a GPU export honest, seen with the meta device ──


def test_check_inputs_are_drawn_on_the_examples_device():
    # The random-value and size checks run the model on new inputs: on the
    # device the model is on, or eager PyTorch would refuse them.
    example = torch.randn(3, 4).to("meta")
    assert random_like(example).device.type == "meta"
    assert random_like(example, [5, 4]).shape == (5, 4)


class MovesItsInput(torch.nn.Module):
    def forward(self, a, b):
        return a.to(b.device) + b


def test_examples_on_two_devices_are_refused_for_a_package(tmp_path):
    # Eager PyTorch runs it; a package is compiled for one device.
    examples = (torch.ones(2, 3), torch.ones(2, 3).to("meta"))
    with pytest.raises(ExportError, match="the example inputs are on cpu and meta: put them on one device"):
        tsbridge.export(MovesItsInput(), examples, tmp_path / "m.pt2", format="aoti")


@pytest.mark.parametrize("options", [{"format": "auto"}, {"tune": True}])
def test_timing_searches_refuse_examples_off_the_cpu(tmp_path, options):
    with pytest.raises(ValueError, match="time candidates in the C\\+\\+ runtime on the CPU.*on meta"):
        tsbridge.export(SimpleModel(), torch.randn(4, 10).to("meta"), tmp_path / "m.pt", **options)
    assert not list(tmp_path.iterdir())
