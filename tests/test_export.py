"""tsbridge.export catches what TorchScript gets wrong silently. Each hazard
test fails without its check: plain torch.jit.trace of the same model gives a
module that silently disagrees with eager PyTorch."""

import json
import os
import warnings
import zipfile
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel


class SignBranch(nn.Module):
    """Control flow on a tensor's value: a trace keeps one branch."""

    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x - 1


class LoopOverLength(nn.Module):
    """A loop whose count is the sequence length: a trace unrolls it once."""

    def forward(self, x):
        total = torch.zeros_like(x[:, 0])
        for i in range(x.shape[1]):
            total = total + x[:, i] * (i + 1)
        return total


class NumpyInside(nn.Module):
    """Numpy inside forward: unscriptable, and a trace bakes the numpy result in."""

    def forward(self, x):
        scale = float(np.abs(x.detach().numpy()).mean())
        return x * scale


class HardCodedBatch(nn.Module):
    """A reshape that turns the batch size into a Python int."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 4)

    def forward(self, x):
        batch = int(x.shape[0])
        return self.linear(x).reshape(batch, 2, 2)


class WithDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 10)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.dropout(self.linear(x))


class Unscriptable(nn.Module):
    """*args is not TorchScript; tracing it is fine."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 3)

    def forward(self, *xs):
        return self.linear(xs[0])


class DictInTupleOut(nn.Module):
    def forward(self, inputs: dict[str, torch.Tensor]):
        return inputs["a"] + inputs["b"], inputs["a"].sum(dim=1)


def plain_trace(model, *examples):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.trace(model.eval(), examples, check_trace=False)


def read_manifest(path):
    with zipfile.ZipFile(path) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("extra/tsbridge/manifest.json")]
        return json.loads(archive.read(name))


def test_traced_branch_is_caught(tmp_path):
    x = torch.rand(4, 3) + 0.1  # sum > 0: the trace keeps the `x * 2` branch
    traced = plain_trace(SignBranch(), x)
    assert not torch.equal(traced(-x), SignBranch()(-x)), "plain tracing diverges silently"

    with pytest.raises(tsbridge.ExportError, match="negated values.*capture='script'") as error:
        tsbridge.export(SignBranch(), x, tmp_path / "m.pt", capture="trace")
    assert "TracerWarning" in str(error.value)
    assert not os.path.exists(tmp_path / "m.pt")

    report = tsbridge.export(SignBranch(), x, tmp_path / "m.pt")  # auto scripts it
    assert report.capture == "script"
    model = tsbridge.load(tmp_path / "m.pt")
    torch.testing.assert_close(model(-x), SignBranch()(-x))


def test_loop_count_from_input_size_is_caught(tmp_path):
    x = torch.randn(2, 3)
    traced = plain_trace(LoopOverLength(), x)
    longer = torch.randn(2, 5)
    assert not torch.allclose(traced(longer), LoopOverLength()(longer)), "plain tracing diverges silently"

    with pytest.raises(tsbridge.ExportError, match=r"length=\d"):
        tsbridge.export(LoopOverLength(), x, tmp_path / "m.pt", capture="trace", dynamic_dims={"x": {1: "length"}})
    report = tsbridge.export(LoopOverLength(), x, tmp_path / "m.pt", dynamic_dims={"x": {1: "length"}})
    assert report.capture == "script"
    assert read_manifest(tmp_path / "m.pt")["inputs"][0]["shape"] == [2, "length"]


def test_numpy_inside_forward_is_caught(tmp_path):
    x = torch.randn(3, 4)
    traced = plain_trace(NumpyInside(), x)
    other = torch.randn(3, 4) * 10
    assert not torch.allclose(traced(other), NumpyInside()(other)), "plain tracing diverges silently"

    with pytest.raises(tsbridge.ExportError, match="random values") as error:
        tsbridge.export(NumpyInside(), x, tmp_path / "m.pt")
    assert "scripting failed too" not in str(error.value)


