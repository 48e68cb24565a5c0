"""The `tsbridge` Python CLI and tsbridge.verify, run as a user would."""

import json
import os
import subprocess
import sys
import sysconfig
import zipfile

import pytest
import torch

import tsbridge
from models import SimpleModel, small_classifier

TESTS = os.path.dirname(os.path.abspath(__file__))


def tsbridge_cli(*args, cwd=TESTS):
    command = [os.path.join(sysconfig.get_path("scripts"), "tsbridge"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=300)


def test_export_info_verify_round_trip(tmp_path):
    out = tmp_path / "clf.pt"
    result = tsbridge_cli(
        "export",
        "models:small_classifier",
        "--example",
        "features=4x6:float32",
        "-o",
        out,
        "--metadata",
        '{"labels": ["a", "b", "c"]}',
    )
    assert result.returncode == 0, result.stderr
    assert "example inputs" in result.stdout and "capture  script" in result.stdout

    runtime = tsbridge.load(out)
    # The example is tsrun's stand-in: torch's generator seeded 0, as make_inputs documents.
    (example,) = tsbridge._core.read_golden_sample(runtime._core).inputs
    assert torch.equal(example, torch.randn(4, 6, generator=torch.Generator().manual_seed(0)))
    model = small_classifier().eval()
    x = torch.randn(7, 6)
    torch.testing.assert_close(runtime(x), model(x))

    info = tsbridge_cli("info", out)
    assert info.returncode == 0, info.stderr
    assert "features: float32[batch,6]" in info.stdout
    parameters = sum(p.numel() for p in model.parameters())
    assert f"parameters  {parameters:,}" in info.stdout

    as_json = json.loads(tsbridge_cli("info", out, "--json").stdout)
    assert as_json["parameters"] == parameters
    assert as_json["manifest"]["metadata"] == {"labels": ["a", "b", "c"]}

    verify = tsbridge_cli("verify", out)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "passed" in verify.stdout and "C++ self-test" in verify.stdout


def test_export_tune_records_the_tuning_and_refuses_a_bad_budget(tmp_path):
    out = tmp_path / "tuned.pt"
    common = ["export", "models:small_classifier", "--example", "features=4x6", "-o", out, "--tune"]
    result = tsbridge_cli(*common, "--tune-budget", "4")
    assert result.returncode == 0, result.stderr
    assert "tuning   kept torchscript" in result.stdout
    record = tsbridge.load(out, apply_tuning=False).manifest["tuning"]
    assert record["winner"] in [c["name"] for c in record["candidates"]]
    bad = tsbridge_cli(*common[:-1], "--tune-budget", "4")
    assert bad.returncode == 2 and "applies only with tune=True" in bad.stderr
    zero = tsbridge_cli(*common, "--tune-budget", "0")
    assert zero.returncode == 2 and "must be a number > 0" in zero.stderr
    retune = tsbridge_cli("tune", out, "--tune-budget", "-1")
    assert retune.returncode == 2 and "--tune-budget must be a number of seconds > 0" in retune.stderr
    wrong = tsbridge_cli("tune", out, "--threads", "999", "--tune-budget", "3")
    assert wrong.returncode == 2 and "outside 1 to this machine's" in wrong.stderr


def test_verify_reports_agreement_with_measured_errors(tmp_path):
    path = tmp_path / "m.pt"
    tsbridge.export(SimpleModel(), torch.randn(5, 10), path)
    report = tsbridge.verify(path)
    assert report.passed and report.has_golden
    names = [c.name for c in report.checks]
    assert names == [
        "torch.jit.load (Python) vs golden",
        "C++ runtime vs golden",
        "C++ self-test",
        "C++ runtime vs torch.jit.load",
    ]
    assert all(c.max_abs_error < 1e-5 for c in report.checks)


@pytest.mark.writes_tampered_archives
def test_verify_catches_a_tampered_golden_sample(tmp_path):
    path = tmp_path / "m.pt"
    tsbridge.export(SimpleModel(), torch.randn(5, 10), path)
    golden = tsbridge._core.read_golden_sample(tsbridge.load(path)._core)
    sample = {"inputs": golden.inputs, "outputs": golden.outputs + 0.5}
    tampered = tmp_path / "tampered.pt"
    _rewrite_entry(path, tampered, "extra/tsbridge/golden.pt", sample)
    report = tsbridge.verify(tampered)
    assert not report.passed
    failed = {c.name for c in report.checks if not c.passed}
    assert failed == {"torch.jit.load (Python) vs golden", "C++ runtime vs golden", "C++ self-test"}
    assert report.integrity == "FAILED"
    assert any("entry 'extra/tsbridge/golden.pt' has sha256" in p for p in report.problems)
    assert tsbridge_cli("verify", tampered).returncode == 1


def _rewrite_entry(source, target, suffix, sample):
    import io

    buffer = io.BytesIO()
    torch.save(sample, buffer)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = buffer.getvalue() if item.filename.endswith(suffix) else old.read(item.filename)
            new.writestr(item, data)


def test_verify_without_golden_compares_python_and_cpp(tmp_path):
    path = tmp_path / "m.pt"
    tsbridge.save(tsbridge.script(SimpleModel()), path, example_inputs=torch.randn(3, 10))
    report = tsbridge.verify(path)
    assert report.passed and not report.has_golden
    assert [c.name for c in report.checks] == ["C++ runtime vs torch.jit.load"]


class TiedWeights(torch.nn.Module):
    """Two layers sharing one weight: state_dict lists it twice, the archive holds it once."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(6, 6)
        self.second = torch.nn.Linear(6, 6)
        self.second.weight = self.first.weight

    def forward(self, x):
        return self.second(self.first(x))


def test_info_counts_tied_weights_once_as_tsrun_does(tmp_path, tsrun_path):
    model = TiedWeights().eval()
    distinct = {id(p): p for p in model.parameters()}.values()  # torch's own de-duplication
    parameters = sum(p.numel() for p in distinct)
    assert parameters < sum(t.numel() for t in model.state_dict().values())
    path = tmp_path / "tied.pt"
    tsbridge.save(tsbridge.script(model), path, example_inputs=torch.randn(2, 6))
    info = json.loads(tsbridge_cli("info", path, "--json").stdout)
    assert info["parameters"] == parameters
    assert info["parameter_bytes"] == sum(p.numel() * p.element_size() for p in distinct)
    assert f"parameters  {parameters:,} " in tsbridge_cli("info", path).stdout
    tsrun = subprocess.run([tsrun_path, str(path), "--info"], capture_output=True, text=True, timeout=120)
    assert tsrun.returncode == 0, tsrun.stderr
    assert f"parameters:  {parameters} " in tsrun.stdout


def test_info_on_plain_torchscript(tmp_path):
    path = tmp_path / "plain.pt"
    tsbridge.script(SimpleModel()).save(str(path))
    result = tsbridge_cli("info", path)
    assert result.returncode == 0
    assert "manifest    none" in result.stdout and "parameters  11 " in result.stdout


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["export", "nocolon", "--example", "x=1x6", "-o", "{tmp}/m.pt"], 2, "pkg.module:callable"),
        (["export", "no_such_module:f", "--example", "x=1x6", "-o", "{tmp}/m.pt"], 2, "cannot import"),
        (["export", "models:missing", "--example", "x=1x6", "-o", "{tmp}/m.pt"], 2, "no callable"),
        (["export", "models:small_classifier", "--example", "x=1xx6", "-o", "{tmp}/m.pt"], 2, "NAME=DIMS"),
        (
            ["export", "models:small_classifier", "--example", "x=4x6", "-o", "{tmp}/m.pt", "--metadata", "[1]"],
            2,
            "JSON object",
        ),
        (
            ["export", "models:small_classifier", "--example", "x=4x5", "-o", "{tmp}/m.pt"],
            1,
            "fails in eager PyTorch",
        ),
        (
            ["export", "models:not_a_model", "--example", "x=4x6", "-o", "{tmp}/m.pt"],
            2,
            "model must be an nn.Module or a function",
        ),
        (["info", "{tmp}/missing.pt"], 3, "no such file"),
        (["verify", "{tmp}/missing.pt"], 3, "no such file"),
    ],
)
def test_cli_errors(tmp_path, args, code, message):
    result = tsbridge_cli(*[a.format(tmp=tmp_path) for a in args])
    assert result.returncode == code, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "tsbridge", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "export" in result.stdout
