"""tsrun --profile: a Chrome trace (Perfetto, chrome://tracing) of the run's
call, or of calls after a benchmark's timed ones, from LibTorch's profiler."""

import json
import subprocess

import pytest
import torch

import tsbridge
from models import ConvNet


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


def test_a_trace_that_cannot_be_written_is_refused_before_the_run(cnn, tsrun_path, tmp_path):
    for path, why in ((tmp_path / "missing" / "t.json", "does not exist"), (tmp_path, "it is a folder")):
        result = tsrun(tsrun_path, cnn, "--profile", path)
        assert result.returncode == 2
        assert result.stderr.strip() == f"tsrun: error: cannot write the profile to {path}: " + (
            f"folder {tmp_path / 'missing'} {why}" if why == "does not exist" else why
        )
        assert result.stdout == ""
