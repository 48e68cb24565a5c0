"""Inputs that share a named dynamic dim must agree on its size, and sizes
must stay inside the bounds a .pt2 was compiled for: AOTInductor trusts the
shapes it is handed, so a mismatch used to read past a buffer (garbage or
SIGSEGV). Every entry point — Python, tsrun, the C API — is driven in a child
process, so a crash is a failed test, not a dead suite."""

import json
import subprocess
import sys
import textwrap

import jsonschema
import numpy as np
import pytest
import torch

import tsbridge
from models import Pair
from native.harness import build_env, native_build
from test_aoti_errors import manifest_of
from tsbridge import archive, manifest as manifest_

# The calls of the bug report: (x shape, y shape), each refused.
MISMATCHES = [((4, 64), (2, 64)), ((2, 64), (4000, 64)), ((100000, 64), (1, 64))]


def filled(shape):
    """The values tests/native/c_api_run_shapes.c fills its buffers with."""
    count = int(np.prod(shape))
    return torch.from_numpy(((np.arange(count) % 13) * 0.25 - 1.5).astype(np.float32)).reshape(shape)


@pytest.fixture(scope="session", params=["aoti", "torchscript"])
def pair(request, pair_files):
    """The bug report's model as a .pt2 package and as a TorchScript archive."""
    return pair_files[request.param]


@pytest.fixture(scope="session")
def native(tmp_path_factory):
    return native_build(tmp_path_factory)


CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np, torch, tsbridge
    model = tsbridge.load(sys.argv[1])
    shapes = json.loads(sys.argv[2])
    inputs = [torch.from_numpy(((np.arange(int(np.prod(s))) % 13) * 0.25 - 1.5).astype(np.float32)).reshape(s)
              for s in shapes]
    try:
        out = model(*inputs)
    except tsbridge.Error as error:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    else:
        print(json.dumps({"output": out.tolist()}))
