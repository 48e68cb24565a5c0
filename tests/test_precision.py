"""export(precision="bf16"/"fp16"): the matrix products and convolutions in
the reduced precision on weights stored in it, everything between them in
eager's dtype, the file's interface in eager's dtypes, every check against fp32
eager within the precision's tolerance, recorded in the manifest and replayed
by the self-test."""

import copy
import json
import os
import subprocess
import sysconfig

import pytest
import torch

import tsbridge
from models import ControlFlow, ConvNet, DeepEncoder, ScalarArgs, SimpleModel, TinyBert, TwoInputsTupleOutput
from tsbridge import archive, cpu_target
from tsbridge.exporting.precision import DEFAULT_TOLERANCES, NATIVE_FEATURES, note

TESTS = os.path.dirname(os.path.abspath(__file__))


def exported(tmp_path, model, examples, name="model.pt", **options):
    torch.manual_seed(0)
    model = model.eval()
    path = tmp_path / name
    report = tsbridge.export(model, examples, path, **options)
    return model, path, report


def test_a_bf16_archive_computes_in_bf16_and_matches_fp32_eager_within_its_tolerance(tmp_path):
    torch.manual_seed(0)
    model, path, report = exported(tmp_path, ConvNet(), (torch.randn(2, 3, 8, 8),), precision="bf16")
    loaded = tsbridge.load(path)
    assert [spec.dtype for spec in loaded.inputs()] == ["float32"]
    assert [spec.dtype for spec in loaded.outputs] == ["float32"]
    x = torch.randn(3, 3, 8, 8)
    got = loaded(x)
    assert got.dtype == torch.float32
    rtol, atol = DEFAULT_TOLERANCES["bf16"]
    torch.testing.assert_close(got, model(x).detach(), rtol=rtol, atol=atol)
    # bf16 keeps 8 significant bits: the error is well above fp32's rounding,
    # which an archive computing in fp32 would show.
    assert (got - model(x)).abs().max() > 1e-4
    assert report.precision["compute"] == "bf16"
    assert "BFloat16" in str(torch.jit.load(path).graph)


def test_the_manifest_records_the_tolerance_and_each_outputs_largest_error(tmp_path):
    examples = (torch.randn(4, 4), torch.randn(4, 4))
    _, path, report = exported(tmp_path, TwoInputsTupleOutput(), examples, precision="bf16")
    record = tsbridge.load(path).manifest.precision  # the C++ reader
    assert (record.compute, record.rtol, record.atol) == ("bf16", *DEFAULT_TOLERANCES["bf16"])
    assert record.cpu_features == []  # LibTorch picks its kernels at run time
    written = [c for c in report.checks if c.stage == "frozen"]  # the file as written
    assert [c.name for c in record.checks] == [c.name for c in written]
    for check, result in zip(record.checks, written, strict=True):
        assert [o.output for o in check.outputs] == ["output[0]", "output[1]", "output[2]"]
        assert [(o.max_abs_error, o.max_rel_error) for o in check.outputs] == [(a, r) for _, a, r in result.outputs]
        assert max(o.max_abs_error for o in check.outputs) == result.max_abs_error
    golden = tsbridge.load(path).manifest.golden
    assert (golden.rtol, golden.atol) == DEFAULT_TOLERANCES["bf16"]
    assert "precision bf16 (checked against fp32 eager within rtol 0.01, atol 0.01" in str(report)


