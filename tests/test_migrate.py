"""tsbridge.migrate / `tsbridge migrate`: TorchScript archives to checked .pt2
packages through TS2EPConverter, compared here with the TorchScript archive
and the eager model; refusals are one line and leave nothing written."""

import json
import subprocess
import sys
import zipfile

import jsonschema
import pytest
import torch
from torch import nn

import tsbridge
from models import ControlFlow, DictOutput, LSTMModel

pytestmark = pytest.mark.aoti


def manifest_of(path):
    with zipfile.ZipFile(path) as package:
        name = next(n for n in package.namelist() if n.endswith("/extra/tsbridge/manifest.json"))
        return json.loads(package.read(name))


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 4)

    def forward(self, a, b):
        return torch.relu(self.linear(a * b + a))


def test_tsbridge_archive_migrates_with_names_metadata_and_dims(tmp_path):
    model = DictOutput().eval()
    old = tmp_path / "old.pt"
    tsbridge.export(model, torch.randn(4, 6), old, input_names=["features"], metadata={"labels": ["a", "b", "c"]})
    new = tmp_path / "new.pt2"
    report = tsbridge.migrate(old, new)
    assert report.format == "aoti" and "TS2EPConverter" in report.capture_reason
    manifest = manifest_of(new)
    assert manifest["metadata"] == {"labels": ["a", "b", "c"]}
    assert [s["name"] for s in manifest["inputs"]] == ["features"]
    assert manifest["inputs"][0]["shape"] == ["batch", 6]
    assert manifest["migrated_from"]["file"] == "old.pt" and manifest["migrated_from"]["method"] == "script"
    assert len(manifest["migrated_from"]["sha256"]) == 64
    assert manifest["cpu"]["target"] == "x86-64-v3"
    jsonschema.validate(manifest, tsbridge.manifest.schema())
    package = tsbridge.load(new)
    assert package.format == "aoti"
    x = torch.randn(7, 6)  # another batch size, fresh values
    got, expected = package(x), model(x)
    assert set(got) == {"logits", "probs", "top"}
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-5)
    assert package.self_test().passed


def test_plain_torchscript_file_migrates_from_the_cli_with_shapes(tmp_path):
    model = TwoInputs().eval()
    old = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(model), str(old))
    new = tmp_path / "plain.pt2"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tsbridge",
            "migrate",
            str(old),
            str(new),
            "--shape",
            "a=3x8",
            "--shape",
            "b=3x8:float32",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    package = tsbridge.load(new)
    # The examples were tsrun's stand-ins for the given shapes: torch's generator seeded 0, a then b.
    generator = torch.Generator().manual_seed(0)
    expected = (torch.randn(3, 8, generator=generator), torch.randn(3, 8, generator=generator))
    golden = tsbridge._core.read_golden_sample(package._core).inputs
    assert all(torch.equal(g, e) for g, e in zip(golden, expected, strict=True))
    a, b = torch.randn(5, 8), torch.randn(5, 8)  # another batch size
    torch.testing.assert_close(package(a, b), model(a, b), rtol=1e-5, atol=1e-5)
    assert [s.name for s in package.inputs()] == ["a", "b"]
    assert manifest_of(new)["migrated_from"]["method"] == "unknown"


def test_archive_with_fixed_shapes_migrates_to_a_package_of_those_shapes(tmp_path):
    # No dims declared means every dim fixed: nothing is inferred for the package.
    model = TwoInputs().eval()
    a, b = torch.randn(2, 8), torch.randn(2, 8)
    old = tmp_path / "fixed.pt"
    tsbridge.export(model, (a, b), old, dynamic_dims={})
    new = tmp_path / "fixed.pt2"
    report = tsbridge.migrate(old, new)
    assert report.dynamic_dims == {}
    assert [s["shape"] for s in manifest_of(new)["inputs"]] == [[2, 8], [2, 8]]
    package = tsbridge.load(new)
    torch.testing.assert_close(package(a, b), model(a, b), rtol=1e-5, atol=1e-5)
    with pytest.raises(tsbridge.InputError, match=r"expected float32\[2,8\], got float32\[5,8\]"):
        package(torch.randn(5, 8), torch.randn(5, 8))


