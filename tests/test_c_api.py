"""The C API (tsbridge.h) from C: the example in examples/c_app, built with
CMake and with a bare `cc` command, agrees with PyTorch; and a C program that
misuses every function gets a status and a message back, never a crash."""

import itertools
import json
import os
import shutil
import subprocess
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

import tsbridge
from models import TwoInputsTupleOutput
from native.harness import ROOT, build_env, native_build

pytestmark = pytest.mark.native


@pytest.fixture(scope="session")
def native(tmp_path_factory):
    return native_build(tmp_path_factory)


def run(args, **kwargs):
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, env=build_env(), timeout=300, **kwargs
    )


# ── examples/c_app ──


def c_app_inputs(specs, dynamic):
    """What c_app fills its input buffers with (see examples/c_app/main.c)."""
    inputs = []
    for j, (dtype, shape) in enumerate(specs):
        shape = [dynamic if s < 0 else s for s in shape]
        i = np.arange(int(np.prod(shape)), dtype=np.int64)
        k = (i * 7 + j * 3) % 17
        if dtype.is_floating_point:
            values = torch.from_numpy((k - 8) * 0.125).to(dtype)
        elif dtype == torch.uint8:
            values = torch.from_numpy(k).to(dtype)
        elif dtype == torch.bool:
            values = torch.from_numpy((i + j) % 3 == 0)
        else:
            values = torch.from_numpy(k - 8).to(dtype)
        inputs.append(values.reshape(shape))
    return inputs


def parse_c_app(stdout):
    """{"metadata": ..., "methods": [...], "inputs": [...], "outputs": [(name, dtype, shape, values)]}"""
    lines = stdout.splitlines()
    parsed = {"inputs": [], "outputs": [], "declared": []}
    for n, line in enumerate(lines):
        if line.startswith("metadata: "):
            parsed["metadata"] = json.loads(line[len("metadata: ") :])
        elif line.startswith("methods:"):
            parsed["methods"] = line.split()[1:]
        elif line.startswith("input "):
            parsed["inputs"].append(line.split(": ", 1)[1])
        elif line.startswith("declared output "):
            parsed["declared"].append(line.split(": ", 1)[1])
        elif line.startswith("output "):
            name, dtype, shape = line.split(": ", 1)[1].split(" ", 2)
            values = lines[n + 1].split(":", 1)[1].split()
            parsed["outputs"].append((name, dtype, json.loads(shape), values))
    return parsed


DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.int8: "int8",
    torch.int16: "int16",
    torch.int32: "int32",
    torch.int64: "int64",
    torch.uint8: "uint8",
    torch.bool: "bool",
}


def assert_outputs_match(printed, expected):
    assert len(printed) == len(expected)
    for (name, dtype, shape, values), (want_name, tensor) in zip(printed, expected, strict=True):
        assert name == want_name
        assert dtype == DTYPE_NAMES[tensor.dtype]
        assert shape == list(tensor.shape)
        flat = tensor.flatten()
        if tensor.dtype.is_floating_point:
            got = torch.tensor([float(v) for v in values], dtype=torch.float64)
            # printed with enough digits to round-trip float32 and float64
            torch.testing.assert_close(got, flat.double(), rtol=1e-6, atol=1e-6)
        else:
            assert [int(v) for v in values] == flat.long().tolist()


@pytest.fixture
def two_inputs_archive(tmp_path):
    model = TwoInputsTupleOutput().eval()
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    path = tmp_path / "two.pt"
    tsbridge.export(
        model,
        (a, b),
        path,
        input_names=["a", "b"],
        output_names=["sum", "gram", "proj"],
        metadata={"labels": ["x", "y"], "owner": "team ü"},
    )
    return path, model


