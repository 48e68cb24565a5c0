"""tsrun with real data: input files, output files, JSON, values, inspection
and batch processing, each checked against PyTorch computing the same."""

import json
import os
import pty
import re
import subprocess
import time

import numpy as np
import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel


def tsrun(tsrun_path, *args, **kwargs):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, timeout=300, **kwargs)


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, a, b):
        return self.linear(a), (a * b).sum(dim=1)


@pytest.fixture
def simple(tmp_path):
    model = SimpleModel().eval()
    path = tmp_path / "simple.pt"
    tsbridge.export(model, torch.randn(5, 10), path)
    return model, path


@pytest.fixture
def two_inputs(tmp_path):
    model = TwoInputs().eval()
    path = tmp_path / "two.pt"
    tsbridge.export(model, (torch.randn(2, 4), torch.randn(2, 4)), path)
    return model, path


def eager(model, *inputs):
    with torch.no_grad():
        return model(*inputs)


@pytest.mark.parametrize("kind", ["npy", "pt", "npz", "positional"])
def test_input_files_and_npz_output(simple, tmp_path, tsrun_path, kind):
    model, path = simple
    x = torch.randn(7, 10)
    if kind in ("npy", "positional"):
        np.save(tmp_path / "x.npy", x.numpy())
        spec = f"x={tmp_path / 'x.npy'}" if kind == "npy" else tmp_path / "x.npy"
    elif kind == "pt":
        torch.save(x, tmp_path / "x.pt")
        spec = f"x={tmp_path / 'x.pt'}"
    else:
        np.savez(tmp_path / "inputs.npz", x=x.numpy())
        spec = tmp_path / "inputs.npz"
    result = tsrun(tsrun_path, path, "--input", spec, "--output", tmp_path / "out.npz")
    assert result.returncode == 0, result.stderr
    saved = np.load(tmp_path / "out.npz")
    assert list(saved.keys()) == ["output"]
    torch.testing.assert_close(torch.from_numpy(saved["output"]), eager(model, x), rtol=0, atol=1e-6)


def test_output_folder_holds_one_npy_per_output(two_inputs, tmp_path, tsrun_path):
    model, path = two_inputs
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    np.savez(tmp_path / "in.npz", a=a.numpy(), b=b.numpy())
    result = tsrun(tsrun_path, path, "--input", tmp_path / "in.npz", "--output", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["output_0.npy", "output_1.npy"]
    first, second = eager(model, a, b)
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "out" / "output_0.npy")), first, rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "out" / "output_1.npy")), second, rtol=0, atol=1e-6)


def test_dtype_mismatch_is_refused_unless_cast(simple, tmp_path, tsrun_path):
    model, path = simple
    x = torch.randn(4, 10, dtype=torch.float64)
    np.save(tmp_path / "x64.npy", x.numpy())
    refused = tsrun(tsrun_path, path, "--input", tmp_path / "x64.npy")
    assert refused.returncode == 4
    assert "input 'x': expected float32[batch,10], got float64[4,10]" in refused.stderr

    cast = tsrun(tsrun_path, path, "--input", tmp_path / "x64.npy", "--cast", "--output", tmp_path / "o.npz")
    assert cast.returncode == 0, cast.stderr
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "o.npz")["output"]), eager(model, x.float()))


def test_shape_mismatch_names_expected_and_got(simple, tmp_path, tsrun_path):
    _, path = simple
    np.save(tmp_path / "bad.npy", np.zeros((4, 7), np.float32))
    result = tsrun(tsrun_path, path, "--input", tmp_path / "bad.npy")
    assert result.returncode == 4
    assert "input 'x': expected float32[batch,10], got float32[4,7]" in result.stderr


