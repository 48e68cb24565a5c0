"""Bad input to the Python API and the C++ runtime: each is one clear
exception of the right class, never a crash."""

import json
import os

import pytest
import torch

import tsbridge
from models import SimpleModel


@pytest.fixture
def simple_archive(tmp_path):
    path = tmp_path / "simple.pt"
    tsbridge.save(tsbridge.script(SimpleModel().eval()), path, example_inputs=torch.randn(5, 10))
    return path


def test_missing_file():
    with pytest.raises(tsbridge.ModelNotFoundError, match="no such file"):
        tsbridge.load("/nonexistent/model.pt")


def test_folder_is_not_a_model(tmp_path):
    with pytest.raises(tsbridge.ModelNotFoundError, match="not a regular file"):
        tsbridge.load(tmp_path)


def test_not_a_torchscript_archive(tmp_path):
    path = tmp_path / "junk.pt"
    path.write_bytes(b"\x00\x01 definitely not a zip" * 100)
    with pytest.raises(tsbridge.InvalidArchiveError, match="not a TorchScript archive"):
        tsbridge.load(path)


def test_a_zip_that_is_not_torchscript(tmp_path):
    import zipfile

    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(tsbridge.LoadError):
        tsbridge.load(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_archive(simple_archive, fraction):
    data = simple_archive.read_bytes()
    simple_archive.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(tsbridge.InvalidArchiveError):
        tsbridge.load(simple_archive)


def test_unknown_method(simple_archive):
    model = tsbridge.load(simple_archive)
    with pytest.raises(tsbridge.MethodNotFoundError, match=r"no method 'predict' \(available: forward\)"):
        model.run("predict", torch.randn(5, 10))
    with pytest.raises(AttributeError):
        _ = model.predict


def test_wrong_number_of_inputs(simple_archive):
    model = tsbridge.load(simple_archive)
    with pytest.raises(tsbridge.InputError, match=r"takes 1 input\(s\) \(x: Tensor\), got 2"):
        model(torch.randn(5, 10), torch.randn(5, 10))
    with pytest.raises(tsbridge.InputError, match="got 0"):
        model()


def test_wrong_kind_of_input(simple_archive):
    model = tsbridge.load(simple_archive)
    with pytest.raises(tsbridge.InputError, match="input 'x' of method 'forward': expected Tensor, got str"):
        model("a string")


def test_failure_inside_the_model_names_the_cause(tmp_path):
    simple_archive = tmp_path / "shapeless.pt"  # no shapes recorded: LibTorch itself meets the bad input
    tsbridge.save(tsbridge.script(SimpleModel().eval()), simple_archive)
    model = tsbridge.load(simple_archive)
    with pytest.raises(tsbridge.InferenceError, match="shapes cannot be multiplied"):
        model(torch.randn(5, 7))
    # The model still works after a failed call.
    x = torch.randn(2, 10)
    torch.testing.assert_close(model(x), torch.jit.load(str(simple_archive))(x), rtol=0, atol=0)


def test_cuda_when_there_is_none(simple_archive):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present; this checks the CPU-only path")
    with pytest.raises(tsbridge.DeviceUnavailableError, match="no CUDA device"):
        tsbridge.load(simple_archive, map_location="cuda")


def test_bad_device_name(simple_archive):
    with pytest.raises(tsbridge.InvalidArgumentError, match="invalid device 'gpu0'"):
        tsbridge.load(simple_archive, map_location="gpu0")


def _archive_with_manifest(tmp_path, manifest_text):
    path = tmp_path / "custom.pt"
    with tsbridge._quiet.quiet_torch_jit():
        scripted = torch.jit.script(SimpleModel().eval())
        torch.jit.save(scripted, str(path), _extra_files={"tsbridge/manifest.json": manifest_text})
    return path


@pytest.mark.writes_invalid_manifests
def test_newer_manifest_format_is_refused(tmp_path):
    path = _archive_with_manifest(tmp_path, json.dumps({"format_version": 99, "tsbridge_version": "9.0.0"}))
    with pytest.raises(tsbridge.UnsupportedVersionError, match="format 99 is not supported.*reads format 1"):
        tsbridge.load(path)


@pytest.mark.writes_invalid_manifests
@pytest.mark.parametrize(
    "text, complaint",
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected an object"),
        ('{"format_version": "1"}', "format_version"),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "tsbridge_version": "0",
                    "torch_version": "0",
                    "method": "script",
                    "frozen": False,
                    "inputs": [{"name": "x", "type": "Tensor", "shape": [5, -1]}],
                    "outputs": [],
                }
            ),
            "inputs[0].shape",
        ),
        (
            json.dumps(
                {
                    "format_version": 1,
                    "tsbridge_version": "0",
                    "torch_version": "0",
                    "method": "script",
                    "frozen": "yes",
                    "inputs": [],
                    "outputs": [],
                }
            ),
            "frozen",
        ),
    ],
)
def test_malformed_manifest_is_refused(tmp_path, text, complaint):
    path = _archive_with_manifest(tmp_path, text)
    with pytest.raises(tsbridge.InvalidArchiveError, match="malformed tsbridge manifest") as error:
        tsbridge.load(path)
    assert complaint in str(error.value)


def test_save_needs_a_script_module(tmp_path):
    with pytest.raises(TypeError, match="save expects a ScriptModule"):
        tsbridge.save(SimpleModel(), tmp_path / "m.pt")


def test_save_refuses_metadata_that_is_not_json(tmp_path):
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        tsbridge.save(tsbridge.script(SimpleModel()), tmp_path / "m.pt", metadata={"when": object()})
    assert not os.listdir(tmp_path)


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "m.pt"

    def broken_save(*args, **kwargs):
        with open(args[1], "wb") as half:
            half.write(b"half written")
        raise OSError("disk full")

    monkeypatch.setattr(torch.jit, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        tsbridge.save(tsbridge.script(SimpleModel()), target)
    assert not os.listdir(tmp_path)


def test_trace_needs_example_inputs():
    with pytest.raises(ValueError, match="example_inputs"):
        tsbridge.trace(SimpleModel(), None)


def test_script_method_name_must_exist():
    with pytest.raises(ValueError, match="has no method 'predict'"):
        tsbridge.script(SimpleModel(), method_name="predict")
