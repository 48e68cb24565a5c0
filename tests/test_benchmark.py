"""Benchmarking, thread settings and model inspection in the C++ runtime
(tsbridge::benchmark, tsbridge::set_threads, Model::stats, Model::code),
through _core. Statistics are checked against numpy on the very latencies
the C++ side measured."""

import math
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

import tsbridge
from models import ConvNet, LSTMModel, SimpleModel, TwoInputsTupleOutput
from tsbridge import _core
from tsbridge._quiet import quiet_torch_jit


class TwoMethods(nn.Module):
    """forward and an exported `embed`. Not models.MultiMethod: scripting that
    class here would leave TorchScript's type cache without the `other`
    method test_parity compiles later."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(8, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.embed(x))

    @torch.jit.export
    def embed(self, x):
        return torch.tanh(self.encoder(x))


def save_scripted(tmp_path, module, name="model.pt", freeze=False):
    scripted = tsbridge.script(module.eval())
    if freeze:
        with quiet_torch_jit():
            scripted = torch.jit.freeze(scripted)
    path = tmp_path / name
    tsbridge.save(scripted, path)
    return path


def core_of(path):
    return tsbridge.load(path)._core


@pytest.fixture
def simple(tmp_path):
    return core_of(save_scripted(tmp_path, SimpleModel()))


def parameter_count(module):
    return sum(p.numel() for p in module.parameters())


def parameter_bytes(module):
    return sum(p.numel() * p.element_size() for p in module.parameters())


# ── benchmark ──


def test_statistics_equal_numpy_on_the_measured_latencies(simple):
    percentiles = [0, 1, 12.5, 25, 50, 75, 90, 99, 99.9, 100]
    result = _core.benchmark(simple, [torch.randn(4, 10)], untimed_calls=3, iterations=57)
    latencies = np.array(result.latencies_ms)
    assert len(latencies) == 57
    assert result.min_ms() == latencies.min()
    assert result.max_ms() == latencies.max()
    assert result.mean_ms() == pytest.approx(latencies.mean(), rel=1e-12)
    assert result.stddev_ms() == pytest.approx(latencies.std(), rel=1e-9)
    # Same interpolation, same floating-point steps: equal, not just close.
    assert [result.percentile_ms(p) for p in percentiles] == [np.percentile(latencies, p) for p in percentiles]
    assert result.percentile_ms(50) == np.median(latencies)


def test_percentiles_equal_numpy_on_every_rank(simple):
    result = _core.benchmark(simple, [torch.randn(1, 10)], untimed_calls=0, iterations=7)
    latencies = np.array(result.latencies_ms)
    for p in np.linspace(0, 100, 201):
        assert result.percentile_ms(p) == np.percentile(latencies, p), p


def test_iteration_count_first_call_and_total(simple):
    result = _core.benchmark(simple, [torch.randn(2, 10)], untimed_calls=0, iterations=25)
    assert len(result.latencies_ms) == 25
    assert result.first_call_ms > 0
    assert all(latency > 0 for latency in result.latencies_ms)
    # total_seconds spans the first timed call's start to the last's end.
    assert result.total_seconds >= sum(result.latencies_ms) / 1000
    assert result.calls_per_second() == pytest.approx(25 / result.total_seconds)
    assert repr(result).startswith("BenchmarkResult(calls=25, first_call_ms=")


def test_duration_mode_runs_at_least_the_duration(simple):
    started = time.perf_counter()
    result = _core.benchmark(simple, [torch.randn(2, 10)], untimed_calls=1, iterations=1, duration_seconds=0.2)
    wall = time.perf_counter() - started
    assert wall >= 0.2
    assert 0.2 <= result.total_seconds <= wall
    count = len(result.latencies_ms)
    assert count > 1  # iterations is ignored in duration mode
    # The calls fill the timed window: the loop adds next to nothing around them.
    busy = sum(result.latencies_ms) / 1000
    assert 0.5 * result.total_seconds <= busy <= result.total_seconds
    assert result.calls_per_second() == pytest.approx(count / result.total_seconds)


def test_other_methods_and_several_inputs(tmp_path):
    multi = core_of(save_scripted(tmp_path, TwoMethods()))
    result = _core.benchmark(multi, (torch.randn(3, 8),), method="embed", untimed_calls=0, iterations=3)
    assert len(result.latencies_ms) == 3
    two = core_of(save_scripted(tmp_path, TwoInputsTupleOutput(), name="two.pt"))
    result = _core.benchmark(two, [torch.randn(4, 4), torch.randn(4, 4)], untimed_calls=0, iterations=2)
    assert len(result.latencies_ms) == 2


@pytest.mark.parametrize(
    "options",
    [
        {"untimed_calls": -1},
        {"iterations": -1},
        {"duration_seconds": -0.5},
        {"duration_seconds": math.nan},
        {"duration_seconds": math.inf},
        {"iterations": 0},
        {"iterations": 0, "duration_seconds": 0.0},
    ],
)
def test_invalid_options_raise_invalid_argument(simple, options):
    with pytest.raises(tsbridge.InvalidArgumentError):
        _core.benchmark(simple, [torch.randn(2, 10)], **options)


@pytest.mark.parametrize("p", [101, -1, math.nan, math.inf])
def test_a_percentile_outside_0_to_100_is_refused(simple, p):
    result = _core.benchmark(simple, [torch.randn(2, 10)], untimed_calls=0, iterations=3)
    with pytest.raises(tsbridge.InvalidArgumentError, match="percentile must be in \\[0, 100\\]"):
        result.percentile_ms(p)
    assert result.percentile_ms(100) == max(result.latencies_ms)  # the result stays usable


def test_inputs_must_be_a_list_of_arguments(simple):
    with pytest.raises(tsbridge.InvalidArgumentError, match="list or tuple"):
        _core.benchmark(simple, torch.randn(2, 10))


def test_errors_of_the_call_come_through(simple):
    with pytest.raises(tsbridge.MethodNotFoundError, match="no method 'nope'"):
        _core.benchmark(simple, [torch.randn(2, 10)], method="nope")
    with pytest.raises(tsbridge.InputError):
        _core.benchmark(simple, [])
    with pytest.raises(tsbridge.InferenceError):
        _core.benchmark(simple, [torch.randn(2, 3)])


def test_the_tuner_times_candidates_with_the_library_benchmark(tmp_path):
    """tsbridge::tune (export's format="auto" and tune=True timing) runs
    tsbridge::benchmark per round: a model doing ~200x the work of another
    measures slower."""

    class Heavy(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(128, 128) / 16)

        def forward(self, x):
            for _ in range(40):
                x = torch.tanh(x @ self.weight)
            return x

    class Light(nn.Module):
        def forward(self, x):
            return x + 1

    x = torch.randn(128, 128)
    paths = [str(tmp_path / "heavy.pt"), str(tmp_path / "light.pt")]
    tsbridge.export(Heavy(), x, paths[0])
    tsbridge.export(Light(), x, paths[1])
    record = _core.tune([(paths[0], "default"), (paths[1], "light")], budget_seconds=5, search_settings=False)
    heavy, light = record.candidates
    assert heavy.status == light.status == "ok" and heavy.us_per_call > 0 and light.us_per_call > 0
    assert heavy.us_per_call > 5 * light.us_per_call
    assert record.candidates[record.winner_index].build == "light"


# ── set_threads ──


def test_set_threads_rejects_negative_counts():
    with pytest.raises(tsbridge.InvalidArgumentError, match=">= 0"):
        _core.set_threads(intra_op=-1)
    with pytest.raises(tsbridge.InvalidArgumentError, match=">= 0"):
        _core.set_threads(inter_op=-2)
    _core.set_threads()  # zeros keep the defaults: nothing to do


def run_python(code):
    """In a fresh process: the inter-op pool can be sized once per process."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_set_threads_sizes_libtorch_pools():
    out = run_python(
        "import torch, tsbridge\n"
        "from tsbridge import _core\n"
        "_core.set_threads(intra_op=1, inter_op=3)\n"
        "print(torch.get_num_threads(), torch.get_num_interop_threads())\n"
    )
    assert out.split() == ["1", "3"]


def test_set_threads_cannot_resize_the_inter_op_pool():
    out = run_python(
        "import torch, tsbridge\n"
        "from tsbridge import _core\n"
        "_core.set_threads(inter_op=2)\n"
        "_core.set_threads(inter_op=2)  # the size it has: not a resize\n"
        "intra = torch.get_num_threads()\n"
        "try:\n"
        "    _core.set_threads(intra_op=intra + 1, inter_op=3)\n"
        "except tsbridge.InvalidArgumentError as e:\n"
        "    print(e)\n"
        "print(torch.get_num_threads() == intra, torch.get_num_interop_threads())\n"
    )
    message, settings = out.strip().split("\n")
    assert "fixed at 2" in message and "before the first forward" in message
    assert settings == "True 2"  # a failed call changes nothing


# ── Model.stats ──


@pytest.mark.parametrize("make", [SimpleModel, ConvNet, LSTMModel, TwoMethods])
def test_stats_of_an_unfrozen_model_equal_its_parameters(tmp_path, make):
    model = make()
    stats = core_of(save_scripted(tmp_path, model)).stats()
    assert (stats.parameters, stats.parameter_bytes) == (parameter_count(model), parameter_bytes(model))


def test_stats_count_tied_weights_once(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = nn.Linear(6, 6)
            self.second = nn.Linear(6, 6)
            self.second.weight = self.first.weight

        def forward(self, x):
            return self.second(self.first(x))

    model = Tied()
    assert parameter_count(model) == 36 + 6 + 6
    assert core_of(save_scripted(tmp_path, model)).stats().parameters == parameter_count(model)


def test_stats_bytes_follow_the_dtype(tmp_path):
    model = SimpleModel().double()
    stats = core_of(save_scripted(tmp_path, model)).stats()
    assert (stats.parameters, stats.parameter_bytes) == (11, 11 * 8)


def test_stats_of_a_frozen_linear_model_equal_its_parameters(tmp_path):
    mlp = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    for name, model in [("simple", SimpleModel()), ("mlp", mlp)]:
        path = tmp_path / f"{name}.pt"
        report = tsbridge.export(model.eval(), (torch.randn(2, 10),), path)
        assert report.frozen
        stats = _core.Model.load(str(path)).stats()
        assert (stats.parameters, stats.parameter_bytes) == (parameter_count(model), parameter_bytes(model))


def test_stats_of_a_frozen_conv_bn_model(tmp_path):
    # Freezing folds BatchNorm into the conv: its weight, bias and running
    # statistics disappear; the conv and the Linear stay, as graph constants.
    model = ConvNet().eval()
    stats = core_of(save_scripted(tmp_path, model, freeze=True)).stats()
    kept = [model.conv.weight, model.conv.bias, model.fc.weight, model.fc.bias]
    assert 0 < stats.parameters == sum(t.numel() for t in kept) < parameter_count(model)
    assert stats.parameter_bytes == 4 * stats.parameters


# ── Model.code ──


def test_code_is_the_method_source(tmp_path):
    path = save_scripted(tmp_path, SimpleModel())
    code = core_of(path).code()
    assert code.startswith("def forward(self,")
    assert "relu" in code and "linear" in code
    with quiet_torch_jit():
        assert code == torch.jit.load(str(path)).forward.code  # what Python prints, exactly


def test_code_of_other_methods_and_frozen_models(tmp_path):
    path = save_scripted(tmp_path, TwoMethods())
    core = core_of(path)
    with quiet_torch_jit():
        loaded = torch.jit.load(str(path))
    assert core.code("embed") == loaded.embed.code
    assert "tanh" in core.code("embed")
    frozen = core_of(save_scripted(tmp_path, SimpleModel(), name="frozen.pt", freeze=True)).code()
    assert "CONSTANTS.c0" in frozen and "relu" in frozen


def test_code_of_an_unknown_method(simple):
    with pytest.raises(tsbridge.MethodNotFoundError, match=r"no method 'nope' \(available: forward\)"):
        simple.code("nope")
