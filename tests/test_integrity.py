"""Integrity: the manifest records a SHA-256 of every other archive entry;
loading checks them by default (C++, tsrun, Python), an option skips it, and
tsbridge verify reports the result."""

import hashlib
import io
import json
import subprocess
import zipfile

import pytest
import torch

import tsbridge
from models import SimpleModel
from tsbridge import _core

pytestmark = pytest.mark.writes_tampered_archives

MANIFEST = "extra/tsbridge/manifest.json"


@pytest.fixture
def exported(tmp_path):
    path = tmp_path / "m.pt"
    tsbridge.export(SimpleModel().eval(), torch.randn(5, 10), path, _extra_files={"notes.txt": "hi"})
    return path


def _records(path):
    with zipfile.ZipFile(path) as archive:
        folder = archive.namelist()[0].split("/", 1)[0] + "/"
        return folder, {i.filename[len(folder) :]: archive.read(i) for i in archive.infolist()}


def _manifest(path):
    return json.loads(_records(path)[1][MANIFEST])


def _rewrite(source, target, change=None, drop=(), add=None, manifest=None):
    """A copy of the archive with entries changed, dropped or added (and the
    manifest edited), written by Python's zipfile."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        folder = old.namelist()[0].split("/", 1)[0] + "/"
        for item in old.infolist():
            record = item.filename[len(folder) :]
            if record in drop:
                continue
            data = old.read(item)
            if change and record in change:
                data = change[record](data)
            if manifest and record == MANIFEST:
                data = json.dumps(manifest(json.loads(data))).encode()
            new.writestr(item, data)
        for record, data in (add or {}).items():
            new.writestr(folder + record, data)
    return target


def _flip_last_byte(data):
    return data[:-1] + bytes([data[-1] ^ 0x01])


def test_every_entry_but_the_manifest_is_recorded(exported):
    _, records = _records(exported)
    integrity = _manifest(exported)["integrity"]
    assert integrity["algorithm"] == "sha256"
    expected = {
        record: hashlib.sha256(data).hexdigest()
        for record, data in records.items()
        if record not in (MANIFEST, ".data/serialization_id")
    }
    assert integrity["entries"] == expected
    assert {"data.pkl", "constants/0", "extra/tsbridge/golden.pt", "extra/notes.txt", "version"} <= set(expected)
    # Still a plain TorchScript file, and the C++ check passes.
    x = torch.randn(3, 10)
    torch.testing.assert_close(torch.jit.load(str(exported))(x), tsbridge.load(exported)(x))
    report = _core.check_integrity(str(exported))
    assert (report.recorded, report.algorithm, report.checked, report.problems, report.intact) == (
        True,
        "sha256",
        len(expected),
        [],
        True,
    )


def test_tsbridge_save_and_streams_record_digests_too(tmp_path):
    scripted = tsbridge.script(SimpleModel().eval())
    written = tsbridge.save(scripted, tmp_path / "s.pt", example_inputs=torch.randn(2, 10))
    assert written["integrity"] == _manifest(tmp_path / "s.pt")["integrity"]
    buffer = io.BytesIO()
    tsbridge.save(scripted, buffer, example_inputs=torch.randn(2, 10))
    (tmp_path / "stream.pt").write_bytes(buffer.getvalue())
    assert _core.check_integrity(str(tmp_path / "stream.pt")).intact
    assert tsbridge.load(io.BytesIO(buffer.getvalue()))(torch.ones(2, 10)).shape == (2, 1)


def test_a_changed_weight_is_refused_with_both_digests(exported, tmp_path):
    tampered = _rewrite(exported, tmp_path / "t.pt", change={"constants/0": _flip_last_byte})
    with pytest.raises(tsbridge.InvalidArchiveError) as error:
        tsbridge.load(tampered)
    message = str(error.value)
    assert message.startswith(f"{tampered}: integrity check failed: entry 'constants/0' has sha256 ")
    actual = hashlib.sha256(_records(tampered)[1]["constants/0"]).hexdigest()
    recorded = _manifest(exported)["integrity"]["entries"]["constants/0"]
    assert f"has sha256 {actual[:12]}\u2026, manifest says {recorded[:12]}\u2026" in message
    # The option skips the check: the file loads (and its numbers are wrong).
    model = tsbridge.load(tampered, verify_integrity=False)
    assert model(torch.randn(2, 10)).shape == (2, 1)


def test_missing_and_unlisted_entries_are_refused(exported, tmp_path):
    missing = _rewrite(exported, tmp_path / "missing.pt", drop={"extra/notes.txt"})
    with pytest.raises(
        tsbridge.InvalidArchiveError,
        match="entry 'extra/notes.txt' is listed in the manifest but missing from the archive",
    ):
        tsbridge.load(missing)
    added = _rewrite(exported, tmp_path / "added.pt", add={"extra/payload.bin": b"\x00" * 8})
    with pytest.raises(
        tsbridge.InvalidArchiveError,
        match="integrity check failed: entry 'extra/payload.bin' is not listed in the manifest",
    ):
        tsbridge.load(added)
    report = _core.check_integrity(str(added))
    assert not report.intact and report.problems == ["entry 'extra/payload.bin' is not listed in the manifest"]


def test_several_problems_are_counted(exported, tmp_path):
    tampered = _rewrite(
        exported,
        tmp_path / "t.pt",
        change={"constants/0": _flip_last_byte, "extra/notes.txt": _flip_last_byte},
        add={"extra/more.txt": b"more"},
    )
    with pytest.raises(tsbridge.InvalidArchiveError, match=r"\(and 2 more\)"):
        tsbridge.load(tampered)
    assert len(_core.check_integrity(str(tampered)).problems) == 3


def test_archives_without_digests_still_load(exported, tmp_path):
    older = _rewrite(
        exported, tmp_path / "older.pt", manifest=lambda m: {k: v for k, v in m.items() if k != "integrity"}
    )
    assert tsbridge.load(older).manifest.integrity is None
    report = _core.check_integrity(str(older))
    assert (report.recorded, report.algorithm, report.checked, report.problems, report.intact) == (
        False,
        "",
        0,
        [],
        True,
    )
    assert tsbridge.verify(older).integrity == "none recorded"


def test_an_unknown_algorithm_is_named(exported, tmp_path):
    other = _rewrite(
        exported, tmp_path / "md5.pt", manifest=lambda m: {**m, "integrity": {**m["integrity"], "algorithm": "md5"}}
    )
    with pytest.raises(tsbridge.UnsupportedVersionError, match="integrity digests use 'md5'.*it knows sha256"):
        tsbridge.load(other)
    tsbridge.load(other, verify_integrity=False)


@pytest.mark.writes_invalid_manifests
@pytest.mark.parametrize(
    "integrity, message",
    [
        ([], "integrity: expected an object, got array"),
        ({"entries": {}}, "integrity: missing field 'algorithm'"),
        ({"algorithm": "sha256", "entries": []}, "integrity.entries: expected an object, got array"),
        ({"algorithm": "sha256", "entries": {"data.pkl": 5}}, "integrity.entries['data.pkl']: expected a hex digest"),
        (
            {"algorithm": "sha256", "entries": {"data.pkl": "ABC"}},
            "integrity.entries['data.pkl']: expected a lowercase hex digest",
        ),
    ],
)
def test_a_malformed_integrity_record_is_refused_by_both_readers(exported, tmp_path, integrity, message):
    import jsonschema

    from tsbridge import manifest as manifest_

    broken = _rewrite(exported, tmp_path / "broken.pt", manifest=lambda m: {**m, "integrity": integrity})
    with pytest.raises(
        tsbridge.InvalidArchiveError,
        match=f"malformed tsbridge manifest: {message}".replace("[", r"\[").replace("]", r"\]"),
    ):
        tsbridge.load(broken, verify_integrity=False)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_manifest(broken), manifest_.schema())


def test_tsrun_checks_by_default_and_no_verify_skips(exported, tmp_path, tsrun_path, clean_env):
    tampered = _rewrite(exported, tmp_path / "t.pt", change={"constants/0": _flip_last_byte})
    refused = subprocess.run([tsrun_path, str(tampered)], capture_output=True, text=True, env=clean_env)
    assert refused.returncode == 3
    assert "integrity check failed: entry 'constants/0' has sha256" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    skipped = subprocess.run(
        [tsrun_path, str(tampered), "--no-verify-integrity", "--selftest"],
        capture_output=True,
        text=True,
        env=clean_env,
    )
    assert skipped.returncode == 5, skipped.stderr  # loads, and the golden sample shows the damage
    info = subprocess.run([tsrun_path, str(exported), "--info"], capture_output=True, text=True, env=clean_env)
    entries = len(_manifest(exported)["integrity"]["entries"])
    assert f"integrity:   sha256 of {entries} entries" in info.stdout


def test_verify_reports_integrity(exported, tmp_path):
    assert tsbridge.verify(exported).integrity.startswith("intact (sha256 of ")
    tampered = _rewrite(exported, tmp_path / "t.pt", change={"extra/notes.txt": lambda d: b"changed"})
    report = tsbridge.verify(tampered)
    assert report.integrity == "FAILED" and not report.passed
    assert report.problems == [
        f"integrity: entry 'extra/notes.txt' has sha256 "
        f"{hashlib.sha256(b'changed').hexdigest()[:12]}\u2026, manifest says "
        f"{_manifest(exported)['integrity']['entries']['extra/notes.txt'][:12]}\u2026"
    ]
    # The model itself is untouched, so every numeric check still passes.
    assert all(check.passed for check in report.checks)
    assert "integrity FAILED" in str(report)


@pytest.mark.writes_invalid_manifests
def test_a_deeply_nested_manifest_is_refused_not_a_stack_overflow(exported, tmp_path):
    """Found by tests/fuzz: 100,000 nested objects in the metadata overflowed
    the C++ reader's stack (nlohmann's dump() recurses)."""
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000

    def nest(data):
        return json.dumps({**json.loads(data), "metadata": "@@"}).replace('"@@"', deep).encode()

    nested = _rewrite(exported, tmp_path / "deep.pt", change={MANIFEST: nest})
    code = (
        "import tsbridge, sys\n"
        "try:\n    tsbridge.load(sys.argv[1])\nexcept tsbridge.InvalidArchiveError as e:\n    print(e)\n"
    )
    import sys

    result = subprocess.run([sys.executable, "-c", code, str(nested)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "malformed tsbridge manifest: manifest: nested deeper than 64 levels" in result.stdout


def test_the_archive_folder_is_named_after_the_file_as_torch_jit_save_names_it(exported, tmp_path):
    plain = tmp_path / "plain.pt"
    torch.jit.save(torch.jit.script(SimpleModel().eval()), str(plain))
    assert _records(plain)[0] == "plain/"
    assert _records(exported)[0] == "m/"  # not the name of a temporary file it was written through
    # A name whose only dot leads: LibTorch's writer would get an empty folder name.
    hidden = tmp_path / ".model"
    tsbridge.export(SimpleModel().eval(), torch.randn(5, 10), hidden)
    assert _records(hidden)[0] == "model/"
    assert tsbridge.load(hidden).self_test().passed
