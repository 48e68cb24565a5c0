"""No torch.jit deprecation warning escapes tsbridge, whatever its category:
torch 2.13 warns with DeprecationWarning, torch 2.15 with FutureWarning."""

import os
import re
import warnings

import pytest
import torch

import tsbridge
from models import ControlFlow
from tsbridge._quiet import TORCH_JIT_WARNING

CALLS = ("script", "trace", "freeze", "optimize_for_inference", "save", "load")


@pytest.fixture(params=["as this torch warns", "as torch 2.15 warns"])
def simulated(request, monkeypatch):
    """None, or the category torch.jit's calls are made to warn with besides their own."""
    if request.param == "as torch 2.15 warns":
        for name in CALLS:
            original = getattr(torch.jit, name)

            def warns(*args, _original=original, _name=name, **kwargs):
                message = f"`torch.jit.{_name}` is deprecated. Please switch to `torch.export`."
                warnings.warn(message, FutureWarning, stacklevel=2)
                return _original(*args, **kwargs)

            monkeypatch.setattr(torch.jit, name, warns)
        return FutureWarning
    return None


def _torch_jit_warnings(caught) -> list:
    return [w.category for w in caught if re.match(TORCH_JIT_WARNING, str(w.message))]


def test_export_lets_no_torch_jit_warning_through(simulated, tmp_path):
    model, x = torch.nn.Linear(3, 2).eval(), torch.randn(1, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tsbridge.export(model, x, tmp_path / "model.pt")
        tsbridge.save(tsbridge.trace(model, x), tmp_path / "traced.pt")
        tsbridge.verify(tmp_path / "model.pt")
        escaped = _torch_jit_warnings(caught)
        torch.jit.script(model)  # the control: torch.jit itself does warn
        control = _torch_jit_warnings(caught)
    assert not escaped
    assert control and (simulated is None or simulated in control)


def test_the_patterns_cover_what_torch_says():
    # torch's own words on 2.13-2.15, and on Python 3.14+.
    for said in (
        "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`.",
        "`torch.jit.freeze` is deprecated. Please use `torch.compile` instead.",
        "`torch.jit.load` is not supported in Python 3.14+ and may break. Please switch to `torch.export`.",
    ):
        assert re.match(TORCH_JIT_WARNING, said)
    # pytest's filter for the tests' own torch.jit calls is the same pattern.
    with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")) as pyproject:
        assert f"'ignore:{TORCH_JIT_WARNING}'" in pyproject.read()


def test_a_failed_torch_export_prints_no_graph_and_leaves_the_examples_alone(tmp_path, capfd):
    # torch.export cannot capture ControlFlow's data-dependent branch; format="auto" keeps
    # the TorchScript archive and says why in the report, not in a graph dump on stderr.
    x = torch.randn(4, 4)
    report = tsbridge.export(ControlFlow().eval(), x, tmp_path / "m.pt", format="auto")
    out, err = capfd.readouterr()
    assert report.format == "torchscript" and report.selection is not None
    assert "def forward" not in out + err
    assert x.__dict__ == {}  # no torch.export marks left on the caller's tensor