@pytest.mark.parametrize("dynamic", [2, 5])
def test_c_app_agrees_with_pytorch(native, two_inputs_archive, dynamic):
    path, model = two_inputs_archive
    result = run([native.program("c_app", "c_app"), path, dynamic])
    assert result.returncode == 0, result.stderr
    printed = parse_c_app(result.stdout)
    assert printed["metadata"] == {"labels": ["x", "y"], "owner": "team ü"}
    assert printed["methods"] == ["forward"]
    assert printed["inputs"] == ["a float32 [-1, 4]", "b float32 [-1, 4]"]
    assert printed["declared"] == ["sum float32 [-1, 4]", "gram float32 [-1, -1]", "proj float32 [-1, 4]"]
    inputs = c_app_inputs([(torch.float32, [-1, 4]), (torch.float32, [-1, 4])], dynamic)
    with torch.no_grad():
        expected = model(*inputs)
    assert_outputs_match(printed["outputs"], list(zip(["sum", "gram", "proj"], expected, strict=True)))


class ManyDtypes(nn.Module):
    """Integer, bool and float64 inputs; half, bfloat16, bool, int and scalar outputs."""

    def forward(self, ids: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor, small: torch.Tensor):
        picked = torch.where(mask, weights, -weights)
        return (ids * 3 - 1, picked.half(), picked.to(torch.bfloat16), ids > 0, small.to(torch.int16) * 2, picked.sum())


def test_c_app_handles_every_dtype(native, tmp_path):
    model = ManyDtypes().eval()
    examples = (
        torch.arange(6) - 3,
        torch.arange(6) % 2 == 0,
        torch.randn(6, dtype=torch.float64),
        torch.arange(6, dtype=torch.uint8),
    )
    path = tmp_path / "dtypes.pt"
    tsbridge.export(
        model,
        examples,
        path,
        input_names=["ids", "mask", "weights", "small"],
        dynamic_dims={"ids": {0: "n"}, "mask": {0: "n"}, "weights": {0: "n"}, "small": {0: "n"}},
    )
    result = run([native.program("c_app", "c_app"), path, 7])
    assert result.returncode == 0, result.stderr
    printed = parse_c_app(result.stdout)
    assert printed["inputs"] == ["ids int64 [-1]", "mask bool [-1]", "weights float64 [-1]", "small uint8 [-1]"]
    inputs = c_app_inputs([(torch.int64, [-1]), (torch.bool, [-1]), (torch.float64, [-1]), (torch.uint8, [-1])], 7)
    expected = model(*inputs)
    names = [name for name, *_ in printed["outputs"]]
    assert_outputs_match(printed["outputs"], list(zip(names, expected, strict=True)))
    assert [dtype for _, dtype, *_ in printed["outputs"]] == [
        "int64",
        "float16",
        "bfloat16",
        "bool",
        "int16",
        "float64",
    ]
    assert printed["outputs"][-1][2] == []  # a 0-dim result is a scalar: ndim 0


def test_c_app_builds_with_a_bare_cc_command(native, two_inputs_archive, tmp_path):
    """No CMake: the include folder, -ltsbridge and an rpath from the installed
    package, as a Go (cgo), Rust or C# build would give them."""
    package = os.path.dirname(tsbridge.__file__)
    include, lib = os.path.join(package, "include"), os.path.join(package, "lib")
    binary = tmp_path / "c_app_cc"
    compiled = run(
        [
            "cc",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-pedantic",
            "-Werror",
            os.path.join(ROOT, "examples", "c_app", "main.c"),
            f"-I{include}",
            f"-L{lib}",
            "-ltsbridge",
            f"-Wl,-rpath,{lib}",
            "-o",
            binary,
        ]
    )
    assert compiled.returncode == 0, compiled.stderr
    path, _ = two_inputs_archive
    by_cc = run([binary, path, 3])
    by_cmake = run([native.program("c_app", "c_app"), path, 3])
    assert by_cc.returncode == 0, by_cc.stderr
    assert by_cc.stdout == by_cmake.stdout


