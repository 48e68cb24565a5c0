"""The golden-sample self-test of the C++ runtime (tsbridge::self_test, tsrun
--selftest, _core.Model.self_test). Archives are built here by hand, as
torch.jit.save plus the two extra files, so these tests pin the archive format
itself rather than whatever tsbridge.export happens to write."""

import io
import json
import re
import subprocess

import jsonschema
import pytest
import torch
from torch import Tensor, nn

import tsbridge
from models import SimpleModel
from tsbridge import manifest as manifest_
from tsbridge._quiet import quiet_torch_jit

GOLDEN_ENTRY = "tsbridge/golden.pt"


class TupleAndDict(nn.Module):
    def forward(self, x, scale: float):
        return x * scale, {"sum": x.sum(dim=1), "max": x.amax(dim=1)}


class ManyInputs(nn.Module):
    """A tensor, a str->Tensor dict, an int, a list of tensors and a float."""

    def forward(self, x: Tensor, extras: dict[str, Tensor], repeat: int, parts: list[Tensor], gain: float):
        y = x * repeat + extras["bias"]
        for part in parts:
            y = y + part.sum()
        return y * gain, extras["ids"] + repeat


class Affine(nn.Module):
    """Outputs far from zero, so relative tolerances are easy to reason about."""

    def forward(self, x):
        return x * 2.0 + 10.0


def torch_save_bytes(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def golden_archive(path, module, inputs, outputs=None, *, golden=None, golden_bytes=None, manifest_edit=None):
    """A tsbridge archive of `module` carrying a golden sample: the manifest
    tsbridge.save writes, plus a "golden" field and the tsbridge/golden.pt entry."""
    scripted = tsbridge.script(module.eval())
    inputs = tuple(inputs)
    base = path.with_name(path.stem + "-base.pt")
    tsbridge.save(scripted, base, example_inputs=inputs)
    manifest = tsbridge.load(base).manifest.document
    manifest.pop("integrity")  # the digests of `base`; this archive is written by torch.jit.save, without any
    if outputs is None:
        with torch.no_grad():
            outputs = module(*inputs)
    manifest["golden"] = golden if golden is not None else {"entry": GOLDEN_ENTRY, "rtol": 1e-5, "atol": 1e-5}
    if manifest_edit:
        manifest_edit(manifest)
    if golden_bytes is None:
        golden_bytes = torch_save_bytes({"inputs": inputs, "outputs": outputs})
    with quiet_torch_jit():
        torch.jit.save(
            scripted, str(path), _extra_files={manifest_.ENTRY: json.dumps(manifest), GOLDEN_ENTRY: golden_bytes}
        )
    return manifest


def self_test(path):
    return tsbridge.load(path)._core.self_test()


def run_tsrun(tsrun_path, *args):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, timeout=120)


VERDICT = re.compile(
    r"^self-test (passed|FAILED): max abs error (\S+), max rel error (\S+) "
    r"\(rtol (\S+), atol (\S+)\)$"
)


def verdict(stdout):
    match = VERDICT.match(stdout.strip().splitlines()[-1])
    assert match, stdout
    state, abs_error, rel_error, rtol, atol = match.groups()
    return state, float(abs_error), float(rel_error), float(rtol), float(atol)


def errors(expected: Tensor, got: Tensor):
    diff = (got.double() - expected.double()).abs()
    return diff.max().item(), (diff / expected.double().abs()).max().item()


# ── passing samples ──


def test_single_tensor_model_passes(tmp_path, tsrun_path):
    path = tmp_path / "simple.pt"
    manifest = golden_archive(path, SimpleModel(), (torch.randn(5, 10),))
    jsonschema.validate(manifest, manifest_.schema())

    report = self_test(path)
    assert report.passed
    assert (report.rtol, report.atol) == (1e-5, 1e-5)
    assert [o.name for o in report.outputs] == ["output"]
    assert report.outputs[0].passed and report.outputs[0].problem == ""
    assert report.max_abs_error <= 1e-6

    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"self-test: {path} (golden sample {GOLDEN_ENTRY}, device cpu)"
    assert lines[1].startswith("  output: ok, max abs error ")
    assert verdict(result.stdout)[0] == "passed"
    assert verdict(result.stdout)[3:] == (1e-5, 1e-5)


def test_tuple_and_dict_outputs_pass(tmp_path, tsrun_path):
    path = tmp_path / "nested.pt"
    manifest = golden_archive(path, TupleAndDict(), (torch.randn(3, 4), 2.0))
    jsonschema.validate(manifest, manifest_.schema())
    report = self_test(path)
    assert report.passed, report
    assert [o.name for o in report.outputs] == ["output[0]", "output[1]['sum']", "output[1]['max']"]
    assert all(o.passed for o in report.outputs)
    assert run_tsrun(tsrun_path, path, "--selftest").returncode == 0


