"""Load-time warm-up and the graph-executor settings (LoadOptions, tsbridge.load,
tsrun): what they do and that every setting computes what PyTorch computes.
Their speed is measured in benchmarks/, not here."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import tsbridge
from models import ControlFlow, ConvNet, EncoderModel, SimpleModel


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    model = SimpleModel().eval()
    path = tmp_path_factory.mktemp("executor") / "simple.pt"
    tsbridge.export(model, (torch.randn(5, 10),), path, dynamic_dims={"x": {0: "batch"}})
    return model, path


def test_warm_up_at_load_runs_the_golden_sample(exported):
    _, path = exported
    done = tsbridge.load(path, warmup_calls=3).load_warm_up
    assert done.calls == 3 and done.seconds > 0
    nothing = tsbridge.load(path).load_warm_up
    assert (nothing.calls, nothing.seconds) == (0, 0.0)


def test_warm_up_uses_manifest_specs_without_a_golden_sample(tmp_path):
    path = tmp_path / "saved.pt"
    tsbridge.save(tsbridge.script(SimpleModel()), path, example_inputs=(torch.randn(4, 10),))
    assert tsbridge.load(path, warmup_calls=2).load_warm_up.calls == 2


def test_a_plain_file_has_nothing_to_warm_up_with(tmp_path):
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(SimpleModel()), path)
    model = tsbridge.load(path, warmup_calls=2)  # nothing to make inputs from: skipped, not an error
    skipped = model.load_warm_up
    assert (skipped.calls, skipped.seconds) == (0, 0.0)
    with pytest.raises(tsbridge.InvalidArgumentError, match="nothing to warm up with"):
        model.warm_up()
    done = model.warm_up(torch.randn(2, 10), calls=2)
    assert done.calls == 2 and done.seconds > 0


def test_a_warm_up_that_fails_says_so(tmp_path):
    class RefusesNonzero(nn.Module):
        def forward(self, x):
            if bool((x != 0).all()):
                raise ValueError("only zeros are allowed")
            return x

    path = tmp_path / "refuses.pt"
    # Warm-up makes random inputs from the recorded specs: the model refuses them.
    tsbridge.save(tsbridge.script(RefusesNonzero()), path, example_inputs=(torch.zeros(3, 2),))
    with pytest.raises(tsbridge.InferenceError, match=r"only zeros are allowed.*\(warming up\)"):
        tsbridge.load(path, warmup_calls=1)
    with pytest.raises(tsbridge.InvalidArgumentError, match="warmup_calls must be 0 or more, got -1"):
        tsbridge.load(path, warmup_calls=-1)


@pytest.mark.parametrize("optimize_graph", [False, True])
@pytest.mark.parametrize(
    "make, shape",
    [
        (SimpleModel, (5, 10)),
        (ControlFlow, (6, 4)),
        (ConvNet, (2, 3, 8, 8)),
        (EncoderModel, (2, 6, 32)),
    ],
)
def test_every_model_computes_the_same_with_and_without_graph_optimisation(tmp_path, make, shape, optimize_graph):
    torch.manual_seed(0)
    model = make().eval()
    scripted = torch.jit.script(model)
    path = tmp_path / "m.pt"
    tsbridge.save(scripted, path)
    runtime = tsbridge.load(path, optimize_graph=optimize_graph)
    for _ in range(4):  # through the profiling runs into the optimised graph
        x = torch.randn(*shape)
        with torch.no_grad():
            torch.testing.assert_close(runtime(x), model(x))
        torch.testing.assert_close(runtime(-x), scripted(-x))


def test_optimisation_is_per_model_and_leaves_the_thread_alone(exported):
    _, path = exported
    before = torch._C._get_graph_executor_optimize()
    optimised = tsbridge.load(path, optimize_graph=True)
    plain = tsbridge.load(path)
    x = torch.randn(3, 10)
    torch.testing.assert_close(optimised(x), plain(x))
    assert torch._C._get_graph_executor_optimize() == before


def test_executor_settings_are_process_wide_not_load_options(exported):
    """They are LibTorch's, one per process: tsbridge.set_executor, not load()."""
    _, path = exported
    with pytest.raises(TypeError):
        tsbridge.load(path, onednn_fusion=True)
    with pytest.raises(TypeError):
        tsbridge.load(path, profiling_executor=False)


