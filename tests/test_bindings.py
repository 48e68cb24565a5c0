"""The structs tsbridge._core returns, bound as classes: what they hold
against what PyTorch or the file says, read-only properties, and reprs."""

import io
import json
import zipfile
from collections import namedtuple

import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel
from tsbridge import _core


class TupleAndDict(nn.Module):
    def forward(self, x):
        return x * 2, {"sum": x.sum(dim=1), "max": x.amax(dim=1)}


@pytest.fixture
def exported(tmp_path):
    path = tmp_path / "nested.pt"
    tsbridge.export(TupleAndDict(), torch.randn(3, 4), path)
    return path


def stored_golden(path):
    """The golden sample as torch.load reads the archive's entry."""
    with zipfile.ZipFile(path) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("extra/tsbridge/golden.pt")]
        return torch.load(io.BytesIO(archive.read(name)), weights_only=True)


# ── specs ──


def test_specs_are_read_only_classes_with_the_manifest_values(exported):
    model = tsbridge.load(exported)
    (spec,) = model.inputs()
    assert isinstance(spec, _core.TensorSpec)
    stored = model.manifest.document["inputs"][0]
    assert (spec.name, spec.type, spec.dtype, spec.shape, spec.path, spec.is_tensor) == (
        stored["name"],
        stored["type"],
        stored["dtype"],
        stored["shape"],
        [],
        True,
    )
    assert str(spec) == "float32[batch,4]"
    assert repr(spec) == "TensorSpec(name='x', type='Tensor', dtype='float32', shape=['batch', 4])"
    with pytest.raises(AttributeError):
        spec.name = "y"
    assert [s.path for s in model.outputs] == [o["path"] for o in model.manifest.document["outputs"]]
    assert "path=[1, 'sum']" in repr(model.outputs[1])


def test_a_spec_made_in_python():
    made = _core.TensorSpec("x", "float32", ["batch", 4])
    assert (made.name, made.type, made.dtype, made.shape, made.path) == ("x", "Tensor", "float32", ["batch", 4], [])
    assert str(made) == "float32[batch,4]"
    assert str(_core.TensorSpec("n", type="int")) == "int" and not _core.TensorSpec("n", type="int").is_tensor
    assert str(_core.TensorSpec("t")) == "Tensor" and _core.TensorSpec("t").shape is None


# ── stand-in inputs ──


def test_make_inputs_draws_what_torch_draws_with_the_same_seed():
    specs = [
        _core.TensorSpec("x", "float32", ["batch", 3]),
        _core.TensorSpec("ids", "int64", [2, 5]),
        _core.TensorSpec("mask", "bool", [4]),
    ]
    made = _core.make_inputs(specs, seed=5, shapes={"x": [6, 3]})
    generator = torch.Generator().manual_seed(5)
    expected = [
        torch.randn(6, 3, generator=generator),
        torch.randint(0, 10, (2, 5), generator=generator),
        torch.randint(0, 2, (4,), generator=generator).bool(),
    ]
    for got, want in zip(made, expected, strict=True):
        assert got.dtype == want.dtype and torch.equal(got, want)
    (given_dtype,) = _core.make_inputs([_core.TensorSpec("y", shape=[2])], dtypes={"y": "float64"})
    assert given_dtype.dtype == torch.float64


def test_make_inputs_refuses_what_it_cannot_make():
    with pytest.raises(tsbridge.InputError, match="shape unknown"):
        _core.make_inputs([_core.TensorSpec("x", "float32")])
    with pytest.raises(tsbridge.InputError, match="no input named 'z'"):
        _core.make_inputs([_core.TensorSpec("x", "float32", [1])], shapes={"z": [1]})


# ── the golden sample ──


def test_golden_sample_read_in_cpp_equals_torch_load(exported):
    golden = _core.read_golden_sample(tsbridge.load(exported)._core)
    stored = stored_golden(exported)
    assert isinstance(golden.inputs, tuple) and len(golden.inputs) == len(stored["inputs"]) == 1
    assert torch.equal(golden.inputs[0], stored["inputs"][0])
    y, parts = golden.outputs
    assert torch.equal(y, stored["outputs"][0])
    assert list(parts) == list(stored["outputs"][1]) == ["sum", "max"]
    for key in parts:
        assert torch.equal(parts[key], stored["outputs"][1][key])


def test_no_golden_sample_is_an_invalid_argument(tmp_path):
    path = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(SimpleModel()), str(path))
    with pytest.raises(tsbridge.InvalidArgumentError, match="has no golden sample"):
        _core.read_golden_sample(tsbridge.load(path)._core)


# ── reports ──


def test_self_test_report_is_a_comparison(exported):
    report = tsbridge.load(exported).self_test()
    assert isinstance(report, _core.SelfTestReport) and isinstance(report, _core.Comparison)
    assert report.passed and (report.rtol, report.atol) == (1e-5, 1e-5)
    assert [o.name for o in report.outputs] == ["output[0]", "output[1]['sum']", "output[1]['max']"]
    assert repr(report).startswith("SelfTestReport(passed=True, max_abs_error=")
    assert "OutputCheck(name='output[0]', passed=True" in repr(report)