def test_dict_int_list_and_float_inputs_pass(tmp_path, tsrun_path):
    # torch.save stores the dict and list untyped; the runtime must pass them
    # as the Dict[str, Tensor] and List[Tensor] forward declares.
    inputs = (
        torch.randn(2, 3),
        {"bias": torch.randn(3), "ids": torch.arange(4)},
        3,
        [torch.randn(2), torch.randn(5)],
        2,
    )
    path = tmp_path / "many.pt"
    manifest = golden_archive(path, ManyInputs(), inputs)
    jsonschema.validate(manifest, manifest_.schema())
    report = self_test(path)
    assert report.passed, report
    assert len(report.outputs) == 2
    assert run_tsrun(tsrun_path, path, "--selftest").returncode == 0


def test_sample_saved_from_gpu_tensors_reads_on_cpu(tmp_path, monkeypatch):
    # torch.save records each storage's device; LibTorch's pickle_load would
    # restore it there. The runtime maps the sample to the CPU first.
    x = torch.randn(5, 10)
    model = SimpleModel().eval()
    with torch.no_grad():
        outputs = model(x)
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    golden = torch_save_bytes({"inputs": (x,), "outputs": outputs})
    monkeypatch.undo()
    path = tmp_path / "gpu-sample.pt"
    golden_archive(path, model, (x,), golden_bytes=golden)
    assert self_test(path).passed


def test_archive_made_by_export_passes(tmp_path, tsrun_path):
    path = tmp_path / "exported.pt"
    tsbridge.export(SimpleModel(), torch.randn(5, 10), path)
    assert self_test(path).passed
    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 0, result.stdout + result.stderr


# ── mismatches ──


def test_tampered_output_fails_with_the_measured_error(tmp_path, tsrun_path):
    model, x = SimpleModel().eval(), torch.randn(5, 10)
    with torch.no_grad():
        actual = model(x)
    tampered = actual + 1e-2
    path = tmp_path / "tampered.pt"
    golden_archive(path, model, (x,), tampered)
    abs_error, rel_error = errors(tampered, actual)

    report = self_test(path)
    assert not report.passed
    assert report.max_abs_error == pytest.approx(abs_error, rel=1e-6)
    assert report.max_rel_error == pytest.approx(rel_error, rel=1e-6)
    (output,) = report.outputs
    assert not output.passed
    assert output.max_abs_error == pytest.approx(abs_error, rel=1e-6)
    assert "5 of 5 values outside atol + rtol * |expected|" in output.problem

    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 5, result.stderr
    assert "  output: MISMATCH, max abs error " in result.stdout
    state, printed_abs, printed_rel, rtol, atol = verdict(result.stdout)
    assert state == "FAILED"
    assert printed_abs == pytest.approx(abs_error, rel=1e-5)
    assert printed_rel == pytest.approx(rel_error, rel=1e-5)
    assert (rtol, atol) == (1e-5, 1e-5)


def test_one_tampered_leaf_of_a_nested_result(tmp_path, tsrun_path):
    model, inputs = TupleAndDict(), (torch.randn(3, 4), 2.0)
    with torch.no_grad():
        actual = model(*inputs)
    tampered = (actual[0], {"sum": actual[1]["sum"] + 1e-2, "max": actual[1]["max"]})
    path = tmp_path / "nested.pt"
    golden_archive(path, model, inputs, tampered)
    report = self_test(path)
    assert not report.passed
    assert [(o.name, o.passed) for o in report.outputs] == [
        ("output[0]", True),
        ("output[1]['sum']", False),
        ("output[1]['max']", True),
    ]
    assert report.max_abs_error == pytest.approx(errors(tampered[1]["sum"], actual[1]["sum"])[0], rel=1e-6)
    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 5
    assert "  output[1]['sum']: MISMATCH" in result.stdout and "  output[0]: ok" in result.stdout


@pytest.mark.parametrize(
    "golden, passes",
    [
        ({"rtol": 0.0, "atol": 1e-6}, True),  # |1e-7 shift| <= atol
        ({"rtol": 0.0, "atol": 0.0}, False),
    ],
)
def test_absolute_tolerance_is_honoured(tmp_path, golden, passes):
    model, x = SimpleModel().eval(), torch.randn(5, 10, dtype=torch.float64)
    model = model.double()
    with torch.no_grad():
        actual = model(x)
    path = tmp_path / "atol.pt"
    golden_archive(path, model, (x,), actual + 1e-7, golden={"entry": GOLDEN_ENTRY, **golden})
    report = self_test(path)
    assert report.passed is passes
    assert report.max_abs_error == pytest.approx(1e-7, rel=1e-6)
    assert (report.rtol, report.atol) == (golden["rtol"], golden["atol"])