def test_json_summary(two_inputs, tmp_path, tsrun_path):
    model, path = two_inputs
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    np.save(tmp_path / "a.npy", a.numpy())
    np.save(tmp_path / "b.npy", b.numpy())
    result = tsrun(
        tsrun_path, path, "--input", f"a={tmp_path / 'a.npy'}", "--input", f"b={tmp_path / 'b.npy'}", "--json"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [i["name"] for i in doc["inputs"]] == ["a", "b"]
    first, second = eager(model, a, b)
    out0, out1 = doc["outputs"]
    assert out0["shape"] == [3, 3] and out0["dtype"] == "float32"
    assert out0["mean"] == pytest.approx(first.double().mean().item(), abs=1e-6)
    assert out1["max"] == pytest.approx(second.double().max().item(), abs=1e-6)
    assert doc["timings"]["load_ms"] > 0 and doc["timings"]["run_ms"] > 0


def test_print_values(simple, tmp_path, tsrun_path):
    model, path = simple
    x = torch.randn(3, 10) * 3
    np.save(tmp_path / "x.npy", x.numpy())
    result = tsrun(tsrun_path, path, "--input", tmp_path / "x.npy", "--print-values")
    assert result.returncode == 0, result.stderr
    printed = result.stdout.split("outputs:")[1]
    values = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e[-+]\d+)?", printed.split("CPUFloatType")[0])]
    expected = eager(model, x).flatten().tolist()
    printed_numbers = values[-len(expected) :]
    assert printed_numbers == pytest.approx(expected, abs=1e-3)


def test_bench_reports_latency_and_throughput(simple, tmp_path, tsrun_path):
    _, path = simple
    times = tmp_path / "times.json"
    result = tsrun(
        tsrun_path,
        path,
        "--bench",
        "--iters",
        40,
        "--untimed-calls",
        3,
        "--threads",
        1,
        "--interop-threads",
        1,
        "--percentiles",
        "50,90,99.9",
        "--export-times",
        times,
    )
    assert result.returncode == 0, result.stderr
    for field in ("load", "first call", "min", "mean", "p50", "p90", "p99.9", "max", "inferences/s", "samples/s"):
        assert field in result.stdout, field
    exported = json.loads(times.read_text())
    assert len(exported["latencies_ms"]) == 40 and exported["first_call_ms"] > 0

    as_json = json.loads(tsrun(tsrun_path, path, "--bench", "--iters", 25, "--shape", "x=5x10", "--json").stdout)
    bench = as_json["timings"]["bench"]
    assert bench["iterations"] == 25
    assert bench["samples_per_second"] == pytest.approx(5 * bench["inferences_per_second"])
    assert bench["min_ms"] <= bench["percentiles_ms"]["50"] <= bench["max_ms"]


def test_bench_for_a_duration(simple, tsrun_path):
    _, path = simple
    started = time.monotonic()
    result = tsrun(tsrun_path, path, "--bench", "--duration", 0.5, "--json")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started >= 0.5
    assert json.loads(result.stdout)["timings"]["bench"]["iterations"] > 10


def test_info_and_code(simple, tsrun_path):
    model, path = simple
    info = tsrun(tsrun_path, path, "--info")
    assert info.returncode == 0, info.stderr
    parameters = sum(p.numel() for p in model.parameters())
    assert f"parameters:  {parameters} " in info.stdout
    assert "x: float32[batch,10]" in info.stdout and "batch (x dim 0)" in info.stdout
    assert torch.__version__ in info.stdout and "golden:      tsbridge/golden.pt" in info.stdout
    code = tsrun(tsrun_path, path, "--code")
    assert code.returncode == 0, code.stderr
    assert "def forward" in code.stdout and "relu" in code.stdout


def test_batch_processing_streams_all_samples(simple, tmp_path, tsrun_path):
    model, path = simple
    data = torch.randn(23, 10)
    np.save(tmp_path / "data.npy", data.numpy())
    for output in ("preds", "preds.npz"):
        result = tsrun(
            tsrun_path, path, "--input", tmp_path / "data.npy", "--batch-size", 5, "--output", tmp_path / output
        )
        assert result.returncode == 0, result.stderr
        assert "processed 23 samples in 5 batches" in result.stdout
        assert result.stderr == ""  # no progress bar when stderr is not a terminal
        saved = np.load(tmp_path / output / "output.npy") if output == "preds" else np.load(tmp_path / output)["output"]
        torch.testing.assert_close(torch.from_numpy(saved), eager(model, data), rtol=0, atol=1e-6)


def _run_on_terminal(command):
    """Runs with stderr on a pseudo-terminal; returns (exit code, what the terminal showed)."""
    main, secondary = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=secondary)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return process.wait(timeout=120), shown.decode()


def test_progress_bar_only_on_a_terminal(simple, tmp_path, tsrun_path):
    _, path = simple
    np.save(tmp_path / "data.npy", np.random.randn(40, 10).astype(np.float32))
    base = [
        tsrun_path,
        str(path),
        "--input",
        str(tmp_path / "data.npy"),
        "--batch-size",
        "8",
        "--output",
        str(tmp_path / "out"),
    ]
    code, shown = _run_on_terminal(base)
    assert code == 0
    assert "40/40" in shown and "samples/s" in shown and "ETA" in shown
    code, shown = _run_on_terminal(base + ["--quiet"])
    assert code == 0 and shown == ""