def test_stats_warm_up_and_integrity_reports(exported):
    model = tsbridge.load(exported, warmup_calls=2)
    stats = model.stats()
    assert repr(stats) == f"ModelStats(parameters={stats.parameters}, parameter_bytes={stats.parameter_bytes})"
    done = model.load_warm_up
    assert isinstance(done, _core.WarmUp) and done.calls == 2
    assert repr(done).startswith("WarmUp(calls=2, seconds=")
    report = _core.check_integrity(str(exported))
    assert report.intact and report.recorded and report.checked > 0
    assert repr(report) == f"IntegrityReport(recorded=True, algorithm='sha256', checked={report.checked}, problems=[])"
    with pytest.raises(AttributeError):
        report.checked = 0


def test_the_typed_manifest_lives_as_long_as_needed(exported):
    manifest = tsbridge.load(exported).manifest  # the Model object itself is gone
    assert isinstance(manifest, _core.Manifest) and manifest.golden.entry == "tsbridge/golden.pt"
    assert [s.name for s in manifest.inputs] == ["x"] and manifest.dims == {}
    assert manifest.cpu is None and manifest.parallel_loops == ""


# ── comparing results ──


def test_compare_results_agrees_with_torch_on_tolerance():
    expected = torch.tensor([1.0, 2.0, 100.0, float("nan"), float("inf")])
    got = expected + torch.tensor([1e-6, 5e-5, 5e-4, 0.0, 0.0])
    for rtol, atol in [(1e-5, 1e-5), (1e-6, 1e-6), (0.0, 1e-4)]:
        comparison = _core.compare_results(expected, got, rtol, atol)
        close = torch.isclose(got.double(), expected.double(), rtol=rtol, atol=atol, equal_nan=True)
        assert comparison.passed == bool(close.all()), (rtol, atol)
        finite = torch.isfinite(expected)
        assert comparison.max_abs_error == pytest.approx((got - expected)[finite].double().abs().max().item())
        if not comparison.passed:
            (check,) = comparison.outputs
            assert check.problem == f"{int((~close).sum())} of 5 values outside atol + rtol * |expected|"


def test_compare_results_matches_leaves_by_place():
    a, b = torch.randn(2, 3), torch.randn(4)
    comparison = _core.compare_results({"a": a, "b": [b, 3]}, {"b": [b.clone(), 3], "a": a.clone()})
    assert comparison.passed
    assert [o.name for o in comparison.outputs] == ["output['a']", "output['b'][0]", "output['b'][1]"]
    Pair = namedtuple("Pair", "low high")
    assert _core.compare_results((a, b), Pair(a, b)).passed  # a named tuple is a tuple
    assert _core.compare_results([], []).passed and _core.compare_results(None, None).passed


@pytest.mark.parametrize(
    "expected, got, problems",
    [
        (torch.zeros(2), torch.zeros(3), {"output": "shape [3] != expected [2]"}),
        (torch.zeros(2), torch.zeros(2, dtype=torch.float64), {"output": "dtype float64 != expected float32"}),
        (torch.arange(4), torch.arange(4).flip(0), {"output": "4 of 4 values differ"}),
        (3, 4, {"output": "got 4, expected 3"}),
        (
            torch.zeros(1),
            (torch.zeros(1), torch.zeros(1)),
            {
                "output": "missing from the model's result",
                "output[0]": "not in the expected result",
                "output[1]": "not in the expected result",
            },
        ),
    ],
)
def test_compare_results_names_each_mismatch(expected, got, problems):
    comparison = _core.compare_results(expected, got)
    assert not comparison.passed
    assert {o.name: o.problem for o in comparison.outputs if not o.passed} == problems


def test_values_no_comparison_knows_are_refused():
    with pytest.raises(tsbridge.InvalidArgumentError, match="results cannot be compared: a object"):
        _core.compare_results(object(), object())
    with pytest.raises(tsbridge.InvalidArgumentError, match="dict key is a tuple"):
        _core.compare_results({(1, 2): torch.zeros(1)}, {(1, 2): torch.zeros(1)})


def test_python_names_result_leaves_as_the_runtime_does():
    """specs.flatten_output stays in Python: export names the manifest's
    outputs, with their paths, before any file exists. Its names must be
    the C++ flatten's, which the runtime reports leaves by."""
    from tsbridge import specs

    value = (torch.zeros(1), {"a": [torch.zeros(2), 3], 7: None}, [], "text")
    in_cpp = [check.name for check in _core.compare_results(value, value).outputs]
    assert in_cpp == [name for name, _, _ in specs.flatten_output(value)]
    assert in_cpp == ["output[0]", "output[1]['a'][0]", "output[1]['a'][1]", "output[1][7]", "output[3]"]


# ── checking inputs and naming outputs ──