@pytest.mark.parametrize("rtol, passes", [(1e-3, True), (1e-5, False)])
def test_relative_tolerance_is_honoured(tmp_path, rtol, passes):
    model, x = Affine(), torch.randn(4, 3)
    actual = model(x)
    scaled = actual * (1 + 1e-4)
    path = tmp_path / "rtol.pt"
    golden_archive(path, model, (x,), scaled, golden={"entry": GOLDEN_ENTRY, "rtol": rtol, "atol": 0})
    report = self_test(path)
    assert report.passed is passes
    assert report.max_rel_error == pytest.approx(errors(scaled, actual)[1], rel=1e-4)


def test_integer_outputs_must_be_equal(tmp_path):
    inputs = (torch.randn(2, 3), {"bias": torch.randn(3), "ids": torch.arange(4)}, 3, [torch.randn(2)], 1.5)
    model = ManyInputs()
    actual = model(*inputs)
    path = tmp_path / "ids.pt"
    # An error of 1 in an int64 output fails however loose the tolerance.
    golden_archive(
        path, model, inputs, (actual[0], actual[1] + 1), golden={"entry": GOLDEN_ENTRY, "rtol": 1.0, "atol": 10.0}
    )
    report = self_test(path)
    assert not report.passed
    assert [o.passed for o in report.outputs] == [True, False]
    assert report.outputs[1].problem == "4 of 4 values differ"


@pytest.mark.parametrize(
    "stored, problems",
    [
        (lambda y: y.repeat(1, 2), {"output": "shape [5,1] != expected [5,2]"}),
        (lambda y: y.double(), {"output": "dtype float32 != expected float64"}),
        (
            lambda y: (y, y),
            {
                "output[0]": "missing from the model's result",
                "output[1]": "missing from the model's result",
                "output": "not in the golden sample",
            },
        ),
        (lambda y: 3, {"output": "Tensor != expected int"}),
    ],
)
def test_structure_dtype_and_shape_mismatches(tmp_path, tsrun_path, stored, problems):
    model, x = SimpleModel().eval(), torch.randn(5, 10)
    with torch.no_grad():
        actual = model(x)
    path = tmp_path / "structure.pt"
    golden_archive(path, model, (x,), stored(actual))
    report = self_test(path)
    assert not report.passed
    assert {o.name: o.problem for o in report.outputs} == problems
    assert run_tsrun(tsrun_path, path, "--selftest").returncode == 5


# ── errors ──


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tsrun: error: ")
    return lines[0]


def test_archive_without_golden_sample(tmp_path, tsrun_path):
    path = tmp_path / "plain.pt"
    tsbridge.save(tsbridge.script(SimpleModel()), path, example_inputs=torch.randn(5, 10))
    with pytest.raises(
        tsbridge.InvalidArgumentError, match=r"has no golden sample \(archives made by tsbridge.export carry one\)"
    ):
        self_test(path)
    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 2
    assert one_error_line(result) == (
        f"tsrun: error: {path}: has no golden sample (archives made by tsbridge.export carry one)"
    )
    assert result.stdout == ""

    bare = tmp_path / "bare.pt"  # plain torch.jit.save: no manifest at all
    with quiet_torch_jit():
        torch.jit.save(torch.jit.script(SimpleModel()), str(bare))
    with pytest.raises(tsbridge.InvalidArgumentError, match="has no golden sample"):
        self_test(bare)
    assert run_tsrun(tsrun_path, bare, "--selftest").returncode == 2


@pytest.mark.parametrize(
    "golden_bytes, message",
    [
        (b"not a torch.save file", r"cannot be read \(PytorchStreamReader failed reading zip archive"),
        (torch_save_bytes({"inputs": (torch.randn(5, 10),), "outputs": torch.randn(5, 1)})[:200], "cannot be read"),
        (torch_save_bytes(torch.randn(3)), "is not a dict of inputs and outputs"),
        (torch_save_bytes({"inputs": (torch.randn(5, 10),)}), "lacks 'inputs' or 'outputs'"),
        (torch_save_bytes({"inputs": torch.randn(5, 10), "outputs": torch.randn(5, 1)}), "inputs that are not a tuple"),
    ],
)
def test_unreadable_golden_sample(tmp_path, tsrun_path, golden_bytes, message):
    path = tmp_path / "corrupt.pt"
    golden_archive(path, SimpleModel(), (torch.randn(5, 10),), golden_bytes=golden_bytes)
    with pytest.raises(tsbridge.InvalidArchiveError, match=f"golden sample 'tsbridge/golden.pt' .*{message}"):
        self_test(path)
    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 3
    assert message.replace("\\", "").split(" (")[0] in one_error_line(result)