""")


def python_call(path, *shapes):
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), json.dumps(shapes)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"the child died (rc {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def expected_message(x_shape, y_shape):
    return f"inputs 'x' and 'y' share dim 'batch': x has {x_shape[0]}, y has {y_shape[0]}"


@pytest.mark.parametrize("x_shape, y_shape", MISMATCHES)
def test_python_refuses_a_shared_dim_mismatch(pair, x_shape, y_shape):
    got = python_call(pair, x_shape, y_shape)
    assert got.get("error") == "InputError", got
    assert got["message"] == f"{pair}: {expected_message(x_shape, y_shape)}"


@pytest.mark.parametrize("batch", [1, 3, 4, 17])
def test_python_matching_sizes_still_match_eager(pair, batch):
    got = python_call(pair, (batch, 64), (batch, 64))
    expected = Pair()(filled((batch, 64)), filled((batch, 64)))
    torch.testing.assert_close(torch.tensor(got["output"]), expected)


def test_non_contiguous_and_offset_inputs_match_eager(pair):
    # A transposed view and a slice that starts mid-storage: the compiled
    # kernels index with the strides they were compiled for, so the runtime
    # must hand them dense tensors.
    model = tsbridge.load(pair)
    x = torch.randn(64, 6).t()
    y = torch.randn(7, 64)[1:]
    assert not x.is_contiguous() and y.storage_offset() > 0
    torch.testing.assert_close(model(x, y), Pair()(x, y))


def test_tsrun_refuses_a_shared_dim_mismatch(pair, tsrun_path, tmp_path, clean_env):
    for x_shape, y_shape in MISMATCHES:
        np.save(tmp_path / "x.npy", filled(x_shape).numpy())
        np.save(tmp_path / "y.npy", filled(y_shape).numpy())
        result = subprocess.run(
            [
                tsrun_path,
                str(pair),
                "--input",
                f"x={tmp_path / 'x.npy'}",
                "--input",
                f"y={tmp_path / 'y.npy'}",
                "--output",
                str(tmp_path / "out.npy"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=clean_env,
        )
        assert result.returncode == 4, result.stderr  # tsrun's input-mismatch exit code
        assert result.stderr.strip().splitlines() == [f"tsrun: error: {pair}: {expected_message(x_shape, y_shape)}"]
        assert not (tmp_path / "out.npy").exists()


def test_tsrun_matching_sizes_match_eager(pair, tsrun_path, tmp_path, clean_env):
    np.save(tmp_path / "x.npy", filled((5, 64)).numpy())
    np.save(tmp_path / "y.npy", filled((5, 64)).numpy() + 1)
    result = subprocess.run(
        [
            tsrun_path,
            str(pair),
            "--input",
            f"x={tmp_path / 'x.npy'}",
            "--input",
            f"y={tmp_path / 'y.npy'}",
            "--output",
            str(tmp_path / "out.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env,
    )
    assert result.returncode == 0, result.stderr
    expected = Pair()(filled((5, 64)), filled((5, 64)) + 1)
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "out.npz")["output"]), expected)


def test_aotinductors_own_checks_accept_a_batch_of_one(pair_files, tsrun_path, tmp_path, clean_env):
    # Off by default (tsbridge checks first); a user may turn them on to debug.
    x, y = filled((1, 64)), filled((1, 64))
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "y.npy", y.numpy())
    result = subprocess.run(
        [
            tsrun_path,
            str(pair_files["aoti"]),
            "--input",
            f"x={tmp_path / 'x.npy'}",
            "--input",
            f"y={tmp_path / 'y.npy'}",
            "--output",
            str(tmp_path / "out.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean_env, "AOTI_RUNTIME_CHECK_INPUTS": "1"},
    )
    assert result.returncode == 0, result.stderr
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "out.npz")["output"]), Pair()(x, y))


def c_call(native, path, *shapes):
    result = subprocess.run(
        [native.program("c_api_run_shapes"), str(path), *("x".join(map(str, s)) for s in shapes)],
        capture_output=True,
        text=True,
        timeout=120,
        env=build_env(),
    )
    assert result.returncode == 0, f"the C program died (rc {result.returncode}): {result.stderr[-2000:]}"
    return result.stdout.splitlines()


@pytest.mark.native
def test_c_api_refuses_a_shared_dim_mismatch(native, pair):
    for x_shape, y_shape in MISMATCHES:
        lines = c_call(native, pair, x_shape, y_shape)
        assert lines == ["status: TSB_INPUT_MISMATCH", f"error: {pair}: {expected_message(x_shape, y_shape)}"]


@pytest.mark.native
def test_c_api_matching_sizes_match_eager(native, pair):
    lines = c_call(native, pair, (3, 64), (3, 64))
    assert lines[0] == "status: TSB_OK"
    values = [float(v) for v in lines[1].split(":", 1)[1].split()]
    expected = Pair()(filled((3, 64)), filled((3, 64)))
    torch.testing.assert_close(torch.tensor(values).reshape(3, 1), expected)


# ── the bounds a package was compiled for ──


def test_package_records_the_bounds_it_was_compiled_for(pair):
    manifest = tsbridge.load(pair).manifest.document
    if manifest.get("backend") != "aoti":
        assert "dims" not in manifest  # TorchScript compiles for no bounds
        return
    assert manifest["dims"] == {"batch": {"min": 1, "max": None}}


@pytest.fixture
def bounded(pair, tmp_path):
    """The package with its manifest saying batch was compiled for 2..8, as
    torch.export records Dim("batch", min=2, max=8)."""
    manifest = manifest_of(pair)
    manifest["dims"] = {"batch": {"min": 2, "max": 8}}
    manifest.pop("integrity", None)
    path = tmp_path / f"bounded{pair.suffix}"
    archive.rewrite(str(pair), path, manifest)
    return path


def test_sizes_outside_the_bounds_are_refused(bounded):
    where = "the package was compiled for" if bounded.suffix == ".pt2" else "the manifest allows"
    for batch in (1, 9, 100000):
        got = python_call(bounded, (batch, 64), (batch, 64))
        assert got.get("error") == "InputError", got
        assert got["message"] == f"{bounded}: input 'x': dim 'batch' is {batch}, outside the sizes 2..8 {where}"
    got = python_call(bounded, (8, 64), (8, 64))
    torch.testing.assert_close(torch.tensor(got["output"]), Pair()(filled((8, 64)), filled((8, 64))))


def test_a_zero_sized_dim_is_refused_by_the_recorded_minimum(pair):
    got = python_call(pair, (0, 64), (0, 64))
    if tsbridge.load(pair).format == "aoti":
        assert got == {
            "error": "InputError",
            "message": f"{pair}: input 'x': dim 'batch' is 0, outside the sizes >= 1 the package was compiled for",
        }
    else:  # TorchScript runs any size: an empty batch gives an empty result
        assert got == {"output": []}


@pytest.mark.writes_invalid_manifests
@pytest.mark.parametrize(
    "dims, schema_refuses",
    [
        ({"batch": {"min": -1, "max": None}}, True),
        ({"batch": {"max": 3}}, True),
        ({"batch": 3}, True),
        (["batch"], True),
        ({"batch": {"min": 4, "max": 2}}, False),  # JSON Schema cannot compare two fields
    ],
)
def test_malformed_bounds_are_refused_by_both_readers(pair, tmp_path, dims, schema_refuses):
    manifest = manifest_of(pair)
    manifest["dims"] = dims
    manifest.pop("integrity", None)
    path = tmp_path / f"bad{pair.suffix}"
    archive.rewrite(str(pair), path, manifest)
    if schema_refuses:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(manifest, manifest_.schema())
    with pytest.raises(tsbridge.InvalidArchiveError, match=r"malformed tsbridge manifest: dims"):
        tsbridge.load(path)