def refusal(call, *args):
    """The tsbridge error a call raises, as (class, message)."""
    with pytest.raises(tsbridge.Error) as caught:
        call(*args)
    return type(caught.value), str(caught.value)


def test_check_inputs_refuses_what_run_refuses_and_passes_what_it_runs(exported):
    model = _core.Model.load(str(exported))
    x = torch.randn(5, 4)
    assert model.check_inputs("forward", [x]) is None
    assert model.check_inputs("forward", (x,)) is None
    wrong = [[x.double()], [torch.randn(5, 3)], [torch.randn(5)], [x, x], [], ["text"]]
    for inputs in wrong:
        refused = refusal(model.check_inputs, "forward", inputs)
        assert refused == refusal(model.forward, *inputs), inputs
    assert refusal(model.check_inputs, "forward", [x.double()])[0] is tsbridge.InputError
    assert refusal(model.check_inputs, "predict", [x])[0] is tsbridge.MethodNotFoundError
    kind, message = refusal(model.check_inputs, "forward", x)
    assert kind is tsbridge.InvalidArgumentError
    assert message.startswith("check_inputs: inputs must be a list or tuple of the method's arguments, got Tensor")


def test_output_leaves_are_the_torch_results_named_after_the_manifest(exported):
    model = _core.Model.load(str(exported))
    x = torch.randn(5, 4)
    leaves = model.output_leaves("forward", model.forward(x))
    doubled, reduced = TupleAndDict()(x)
    with zipfile.ZipFile(exported) as archive:
        (entry,) = [n for n in archive.namelist() if n.endswith("extra/tsbridge/manifest.json")]
        stored = json.loads(archive.read(entry))
    assert [name for name, _ in leaves] == [o["name"] for o in stored["outputs"]]
    assert len(set(name for name, _ in leaves)) == 3
    for (_, got), want in zip(leaves, [doubled, reduced["sum"], reduced["max"]], strict=True):
        torch.testing.assert_close(got, want)
    # Another method, or a result that does not match the specs: by position.
    other = model.output_leaves("other", (x, {"k": [1, None]}))
    assert [name for name, _ in other] == ["output[0]", "output[1]['k'][0]", "output[1]['k'][1]"]
    assert other[0][1] is not None and torch.equal(other[0][1], x) and other[1][1] == 1 and other[2][1] is None
    assert [name for name, _ in model.output_leaves("forward", x)] == ["output"]
    kind, message = refusal(model.output_leaves, "forward", object())
    assert kind is tsbridge.InvalidArgumentError and message.startswith("output_leaves: a object is not a tensor")


# ── the manifest, whole ──


def test_the_manifest_is_bound_whole(tmp_path):
    path = tmp_path / "m.pt"
    metadata = {"labels": ["cat", "dog"], "threshold": 0.5, "nested": {"on": True}}
    tsbridge.export(SimpleModel(), torch.randn(2, 10), path, metadata=metadata)
    model = _core.Model.load(str(path), warmup_calls=1)
    manifest = model.manifest
    stored = json.loads(manifest.json)
    assert (manifest.format_version, manifest.tsbridge_version, manifest.torch_version) == (
        stored["format_version"],
        stored["tsbridge_version"],
        stored["torch_version"],
    )
    assert (manifest.capture, manifest.frozen) == (stored["method"], stored["frozen"])
    assert manifest.metadata == metadata == json.loads(manifest.metadata_json)
    assert manifest.metadata is not manifest.metadata  # a fresh dict: editing it changes nothing
    assert (manifest.device, manifest.parallel_loops, manifest.tuning) == ("", "", None)
    assert manifest.golden.entry == stored["golden"]["entry"]
    assert manifest.integrity.entries == stored["integrity"]["entries"]
    fields = {
        "format_version", "tsbridge_version", "torch_version", "capture", "frozen", "inputs", "outputs", "dims",
        "metadata_json", "metadata", "golden", "integrity", "cpu", "parallel_loops", "device", "tuning", "format",
        "aoti", "selection", "migrated_from", "json", "document",
    }  # fmt: skip
    assert fields <= set(dir(manifest))
    assert isinstance(model.tuning, _core.AppliedTuning) and model.tuning.source == ""
    assert model.load_warm_up.calls == 1


def test_manifest_parse_is_the_reader_on_json_text(exported):
    text = _core.Model.load(str(exported)).manifest.json
    stored = json.loads(text)
    stored["aoti"] = {"device": "cuda", "threads": "runtime"}
    parsed = _core.Manifest.parse(json.dumps(stored))
    assert (parsed.device, parsed.parallel_loops, parsed.capture) == ("cuda", "runtime", stored["method"])
    assert [str(s) for s in parsed.inputs] == ["float32[batch,4]"]
    with pytest.raises(tsbridge.InvalidArchiveError):
        _core.Manifest.parse("{not json")
    with pytest.raises(tsbridge.UnsupportedVersionError):
        _core.Manifest.parse(json.dumps({**stored, "format_version": 99}))