def test_manifest_names_a_missing_entry(tmp_path, tsrun_path):
    path = tmp_path / "missing-entry.pt"
    golden_archive(
        path,
        SimpleModel(),
        (torch.randn(5, 10),),
        golden={"entry": "tsbridge/elsewhere.pt", "rtol": 1e-5, "atol": 1e-5},
    )
    with pytest.raises(
        tsbridge.InvalidArchiveError,
        match="'tsbridge/elsewhere.pt' is named by the manifest but missing from the archive",
    ):
        self_test(path)
    assert run_tsrun(tsrun_path, path, "--selftest").returncode == 3


def test_sample_contradicting_the_manifest_is_an_input_error(tmp_path, tsrun_path):
    path = tmp_path / "fails.pt"
    # Inputs of 7 features where the manifest says 10: refused before the graph runs.
    golden_bytes = torch_save_bytes({"inputs": (torch.randn(5, 7),), "outputs": torch.randn(5, 1)})
    golden_archive(path, SimpleModel(), (torch.randn(5, 10),), golden_bytes=golden_bytes)
    with pytest.raises(tsbridge.InputError, match=r"expected float32\[5,10\], got float32\[5,7\]"):
        self_test(path)
    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 4
    one_error_line(result)


def test_sample_inputs_of_the_wrong_kind_are_an_input_error(tmp_path, tsrun_path):
    path = tmp_path / "wrong-kind.pt"
    inputs = (torch.randn(3, 4), "two")  # forward takes a float `scale`
    golden_bytes = torch_save_bytes({"inputs": inputs, "outputs": torch.randn(3, 4)})
    golden_archive(path, TupleAndDict(), (torch.randn(3, 4), 2.0), golden_bytes=golden_bytes)
    with pytest.raises(tsbridge.InputError, match="input 'scale'.*expected float, got str"):
        self_test(path)
    assert run_tsrun(tsrun_path, path, "--selftest").returncode == 4


@pytest.mark.writes_invalid_manifests
@pytest.mark.parametrize(
    "golden, field",
    [
        ({"entry": 3, "rtol": 1e-5, "atol": 1e-5}, "golden.entry: expected a string, got number"),
        ({"entry": "", "rtol": 1e-5, "atol": 1e-5}, "golden.entry"),
        ({"entry": GOLDEN_ENTRY, "rtol": "1e-5", "atol": 1e-5}, "golden.rtol: expected a number >= 0"),
        ({"entry": GOLDEN_ENTRY, "rtol": 1e-5, "atol": -1}, "golden.atol: expected a number >= 0"),
        ({"entry": GOLDEN_ENTRY, "rtol": 1e-5, "atol": True}, "golden.atol: expected a number >= 0"),
        ({"entry": GOLDEN_ENTRY, "rtol": 1e-5}, "golden: missing field 'atol'"),
        ([GOLDEN_ENTRY, 1e-5, 1e-5], "golden: expected an object, got array"),
        (None, "golden: expected an object, got null"),
    ],
)
def test_golden_field_of_the_wrong_type(tmp_path, tsrun_path, golden, field):
    path = tmp_path / "bad-field.pt"

    def put(manifest):
        manifest["golden"] = golden

    manifest = golden_archive(path, SimpleModel(), (torch.randn(5, 10),), manifest_edit=put)
    # One schema, two readers: the JSON Schema refuses it as well.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(manifest, manifest_.schema())
    with pytest.raises(tsbridge.InvalidArchiveError, match=re.escape(f"malformed tsbridge manifest: {field}")):
        tsbridge.load(path)
    result = run_tsrun(tsrun_path, path, "--selftest")
    assert result.returncode == 3
    assert field in one_error_line(result)


@pytest.mark.parametrize(
    "option", [["--seed", "1"], ["--shape", "x=5x10"], ["--method", "forward"], ["--fill", "zeros"], ["--selftest=yes"]]
)
def test_selftest_takes_no_input_options(tmp_path, tsrun_path, option):
    path = tmp_path / "simple.pt"
    golden_archive(path, SimpleModel(), (torch.randn(5, 10),))
    result = run_tsrun(tsrun_path, path, "--selftest", *option)
    assert result.returncode == 2
    one_error_line(result)


def test_help_documents_selftest(tsrun_path):
    result = run_tsrun(tsrun_path, "--help")
    assert result.returncode == 0
    assert "--selftest" in result.stdout and "5 self-test mismatch" in result.stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_selftest_on_cuda(tmp_path, tsrun_path):
    inputs = (torch.randn(2, 3), {"bias": torch.randn(3), "ids": torch.arange(4)}, 3, [torch.randn(2)], 2.0)
    path = tmp_path / "many.pt"
    golden_archive(path, ManyInputs(), inputs)
    report = tsbridge.load(path, map_location="cuda")._core.self_test()
    assert report.passed, report
    result = run_tsrun(tsrun_path, path, "--selftest", "--device", "cuda")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "device cuda" in result.stdout.splitlines()[0]