def _peak_anonymous_memory_mb(command) -> float:
    """Peak RssAnon (heap, not the mapped file) of a child, sampled while it runs."""
    peak = 0
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as process:
        while process.poll() is None:
            try:
                with open(f"/proc/{process.pid}/status") as status:
                    for line in status:
                        if line.startswith("RssAnon:"):
                            peak = max(peak, int(line.split()[1]))
            except FileNotFoundError:
                break
            time.sleep(0.005)
        assert process.wait() == 0, process.stderr.read()
    return peak / 1024


def test_batch_memory_is_bounded_by_the_batch_not_the_data(tmp_path, tsrun_path):
    model = nn.Linear(1024, 16).eval()
    path = tmp_path / "wide.pt"
    tsbridge.export(model, torch.randn(4, 1024), path)
    rows = 60_000  # 234 MiB of float32 input
    for name, count in (("small.npy", 256), ("big.npy", rows)):
        data = np.lib.format.open_memmap(tmp_path / name, mode="w+", dtype=np.float32, shape=(count, 1024))
        data[:] = 0.5
        data.flush()
        del data

    def peak(data: str, out: str) -> float:
        command = [tsrun_path, str(path), "--input", str(tmp_path / data), "--batch-size", "256"]
        return _peak_anonymous_memory_mb([*command, "--output", str(tmp_path / out)])

    # Against the same run on one batch: what LibTorch itself holds differs
    # between builds (a CUDA build's libraries add tens of MiB), the data's
    # share must not.
    baseline, big = peak("small.npy", "small-out"), peak("big.npy", "out")
    assert big - baseline < 40, (
        f"peak anonymous memory {big:.0f} MiB for a 234 MiB data set, {baseline:.0f} for one batch"
    )
    out = np.load(tmp_path / "out" / "output.npy", mmap_mode="r")
    assert out.shape == (rows, 16)
    expected = eager(model, torch.full((1, 1024), 0.5))
    torch.testing.assert_close(torch.from_numpy(np.array(out[-1:])), expected, rtol=0, atol=1e-5)


