"""tsrun's contracts: every option applies to the mode (and the file's
format) it is given with, or is refused with one line and exit 2; --json
works in every mode and says what the text says."""

import json
import subprocess
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel


def extra_file(path, name):
    """An extra file of an archive, read with zipfile (not through tsbridge)."""
    with zipfile.ZipFile(path) as archive:
        (entry,) = [n for n in archive.namelist() if n.endswith("/extra/" + name)]
        return archive.read(entry)


def tsrun(tsrun_path, *args):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.fixture
def simple(tmp_path):
    torch.manual_seed(0)
    model = SimpleModel().eval()
    path = tmp_path / "simple.pt"
    tsbridge.export(model, torch.randn(5, 10), path, metadata={"owner": "tests"})
    return model, path


# (args after the model, the line's key part). Each option is one the mode
# would otherwise have ignored.
NOT_APPLYING = {
    "iters without --bench": (["--iters", "5"], "--iters does not apply to a single run; it applies to --bench"),
    "percentiles without --bench": (["--percentiles", "50"], "--percentiles does not apply to a single run"),
    "export-times without --bench": (["--export-times", "t.json"], "--export-times does not apply to a single run"),
    "untimed-calls without --bench": (["--untimed-calls", "3"], "--untimed-calls does not apply to a single run"),
    "clients without --bench": (["--clients", "2"], "--clients does not apply to a single run"),
    "profile with --selftest": (["--selftest", "--profile", "p.json"], "--profile does not apply to --selftest"),
    "print-values with --bench": (["--bench", "--print-values"], "--print-values does not apply to --bench"),
    "quiet without --batch-size": (["--quiet"], "--quiet does not apply to a single run; it applies to --batch-size"),
    "seed with --selftest": (
        ["--selftest", "--seed", "3"],
        "--seed does not apply to --selftest (it runs forward on the golden sample's inputs)",
    ),
    "method with --info": (["--info", "--method", "forward"], "--method does not apply to --info"),
    "output with --code": (["--code", "--output", "o.npz"], "--output does not apply to --code"),
    "shape with --batch-size": (
        ["--batch-size", "2", "--input", "x.npy", "--output", "o", "--shape", "x=2x10"],
        "--shape does not apply to --batch-size",
    ),
    "cast with --batch-size": (
        ["--batch-size", "2", "--input", "x.npy", "--output", "o", "--cast"],
        "--cast does not apply to --batch-size",
    ),
    "tune-budget without --tune": (["--tune-budget", "5"], "--tune-budget does not apply to a single run"),
    "threads with --tune": (["--tune", "--threads", "1"], "--threads does not apply to --tune"),
    "no-tuning with --tune": (["--tune", "--no-tuning"], "--no-tuning does not apply to --tune"),
    "the benchmark's old --warmup": (["--bench", "--warmup", "3"], "--warmup is now --untimed-calls"),
    "runners on a TorchScript archive": (
        ["--runners", "2"],
        "AOTInductor options (runners) do not apply to a TorchScript archive",
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_APPLYING))
def test_an_option_that_does_not_apply_is_refused(simple, tmp_path, tsrun_path, case):
    _, path = simple
    np.save(tmp_path / "x.npy", np.zeros((4, 10), np.float32))
    args, message = NOT_APPLYING[case]
    result = subprocess.run([tsrun_path, str(path), *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tsrun: error: "), result.stderr
    assert message in lines[0]
    assert result.stdout == ""
    assert not (tmp_path / "t.json").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "option", [["--optimize-graph"], ["--onednn-fusion"], ["--profiling-executor", "off"], ["--no-conv-packing"]]
)
def test_torchscript_options_are_refused_for_a_pt2(packages, tsrun_path, option):
    result = tsrun(tsrun_path, packages["simple"].path, *option)
    assert result.returncode == 2, result.stderr
    assert "apply to a .pt2 package" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_options_that_apply_still_run(simple, tmp_path, tsrun_path):
    _, path = simple
    bench = tsrun(
        tsrun_path,
        path,
        "--bench",
        "--iters",
        "3",
        "--untimed-calls",
        "1",
        "--percentiles",
        "50",
        "--export-times",
        tmp_path / "t.json",
        "--warmup-calls",
        "1",
    )
    assert bench.returncode == 0, bench.stderr
    assert len(json.loads((tmp_path / "t.json").read_text())["latencies_ms"]) == 3


def test_info_json_matches_the_archive(simple, tsrun_path):
    model, path = simple
    result = tsrun(tsrun_path, path, "--info", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    manifest = json.loads(extra_file(path, "tsbridge/manifest.json"))
    assert doc["manifest"] == manifest
    assert doc["format"] == "torchscript" and doc["methods"] == ["forward"]
    assert doc["parameters"] == sum(p.numel() for p in model.parameters())
    assert [spec["name"] for spec in doc["inputs"]] == [spec["name"] for spec in manifest["inputs"]]
    assert doc["inputs"][0]["shape"] == manifest["inputs"][0]["shape"]
    assert doc["inputs"][0]["text"] == "float32[batch,10]"
    assert doc["manifest"]["metadata"] == {"owner": "tests"}


def test_selftest_json_reports_each_output(simple, tsrun_path):
    _, path = simple
    result = tsrun(tsrun_path, path, "--selftest", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["passed"] is True and doc["max_abs_error"] <= doc["atol"] + doc["rtol"]
    assert [o["name"] for o in doc["outputs"]] == ["output"] and doc["outputs"][0]["passed"] is True


def test_selftest_json_says_failed_with_exit_5(tmp_path, tsrun_path):
    class Drifts(nn.Module):
        def forward(self, x):
            return x * 2

    path = tmp_path / "drift.pt"
    tsbridge.export(Drifts(), torch.randn(3, 4), path)
    # Its manifest and golden sample put beside another graph: the golden outputs no longer match.
    manifest = json.loads(extra_file(path, "tsbridge/manifest.json"))
    manifest.pop("integrity")
    edited = tmp_path / "edited.pt"
    torch.jit.save(
        torch.jit.script(nn.Identity()),
        str(edited),
        _extra_files={
            "tsbridge/golden.pt": extra_file(path, "tsbridge/golden.pt"),
            "tsbridge/manifest.json": json.dumps(manifest),
        },
    )
    result = tsrun(tsrun_path, edited, "--selftest", "--json")
    assert result.returncode == 5, result.stderr
    doc = json.loads(result.stdout)
    assert doc["passed"] is False and doc["outputs"][0]["passed"] is False


def test_batch_json_counts_what_it_wrote(simple, tmp_path, tsrun_path):
    model, path = simple
    data = np.random.default_rng(0).standard_normal((7, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", data)
    result = tsrun(
        tsrun_path, path, "--input", tmp_path / "x.npy", "--batch-size", "3", "--output", tmp_path / "out.npz", "--json"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["rows"], doc["batches"], doc["batch_size"]) == (7, 3, 3)
    assert doc["files"] == [str(tmp_path / "out.npz")]
    with torch.inference_mode():
        expected = model(torch.from_numpy(data))
    np.testing.assert_allclose(np.load(tmp_path / "out.npz")["output"], expected.numpy(), rtol=1e-5, atol=1e-6)


def test_code_json_holds_the_source(simple, tsrun_path):
    _, path = simple
    text = tsrun(tsrun_path, path, "--code").stdout
    doc = json.loads(tsrun(tsrun_path, path, "--code", "--json").stdout)
    assert doc["code"] == text and doc["method"] == "forward"


def test_run_json_lists_the_files_written(simple, tmp_path, tsrun_path):
    _, path = simple
    doc = json.loads(tsrun(tsrun_path, path, "--output", tmp_path / "o.npz", "--json").stdout)
    assert doc["files"] == [str(tmp_path / "o.npz")] and (tmp_path / "o.npz").is_file()
