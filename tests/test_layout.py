"""layout=: a conv net's archive stores its 2-D convolution weights
channels-last by default, checked like any export, with the file's interface
(inputs, outputs and their layout) unchanged; what cannot take it falls back."""

import subprocess

import numpy as np
import pytest
import torch
from torch import nn

import tsbridge
from models import MLP, ConvNet


class FeatureMap(nn.Module):
    """Convolutions whose 4-D result is the output: channels-last inside."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 4, 1)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class ViewAfterConv(nn.Module):
    """.view() needs contiguous memory: channels-last activations break it."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return self.conv(x).view(x.shape[0], -1)


def conv_weight_layouts(path) -> list[bool]:
    """For each 4-D tensor constant of the archive's frozen graph: is it channels-last?"""
    archive = torch.jit.load(str(path))  # kept alive: the graph's nodes belong to it
    constants = archive.forward.graph.findAllNodes("prim::Constant")
    tensors = [n.output().toIValue() for n in constants if n.output().type().kind() == "TensorType"]
    channels_last = torch.channels_last
    return [t.is_contiguous(memory_format=channels_last) and not t.is_contiguous() for t in tensors if t.dim() == 4]


def test_a_conv_net_is_stored_channels_last_and_matches_eager(tmp_path):
    model = ConvNet().eval()
    x = torch.randn(2, 3, 8, 8)
    report = tsbridge.export(model, x, tmp_path / "cnn.pt")
    assert report.layout == "channels_last"
    assert "layout   channels-last weights" in str(report)
    layouts = conv_weight_layouts(tmp_path / "cnn.pt")
    assert layouts and all(layouts)
    assert model.conv.weight.is_contiguous()  # the caller's model is untouched
    assert tsbridge.load(tmp_path / "cnn.pt").manifest.layout == "channels_last"
    runtime = tsbridge.load(tmp_path / "cnn.pt")
    for batch in (1, 5):
        y = torch.randn(batch, 3, 8, 8)
        torch.testing.assert_close(runtime(y), model(y), rtol=1e-5, atol=1e-5)


def test_contiguous_on_request_and_for_a_model_without_convolutions(tmp_path):
    report = tsbridge.export(ConvNet().eval(), torch.randn(2, 3, 8, 8), tmp_path / "c.pt", layout="contiguous")
    assert report.layout == "contiguous"
    assert not any(conv_weight_layouts(tmp_path / "c.pt"))
    assert tsbridge.load(tmp_path / "c.pt").manifest.layout == "contiguous"
    assert tsbridge.export(MLP().eval(), torch.randn(2, 16), tmp_path / "m.pt").layout == "contiguous"


def test_a_4d_output_keeps_eager_s_layout_so_it_falls_back(tmp_path, tsrun_path):
    model = FeatureMap().eval()
    x = torch.randn(1, 3, 6, 6)
    report = tsbridge.export(model, x, tmp_path / "f.pt")
    assert report.layout == "contiguous"
    assert any("channels-last weights not kept" in w and "output 0" in w for w in report.warnings)
    out = tsbridge.load(tmp_path / "f.pt")(x)
    assert out.is_contiguous()
    torch.testing.assert_close(out, model(x), rtol=1e-5, atol=1e-5)
    np.save(tmp_path / "x.npy", x.numpy())
    inputs, output = f"x={tmp_path / 'x.npy'}", str(tmp_path / "y.npy")
    subprocess.run([tsrun_path, str(tmp_path / "f.pt"), "--input", inputs, "--output", output], check=True, timeout=120)
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), model(x).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_a_model_that_channels_last_breaks_falls_back_with_a_note(tmp_path):
    model = ViewAfterConv().eval()
    x = torch.randn(2, 3, 5, 5)
    report = tsbridge.export(model, x, tmp_path / "v.pt")
    assert report.layout == "contiguous"
    notes = [w for w in report.warnings if w.startswith("layout:")]
    assert len(notes) == 1 and "contiguous instead" in notes[0]
    torch.testing.assert_close(tsbridge.load(tmp_path / "v.pt")(x), model(x), rtol=1e-5, atol=1e-5)


def test_channels_last_asked_for_is_refused_where_it_cannot_hold(tmp_path):
    with pytest.raises(tsbridge.ExportError, match="layout='channels_last'"):
        tsbridge.export(ViewAfterConv().eval(), torch.randn(2, 3, 5, 5), tmp_path / "v.pt", layout="channels_last")
    with pytest.raises(tsbridge.ExportError, match="layout='channels_last': output 0 would be channels-last"):
        tsbridge.export(FeatureMap().eval(), torch.randn(1, 3, 6, 6), tmp_path / "f.pt", layout="channels_last")


def test_an_unknown_layout_or_one_for_a_pt2_is_refused(tmp_path):
    with pytest.raises(ValueError, match="layout must be one of"):
        tsbridge.export(ConvNet().eval(), torch.randn(2, 3, 8, 8), tmp_path / "a.pt", layout="nhwc")
    with pytest.raises(ValueError, match="format='aoti' leaves layout to Inductor"):
        tsbridge.export(
            ConvNet().eval(), torch.randn(2, 3, 8, 8), tmp_path / "a.pt2", format="aoti", layout="contiguous"
        )


def test_a_bf16_conv_net_is_channels_last_too(tmp_path):
    model = ConvNet().eval()
    x = torch.randn(2, 3, 8, 8)
    report = tsbridge.export(model, x, tmp_path / "b.pt", precision="bf16")
    assert report.layout == "channels_last"
    assert all(conv_weight_layouts(tmp_path / "b.pt"))
    torch.testing.assert_close(tsbridge.load(tmp_path / "b.pt")(x), model(x), rtol=1e-2, atol=1e-2)


def test_the_cli_passes_the_layout(tmp_path):
    from tsbridge.cli import main

    out = tmp_path / "cli.pt"
    code = main(["export", "models:ConvNet", "--example", "x=2x3x8x8", "-o", str(out), "--layout", "contiguous"])
    assert code == 0
    assert not any(conv_weight_layouts(out))


def test_info_shows_channels_last_weights(tmp_path, tsrun_path):
    tsbridge.export(ConvNet().eval(), torch.randn(2, 3, 8, 8), tmp_path / "cnn.pt")
    tsbridge.export(MLP().eval(), torch.randn(2, 16), tmp_path / "mlp.pt")
    conv, plain = (
        subprocess.run([tsrun_path, str(tmp_path / name), "--info"], capture_output=True, text=True, timeout=120)
        for name in ("cnn.pt", "mlp.pt")
    )
    assert "frozen, channels-last weights" in conv.stdout
    assert plain.returncode == 0 and "channels-last" not in plain.stdout