BAD = {
    "missing input file": (lambda d, p: [p, "--input", f"x={d}/nope.npy"], 8, "no such file"),
    "corrupt npy": (lambda d, p: [p, "--input", f"x={d}/corrupt.npy"], 8, "corrupt.npy"),
    "unsupported dtype": (lambda d, p: [p, "--input", f"x={d}/strings.npy"], 8, "unsupported"),
    "unknown input name": (lambda d, p: [p, "--input", f"y={d}/good.npy"], 4, "no input named 'y'"),
    "unknown shape name": (lambda d, p: [p, "--shape", "y=2x10"], 4, "no input named 'y' (inputs: x)"),
    "too large": (lambda d, p: [p, "--shape", "x=100000000x10"], 2, "--max-input-mb"),
    "bad percentile": (lambda d, p: [p, "--bench", "--percentiles", "50,101"], 2, "--percentiles expects"),
    "zero iterations": (lambda d, p: [p, "--bench", "--iters", "0"], 2, "--iters expects an integer >= 1"),
    "bad threads": (lambda d, p: [p, "--threads", "x"], 2, "--threads expects"),
    "two modes": (lambda d, p: [p, "--bench", "--info"], 2, "cannot be combined"),
    "batch without output": (
        lambda d, p: [p, "--input", f"{d}/good.npy", "--batch-size", "2"],
        2,
        "--batch-size needs --output",
    ),
    "batch without files": (
        lambda d, p: [p, "--batch-size", "2", "--output", f"{d}/o"],
        2,
        "--batch-size needs the samples",
    ),
    "selftest with input": (lambda d, p: [p, "--selftest", "--seed", "3"], 2, "does not apply"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_with_its_exit_code(simple, tmp_path, tsrun_path, case):
    _, path = simple
    np.save(tmp_path / "good.npy", np.zeros((2, 10), np.float32))
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': garbage")
    make_args, code, message = BAD[case]
    result = tsrun(tsrun_path, *make_args(tmp_path, path))
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tsrun: error: "), result.stderr
    assert message in lines[0]


def test_max_input_mb_raises_the_limit(simple, tsrun_path):
    _, path = simple
    refused = tsrun(tsrun_path, path, "--shape", "x=300000x10", "--max-input-mb", "1")
    assert refused.returncode == 2
    allowed = tsrun(tsrun_path, path, "--shape", "x=300000x10", "--max-input-mb", "64")
    assert allowed.returncode == 0, allowed.stderr


def test_dtype_option_sizes_a_plain_file(tmp_path, tsrun_path):
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2

    path = tmp_path / "plain.pt"
    tsbridge.script(Doubler()).save(str(path))
    result = tsrun(tsrun_path, path, "--shape", "x=3x4", "--dtype", "x=int32", "--seed", 4, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["inputs"][0]["dtype"] == "int32" and doc["outputs"][0]["dtype"] == "int32"
    generator = torch.Generator().manual_seed(4)
    x = torch.randint(0, 10, (3, 4), dtype=torch.int32, generator=generator)
    assert doc["outputs"][0]["first"] == (x * 2).flatten()[:5].tolist()
    # The dtype within --shape (NAME=DIMS[:DTYPE], as every command takes it) is the same input.
    within = tsrun(tsrun_path, path, "--shape", "x=3,4:int32", "--seed", 4, "--json")
    assert within.returncode == 0, within.stderr
    assert json.loads(within.stdout)["outputs"] == doc["outputs"]


# ── a .npy --output is one file ──


def test_a_npy_output_is_one_file_in_single_runs_and_batches(simple, tmp_path, tsrun_path):
    model, path = simple
    data = torch.randn(23, 10)
    np.save(tmp_path / "data.npy", data.numpy())
    single = tsrun(tsrun_path, path, "--input", f"x={tmp_path / 'data.npy'}", "--output", tmp_path / "one.npy")
    assert single.returncode == 0, single.stderr
    assert f"wrote {tmp_path / 'one.npy'}\n" in single.stdout
    batch = tsrun(
        tsrun_path, path, "--input", tmp_path / "data.npy", "--batch-size", 5, "--output", tmp_path / "preds.npy"
    )
    assert batch.returncode == 0, batch.stderr
    assert "processed 23 samples in 5 batches" in batch.stdout
    for name in ("one.npy", "preds.npy"):
        assert (tmp_path / name).is_file(), name
        saved = torch.from_numpy(np.load(tmp_path / name))
        torch.testing.assert_close(saved, eager(model, data), rtol=0, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "one.npy", "preds.npy", "simple.pt"]


def npy_refusal(out, names):
    stem = str(out)[: -len(".npy")]
    return (
        f"tsrun: error: {out}: a .npy file holds one array, but the model returns {len(names)} outputs"
        f" ({', '.join(names)}); write them to an .npz ({stem}.npz) or a folder ({stem})\n"
    )


@pytest.mark.parametrize("batch", [[], ["--batch-size", "5"]], ids=["single", "batch"])
def test_a_npy_output_for_several_outputs_is_refused_before_anything_runs(two_inputs, tmp_path, tsrun_path, batch):
    _, path = two_inputs
    names = [spec.name for spec in tsbridge.load(path).outputs]
    assert len(names) == 2
    out = tmp_path / "preds.npy"
    # The inputs do not exist: the refusal comes before they are read.
    missing = ["--input", f"a={tmp_path / 'a.npy'}", "--input", f"b={tmp_path / 'b.npy'}"]
    result = tsrun(tsrun_path, path, *missing, *batch, "--output", out)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == npy_refusal(out, names)
    assert not out.exists()


def test_a_npy_output_for_a_result_of_several_leaves_without_a_manifest(two_inputs, tmp_path, tsrun_path):
    """No declared outputs: the result itself is refused, before anything is written."""
    model, _ = two_inputs
    path = tmp_path / "plain.pt"
    tsbridge.script(model).save(str(path))
    np.savez(tmp_path / "in.npz", a=np.ones((3, 4), np.float32), b=np.ones((3, 4), np.float32))
    out = tmp_path / "preds.npy"
    for batch in ([], ["--batch-size", "2"]):
        result = tsrun(tsrun_path, path, "--input", tmp_path / "in.npz", *batch, "--output", out)
        assert result.returncode == 2, result.stderr
        assert result.stderr == npy_refusal(out, ["output[0]", "output[1]"])
        assert not out.exists()
