"""Reliability under real use: validated inputs, version skew, concurrency,
memory that stays flat, and the model's own errors passed through."""

import json
import os
import threading
import zipfile

import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel


@pytest.fixture
def exported(tmp_path):
    model = SimpleModel().eval()
    path = tmp_path / "m.pt"
    tsbridge.export(model, torch.randn(5, 10), path)
    return model, path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: torch.zeros(5, 7, dtype=torch.int64), "input 'x': expected float32[batch,10], got int64[5,7]"),
        (lambda: torch.zeros(5, 10, dtype=torch.float64), "input 'x': expected float32[batch,10], got float64[5,10]"),
        (lambda: torch.zeros(5, 10, 1), "input 'x': expected float32[batch,10], got float32[5,10,1]"),
        (lambda: torch.zeros(10), "input 'x': expected float32[batch,10], got float32[10]"),
    ],
)
def test_inputs_are_validated_before_the_graph_runs(exported, make, message):
    _, path = exported
    with pytest.raises(tsbridge.InputError) as error:
        tsbridge.load(path)(make())
    assert message in str(error.value)


def test_dynamic_dims_accept_any_size(exported):
    model, path = exported
    runtime = tsbridge.load(path)
    for batch in (1, 3, 64):
        x = torch.randn(batch, 10)
        torch.testing.assert_close(runtime(x), model(x))


def test_without_manifest_libtorch_errors_are_condensed(tmp_path):
    path = tmp_path / "plain.pt"
    tsbridge.script(SimpleModel()).save(str(path))
    with pytest.raises(tsbridge.InferenceError) as error:
        tsbridge.load(path)(torch.zeros(5, 7))
    text = str(error.value)
    assert str(path) in text and "method 'forward'" in text and "mat1 and mat2 shapes cannot be multiplied" in text
    assert "\n" not in text


def test_the_models_own_exception_is_reported(tmp_path):
    class Refuses(nn.Module):
        def forward(self, x):
            if x.sum() < 0:
                raise ValueError("negative totals are not allowed here")
            return x

    path = tmp_path / "r.pt"
    tsbridge.save(tsbridge.script(Refuses()), path)
    with pytest.raises(tsbridge.InferenceError, match="negative totals are not allowed here"):
        tsbridge.load(path)(-torch.ones(3))


def _with_manifest_field(source, target, **changes):
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename.endswith("extra/tsbridge/manifest.json"):
                manifest = json.loads(data)
                manifest.update(changes)
                data = json.dumps(manifest).encode()
            new.writestr(item, data)


@pytest.mark.writes_invalid_manifests
def test_a_newer_torch_is_named_with_both_versions(exported, tmp_path):
    _, path = exported
    newer = tmp_path / "newer.pt"
    _with_manifest_field(path, newer, torch_version="2.99.0")
    with pytest.raises(tsbridge.UnsupportedVersionError) as error:
        tsbridge.load(newer)
    assert "written by torch 2.99.0" in str(error.value)
    assert torch.__version__.split("+")[0] in str(error.value)


def test_a_newer_patch_release_is_accepted(exported, tmp_path):
    _, path = exported
    major, minor = torch.__version__.split(".")[:2]
    patched = tmp_path / "patched.pt"
    _with_manifest_field(path, patched, torch_version=f"{major}.{minor}.9")
    model = tsbridge.load(patched)
    assert model.manifest.torch_version == f"{major}.{minor}.9"
    x = torch.randn(3, 10)
    torch.testing.assert_close(model(x), tsbridge.load(path)(x), rtol=0, atol=0)


@pytest.mark.writes_invalid_manifests
def test_a_newer_file_format_is_named(exported, tmp_path):
    _, path = exported
    newer = tmp_path / "format.pt"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(newer, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename.endswith("/version"):
                data = b"99\n"
            new.writestr(item, data)
    with pytest.raises(tsbridge.UnsupportedVersionError, match="newer torch") as error:
        tsbridge.load(newer)
    assert "version 99" in str(error.value) and torch.__version__.split("+")[0] in str(error.value)


def test_eight_threads_share_one_model(exported):
    model, path = exported
    runtime = tsbridge.load(path)
    inputs = [torch.randn(1 + i % 7, 10) for i in range(4000)]
    serial = [runtime(x) for x in inputs]
    mismatches, errors, calls = [], [], [0] * 8

    def worker(start):
        try:
            for index in range(start, len(inputs), 8):
                if not torch.equal(runtime(inputs[index]), serial[index]):
                    mismatches.append(index)
                calls[start] += 1
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    # A thread still running after the timeout is a deadlock, not a pass.
    assert not [t for t in threads if t.is_alive()], "threads still running after 300 s"
    assert not errors and not mismatches
    assert sum(calls) == len(inputs), calls
    torch.testing.assert_close(serial[0], model(inputs[0]))


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def test_ten_thousand_calls_do_not_grow_memory(exported):
    _, path = exported
    runtime = tsbridge.load(path)
    x = torch.randn(5, 10)
    for _ in range(500):
        runtime(x)
    before = _rss_mb()
    for _ in range(10_000):
        runtime(x)
    growth = _rss_mb() - before
    print(f"10,000 calls: resident memory grew {growth:+.2f} MB")  # docs/reliability.md quotes it
    assert growth < 5


def test_load_unload_cycles_do_not_grow_memory(exported):
    _, path = exported
    x = torch.randn(5, 10)
    for _ in range(20):
        tsbridge.load(path)(x)
    before = _rss_mb()
    for _ in range(200):
        tsbridge.load(path)(x)
    growth = _rss_mb() - before
    print(f"200 load/unload cycles: resident memory grew {growth:+.2f} MB")
    assert growth < 5


def test_many_shapes_keep_memory_bounded(exported):
    _, path = exported
    runtime = tsbridge.load(path)
    shapes = [torch.randn(batch, 10) for batch in range(1, 51)]
    for x in shapes:
        runtime(x)
    before = _rss_mb()
    for _ in range(100):
        for x in shapes:
            runtime(x)
    growth = _rss_mb() - before
    print(f"50 shapes x 100 calls: resident memory grew {growth:+.2f} MB")
    assert growth < 5


def test_python_model_exposes_stats_and_code(exported):
    model, path = exported
    runtime = tsbridge.load(path)
    assert runtime.stats().parameters == sum(p.numel() for p in model.parameters())
    assert "def forward" in runtime.code()
