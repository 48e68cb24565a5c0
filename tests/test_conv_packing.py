"""A frozen archive's convolutions run on weights packed for oneDNN once, at
load (cpp/src/backends/torchscript/conv_packing.cpp): the same results as
eager PyTorch, at the example's batch and others, from several threads, and
where the rewrite must keep LibTorch's own convolution."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
from torch import Tensor, nn

import tsbridge
from models import ConvVariety

CONVOLUTIONS = 5  # ConvVariety's


@pytest.fixture(scope="module")
def variety(tmp_path_factory):
    torch.manual_seed(0)
    model = ConvVariety().eval()
    with torch.no_grad():  # batch norm that is not the identity, so folding it shows
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("packing") / "variety.pt"
    tsbridge.export(model, (torch.randn(2, 3, 20, 20),), path, dynamic_dims={"x": {0: "batch"}})
    return model, path


def operators_in_a_call(loaded, *inputs):
    """How often each operator ran in one call, by LibTorch's profiler (it
    sees the C++ runtime's calls too)."""
    with torch.profiler.profile() as profile:
        loaded(*inputs)
    return {event.key: event.count for event in profile.key_averages()}


def test_every_convolution_runs_packed(variety):
    _, path = variety
    ran = operators_in_a_call(tsbridge.load(path), torch.randn(2, 3, 20, 20))
    assert ran.get("mkldnn_prepacked::conv2d_run") == CONVOLUTIONS, ran
    assert not {"aten::conv2d", "aten::convolution", "aten::mkldnn_convolution"} & set(ran), ran


@pytest.mark.parametrize("batch", [2, 1, 5])
def test_packed_convolutions_match_eager_at_any_batch(variety, batch):
    model, path = variety
    x = torch.randn(batch, 3, 20, 20)
    with torch.no_grad():
        expected = model(x)
    got = tsbridge.load(path)(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_a_channels_last_input_gives_the_same_results(variety):
    model, path = variety
    x = torch.randn(3, 3, 20, 20)
    with torch.no_grad():
        expected = model(x)
    got = tsbridge.load(path)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_threads_sharing_a_packed_model_each_get_their_own_results(variety):
    model, path = variety
    loaded = tsbridge.load(path)
    inputs = [torch.randn(2, 3, 20, 20) for _ in range(4)]
    with torch.no_grad():
        expected = [model(x) for x in inputs]
    with ThreadPoolExecutor(len(inputs)) as pool:
        got = list(pool.map(lambda x: [loaded(x) for _ in range(20)], inputs))
    for results, want in zip(got, expected, strict=True):
        assert len(results) == 20
        for result in results:
            torch.testing.assert_close(result, want, rtol=1e-4, atol=1e-5)


class MaybeUnbatched(nn.Module):
    """A convolution whose input is 4-d in the example and 3-d (one image,
    which conv2d also takes) when asked: the packed kernel takes 4-d only."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: Tensor, unbatched: bool) -> Tensor:
        if unbatched:
            x = x[0]
        return torch.relu(self.conv(x))


def test_an_input_that_is_not_4d_takes_the_original_convolution(tmp_path):
    model = MaybeUnbatched().eval()
    x = torch.randn(2, 3, 6, 6)
    path = tmp_path / "unbatched.pt"
    tsbridge.export(model, (x, False), path, capture="script")
    loaded = tsbridge.load(path)
    assert operators_in_a_call(loaded, x, False).get("mkldnn_prepacked::conv2d_run") == 1
    ran = operators_in_a_call(loaded, x, True)
    assert "mkldnn_prepacked::conv2d_run" not in ran and ran.get("aten::conv2d") == 1, ran
    with torch.no_grad():
        for unbatched in (False, True):
            torch.testing.assert_close(loaded(x, unbatched), model(x, unbatched), rtol=1e-4, atol=1e-5)


def test_an_unfrozen_archive_keeps_libtorchs_convolution(tmp_path):
    torch.manual_seed(0)
    model = ConvVariety().eval()
    x = torch.randn(2, 3, 20, 20)
    path = tmp_path / "unfrozen.pt"
    tsbridge.export(model, (x,), path, freeze=False)
    loaded = tsbridge.load(path)
    ran = operators_in_a_call(loaded, x)
    assert "mkldnn_prepacked::conv2d_run" not in ran and ran.get("aten::conv2d") == CONVOLUTIONS, ran
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-5)


def test_a_bf16_archive_packs_its_bf16_convolutions(tmp_path):
    torch.manual_seed(0)
    model = ConvVariety().eval()
    x = torch.randn(2, 3, 20, 20)
    path = tmp_path / "bf16.pt"
    tsbridge.export(model, (x,), path, precision="bf16")
    loaded = tsbridge.load(path)
    assert operators_in_a_call(loaded, x).get("mkldnn_prepacked::conv2d_run") == CONVOLUTIONS
    with torch.no_grad():
        expected = model(x)
    torch.testing.assert_close(loaded(x), expected, rtol=0, atol=1e-2 * float(expected.abs().max()))


def test_packing_turned_off_runs_libtorchs_convolutions(variety):
    model, path = variety
    loaded = tsbridge.load(path, pack_convolutions=False)
    x = torch.randn(3, 3, 20, 20)
    ran = operators_in_a_call(loaded, x)
    assert "mkldnn_prepacked::conv2d_run" not in ran and ran.get("aten::conv2d") == CONVOLUTIONS, ran
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-5)


def test_tsrun_no_conv_packing_runs_libtorchs_convolutions(variety, tsrun_path, tmp_path):
    _, path = variety
    ran = {}
    for flags in ([], ["--no-conv-packing"]):
        trace = tmp_path / f"trace{len(flags)}.json"
        result = subprocess.run(
            [tsrun_path, path, "--profile", trace, *flags], capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        events = json.loads(trace.read_text())["traceEvents"]
        ran[bool(flags)] = {e["name"] for e in events if e.get("cat") == "cpu_op"}
    assert "mkldnn_prepacked::conv2d_run" in ran[False] and "aten::conv2d" not in ran[False]
    assert "mkldnn_prepacked::conv2d_run" not in ran[True] and "aten::conv2d" in ran[True]


def test_packing_turned_off_is_refused_for_a_pt2(packages):
    with pytest.raises(tsbridge.InvalidArgumentError, match="pack_convolutions.* do not apply to a .pt2 package"):
        tsbridge.load(packages["cnn"].path, pack_convolutions=False)