def test_c_app_reports_a_bad_file(native, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_text("not a model")
    result = run([native.program("c_app", "c_app"), junk])
    assert result.returncode == 1
    assert result.stderr.startswith("c_app: TSB_INVALID_ARCHIVE: ")
    assert str(junk) in result.stderr


def test_the_c_api_page_example_runs(native, tmp_path):
    """docs/c-api.md's complete program, as the page shows it."""
    model = nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3)).eval()
    path = tmp_path / "model.pt"
    tsbridge.export(model, torch.randn(1, 12), path, input_names=["x"], metadata={"labels": ["a", "b", "c"]})
    result = run([native.program("docs_c_example"), path])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "input x: float32, 2 dims"
    assert json.loads(lines[1][len("metadata: ") :]) == {"labels": ["a", "b", "c"]}
    name, values = lines[2].split(":", 1)
    assert name == "output"
    with torch.no_grad():
        expected = model(torch.arange(24, dtype=torch.float32).reshape(2, 12) / 24)
    assert [float(v) for v in values.split()] == pytest.approx(expected.flatten().tolist(), abs=2e-6)
    failed = run([native.program("docs_c_example"), tmp_path / "missing.pt"])
    assert failed.returncode == 1
    assert failed.stderr.startswith("load: TSB_FILE_NOT_FOUND: ")


# ── misuse: tests/native/c_api_bad_input.c ──

