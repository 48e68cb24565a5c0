"""A torch whose torch.jit raises (pytorch/pytorch#189705 proposes it): tsbridge
says so in one line, and format="auto" goes on with the .pt2 alone."""

import pytest
import torch

import tsbridge
from models import SimpleModel


@pytest.fixture
def removed(monkeypatch):
    """torch.jit.script and torch.jit.trace raise, as the proposal has them do."""

    def raises(*args, **kwargs):
        raise RuntimeError("torch.jit has been removed\n(set TORCH_JIT_ENABLED=1 to use it for now)")

    monkeypatch.setattr(torch.jit, "script", raises)
    monkeypatch.setattr(torch.jit, "trace", raises)


def _says_torch_jit_is_unavailable(error: Exception, call: str) -> None:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"torch.jit is unavailable in torch {torch.__version__} (torch.jit.{call} raised")
    assert "torch.jit has been removed" in message
    assert "format='aoti'" in message and "tsbridge migrate" in message


def test_script_and_trace_say_torch_jit_is_unavailable(removed):
    model = SimpleModel().eval()
    with pytest.raises(tsbridge.TorchScriptUnavailableError) as scripted:
        tsbridge.script(model)
    _says_torch_jit_is_unavailable(scripted.value, "script")
    with pytest.raises(tsbridge.TorchScriptUnavailableError) as traced:
        tsbridge.trace(model, torch.randn(2, 10))
    _says_torch_jit_is_unavailable(traced.value, "trace")


def test_default_export_stops_with_one_line(removed, tmp_path):
    with pytest.raises(tsbridge.ExportError) as raised:
        tsbridge.export(SimpleModel().eval(), torch.randn(2, 10), tmp_path / "model.pt")
    _says_torch_jit_is_unavailable(raised.value, "script")
    assert not (tmp_path / "model.pt").exists()


def test_a_model_that_cannot_be_scripted_is_still_the_models_fault():
    # torch.jit works here: the failure is the model's, and export traces instead.
    class Unscriptable(torch.nn.Module):
        def forward(self, x):
            return x * len({id(x)})  # a set of ints: not TorchScript

    with pytest.raises(Exception) as raised:
        tsbridge.script(Unscriptable())
    assert not isinstance(raised.value, tsbridge.TorchScriptUnavailableError)


@pytest.mark.aoti
def test_auto_keeps_the_pt2_alone(removed, tmp_path):
    model, x = SimpleModel().eval(), torch.randn(4, 10)
    path = tmp_path / "model.pt2"
    report = tsbridge.export(model, x, path, format="auto")  # one AOTInductor compile (~30 s)
    assert report.format == "aoti" and report.selection["chosen"] == "aoti"
    skipped = [w for w in report.warnings if w.startswith("format='auto': no torchscript candidate: ")]
    assert len(skipped) == 1 and f"torch.jit is unavailable in torch {torch.__version__}" in skipped[0]
    with torch.no_grad():
        torch.testing.assert_close(tsbridge.load(path)(x), model(x))


def test_auto_with_neither_format_says_why_for_both(removed, tmp_path):
    class ReturnsAnInt(torch.nn.Module):  # refused by the .pt2 path before any compile
        def forward(self, x):
            return x + 1, 2

    with pytest.raises(tsbridge.ExportError) as raised:
        tsbridge.export(ReturnsAnInt(), torch.randn(2, 3), tmp_path / "model.pt", format="auto")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("format='auto': neither format can be built here: ")
    assert "output[1] is an int" in message and "torch.jit is unavailable" in message
