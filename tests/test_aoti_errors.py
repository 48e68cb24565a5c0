"""Bad .pt2 packages and models AOTInductor cannot take: each gives one clear
error (a tsbridge.Error subclass, or tsrun's one-line message), never a crash."""

import json
import subprocess
import zipfile

import pytest
import torch

import tsbridge
from models import ControlFlow, SimpleModel
from tsbridge import archive, manifest as manifest_

pytestmark = pytest.mark.aoti


def rezip(source, target, change):
    """Copies the zip at `source` to `target`, each entry through
    change(name, data) -> data, or None to leave it out."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info, data)
    return target


def manifest_of(path):
    with zipfile.ZipFile(path) as package:
        name = next(n for n in package.namelist() if n.endswith("/extra/" + manifest_.ENTRY))
        return json.loads(package.read(name))


@pytest.mark.writes_invalid_manifests  # deliberately refused at load
def test_package_from_a_newer_torch_is_refused(packages, tmp_path):
    # As tsbridge.export on a newer torch would write it, digests and all.
    manifest = manifest_of(packages["simple"].path)
    manifest["torch_version"] = "2.99.0"
    manifest.pop("integrity")
    path = tmp_path / "newer.pt2"
    archive.rewrite(str(packages["simple"].path), path, manifest)
    with pytest.raises(
        tsbridge.UnsupportedVersionError,
        match=r"a \.pt2 compiled with torch 2\.99\.0; this runtime.s LibTorch is 2\.13",
    ):
        tsbridge.load(path)


@pytest.mark.writes_invalid_manifests  # deliberately refused at load
def test_package_with_a_newer_archive_version_is_refused(packages, tmp_path):
    path = rezip(
        packages["simple"].path,
        tmp_path / "version.pt2",
        lambda name, data: b"99\n" if name.endswith("/.data/version") else data,
    )
    with pytest.raises(tsbridge.UnsupportedVersionError, match="newer torch"):
        tsbridge.load(path, verify_integrity=False)


@pytest.mark.writes_invalid_manifests
def test_package_with_no_model_inside(packages, tmp_path):
    path = rezip(
        packages["simple"].path,
        tmp_path / "empty.pt2",
        lambda name, data: None if "/data/aotinductor/" in name else data,
    )
    with pytest.raises(tsbridge.InvalidArchiveError, match="no compiled model inside"):
        tsbridge.load(path, verify_integrity=False)


def test_exported_program_without_aotinductor_is_refused(tmp_path):
    # torch.export.save writes a .pt2 too, but one with no compiled code.
    program = torch.export.export(SimpleModel().eval(), (torch.randn(2, 10),))
    path = tmp_path / "program.pt2"
    torch.export.save(program, path)
    with pytest.raises(tsbridge.InvalidArchiveError, match="no compiled model inside"):
        tsbridge.load(path)


@pytest.mark.writes_tampered_archives
def test_corrupted_package_fails_the_integrity_check(packages, tmp_path):
    def flip(name, data):
        if not name.endswith(".so"):
            return data
        middle = len(data) // 2
        return data[:middle] + bytes(b ^ 0xFF for b in data[middle : middle + 64]) + data[middle + 64 :]

    path = rezip(packages["simple"].path, tmp_path / "corrupt.pt2", flip)
    with pytest.raises(tsbridge.InvalidArchiveError, match=r"integrity check failed: entry '.*\.so' has sha256"):
        tsbridge.load(path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.99])
def test_truncated_package(packages, tmp_path, fraction):
    data = packages["simple"].path.read_bytes()
    path = tmp_path / "truncated.pt2"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(tsbridge.InvalidArchiveError):
        tsbridge.load(path)


@pytest.mark.writes_invalid_manifests
def test_tsrun_reports_a_bad_package_in_one_line(packages, tmp_path, tsrun_path):
    path = rezip(
        packages["simple"].path,
        tmp_path / "empty.pt2",
        lambda name, data: None if "/data/aotinductor/" in name else data,
    )
    result = subprocess.run([tsrun_path, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tsrun: error:"), result.stderr


# ── what torch.export cannot capture ──


def test_data_dependent_control_flow_names_the_ways_out(tmp_path):
    with pytest.raises(tsbridge.ExportError) as caught:
        tsbridge.export(ControlFlow(), (torch.randn(3, 4),), tmp_path / "flow.pt2", format="aoti")
    message = str(caught.value)
    assert "data-dependent control flow" in message and "torch.cond" in message
    assert "format='torchscript'" in message
    assert len(message.splitlines()) == 1
    assert not (tmp_path / "flow.pt2").exists()


def test_auto_falls_back_to_torchscript_for_data_dependent_control_flow(tmp_path):
    model = ControlFlow()
    x = torch.randn(3, 4)
    report = tsbridge.export(model, (x,), tmp_path / "flow.pt", format="auto")
    assert report.format == "torchscript"
    assert any("no aoti candidate" in note and "data-dependent" in note for note in report.warnings)
    loaded = tsbridge.load(tmp_path / "flow.pt")
    assert loaded.format == "torchscript" and loaded.manifest.selection.chosen == "torchscript"
    for sample in (x, -x):
        torch.testing.assert_close(loaded(sample), model(sample))


def test_non_tensor_inputs_are_refused_for_aoti(tmp_path):
    with pytest.raises(tsbridge.ExportError, match="tensor inputs only"):
        tsbridge.export(lambda x, k: x * k, (torch.randn(2), 3), tmp_path / "scaled.pt2", format="aoti")


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(ValueError, match="format must be one of"):
        tsbridge.export(SimpleModel(), (torch.randn(2, 10),), tmp_path / "m.pt2", format="onnx")


def test_method_is_for_torchscript_only(tmp_path):
    with pytest.raises(ValueError, match="format='aoti' always uses torch.export"):
        tsbridge.export(SimpleModel(), (torch.randn(2, 10),), tmp_path / "m.pt2", format="aoti", capture="trace")


class Noisy(torch.nn.Module):
    """Adds fresh noise: the package can never match the eager reference."""

    def forward(self, x):
        return x + torch.rand_like(x)


def test_a_package_that_does_not_match_says_by_how_much_and_what_to_try(tmp_path):
    with pytest.raises(tsbridge.ExportError) as caught:
        tsbridge.export(Noisy(), (torch.randn(2, 8),), tmp_path / "noisy.pt2", format="aoti")
    message = str(caught.value)
    assert message.startswith("the compiled .pt2 package does not match eager PyTorch on example inputs: ")
    assert "max abs error 0." in message  # rand_like's values lie in [0, 1)
    assert " on outputs up to " in message and " in magnitude" in message
    assert "looser rtol/atol" in message and "format='torchscript'" in message
    assert len(message.splitlines()) == 1
    assert not (tmp_path / "noisy.pt2").exists()