def test_process_wide_settings_compute_what_pytorch_computes(tmp_path):
    """The profiling executor and oneDNN fusion are process-wide in LibTorch,
    so they are tried in a process of their own."""
    torch.manual_seed(0)
    model = ConvNet().eval()
    path = tmp_path / "conv.pt"
    tsbridge.export(model, (torch.randn(2, 3, 8, 8),), path)
    x = torch.randn(2, 3, 8, 8)
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        torch.save(model(x), tmp_path / "expected.pt")
    script = textwrap.dedent(f"""
        import torch, tsbridge
        x = torch.load({str(tmp_path / "x.pt")!r})
        expected = torch.load({str(tmp_path / "expected.pt")!r})
        for executor, options in ((dict(profiling_executor=False), {{}}), (dict(profiling_executor=True), {{}}),
                                  (dict(onednn_fusion=True), dict(optimize_graph=True, warmup_calls=3))):
            tsbridge.set_executor(**executor)
            model = tsbridge.load({str(path)!r}, **options)
            for _ in range(3):
                torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


# ── tsrun ──


def _tsrun(tsrun_path, *args):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, timeout=120)


def _timings(tsrun_path, *args):
    result = _tsrun(tsrun_path, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["timings"]


def test_tsrun_warms_up_a_benchmark_by_default_and_reports_it(tsrun_path, exported):
    _, path = exported
    bench = _timings(tsrun_path, path, "--bench", "--iters", "5")
    assert bench["warmup_calls"] == 2 and bench["warmup_ms"] > 0
    assert _timings(tsrun_path, path, "--bench", "--iters", "5", "--optimize-graph")["warmup_calls"] == 3
    # A single run is the first call: no warm-up unless asked for.
    single = _timings(tsrun_path, path)
    assert single["warmup_calls"] == 0 and single["warmup_ms"] == 0
    assert _timings(tsrun_path, path, "--warmup-calls", "3")["warmup_calls"] == 3
    assert _timings(tsrun_path, path, "--bench", "--iters", "5", "--warmup-calls", "0")["warmup_calls"] == 0
    text = _tsrun(tsrun_path, path, "--bench", "--iters", "5", "--warmup-calls", "4").stdout
    assert "warm-up" in text and "(4 calls)" in text
    assert "warm-up" not in _tsrun(tsrun_path, path).stdout
    assert "warm-up" in _tsrun(tsrun_path, path, "--warmup-calls", "1").stdout


def test_tsrun_settings_give_pytorchs_outputs(tsrun_path, tmp_path):
    torch.manual_seed(0)
    model = ConvNet().eval()
    path = tmp_path / "conv.pt"
    tsbridge.export(model, (torch.randn(2, 3, 8, 8),), path)
    x = torch.randn(2, 3, 8, 8)
    torch.save(x, tmp_path / "x.pt")
    with torch.no_grad():
        expected = model(x)
    for flags in ([], ["--optimize-graph"], ["--profiling-executor", "off"], ["--onednn-fusion"]):
        out = tmp_path / f"out{len(flags)}{''.join(flags)}"
        result = _tsrun(tsrun_path, path, "--input", f"x={tmp_path / 'x.pt'}", "--output", out, *flags)
        assert result.returncode == 0, (flags, result.stderr)
        got = torch.from_numpy(__import__("numpy").load(out / "output.npy"))
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--profiling-executor", "maybe"], "--profiling-executor expects on or off, got 'maybe'"),
        (["--warmup-calls", "-1"], "--warmup-calls expects an integer >= 0, got '-1'"),
        (["--optimize-graph=yes"], "--optimize-graph takes no value"),
    ],
)
def test_tsrun_refuses_bad_settings(tsrun_path, exported, args, message):
    _, path = exported
    result = _tsrun(tsrun_path, path, *args)
    assert result.returncode == 2 and message in result.stderr