def test_dims_the_converter_fixed_are_fixed_in_the_package(tmp_path):
    # TS2EPConverter specialises the scripted LSTM's batch and seq to the example's
    # sizes: a manifest still calling them dynamic would let other sizes reach kernels
    # compiled for one.
    model = LSTMModel().eval()
    x = torch.randn(2, 7, 6)
    old = tmp_path / "lstm.pt"
    tsbridge.export(model, x, old, dynamic_dims={"x": {0: "batch", 1: "seq"}})
    new = tmp_path / "lstm.pt2"
    report = tsbridge.migrate(old, new)
    assert report.dynamic_dims == {}
    for dim in ("batch", "seq"):
        assert any(w.startswith(f"dim '{dim}' is compiled to the example's size") for w in report.warnings)
    assert manifest_of(new)["inputs"][0]["shape"] == [2, 7, 6]
    package = tsbridge.load(new)
    with torch.no_grad():
        torch.testing.assert_close(package(x), model(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(tsbridge.InputError, match=r"expected float32\[2,7,6\], got float32\[1,7,6\]"):
        package(torch.randn(1, 7, 6))


# ── refusals: one line, nothing written ──


def scripted(tmp_path, model, name="old.pt"):
    path = tmp_path / name
    torch.jit.save(torch.jit.script(model.eval()), str(path))
    return path


def test_models_the_converter_cannot_take_are_refused_with_a_way_out(tmp_path):
    # (A scripted 2-layer LSTM converts in torch 2.13: it is not refused.)
    old = scripted(tmp_path, ControlFlow())
    with pytest.raises(tsbridge.ExportError) as raised:
        tsbridge.migrate(old, tmp_path / "new.pt2", shapes={"x": "3x4"})
    message = str(raised.value)
    assert "\n" not in message
    assert "TS2EPConverter cannot convert scripted control flow (prim::If / prim::Loop" in message
    assert "format='aoti'" in message and "stay on TorchScript" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pt"]


class OptionalArgument(nn.Module):
    """An Optional[int] argument: TS2EPConverter fails on it with an internal assert."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x, k: int | None = None):
        y = self.linear(x)
        if k is None:
            return y
        return y * k


def test_non_tensor_arguments_are_refused_before_the_converter(tmp_path):
    old = scripted(tmp_path, OptionalArgument())
    with pytest.raises(tsbridge.ExportError) as raised:
        tsbridge.migrate(old, tmp_path / "new.pt2", shapes={"x": "3x4"})
    message = str(raised.value)
    assert "\n" not in message
    assert "forward takes non-tensor inputs (k: Optional[int]); .pt2 packages take tensors only" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pt"]


def test_archive_without_manifest_or_shapes_is_refused(tmp_path):
    old = scripted(tmp_path, TwoInputs())
    with pytest.raises(tsbridge.ExportError, match=r"no input shapes for 'a' .* --shape a=1x3x224x224"):
        tsbridge.migrate(old, tmp_path / "new.pt2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pt"]


def test_not_torchscript_and_pt2_inputs_are_refused(tmp_path, packages):
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    with pytest.raises(tsbridge.ExportError, match=r"cannot migrate .*junk\.pt: "):
        tsbridge.migrate(junk, tmp_path / "new.pt2")
    with pytest.raises(tsbridge.ExportError, match=r"it is already a \.pt2 package"):
        tsbridge.migrate(packages["simple"].path, tmp_path / "new.pt2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.pt"]


def test_unwritable_output_and_bad_shape_are_refused(tmp_path):
    old = scripted(tmp_path, TwoInputs())
    with pytest.raises(tsbridge.ExportError, match=r"folder .*missing does not exist"):
        tsbridge.migrate(old, tmp_path / "missing" / "new.pt2", shapes={"a": (1, 8), "b": (1, 8)})
    with pytest.raises(tsbridge.ExportError, match=r"--shape names c, but forward takes a, b"):
        tsbridge.migrate(old, tmp_path / "new.pt2", shapes={"c": (1, 8)})
    result = subprocess.run(
        [sys.executable, "-m", "tsbridge", "migrate", str(old), str(tmp_path / "n.pt2"), "--shape", "a=1xq"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2  # a usage error, in the one NAME=DIMS[:DTYPE] grammar's words
    assert result.stderr.strip() == (
        "tsbridge: error: --shape: expected NAME=DIMS[:DTYPE] like x=1x3x224x224:float32 or x=batch,10, "
        "got 'a=1xq': dim 1 'q' is a dynamic dim, and this command makes concrete inputs: give its size"
    )
    with pytest.raises(tsbridge.ExportError, match=r"^shapes\['a'\]: expected NAME=DIMS\[:DTYPE\] .* got 'a=1x8:f': "):
        tsbridge.migrate(old, tmp_path / "new.pt2", shapes={"a": "1x8:f", "b": (1, 8)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pt"]
