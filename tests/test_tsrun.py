"""tsrun, the installed C++ executable, run as a user would: its printed
numbers are checked against PyTorch computing the same thing."""

import subprocess

import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel
from tsrun_output import parse_section


def run_tsrun(tsrun_path, *args, env=None, cwd=None):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


class TwoInputs(nn.Module):
    """Several inputs, a tuple output, a dynamic batch."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, a, b):
        return self.linear(a) * 2.0, (a * b).sum(dim=1)


def expected_inputs(shapes, seed):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=generator) for shape in shapes]


def assert_summary_matches(summary, tensor):
    assert summary["shape"] == list(tensor.shape)
    assert summary["dtype"] == "float32"
    values = tensor.double().flatten()
    assert summary["min"] == pytest.approx(values.min().item(), rel=1e-5, abs=1e-6)
    assert summary["max"] == pytest.approx(values.max().item(), rel=1e-5, abs=1e-6)
    assert summary["mean"] == pytest.approx(values.mean().item(), rel=1e-5, abs=1e-6)
    assert summary["first"] == pytest.approx(values[: len(summary["first"])].tolist(), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("capture", ["script", "trace"])
def test_tsrun_prints_what_pytorch_computes(tmp_path, tsrun_path, clean_env, capture):
    model = TwoInputs().eval()
    a, b = torch.randn(2, 4), torch.randn(2, 4)
    module = tsbridge.script(model) if capture == "script" else tsbridge.trace(model, (a, b))
    path = tmp_path / "two.pt"
    tsbridge.save(module, path, example_inputs=(a, b))

    result = run_tsrun(tsrun_path, path, "--seed", 7, env=clean_env)
    assert result.returncode == 0, result.stderr

    a7, b7 = expected_inputs([(2, 4), (2, 4)], seed=7)
    inputs = parse_section(result.stdout, "inputs")
    assert_summary_matches(inputs["a"], a7)
    assert_summary_matches(inputs["b"], b7)
    first, second = model(a7, b7)
    outputs = parse_section(result.stdout, "outputs")
    assert_summary_matches(outputs["output[0]"], first.detach())
    assert_summary_matches(outputs["output[1]"], second.detach())


def test_tsrun_on_plain_torchscript_needs_and_takes_shapes(tmp_path, tsrun_path):
    model = SimpleModel().eval()
    path = tmp_path / "plain.pt"
    scripted = tsbridge.script(model)
    scripted.save(str(path))  # plain TorchScript: no manifest

    missing = run_tsrun(tsrun_path, path)
    assert missing.returncode == 4
    assert "input 'x'" in missing.stderr and "shape unknown" in missing.stderr

    result = run_tsrun(tsrun_path, path, "--shape", "x=3x10", "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert "no tsbridge manifest" in result.stdout
    (x,) = expected_inputs([(3, 10)], seed=2)
    assert_summary_matches(parse_section(result.stdout, "outputs")["output"], model(x).detach())


def test_tsrun_runs_another_method(tmp_path, tsrun_path):
    class WithExport(nn.Module):
        def forward(self, x):
            return x + 1

        @torch.jit.export
        def double(self, x):
            return x * 2

    path = tmp_path / "methods.pt"
    tsbridge.save(tsbridge.script(WithExport()), path, example_inputs=torch.randn(2, 3))
    result = run_tsrun(tsrun_path, path, "--method", "double", "--shape", "x=2x3", "--seed", "5")
    assert result.returncode == 0, result.stderr
    (x,) = expected_inputs([(2, 3)], seed=5)
    assert_summary_matches(parse_section(result.stdout, "outputs")["output"], x * 2)


def test_tsrun_fill_and_dynamic_shape(tmp_path, tsrun_path):
    model = TwoInputs().eval()
    path = tmp_path / "two.pt"
    tsbridge.save(tsbridge.script(model), path, example_inputs=(torch.randn(2, 4), torch.randn(2, 4)))
    # The manifest records fixed shapes; a contradicting --shape is an input mismatch.
    bad = run_tsrun(tsrun_path, path, "--shape", "a=2x5")
    assert bad.returncode == 4
    assert "input 'a'" in bad.stderr and "float32[2,4]" in bad.stderr and "[2,5]" in bad.stderr

    ones = run_tsrun(tsrun_path, path, "--fill", "ones")
    assert ones.returncode == 0, ones.stderr
    first, _ = model(torch.ones(2, 4), torch.ones(2, 4))
    assert_summary_matches(parse_section(ones.stdout, "outputs")["output[0]"], first.detach())


def test_tsrun_runs_from_any_folder_without_library_path(tmp_path, tsrun_path, clean_env):
    path = tmp_path / "simple.pt"
    tsbridge.save(tsbridge.script(SimpleModel().eval()), path, example_inputs=torch.randn(5, 10))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_tsrun(tsrun_path, path, env=clean_env, cwd=elsewhere)
    assert result.returncode == 0, result.stderr


def test_tsrun_help_and_version(tsrun_path):
    help_ = run_tsrun(tsrun_path, "--help")
    assert help_.returncode == 0
    assert "usage: tsrun" in help_.stdout and "exit codes" in help_.stdout
    version = run_tsrun(tsrun_path, "--version")
    assert version.returncode == 0
    assert tsbridge.__version__ in version.stdout
    assert torch.__version__.split("+")[0] in version.stdout


@pytest.fixture
def simple_archive(tmp_path):
    path = tmp_path / "simple.pt"
    tsbridge.save(tsbridge.script(SimpleModel().eval()), path, example_inputs=torch.randn(5, 10))
    return path


BAD_INVOCATIONS = {
    "missing file": (lambda p: ["/nonexistent/model.pt"], 3, "no such file"),
    "not torchscript": (lambda p: [p.parent / "junk.pt"], 3, "not a TorchScript archive"),
    "truncated": (lambda p: [p.parent / "truncated.pt"], 3, "not a TorchScript archive"),
    "unknown method": (lambda p: [p, "--method", "nope"], 2, "no method 'nope'"),
    "unknown option": (lambda p: [p, "--frobnicate"], 2, "unknown option '--frobnicate'"),
    "missing value": (lambda p: [p, "--seed"], 2, "--seed needs a value"),
    "bad seed": (lambda p: [p, "--seed", "-3"], 2, "--seed expects"),
    "bad shape text": (
        lambda p: [p, "--shape", "x=1xx3"],
        2,
        "--shape: expected NAME=DIMS[:DTYPE] like x=1x3x224x224:float32 or x=batch,10, got 'x=1xx3': dim 1 is empty",
    ),
    "negative shape": (lambda p: [p, "--shape", "x=-4"], 2, "got 'x=-4': dim 0 '-4' is not a size >= 0"),
    "shape without name": (lambda p: [p, "--shape", "5x10"], 2, "got '5x10': no '=' after the input's name"),
    "dynamic shape": (
        lambda p: [p, "--shape", "x=batch,10"],
        2,
        "dim 0 'batch' is a dynamic dim, and this command makes concrete inputs: give its size",
    ),
    "bad shape dtype": (lambda p: [p, "--shape", "x=5x10:flot"], 2, "got 'x=5x10:flot': unknown dtype 'flot'"),
    "two dtypes": (
        lambda p: [p, "--shape", "x=5x10:float32", "--dtype", "x=int32"],
        2,
        "input 'x' is given two dtypes: float32 and int32",
    ),
    "wrong shape dtype": (lambda p: [p, "--shape", "x=5x10:int64"], 4, "expected float32[5,10], got dtype int64"),
    "bad fill": (lambda p: [p, "--fill", "pink"], 2, "--fill expects"),
    "no model": (lambda p: [], 2, "no model file given"),
    "two models": (lambda p: [p, p], 2, "expected one model file"),
    "bad device": (lambda p: [p, "--device", "tpu:9"], 2, "invalid device 'tpu:9'"),
    "cuda missing": (lambda p: [p, "--device", "cuda"], 7, "no CUDA device"),
    "wrong dtype": (lambda p: [p, "--dtype", "x=int64"], 4, "expected float32[5,10], got dtype int64"),
}


@pytest.mark.parametrize("case", sorted(BAD_INVOCATIONS))
def test_tsrun_bad_input_gives_one_line_and_exit_code(case, simple_archive, tsrun_path):
    (simple_archive.parent / "junk.pt").write_bytes(b"this is not a zip archive\n" * 10)
    data = simple_archive.read_bytes()
    (simple_archive.parent / "truncated.pt").write_bytes(data[: len(data) // 2])

    make_args, code, message = BAD_INVOCATIONS[case]
    result = run_tsrun(tsrun_path, *make_args(simple_archive))
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tsrun: error: ")
    assert message in lines[0]