EXPECTED = {
    # name: (status, a piece of the message)
    "load_null_path": ("TSB_INVALID_ARGUMENT", "path is NULL"),
    "load_null_result": ("TSB_INVALID_ARGUMENT", "result pointer"),
    "load_missing_file": ("TSB_FILE_NOT_FOUND", "missing.pt"),
    "load_not_an_archive": ("TSB_INVALID_ARCHIVE", "junk.pt"),
    "load_empty_path": ("TSB_FILE_NOT_FOUND", ""),
    "load_device_cuda": ("TSB_DEVICE_UNAVAILABLE", "cuda"),
    "load_device_unknown": ("TSB_INVALID_ARGUMENT", "banana"),
    "load_tampered": ("TSB_INVALID_ARCHIVE", "not listed in the manifest"),
    "load_tampered_without_integrity_check": ("TSB_OK", ""),
    "load_negative_warmup": ("TSB_INVALID_ARGUMENT", "warmup_calls must be 0 or more, got -1"),
    "load_runners_on_torchscript": ("TSB_INVALID_ARGUMENT", "do not apply to a TorchScript archive"),
    "load_runners_negative": ("TSB_INVALID_ARGUMENT", "runners must be 1 to 256, got -1"),
    "load_runners_absurd": ("TSB_INVALID_ARGUMENT", "runners must be 1 to 256, got 100000"),
    "load_runners_ok": ("TSB_OK", ""),
    "load_no_conv_packing_on_a_pt2": (
        "TSB_INVALID_ARGUMENT",
        "(optimize_graph, pack_convolutions) do not apply to a .pt2",
    ),
    "load_no_conv_packing_ok": ("TSB_OK", ""),
    "load_ok": ("TSB_OK", ""),
    "input_count_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "input_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "output_count_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "output_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "metadata_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "tuning_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "method_count_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "method_name_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "run_null_model": ("TSB_INVALID_ARGUMENT", "model is NULL"),
    "run_made_up_model": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "free_made_up_model": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "outputs_count_null": ("TSB_INVALID_ARGUMENT", "outputs is NULL"),
    "outputs_get_null": ("TSB_INVALID_ARGUMENT", "outputs is NULL"),
    "outputs_free_made_up": ("TSB_INVALID_ARGUMENT", "not a live tsb_outputs"),
    "input_count_null_count": ("TSB_INVALID_ARGUMENT", "count is NULL"),
    "input_null_spec": ("TSB_INVALID_ARGUMENT", "spec is NULL"),
    "input_index_negative": ("TSB_INVALID_ARGUMENT", "index -1 out of range"),
    "input_index_past_end": ("TSB_INVALID_ARGUMENT", "index 1 out of range"),
    "output_index_past_end": ("TSB_INVALID_ARGUMENT", "index 7 out of range"),
    "metadata_null_json": ("TSB_INVALID_ARGUMENT", "json is NULL"),
    "tuning_null_json": ("TSB_INVALID_ARGUMENT", "json is NULL"),
    "method_name_index_past_end": ("TSB_INVALID_ARGUMENT", "index 99 out of range"),
    "method_name_null_name": ("TSB_INVALID_ARGUMENT", "name is NULL"),
    "run_null_outputs_pointer": ("TSB_INVALID_ARGUMENT", "outputs (the result pointer) is NULL"),
    "run_null_inputs": ("TSB_INVALID_ARGUMENT", "inputs is NULL"),
    "run_negative_input_count": ("TSB_INVALID_ARGUMENT", "input_count is negative"),
    "run_no_inputs": ("TSB_INPUT_MISMATCH", "got 0"),
    "run_too_many_inputs": ("TSB_INPUT_MISMATCH", "got 2"),
    "run_dtype_code_unknown": ("TSB_INVALID_ARGUMENT", "unknown dtype code 42"),
    "run_dtype_code_minus_one": ("TSB_INVALID_ARGUMENT", "unknown dtype code -1"),
    "run_dtype_mismatch": ("TSB_INPUT_MISMATCH", "expected float32[batch,4], got int32[2,4]"),
    "run_shape_null": ("TSB_INVALID_ARGUMENT", "shape is NULL"),
    "run_shape_negative_size": ("TSB_INVALID_ARGUMENT", "shape[1] is negative"),
    "run_ndim_negative": ("TSB_INVALID_ARGUMENT", "ndim must be 0..16, got -1"),
    "run_ndim_huge": ("TSB_INVALID_ARGUMENT", "got 1000"),
    "run_shape_overflow": ("TSB_INVALID_ARGUMENT", "shape too large"),
    "run_data_null": ("TSB_INVALID_ARGUMENT", "data is NULL"),
    "run_ndim_mismatch": ("TSB_INPUT_MISMATCH", "got float32[2,4,1]"),
    "run_shape_mismatch": ("TSB_INPUT_MISMATCH", "got float32[2,5]"),
    "run_scalar_for_a_matrix": ("TSB_INPUT_MISMATCH", "got float32[]"),
    "run_method_not_found": ("TSB_METHOD_NOT_FOUND", "no_such_method"),
    "run_ok": ("TSB_OK", ""),
    "outputs_count_null_count": ("TSB_INVALID_ARGUMENT", "count is NULL"),
    "outputs_get_null_tensor": ("TSB_INVALID_ARGUMENT", "tensor is NULL"),
    "outputs_get_index_past_end": ("TSB_INVALID_ARGUMENT", "index 1 out of range"),
    "outputs_get_index_negative": ("TSB_INVALID_ARGUMENT", "index -1 out of range"),
    "outputs_handle_as_model": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "model_handle_as_outputs": ("TSB_INVALID_ARGUMENT", "not a live tsb_outputs"),
    "outputs_get_ok": ("TSB_OK", ""),
    "outputs_free_ok": ("TSB_OK", ""),
    "outputs_free_twice": ("TSB_INVALID_ARGUMENT", "freed already"),
    "outputs_get_after_free": ("TSB_INVALID_ARGUMENT", "not a live tsb_outputs"),
    "outputs_count_after_free": ("TSB_INVALID_ARGUMENT", "not a live tsb_outputs"),
    "outputs_free_null": ("TSB_OK", ""),
    "run_before_model_free": ("TSB_OK", ""),
    "model_free_ok": ("TSB_OK", ""),
    "outputs_get_after_model_free": ("TSB_OK", ""),
    "outputs_free_after_model_free": ("TSB_OK", ""),
    "model_free_twice": ("TSB_INVALID_ARGUMENT", "freed already"),
    "run_after_free": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "input_count_after_free": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "metadata_after_free": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "tuning_after_free": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "model_free_null": ("TSB_OK", ""),
    "load_again": ("TSB_OK", ""),
    "run_after_free_with_a_new_model_live": ("TSB_INVALID_ARGUMENT", "not a live tsb_model"),
    "final_free": ("TSB_OK", ""),
}