def test_the_golden_sample_keeps_fp32_eager_and_the_self_test_its_tolerance(tmp_path, tsrun_path):
    x = torch.randn(2, 3, 8, 8)
    model, path, _ = exported(tmp_path, ConvNet(), (x,), precision="bf16")
    sample = tsbridge._core.read_golden_sample(tsbridge.load(path)._core)
    torch.testing.assert_close(sample.outputs, model(x).detach(), rtol=0, atol=0)
    assert tsbridge.load(path).self_test().passed
    result = subprocess.run([tsrun_path, str(path), "--selftest"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    info = subprocess.run([tsrun_path, str(path), "--info"], capture_output=True, text=True, timeout=120).stdout
    assert "precision:   bf16 (max abs error " in info and "within rtol 0.01, atol 0.01; needs -)" in info
    # The same file held to fp32's tolerance fails: the self-test used the recorded one.
    manifest = json.loads(tsbridge.load(path).manifest.json)
    manifest["golden"].update(rtol=1e-6, atol=1e-6)
    manifest.pop("integrity", None)
    strict = tmp_path / "strict.pt"
    archive.rewrite(str(path), strict, manifest)
    assert not tsbridge.load(strict).self_test().passed


def test_control_flow_survives_the_casts(tmp_path):
    model, path, report = exported(tmp_path, ControlFlow(), (torch.randn(3, 4),), capture="script", precision="bf16")
    assert report.capture == "script"
    loaded = tsbridge.load(path)
    for sign in (1.0, -1.0):  # each branch of `if x.sum() > 0`, and a loop of another length
        x = torch.randn(6, 4).abs() * sign
        torch.testing.assert_close(loaded(x), model(x).detach(), rtol=1e-2, atol=1e-2)


def test_integer_inputs_keep_their_dtype_and_fp16_its_own_tolerance(tmp_path):
    ids = torch.randint(0, 100, (2, 16))
    model, path, report = exported(tmp_path, TinyBert(), (ids,), precision="fp16")
    loaded = tsbridge.load(path)
    assert [spec.dtype for spec in loaded.inputs()] == ["int64"]
    assert (loaded.manifest.precision.rtol, loaded.manifest.precision.atol) == DEFAULT_TOLERANCES["fp16"]
    other = torch.randint(0, 100, (3, 16))
    torch.testing.assert_close(loaded(other), model(other).detach(), rtol=2e-3, atol=2e-3)


def test_a_tolerance_too_tight_for_bf16_fails_the_export(tmp_path):
    with pytest.raises(tsbridge.ExportError, match=r"does not match eager PyTorch .*rtol 1e-07, atol 1e-07"):
        exported(tmp_path, ConvNet(), (torch.randn(2, 3, 8, 8),), precision="bf16", rtol=1e-7, atol=1e-7)
    assert not (tmp_path / "model.pt").exists()


def test_an_unknown_precision_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"precision must be one of 'fp32', 'bf16', 'fp16', got 'int8'"):
        tsbridge.export(SimpleModel(), (torch.randn(2, 10),), tmp_path / "a.pt", precision="int8")


def test_a_reduced_precision_is_refused_for_a_program_made_elsewhere(tmp_path):
    x = torch.randn(2, 10)
    program = torch.export.export(SimpleModel().eval(), (x,))
    with pytest.raises(
        ValueError, match=r"precision='bf16' lowers the model while torch.export traces: it takes no _program"
    ):
        tsbridge.export(SimpleModel(), (x,), tmp_path / "a.pt2", format="aoti", precision="bf16", _program=program)
    assert not (tmp_path / "a.pt2").exists()


def test_non_tensor_arguments_pass_through_a_bf16_archive(tmp_path):
    model, path, _ = exported(tmp_path, ScalarArgs(), (torch.randn(2, 3), 2, 0.5, True, [1]), precision="bf16")
    x = torch.randn(4, 3)
    torch.testing.assert_close(tsbridge.load(path)(x, 3, 0.25, False, [1]), model(x, 3, 0.25, False, [1]))


def _bf16_errors(model, lowered, x) -> tuple[float, float]:
    """The largest error against fp32 eager of `lowered` (a file's model)
    and of the whole model cast to bf16 (every activation rounded)."""
    with torch.no_grad():
        reference = model(x)
        whole = copy.deepcopy(model).to(torch.bfloat16)(x.to(torch.bfloat16)).float()
        return (lowered(x) - reference).abs().max().item(), (whole - reference).abs().max().item()


def test_only_the_products_are_lowered_so_a_deep_encoder_stays_within_1e_2(tmp_path):
    torch.manual_seed(0)
    model, path, report = exported(tmp_path, DeepEncoder(), (torch.randn(2, 32, 64),), precision="bf16")
    x = torch.randn(3, 32, 64)
    mine, whole = _bf16_errors(model, tsbridge.load(path), x)
    assert mine < 1e-2 < whole and mine < whole / 3
    weight_dtypes = {}
    archive_module = torch.jit.load(path)
    for node in _nodes(archive_module.graph.block()):
        position = {"aten::linear": 1, "aten::layer_norm": 2}.get(node.kind())
        if position is not None:
            weight = list(node.inputs())[position].toIValue()  # a frozen constant (None in a branch never taken)
            if weight is not None:
                weight_dtypes.setdefault(node.kind(), set()).add(weight.dtype)
    assert weight_dtypes == {"aten::linear": {torch.bfloat16}, "aten::layer_norm": {torch.float32}}
    assert any("matrix-product and convolution ops of the graph in bf16" in n for n in report.warnings)


def test_a_convolutions_relu_runs_reduced_and_the_next_product_takes_it_as_it_is(tmp_path):
    # ReLU is exact in bf16: it stays between the convolutions (where oneDNN
    # fuses it), and the cast back to fp32 and down again cancels.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3)).eval()
    model, path, _ = exported(tmp_path, model, (torch.randn(2, 3, 12, 12),), precision="bf16", layout="contiguous")
    archive_module = torch.jit.load(path)
    kinds = [node.kind() for node in _nodes(archive_module.graph.block())]
    assert kinds.count("aten::to") == 1 and kinds.count("aten::type_as") == 1
    relu = next(k for k in kinds if k.startswith("aten::relu"))
    assert kinds.index("aten::to") < kinds.index(relu) < kinds.index("aten::type_as")
    x = torch.randn(3, 3, 12, 12)
    torch.testing.assert_close(tsbridge.load(path)(x), model(x).detach(), rtol=1e-2, atol=1e-2)


def _nodes(block):
    for node in block.nodes():
        yield node
        for inner in node.blocks():
            yield from _nodes(inner)


def test_an_unfrozen_bf16_archive_casts_its_weights_at_each_call(tmp_path):
    torch.manual_seed(0)
    model, path, report = exported(tmp_path, DeepEncoder(), (torch.randn(2, 32, 64),), precision="bf16", freeze=False)
    assert not report.frozen
    assert any("unfrozen, so each call casts the weights" in n for n in report.warnings)
    mine, whole = _bf16_errors(model, tsbridge.load(path), torch.randn(3, 32, 64))
    assert mine < 1e-2 < whole


def test_fp32_files_record_no_precision(tmp_path):
    _, path, report = exported(tmp_path, SimpleModel(), (torch.randn(4, 10),))
    manifest = tsbridge.load(path).manifest
    assert manifest.precision is None and "precision" not in json.loads(manifest.json)
    assert (manifest.golden.rtol, manifest.golden.atol) == DEFAULT_TOLERANCES["fp32"]
    assert report.precision is None


def test_the_cli_exports_and_shows_a_precision(tmp_path):
    out = tmp_path / "clf.pt"
    scripts = sysconfig.get_path("scripts")
    export = [os.path.join(scripts, "tsbridge"), "export", "models:small_classifier", "--example", "x=4x6"]
    result = subprocess.run([*export, "-o", str(out), "--precision", "bf16"], capture_output=True, text=True, cwd=TESTS)
    assert result.returncode == 0, result.stderr
    assert "precision bf16" in result.stdout
    info = subprocess.run([os.path.join(scripts, "tsbridge"), "info", str(out)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "precision   bf16 (max abs error" in info.stdout
    refused = subprocess.run(
        [*export, "-o", str(out), "--tolerance", "1e-2"], capture_output=True, text=True, cwd=TESTS
    )
    assert refused.returncode == 2 and "tolerance applies only with tune=True" in refused.stderr


@pytest.fixture(scope="module")
def bf16_package(tmp_path_factory):
    """A deep encoder as a bf16 .pt2 compiled for this CPU (target="native")."""
    path = tmp_path_factory.mktemp("precision") / "encoder.pt2"
    torch.manual_seed(0)
    model = DeepEncoder().eval()
    report = tsbridge.export(model, (torch.randn(2, 32, 64),), path, format="aoti", precision="bf16", target="native")
    return model, path, report


@pytest.mark.aoti
def test_a_bf16_package_matches_fp32_eager_and_records_the_instructions_it_needs(bf16_package):
    model, path, report = bf16_package
    loaded = tsbridge.load(path)
    x = torch.randn(3, 32, 64)
    got = loaded(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, model(x).detach(), rtol=1e-2, atol=1e-2)
    # Only the products are lowered: well inside what rounding every activation loses.
    mine, whole = _bf16_errors(model, loaded, x)
    assert mine < 1e-2 < whole and mine < whole / 3
    assert any("matrix-product and convolution ops of the graph in bf16" in n for n in report.warnings)
    record, cpu = loaded.manifest.precision, loaded.manifest.cpu
    assert record.compute == "bf16" and [c.name for c in record.checks] == [c.name for c in report.checks]
    # What this CPU runs bf16 with, compiled in: in cpu.features too, so a CPU without it is refused.
    native = [f for f in NATIVE_FEATURES["bf16"] if f in cpu_target.host_features()]
    assert record.cpu_features == native and set(native) <= set(cpu.features)
    assert loaded.self_test().passed


def test_the_report_says_what_the_precision_does_on_this_cpu():
    native = [f for f in NATIVE_FEATURES["bf16"] if f in cpu_target.host_features()]
    portable = note("bf16", "aoti", cpu_target.resolve("x86-64-v3"))
    if native:
        assert portable.startswith(f"precision bf16: this CPU runs it natively ({', '.join(native)})")
        assert "target='native' compiles them for this CPU" in portable
        assert "target=" not in note("bf16", "aoti", cpu_target.resolve("native"))
    else:
        assert "converted in software: expect it slower than fp32 here" in portable
    assert "target=" not in note("bf16", "torchscript", None)


# ── tune=True with a tolerance: the tuner may lower the precision ──


@pytest.mark.slow
def test_tuning_with_a_tolerance_tries_each_reduced_precision_and_keeps_the_fastest_that_passes(tmp_path):
    torch.manual_seed(0)
    model = ConvNet().eval()
    path = tmp_path / "tuned.pt"
    report = tsbridge.export(model, (torch.randn(2, 3, 8, 8),), path, tune=True, tune_budget_seconds=15, tolerance=1e-2)
    for name, wanted in NATIVE_FEATURES.items():
        statuses = [
            c["status"] for c in report.tuning["candidates"] if (c["format"], c["build"]) == ("torchscript", name)
        ]
        if set(wanted) & set(cpu_target.host_features()):
            assert "ok" in statuses, statuses  # built, checked within 1e-2 and timed under some settings
        else:
            assert statuses == [
                f"skipped: this CPU has none of {', '.join(wanted)}, so {name} would be converted in software"
            ]
    kept = next(c for c in report.tuning["candidates"] if c["name"] == report.tuning["winner"])
    manifest = tsbridge.load(path).manifest
    if kept["build"] in NATIVE_FEATURES:  # a reduced precision won: its record and tolerance came with it
        assert (manifest.precision.compute, manifest.golden.rtol, manifest.golden.atol) == (kept["build"], 1e-2, 1e-2)
    else:
        assert manifest.precision is None and manifest.golden.rtol == DEFAULT_TOLERANCES["fp32"][0]
    x = torch.randn(4, 3, 8, 8)
    torch.testing.assert_close(tsbridge.load(path)(x), model(x).detach(), rtol=1e-2, atol=1e-2)
    assert tsbridge.load(path).self_test().passed


def test_a_tolerance_needs_tune_and_an_fp32_export(tmp_path):
    x = (torch.randn(2, 10),)
    with pytest.raises(ValueError, match=r"tolerance applies only with tune=True"):
        tsbridge.export(SimpleModel(), x, tmp_path / "a.pt", tolerance=1e-2)
    with pytest.raises(ValueError, match=r"precision='bf16' fixes it"):
        tsbridge.export(SimpleModel(), x, tmp_path / "a.pt", tune=True, tolerance=1e-2, precision="bf16")
    with pytest.raises(ValueError, match=r"tolerance must be a number in \(0, 1\)"):
        tsbridge.export(SimpleModel(), x, tmp_path / "a.pt", tune=True, tolerance=2)
