""".pt2 packages (format="aoti") behind the same Model, tsrun and Python API:
the C++ runtime is compared with AOTInductor's own Python loader and with
eager PyTorch, computed in the same test.

Compiling a package takes 10-40 s on 2 cores, so the packages are compiled
once per session (conftest's `packages`) and shared."""

import json
import subprocess
import sys
import threading
import time
import zipfile

import jsonschema
import numpy as np
import pytest
import torch

import tsbridge
import tsbridge.aoti
from models import SimpleModel
from tsbridge import manifest as manifest_

pytestmark = pytest.mark.aoti

CASES = ["simple", "mlp", "cnn", "encoder"]  # conftest's AOTI_CASES; mlp's example has batch 1


def resized(example, batch, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, *example.shape[1:], generator=generator)


@pytest.mark.parametrize("name", CASES)
def test_cpp_matches_aoti_python_and_eager(packages, name):
    package = packages[name]
    assert package.report.format == "aoti" and package.report.compile_seconds > 0
    assert all(check.passed for check in package.report.checks)
    cpp = tsbridge.load(package.path)
    python = torch._inductor.aoti_load_package(str(package.path))
    # Other batch sizes than the example's: the batch dim is dynamic.
    for seed, batch in enumerate([1, package.example.shape[0], 3, 6]):
        x = resized(package.example, batch, seed)
        with torch.no_grad():
            eager = package.model(x)
            by_python = python(x)
        by_cpp = cpp(x)
        assert isinstance(by_cpp, torch.Tensor) and by_cpp.shape == eager.shape
        # The same compiled kernels run in both: bit for bit.
        torch.testing.assert_close(by_cpp, by_python, rtol=0, atol=0)
        torch.testing.assert_close(by_cpp, eager, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_package_carries_manifest_and_golden_sample(packages, name):
    package = packages[name]
    with zipfile.ZipFile(package.path) as archive:
        entries = archive.namelist()
        manifest_entry = [n for n in entries if n.endswith("/extra/" + manifest_.ENTRY)]
        assert len(manifest_entry) == 1
        stored = json.loads(archive.read(manifest_entry[0]))
    assert any("/data/aotinductor/model/" in n and n.endswith(".so") for n in entries)
    # The weights sit in one blob beside the shared object (docs/aoti.md, "Load time and memory").
    assert any("/data/aotinductor/model/" in n and n.endswith("_weights.blob") for n in entries)
    jsonschema.validate(stored, manifest_.schema())
    assert stored["backend"] == "aoti" and stored["method"] == "export" and stored["frozen"] is True
    assert stored["aoti"]["inductor_configs"]["freezing"] is True
    assert stored["inputs"][0]["shape"][0] == "batch"
    assert stored["inputs"][0]["shape"][1:] == list(package.example.shape[1:])  # the static dims, compiled in

    model = tsbridge.load(package.path)
    assert model.format == "aoti" and model.methods == ["forward"]
    assert model.manifest.document == stored
    typed, aoti = model.manifest, stored["aoti"]  # the reader's fields for what the export wrote
    assert (typed.format, typed.capture, typed.parallel_loops, typed.device) == (
        "aoti",
        "export",
        aoti["threads"],
        aoti["device"],
    )
    assert (typed.aoti.build, typed.aoti.prepacked, typed.aoti.compile_seconds) == (
        "default",
        aoti["prepacked"],
        aoti["compile_seconds"],
    )
    assert typed.aoti.inductor_configs == aoti["inductor_configs"]
    result = model.self_test()
    assert result.passed, result


def test_warm_up_at_load_replays_the_base64_golden_sample(packages):
    package = packages["cnn"]
    model = tsbridge.load(package.path, warmup_calls=2)
    assert model.load_warm_up.calls == 2
    started = time.perf_counter()
    done = model.warm_up(package.example, calls=3)
    wall = time.perf_counter() - started
    # The time it reports is its calls' own: more than nothing, less than the call to it took.
    assert done.calls == 3 and 0 < done.seconds <= wall
    torch.testing.assert_close(model(package.example), package.model(package.example), rtol=1e-4, atol=1e-5)


def _compiled_calls(path) -> str:
    with zipfile.ZipFile(path) as package:
        return "".join(package.read(n).decode() for n in package.namelist() if n.endswith("wrapper.cpp"))


def test_convolutions_are_prepacked_for_onednn_and_linear_layers_are_not(packages):
    # Measured: packing made the ResNet-18 1.6x faster, the seed model's Linear 7x slower.
    cnn, simple = _compiled_calls(packages["cnn"].path), _compiled_calls(packages["simple"].path)
    assert "mkldnn__convolution_pointwise" in cnn and "aoti_torch_cpu_convolution(" not in cnn
    assert "addmm" in simple and "mkldnn" not in simple
    for name in ("cnn", "simple"):  # the package's folder is named after its file
        with zipfile.ZipFile(packages[name].path) as package:
            assert package.namelist()[0].startswith(f"{name}/")


def _wide(rows: int, features: int = 256, width: int = 512):
    """A two-Linear model and an example of `rows` rows: its first product
    has rows * features * width multiply-adds."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(features, width), torch.nn.ReLU(), torch.nn.Linear(width, 4))
    return model.eval(), torch.randn(rows, features)


@pytest.mark.parametrize(
    "rows, features, packed",
    [(8, 256, True), (64, 256, True), (1, 256, False), (4, 256, False), (64, 16, False)],
)
def test_only_linear_products_large_enough_for_onednn_are_packed(rows, features, packed):
    # Measured: at 8 rows and more the MLP ran faster packed for oneDNN; at 1 row, or in a
    # product too small to pay for oneDNN's set-up (64 x 16 x 512), MKL was faster.
    model, example = _wide(rows, features)
    program = tsbridge.aoti.export_program(model, (example,), ["x"], {"x": {0: "batch"}})
    assert tsbridge.aoti.prepacks(program) is packed


def test_a_large_linear_product_runs_packed_and_matches_eager(tmp_path):
    model, example = _wide(16)
    path = tmp_path / "wide.pt2"
    report = tsbridge.export(model, (example,), path, format="aoti")
    compiled = _compiled_calls(path)
    assert "_linear_pointwise" in compiled and "aoti_torch_cpu_addmm_out" not in compiled
    assert json.loads(zipfile.ZipFile(path).read("wide/extra/tsbridge/manifest.json"))["aoti"]["prepacked"] is True
    loaded = tsbridge.load(path)
    for batch in (16, 1, 33):  # packed for 16 rows, run at any batch
        x = torch.randn(batch, 256)
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), model(x), rtol=1e-4, atol=1e-5)
    assert all(check.passed for check in report.checks)


def test_stats_count_the_compiled_weights(packages):
    mlp = packages["mlp"]
    stats = tsbridge.load(mlp.path).stats()
    eager = sum(p.numel() for p in mlp.model.parameters())
    assert 0 < stats.parameters <= eager
    assert stats.parameter_bytes == stats.parameters * 4


def test_wrong_static_dim_is_refused_before_the_kernels_run(packages):
    model = tsbridge.load(packages["cnn"].path)
    with pytest.raises(
        tsbridge.InputError,
        match=r"expected float32\[batch,3,8,8\], got float32\[2,3,9,8\].*"
        r"compiled for fixed sizes",
    ):
        model(torch.randn(2, 3, 9, 8))
    with pytest.raises(tsbridge.InputError, match="got float64"):
        model(torch.randn(2, 3, 8, 8, dtype=torch.float64))
    with pytest.raises(tsbridge.InputError, match=r"got float32\[3,8,8\]"):
        model(torch.randn(3, 8, 8))
    with pytest.raises(tsbridge.InputError, match="takes 1 input"):
        model(torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8))
    # Still runs after the refusals.
    torch.testing.assert_close(model(packages["cnn"].example), packages["cnn"].model(packages["cnn"].example))


def test_what_a_pt2_cannot_do_is_said_plainly(packages):
    model = tsbridge.load(packages["simple"].path)
    with pytest.raises(tsbridge.MethodNotFoundError, match="not supported for .pt2 packages"):
        model.run("predict", torch.randn(1, 10))
    with pytest.raises(tsbridge.InvalidArgumentError, match=r"code\(\) is not supported for .pt2"):
        model.code()
    with pytest.raises(tsbridge.InputError):
        model("not a tensor")


def test_non_contiguous_input_gives_the_eager_result(packages):
    package = packages["mlp"]
    x = torch.randn(16, 4).t()  # (4, 16), strides of a transpose
    assert not x.is_contiguous()
    torch.testing.assert_close(tsbridge.load(package.path)(x), package.model(x), rtol=1e-4, atol=1e-5)


def test_concurrent_calls_from_threads(packages):
    package = packages["encoder"]
    model = tsbridge.load(package.path)
    inputs = [resized(package.example, 1 + i % 3, 100 + i) for i in range(8)]
    with torch.no_grad():
        expected = [package.model(x) for x in inputs]
    failures = []

    def work(index):
        try:
            for _ in range(20):
                torch.testing.assert_close(model(inputs[index]), expected[index], rtol=1e-4, atol=1e-5)
        except Exception as error:  # collected: a thread's assertion would vanish
            failures.append(f"thread {index}: {error}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.native
def test_native_threads_share_one_package_model(packages, tmp_path_factory):
    # tests/native/thread_safety.cpp: 8 C++ threads on one Model (and copies),
    # batch sizes varying per call; every result equal to its serial one.
    from native.harness import build_env, native_build

    env = build_env()
    env["OMP_NUM_THREADS"] = "1"  # 8 threads x an OpenMP team each would oversubscribe 2 cores
    result = subprocess.run(
        [native_build(tmp_path_factory).program("thread_safety"), str(packages["encoder"].path), "8", "50"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("threads=8 calls=400 mismatches=0 errors=0")


@pytest.mark.native
def test_c_api_runs_a_package(packages, tmp_path_factory):
    # examples/c_app through the C API (tsbridge.h): the same call sequence as for a .pt.
    from native.harness import build_env, native_build
    from test_c_api import assert_outputs_match, c_app_inputs, parse_c_app

    package = packages["mlp"]
    result = subprocess.run(
        [native_build(tmp_path_factory).program("c_app", "c_app"), str(package.path), "3"],
        capture_output=True,
        text=True,
        env=build_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    printed = parse_c_app(result.stdout)
    assert printed["methods"] == ["forward"] and printed["inputs"] == ["x float32 [-1, 16]"]
    (x,) = c_app_inputs([(torch.float32, [-1, 16])], 3)
    # Against the same compiled kernels in Python (eager is checked elsewhere;
    # assert_outputs_match's 1e-6 is for printing round trips, not kernels).
    with torch.no_grad():
        expected = torch._inductor.aoti_load_package(str(package.path))(x)
        torch.testing.assert_close(expected, package.model(x), rtol=1e-4, atol=1e-5)
    assert_outputs_match(printed["outputs"], [("output", expected)])


def test_verify_compares_with_aoti_load_package(packages):
    report = tsbridge.verify(packages["simple"].path)
    assert report.passed, str(report)
    assert "C++ runtime vs aoti_load_package" in [check.name for check in report.checks]


# ── tsrun ──


def run_tsrun(tsrun_path, *args):
    return subprocess.run([tsrun_path, *map(str, args)], capture_output=True, text=True, timeout=120)


def assert_written_output_matches(path, model, x, **tolerances):
    """The one output tsrun wrote to the .npz at `path` equals eager `model(x)`."""
    with np.load(path) as written:
        got = torch.from_numpy(next(iter(written.values())))
    with torch.no_grad():
        torch.testing.assert_close(got, model(x), **tolerances)


def test_tsrun_runs_a_package_and_prints_what_pytorch_computes(packages, tsrun_path, tmp_path):
    package = packages["mlp"]
    x = resized(package.example, 5, 7)
    np.save(tmp_path / "x.npy", x.numpy())
    result = run_tsrun(
        tsrun_path, package.path, "--input", f"x={tmp_path / 'x.npy'}", "--json", "--output", tmp_path / "out.npz"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == "aoti" and summary["outputs"][0]["shape"] == [5, 4]
    assert_written_output_matches(tmp_path / "out.npz", package.model, x, rtol=1e-4, atol=1e-5)


def test_tsrun_info_selftest_and_bench_on_a_package(packages, tsrun_path):
    path = packages["cnn"].path
    info = run_tsrun(tsrun_path, path, "--info")
    assert info.returncode == 0, info.stderr
    assert "format:      aoti" in info.stdout and "x: float32[batch,3,8,8]" in info.stdout
    selftest = run_tsrun(tsrun_path, path, "--selftest")
    assert selftest.returncode == 0 and "self-test passed" in selftest.stdout, selftest.stdout + selftest.stderr
    bench = run_tsrun(tsrun_path, path, "--bench", "--iters", "20", "--shape", "x=4x3x8x8", "--json")
    assert bench.returncode == 0, bench.stderr
    timings = json.loads(bench.stdout)["timings"]["bench"]
    assert timings["iterations"] == 20 and 0 < timings["min_ms"] <= timings["max_ms"]


def test_tsrun_batch_mode_on_a_package(packages, tsrun_path, tmp_path):
    package = packages["simple"]
    samples = torch.randn(10, 10)
    np.save(tmp_path / "x.npy", samples.numpy())
    result = run_tsrun(
        tsrun_path, package.path, "--input", tmp_path / "x.npy", "--batch-size", 4, "--output", tmp_path / "out.npz"
    )
    assert result.returncode == 0, result.stderr
    assert_written_output_matches(tmp_path / "out.npz", package.model, samples, rtol=1e-5, atol=1e-6)


def test_tsrun_refuses_a_wrong_static_dim_and_code(packages, tsrun_path):
    path = packages["cnn"].path
    wrong = run_tsrun(tsrun_path, path, "--shape", "x=2x3x9x8")
    assert wrong.returncode == 4 and "expected float32[batch,3,8,8]" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1
    code = run_tsrun(tsrun_path, path, "--code")
    assert code.returncode != 0 and "not supported for .pt2" in code.stderr


# ── format="auto" ──


def test_auto_builds_both_and_keeps_the_pt2_only_when_faster_beyond_the_noise(tmp_path):
    model = SimpleModel().eval()
    x = torch.randn(4, 10)
    path = tmp_path / "auto.pt"
    report = tsbridge.export(model, (x,), path, format="auto")
    selection = report.selection
    timings = selection["median_us"]
    assert set(timings) == {"torchscript", "aoti"} and all(t > 0 for t in timings.values())
    # A tie keeps TorchScript, the simpler: the .pt2 must win by more than the 5% margin.
    if selection["chosen"] == "aoti":
        assert timings["aoti"] * 1.05 < timings["torchscript"]
    assert tsbridge.load(path, apply_tuning=False).manifest.tuning is None  # format="auto" alone tunes nothing
    loaded = tsbridge.load(path)
    assert loaded.format == selection["chosen"] == report.format
    assert loaded.manifest.document["selection"] == selection
    assert loaded.self_test().passed
    torch.testing.assert_close(loaded(x), model(x))
    assert [p.name for p in tmp_path.iterdir()] == ["auto.pt"]  # the other candidate is gone


def test_tsbridge_info_on_a_package(packages):
    package = packages["mlp"]
    result = subprocess.run(
        [sys.executable, "-m", "tsbridge", "info", "--json", str(package.path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["format"] == "aoti" and info["methods"] == ["forward"]
    assert info["parameters"] == tsbridge.load(package.path).stats().parameters > 0


class TopK(torch.nn.Module):
    def forward(self, x):
        return torch.topk(x * 2, k=3, dim=1)


def test_return_types_like_topk_are_packaged_with_their_field_names(tmp_path):
    # The .pt2 packager has no serialization name for torch.return_types.topk.
    model, x = TopK(), torch.randn(4, 10)
    path = tmp_path / "topk.pt2"
    tsbridge.export(model, x, path, format="aoti")
    runtime = tsbridge.load(path)
    assert [spec.name for spec in runtime.outputs] == ["values", "indices"]
    y = torch.randn(6, 10)
    values, indices = runtime(y)
    expected = model(y)
    torch.testing.assert_close(values, expected.values)
    torch.testing.assert_close(indices, expected.indices)