def test_dropout_left_on_is_switched_off_and_reported(tmp_path):
    model = WithDropout().train()
    x = torch.randn(4, 10)
    report = tsbridge.export(model, x, tmp_path / "m.pt")
    assert model.training and model.dropout.training, "the model's mode is restored"
    assert any("training mode" in warning for warning in report.warnings)
    runtime = tsbridge.load(tmp_path / "m.pt")
    model.eval()
    torch.testing.assert_close(runtime(x), model(x))
    torch.testing.assert_close(runtime(x), runtime(x))  # no dropout: deterministic


def test_unscriptable_model_falls_back_to_trace_and_says_why(tmp_path):
    x = torch.randn(2, 10)
    model = Unscriptable().eval()
    report = tsbridge.export(model, x, tmp_path / "m.pt")
    assert report.capture == "trace"
    assert "variable number of arguments" in report.capture_reason
    assert "forward(self, *xs)" in report.capture_reason
    runtime = tsbridge.load(tmp_path / "m.pt")
    torch.testing.assert_close(runtime(x), model(x))


def test_dict_input_and_tuple_output(tmp_path):
    inputs = {"a": torch.randn(3, 4), "b": torch.randn(3, 4)}
    report = tsbridge.export(DictInTupleOut(), (inputs,), tmp_path / "m.pt")
    assert report.capture == "script"
    manifest = read_manifest(tmp_path / "m.pt")
    assert [o["path"] for o in manifest["outputs"]] == [[0], [1]]
    runtime = tsbridge.load(tmp_path / "m.pt")
    other = {"a": torch.randn(6, 4), "b": torch.randn(6, 4)}
    for got, want in zip(runtime(other), DictInTupleOut()(other), strict=True):
        torch.testing.assert_close(got, want)


def test_hard_coded_batch_in_a_trace_is_caught(tmp_path):
    x = torch.randn(5, 10)
    model = HardCodedBatch().eval()
    traced = plain_trace(model, x)
    with pytest.raises(RuntimeError):
        traced(torch.randn(3, 10))  # plain tracing breaks at another batch size

    with pytest.raises(tsbridge.ExportError, match=r"batch=\d+: raised .*shape"):
        tsbridge.export(model, x, tmp_path / "m.pt", capture="trace")
    report = tsbridge.export(model, x, tmp_path / "m.pt")
    assert report.dynamic_dims == {"x": {0: "batch"}}
    manifest = read_manifest(tmp_path / "m.pt")
    assert manifest["inputs"][0]["shape"] == ["batch", 10]
    assert manifest["outputs"][0]["shape"] == ["batch", 2, 2]


def test_check_inputs_are_checked(tmp_path):
    x = torch.rand(4, 3) + 0.1
    with pytest.raises(tsbridge.ExportError, match=r"check_inputs\[0\]"):
        tsbridge.export(
            SignBranch(),
            x,
            tmp_path / "m.pt",
            capture="trace",
            check_inputs=[(-torch.rand(4, 3) - 0.1,)],
            dynamic_dims={},
        )


def test_report_and_manifest_describe_the_export(tmp_path):
    model = SimpleModel().eval()
    x = torch.randn(5, 10)
    report = tsbridge.export(
        model, x, tmp_path / "m.pt", metadata={"labels": ["yes"]}, input_names=["features"], output_names=["score"]
    )
    assert report.frozen and report.capture == "script"
    assert report.file_bytes == os.path.getsize(tmp_path / "m.pt")
    assert {c.name for c in report.checks} >= {"example inputs", "random values", "negated values"}
    assert all(c.passed for c in report.checks)
    text = str(report)
    assert "example inputs" in text and "frozen" in text
    manifest = read_manifest(tmp_path / "m.pt")
    assert manifest["frozen"] is True
    assert manifest["inputs"][0]["name"] == "features" and manifest["inputs"][0]["shape"] == ["batch", 10]
    assert manifest["outputs"][0]["name"] == "score"
    assert manifest["golden"]["entry"] == "tsbridge/golden.pt"
    assert manifest["metadata"] == {"labels": ["yes"]}
    import jsonschema

    jsonschema.validate(manifest, tsbridge.manifest.schema())
    runtime = tsbridge.load(tmp_path / "m.pt")
    torch.testing.assert_close(runtime(x), model(x))


