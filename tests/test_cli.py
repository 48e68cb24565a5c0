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
    record = tsbridge.load(out, apply_tuning=False).manifest.document["tuning"]
    assert record["winner"] in [c["name"] for c in record["candidates"]]
    bad = tsbridge_cli(*common[:-1], "--tune-budget", "4")
    assert bad.returncode == 2 and "--tune-budget applies only with --tune" in bad.stderr
    zero = tsbridge_cli(*common, "--tune-budget", "0")
    assert zero.returncode == 2 and "--tune-budget must be a number of seconds > 0, got 0" in zero.stderr
    retune = tsbridge_cli("tune", out, "--tune-budget", "-1")
    assert retune.returncode == 2 and "--tune-budget must be a number of seconds > 0" in retune.stderr
    wrong = tsbridge_cli("tune", out, "--tune-threads", "999", "--tune-budget", "3")
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
            ["export", "models:small_classifier", "--example", "x=batch,6", "-o", "{tmp}/m.pt"],
            2,
            "--example: expected NAME=DIMS[:DTYPE] like x=1x3x224x224:float32 or x=batch,10, got 'x=batch,6': "
            "dim 0 'batch' is a dynamic dim, and this command makes concrete inputs: give its size",
        ),
        (["export", "models:small_classifier", "--example", "x=4x6:float", "-o", "{tmp}/m.pt"], 2, "dtype 'float'"),
        (["export", "models:small_classifier", "--example", "4x6", "-o", "{tmp}/m.pt"], 2, "no '=' after"),
        (
            ["export", "models:small_classifier", "--example", "x=4x6", "--dynamic", "y:0=batch", "-o", "{tmp}/m.pt"],
            2,
            "--dynamic y:0=batch: no --example named 'y'",
        ),
        (
            ["export", "models:small_classifier", "--example", "x=4x6", "--target", "native", "-o", "{tmp}/m.pt"],
            2,
            "format='torchscript' archives run on any CPU",
        ),
        (["tune", "{tmp}/m.pt", "--budget", "5"], 2, "unrecognized arguments: --budget 5"),
        (["tune", "{tmp}/m.pt", "--tune-budget", "soon"], 2, "invalid float value: 'soon'"),
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
    *usage, last = result.stderr.strip().splitlines()
    assert message in last and (not usage or usage[0].startswith("usage: "))  # one line, after argparse's usage


def test_a_user_error_exits_2_and_a_bug_of_ours_exits_70_with_its_traceback(monkeypatch, capsys, tmp_path):
    from tsbridge import cli

    assert cli.main(["info", str(tmp_path / "m.pt")]) == cli.EXIT_LOAD
    args = ["export", "models:small_classifier", "--example", "x=4xq", "-o", str(tmp_path / "m.pt")]
    assert cli.main(args) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err and "got 'x=4xq': dim 1 'q' is a dynamic dim" in err

    def broken(args):
        raise TypeError("an internal mistake")

    monkeypatch.setattr(cli.parser, "run_info", broken)  # as a bug in the handler would
    assert cli.main(["info", str(tmp_path / "m.pt")]) == cli.EXIT_BUG == 70
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and 'in broken\n    raise TypeError("an internal' in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("tsbridge: internal error (a bug in tsbridge, not in how it was called): TypeError: an")
    assert "please report it" in last


def test_the_factory_raising_is_an_export_failure_not_a_bug(tmp_path, monkeypatch, capsys):
    from tsbridge import cli

    (tmp_path / "raising.py").write_text("def make():\n    raise RuntimeError('no weights here')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # export puts the cwd first
    assert cli.main(["export", "raising:make", "--example", "x=2x3", "-o", str(tmp_path / "m.pt")]) == 1
    assert capsys.readouterr().err == "tsbridge: error: raising:make() raised RuntimeError: no weights here\n"


# ── NAME=DIMS[:DTYPE]: the one grammar of every command's input shapes ──


def test_parse_input_spec_reads_sizes_dynamic_dims_and_dtypes():
    parse = tsbridge._core.parse_input_spec
    spec = parse("x=1x3x224x224:float32")
    assert (spec.name, spec.shape, spec.dtype) == ("x", [1, 3, 224, 224], "float32")
    assert parse("mask=5,10").shape == [5, 10] and parse("mask=5,10").dtype is None
    # -1 is named batch at dim 0, NAME_dimI elsewhere; a name is kept; a name alone is one dim.
    assert parse("x=-1x10x-1").shape == ["batch", 10, "x_dim2"]
    assert parse("x=batch,seq,8:int64").shape == ["batch", "seq", 8]
    assert parse("x=seq").shape == ["seq"]
    assert parse("s=").shape == [] and parse("s=:bool").dtype == "bool"  # a 0-d tensor
    assert parse("x=4x6", allow_dynamic=False).shape == [4, 6]


@pytest.mark.parametrize(
    "text, allow_dynamic, fault",
    [
        ("x1x3", True, "no '=' after the input's name"),
        ("=1x3", True, "the name before '=' is empty"),
        ("x=1x3:flot32", True, "unknown dtype 'flot32' (expected one of float32, float64,"),
        ("x=1x3:", True, "the dtype after ':' is empty"),
        ("x=1xx3", True, "dim 1 is empty"),
        ("x=1x-4", True, "dim 1 '-4' is not a size >= 0, -1 or a name"),
        ("x=1x3,4", True, "dim 0 '1x3' is not a size >= 0, -1 or a name (join the dims by 'x' or by ',', not both)"),
        ("x=batchx10", True, "'batchx10' holds a name: join the dims by ',' when one is named (e.g. batch,10)"),
        ("x=1" + "0" * 18, True, "is too large"),
        ("x=batch,10", False, "dim 0 'batch' is a dynamic dim, and this command makes concrete inputs"),
        ("x=4x-1", False, "dim 1 '-1' is a dynamic dim"),
    ],
)
def test_parse_input_spec_refuses_in_one_line_naming_the_form_and_the_text(text, allow_dynamic, fault):
    with pytest.raises(tsbridge.InvalidArgumentError) as raised:
        tsbridge._core.parse_input_spec(text, allow_dynamic=allow_dynamic)
    message = str(raised.value)
    assert message.startswith(f"expected NAME=DIMS[:DTYPE] like x=1x3x224x224:float32 or x=batch,10, got '{text}': ")
    assert fault in message and "\n" not in message


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "tsbridge", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "export" in result.stdout