FACTS = [
    "no_error_before_any_failure",
    "failed_load_sets_null",
    "failed_run_sets_null",
    "no_outputs_after_failures",
    "output_shape",
    "outputs_readable_after_model_free",
    "new_handle_differs_from_freed",
    "status_name_unknown",
    "dtype_size_unknown",
    "dtype_size_known",
    "dtype_name_unknown",
    "new_thread_starts_without_error",
    "other_thread_failure_leaves_ours",
    "threads_agree_with_serial",
]


@pytest.fixture(scope="module")
def misuse_report(native, packages, tmp_path_factory):
    folder = tmp_path_factory.mktemp("misuse")
    model = nn.Linear(4, 3).eval()
    path = folder / "linear.pt"
    tsbridge.export(model, torch.randn(2, 4), path, input_names=["x"])
    junk = folder / "junk.pt"
    junk.write_bytes(b"PK\x03\x04 but not really a zip")
    tampered = folder / "tampered.pt"
    shutil.copy(path, tampered)
    with zipfile.ZipFile(tampered, "a") as archive:  # an entry the manifest's digests do not list
        prefix = archive.namelist()[0].split("/")[0]
        archive.writestr(f"{prefix}/extra/added-later.txt", "not part of the export")
    package = packages["simple"].path
    result = run([native.program("c_api_bad_input"), path, junk, folder / "missing.pt", tampered, package])
    cases, facts = {}, {}
    order = []
    for line in result.stdout.splitlines():
        kind, *fields = line.split("\t")
        if kind == "case":
            name, status, message = fields
            cases[name] = (status, message)
            order.append(name)
        elif kind == "fact":
            facts[fields[0]] = fields[1]
    return result, cases, facts, order


def test_misuse_never_crashes(misuse_report):
    result, cases, facts, _ = misuse_report
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.rstrip().endswith("done")
    assert set(cases) == set(EXPECTED), "the program and this table must list the same cases"
    assert set(facts) == set(FACTS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_misuse_gives_a_status_and_a_message(misuse_report, name):
    _, cases, _, _ = misuse_report
    want_status, want_text = EXPECTED[name]
    if name == "load_device_cuda" and torch.cuda.is_available():
        want_status, want_text = "TSB_OK", ""
    status, message = cases[name]
    assert status == want_status, message
    if status != "TSB_OK":
        assert message.strip(), "a failure must leave a message"
        assert "\n" not in message
        assert want_text in message


def test_each_failure_sets_its_own_message(misuse_report):
    """The message belongs to the failing call, not to an earlier one: no
    two failures in a row leave the same text."""
    _, cases, _, order = misuse_report
    failures = [name for name in order if cases[name][0] != "TSB_OK"]
    for before, after in itertools.pairwise(failures):
        assert cases[before][1] != cases[after][1], (before, after)


@pytest.mark.parametrize("name", FACTS)
def test_misuse_facts(misuse_report, name):
    _, _, facts, _ = misuse_report
    assert facts[name] == "ok"


@pytest.mark.writes_invalid_manifests  # deliberately refused at load
def test_c_app_reports_a_package_this_cpu_cannot_run(native, packages, tmp_path):
    from tsbridge import _core, archive

    missing = [f for f in _core.known_cpu_features() if f not in _core.cpu_features()]
    if not missing:
        pytest.skip("this CPU has every feature the runtime knows")
    with zipfile.ZipFile(packages["simple"].path) as package:
        name = next(n for n in package.namelist() if n.endswith("/extra/tsbridge/manifest.json"))
        manifest = json.loads(package.read(name))
    manifest["cpu"]["features"].append(missing[0])
    manifest.pop("integrity")
    path = tmp_path / "future.pt2"
    archive.rewrite(str(packages["simple"].path), path, manifest)
    result = run([native.program("c_app", "c_app"), path])
    assert result.returncode == 1
    assert result.stderr.startswith(f"c_app: TSB_UNSUPPORTED_CPU: {path}: needs {missing[0]}; this CPU has ")
    assert len(result.stderr.strip().splitlines()) == 1