def test_freeze_off_keeps_the_module_unfrozen(tmp_path):
    report = tsbridge.export(SimpleModel(), torch.randn(2, 10), tmp_path / "m.pt", freeze=False)
    assert not report.frozen and read_manifest(tmp_path / "m.pt")["frozen"] is False


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(model=42), TypeError, "model must be an nn.Module or a function"),
        (dict(example_inputs=None), ValueError, "example_inputs is required"),
        (dict(example_inputs=(object(),)), TypeError, r"example_inputs\[0\]: a object cannot be a model input"),
        (dict(capture="onnx"), ValueError, "capture must be one of"),
        (dict(input_names=["x", "y"]), ValueError, "input_names has 2 names, but there are 1 example inputs"),
        (dict(input_names=[""]), ValueError, "input_names must be distinct non-empty strings"),
        (dict(metadata={"x": object()}), TypeError, "metadata must be JSON-serialisable"),
        (dict(f="/nonexistent-folder/m.pt"), tsbridge.ExportError, "folder /nonexistent-folder does not exist"),
        (dict(dynamic_dims={"y": {0: "batch"}}), ValueError, "no input named 'y'"),
        (dict(dynamic_dims={"x": {5: "batch"}}), ValueError, "dim 5 out of range"),
        (dict(example_inputs=torch.randn(5, 7)), tsbridge.ExportError, "fails in eager PyTorch on example_inputs"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, error, message):
    arguments = dict(model=SimpleModel(), example_inputs=torch.randn(2, 10), f=tmp_path / "m.pt")
    arguments.update(kwargs)
    with pytest.raises(error, match=message):
        tsbridge.export(arguments.pop("model"), arguments.pop("example_inputs"), arguments.pop("f"), **arguments)
    assert not os.path.exists(tmp_path / "m.pt")


def test_a_plain_function_exports(tmp_path):
    def gelu_scale(x):
        return torch.nn.functional.gelu(x) * 3

    x = torch.randn(4, 4)
    tsbridge.export(gelu_scale, x, tmp_path / "f.pt")
    torch.testing.assert_close(tsbridge.load(tmp_path / "f.pt")(x), gelu_scale(x))


class Pair(NamedTuple):
    low: torch.Tensor
    high: torch.Tensor


class NamedTupleOut(nn.Module):
    def forward(self, x) -> Pair:
        return Pair(x.clamp(max=0), x.clamp(min=0))


def test_golden_sample_replays_in_cpp(tmp_path):
    path = tmp_path / "m.pt"
    tsbridge.export(NamedTupleOut(), torch.randn(3, 4), path)
    result = tsbridge.load(path).self_test()
    assert result.passed, result
    assert [o.name for o in result.outputs] == ["output[0]", "output[1]"]


def test_a_cnn_export_loads_back_everywhere(tmp_path):
    """optimize_for_inference output of a conv net can save but not load; the
    archive export writes must load in Python and C++ and match eager."""
    from models import ConvNet

    model = ConvNet().eval()
    x = torch.randn(2, 3, 8, 8)
    report = tsbridge.export(model, x, tmp_path / "cnn.pt")
    assert report.frozen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        python = torch.jit.load(str(tmp_path / "cnn.pt"))
    runtime = tsbridge.load(tmp_path / "cnn.pt")
    torch.testing.assert_close(python(x), model(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(runtime(x), model(x), rtol=1e-4, atol=1e-5)
    assert runtime.self_test().passed


def test_script_with_method_name_after_plain_script():
    class TwoWays(nn.Module):
        def forward(self, x):
            return x + 1

        def other(self, x):
            return x * 3

    tsbridge.script(TwoWays())  # caches the class's compiled type without `other`
    scripted = tsbridge.script(TwoWays(), method_name="other")
    torch.testing.assert_close(scripted.other(torch.ones(2)), torch.full((2,), 3.0))
