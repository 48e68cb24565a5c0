"""What tsbridge.trace and export(capture="auto") promise beyond torch.jit:
dict outputs trace, tracing runs under no_grad, and a script that does not
match eager falls back to a trace that does, saying so."""

import pytest
import torch
from torch import nn

import tsbridge
from models import DictOutput


class ScriptsDifferently(nn.Module):
    """Like torchvision's googlenet: its scripted form returns a tuple where
    eager (in eval) returns one tensor."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 3)

    def forward(self, x):
        y = self.linear(x)
        if torch.jit.is_scripting():
            return (y, y.sum(dim=1))
        return y


def test_auto_falls_back_to_a_trace_when_the_script_does_not_match(tmp_path):
    model = ScriptsDifferently().eval()
    x = torch.randn(4, 6)
    report = tsbridge.export(model, x, tmp_path / "m.pt")
    assert report.capture == "trace"
    assert "the scripted module does not match eager PyTorch" in report.capture_reason
    assert "traced instead" in report.capture_reason and report.capture_reason in report.warnings
    loaded = tsbridge.load(tmp_path / "m.pt")
    assert loaded.manifest.capture == "trace"
    for sample in (x, torch.randn(7, 6)):
        torch.testing.assert_close(loaded(sample), model(sample))


def test_script_asked_for_is_not_replaced(tmp_path):
    with pytest.raises(tsbridge.ExportError, match="the scripted module does not match eager PyTorch") as error:
        tsbridge.export(ScriptsDifferently().eval(), torch.randn(4, 6), tmp_path / "m.pt", capture="script")
    # The C++ comparison names each leaf that differs: eager's one tensor, the script's pair.
    assert (
        "on example inputs: output: missing from the model's result; output[0]: not in the expected result; "
        "output[1]: not in the expected result (rtol"
    ) in str(error.value)


def test_trace_takes_a_dict_output():
    model = DictOutput().eval()
    x = torch.randn(3, 6)
    traced = tsbridge.trace(model, x)
    got, expected = traced(x), model(x)
    assert got.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key])


def test_export_by_trace_takes_a_dict_output(tmp_path):
    model = DictOutput().eval()
    x = torch.randn(3, 6)
    report = tsbridge.export(model, x, tmp_path / "d.pt", capture="trace")
    assert report.capture == "trace"
    got = tsbridge.load(tmp_path / "d.pt")(x)
    for key, value in model(x).items():
        torch.testing.assert_close(got[key], value)


def test_strict_true_still_refuses_a_dict_output():
    with pytest.raises(RuntimeError, match="dict at the output of the tracer"):
        tsbridge.trace(DictOutput().eval(), torch.randn(3, 6), strict=True)


def test_trace_of_a_transformer_encoder():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=2).eval()
    x = torch.randn(2, 5, 32)
    traced = tsbridge.trace(model, x)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))
