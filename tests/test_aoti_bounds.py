"""Bounds torch.export suggests for a dynamic dim (a position table of 64
rows bounds `seq` to 64) are applied, checked, recorded and enforced; any
other suggestion (a constant, a dim equal to another) stays a refusal.

The BERT-like package is compiled once for the module (AOTInductor takes
20-60 s here)."""

import subprocess

import numpy as np
import pytest
import torch

import tsbridge
from models import TinyBert

pytestmark = pytest.mark.aoti

DIMS = {"ids": {0: "batch", 1: "seq"}}


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    torch.manual_seed(0)
    model = TinyBert().eval()
    ids = torch.randint(0, 100, (2, 16))
    path = tmp_path_factory.mktemp("bounds") / "bert.pt2"
    report = tsbridge.export(model, (ids,), path, format="aoti", dynamic_dims=DIMS)
    return model, path, report


def test_the_suggested_bound_is_applied_and_said_in_the_report(bert):
    _, _, report = bert
    assert all(check.passed for check in report.checks)
    assert any(check.name == "seq=19" for check in report.checks)  # the size checks ran with the bound
    notes = [w for w in report.warnings if w.startswith("torch.export bounded dim 'seq' to 1..64")]
    assert len(notes) == 1, report.warnings
    assert "applied its suggested fix" in notes[0] and "refused at run time" in notes[0]
    assert not any("'batch'" in w and "bounded" in w for w in report.warnings)


def test_the_manifest_records_the_bound(bert):
    _, path, _ = bert
    dims = tsbridge.load(path).manifest.document["dims"]
    assert dims["seq"] == {"min": 1, "max": 64}
    assert dims["batch"] == {"min": 1, "max": None}


def test_cpp_runtime_matches_eager_at_every_allowed_seq(bert):
    model, path, _ = bert
    runtime = tsbridge.load(path)
    generator = torch.Generator().manual_seed(1)
    for seq in range(1, 65):
        batch = 1 + seq % 3
        ids = torch.randint(0, 100, (batch, seq), generator=generator)
        with torch.no_grad():
            expected = model(ids)
        torch.testing.assert_close(runtime(ids), expected, rtol=1e-4, atol=1e-5)


def test_cpp_runtime_refuses_seq_65_naming_the_bound_and_the_size(bert, tsrun_path, tmp_path):
    _, path, _ = bert
    runtime = tsbridge.load(path)
    with pytest.raises(tsbridge.InputError, match=r"input 'ids': dim 'seq' is 65, outside the sizes 1\.\.64"):
        runtime(torch.zeros(2, 65, dtype=torch.int64))
    ids = tmp_path / "ids.npy"
    np.save(ids, np.zeros((2, 65), dtype=np.int64))
    done = subprocess.run([tsrun_path, str(path), "--input", f"ids={ids}"], capture_output=True, text=True)
    assert done.returncode != 0
    assert "dim 'seq' is 65, outside the sizes 1..64" in done.stderr, done.stderr


class Reshaped(torch.nn.Module):
    """Views dim 1 as 4x4: torch.export suggests that dim be the constant 16."""

    def forward(self, x):
        return x.view(x.shape[0], 4, 4).sum(dim=2)


class Added(torch.nn.Module):
    """Adds two inputs: torch.export suggests their separately named dims be one."""

    def forward(self, x, y):
        return x + y


def test_a_suggested_constant_stays_a_refusal(tmp_path):
    with pytest.raises(tsbridge.ExportError) as caught:
        tsbridge.export(
            Reshaped(), (torch.randn(2, 16),), tmp_path / "r.pt2", format="aoti", dynamic_dims={"x": {1: "width"}}
        )
    message = str(caught.value)
    assert "cannot vary" in message and "torch.export suggests: width = 16" in message and "\n" not in message
    assert not (tmp_path / "r.pt2").exists()


def test_a_suggested_equality_stays_a_refusal(tmp_path):
    with pytest.raises(tsbridge.ExportError) as caught:
        tsbridge.export(
            Added(),
            (torch.randn(3, 4), torch.randn(3, 4)),
            tmp_path / "a.pt2",
            format="aoti",
            dynamic_dims={"x": {0: "xb"}, "y": {0: "yb"}},
        )
    message = str(caught.value)
    assert "cannot vary" in message and "torch.export suggests: yb = xb" in message and "\n" not in message
    assert not (tmp_path / "a.pt2").exists()


class ShortOrLong(torch.nn.Module):
    """Branches on the length: torch.export keeps the short branch, bounded
    to 64, while eager takes the other one at 65."""

    def forward(self, x):
        return x * 2 if x.shape[1] <= 64 else x * 3


def test_a_size_check_beyond_the_bound_is_skipped_not_run(tmp_path):
    # The example's length 62 makes the check sizes 31 and 65: 65 is past the bound.
    x = torch.randn(2, 62)
    path = tmp_path / "short.pt2"
    report = tsbridge.export(ShortOrLong(), (x,), path, format="aoti", dynamic_dims={"x": {1: "length"}})
    assert [c.name for c in report.checks if c.name.startswith("length=")] == ["length=31"]
    assert "check on length=65 skipped: the package is compiled for length <= 64" in report.warnings
    runtime = tsbridge.load(path)
    assert runtime.manifest.document["dims"]["length"] == {"min": 1, "max": 64}
    y = torch.randn(2, 64)  # the longest length it takes; only `length` is dynamic
    torch.testing.assert_close(runtime(y), ShortOrLong()(y))
    with pytest.raises(tsbridge.InputError, match="dim 'length' is 65, outside the sizes 1..64"):
        runtime(torch.randn(2, 65))
