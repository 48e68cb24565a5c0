"""tsrun --profile: a Chrome trace (Perfetto, chrome://tracing) of the run's
call, or of calls after a benchmark's timed ones, from LibTorch's profiler."""

import json
import re
import subprocess

import pytest
import torch

import tsbridge
from models import ConvNet, SimpleModel
from test_cli import tsbridge_cli


def tsrun(tsrun_path, *args):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("profile") / "cnn.pt"
    tsbridge.export(ConvNet().eval(), (torch.randn(2, 3, 8, 8),), path)
    return path


def trace_of(path):
    """The trace's complete events ("ph": "X"), each with a name, start and duration."""
    document = json.loads(path.read_text())
    events = [e for e in document["traceEvents"] if e.get("ph") == "X"]
    assert events and all(isinstance(e["ts"], (int, float)) and e["dur"] >= 0 for e in events)
    return events


def calls_and_operators(events):
    calls = {e["name"]: e for e in events if e.get("cat") == "user_annotation"}
    operators = [e for e in events if e.get("cat") == "cpu_op"]
    return calls, operators


def within(event, call):
    return call["ts"] <= event["ts"] and event["ts"] + event["dur"] <= call["ts"] + call["dur"] + 1


def test_a_run_writes_the_operators_of_its_call(cnn, tsrun_path, tmp_path):
    trace = tmp_path / "trace.json"
    result = tsrun(tsrun_path, cnn, "--profile", trace)
    assert result.returncode == 0, result.stderr
    assert f"tsrun: wrote {trace} (" in result.stderr and "outputs:" in result.stdout
    calls, operators = calls_and_operators(trace_of(trace))
    assert list(calls) == ["tsrun call 1"]
    inside = [op["name"] for op in operators if within(op, calls["tsrun call 1"])]
    assert any("conv" in name for name in inside), inside  # the graph's own operators, by name
    assert len(result.stderr.strip().splitlines()) == 1  # the profiler's own log stays off the terminal


def test_a_benchmark_profiles_ten_calls_after_its_timed_ones(cnn, tsrun_path, tmp_path):
    trace = tmp_path / "bench.json"
    result = tsrun(tsrun_path, cnn, "--bench", "--iters", "5", "--json", "--profile", trace)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["timings"]["bench"]["iterations"] == 5  # stdout stays one document
    calls, operators = calls_and_operators(trace_of(trace))
    assert sorted(calls) == sorted(f"tsrun call {i}" for i in range(1, 11))
    for call in calls.values():
        assert any(within(op, call) for op in operators)


@pytest.mark.aoti
def test_a_package_shows_the_kernels_its_code_calls(packages, tsrun_path, tmp_path):
    trace = tmp_path / "pt2.json"
    result = tsrun(tsrun_path, packages["cnn"].path, "--profile", trace)
    assert result.returncode == 0, result.stderr
    calls, operators = calls_and_operators(trace_of(trace))
    assert [op for op in operators if within(op, calls["tsrun call 1"])]


@pytest.fixture(scope="module")
def profiling_build(tmp_path_factory):
    """The seed model as a .pt2 built with kernel_profile=True (one compile), and its report."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("kernel_profile") / "simple.pt2"
    report = tsbridge.export(SimpleModel().eval(), (torch.randn(4, 10),), path, format="aoti", kernel_profile=True)
    return path, report


def names_in_the_call(tsrun_path, path, trace):
    """tsrun's stderr for a profiled run, and the names of the operators inside its call."""
    result = tsrun(tsrun_path, path, "--profile", trace)
    assert result.returncode == 0, result.stderr
    calls, operators = calls_and_operators(trace_of(trace))
    return result.stderr, {op["name"] for op in operators if within(op, calls["tsrun call 1"])}


@pytest.mark.aoti
def test_a_profiling_build_shows_the_kernels_a_default_package_does_not(
    profiling_build, packages, tsrun_path, tmp_path
):
    path, report = profiling_build
    default_note, default_names = names_in_the_call(tsrun_path, packages["simple"].path, tmp_path / "default.json")
    note, names = names_in_the_call(tsrun_path, path, tmp_path / "profiling.json")
    assert "kernel_profile=True" in default_note  # the default package's trace says how to see more
    assert "note" not in note
    # Inductor's own kernels (cpp_fused_...) and the ATen calls its code makes, each by name.
    added = names - default_names
    assert any("cpp_fused" in name for name in added), (names, default_names)
    assert any(name.startswith("aoti_torch_") for name in added), (names, default_names)
    assert any("kernel_profile" in warning for warning in report.warnings)


@pytest.mark.aoti
def test_a_profiling_build_says_so_and_still_replays_its_golden_sample(profiling_build, tsrun_path):
    path, _ = profiling_build
    info = tsrun(tsrun_path, path, "--info", "--json")
    assert json.loads(info.stdout)["manifest"]["aoti"]["build"] == "kernel-profile"
    assert json.loads(info.stdout)["manifest"]["aoti"]["inductor_configs"]["cpp.enable_kernel_profile"] is True
    assert "kernel-profile build" in tsrun(tsrun_path, path, "--info").stdout
    described = tsbridge_cli("info", path)
    assert "compiled    kernel-profile build (profiling" in described.stdout, described.stdout + described.stderr
    selftest = tsrun(tsrun_path, path, "--selftest")
    assert selftest.returncode == 0 and "self-test passed" in selftest.stdout, selftest.stdout + selftest.stderr


@pytest.mark.parametrize(
    "choices, error, message",
    [
        ({"format": "torchscript"}, ValueError, "operators show in the trace without it: use format='aoti'"),
        ({"format": "auto"}, ValueError, "format='auto' would time a profiling build"),
        ({"format": "aoti", "tune": True}, ValueError, "cannot be combined with tune=True"),
        ({"format": "aoti", "kernel_profile": 1}, TypeError, "kernel_profile must be True or False, got 1"),
    ],
)
def test_kernel_profile_is_refused_where_it_does_not_apply(tmp_path, choices, error, message):
    arguments = {"kernel_profile": True, **choices}
    with pytest.raises(error, match=re.escape(message)):
        tsbridge.export(SimpleModel().eval(), (torch.randn(4, 10),), tmp_path / "m.pt2", **arguments)
    assert not (tmp_path / "m.pt2").exists()


def test_the_cli_refuses_kernel_profile_for_an_archive(tmp_path):
    result = tsbridge_cli(
        "export", "models:small_classifier", "--example", "features=4x6", "-o", tmp_path / "m.pt", "--kernel-profile"
    )
    assert result.returncode == 2
    assert "use format='aoti'" in result.stderr and not (tmp_path / "m.pt").exists()


def test_a_trace_that_cannot_be_written_is_refused_before_the_run(cnn, tsrun_path, tmp_path):
    for path, why in ((tmp_path / "missing" / "t.json", "does not exist"), (tmp_path, "it is a folder")):
        result = tsrun(tsrun_path, cnn, "--profile", path)
        assert result.returncode == 2
        assert result.stderr.strip() == f"tsrun: error: cannot write the profile to {path}: " + (
            f"folder {tmp_path / 'missing'} {why}" if why == "does not exist" else why
        )
        assert result.stdout == ""
