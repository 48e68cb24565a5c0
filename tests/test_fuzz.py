"""Hostile and corrupt files: a few hundred fuzz cases through the C++ driver
(tests/fuzz), and the zip checks that run before LibTorch sees a file, each
as a regression test. The long, sanitized campaign is in docs/reliability.md."""

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import tsbridge
from models import SimpleModel
from native.harness import build_env, cmake_dir, generator_args

FUZZ = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ))
import fuzz  # noqa: E402

pytestmark = [pytest.mark.native, pytest.mark.slow]


@pytest.fixture(scope="session")
def fuzz_driver(tmp_path_factory) -> str:
    """tests/fuzz built against the installed package (the plain build; the
    campaign uses the sanitized one)."""
    build = tmp_path_factory.mktemp("fuzz-build")
    configure = subprocess.run(
        [
            "cmake",
            "-S",
            str(FUZZ),
            "-B",
            str(build),
            *generator_args(),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-Dtsbridge_DIR={cmake_dir()}",
        ],
        capture_output=True,
        text=True,
        env=build_env(),
    )
    assert configure.returncode == 0, configure.stdout[-3000:] + configure.stderr[-3000:]
    compiled = subprocess.run(["cmake", "--build", str(build)], capture_output=True, text=True, env=build_env())
    assert compiled.returncode == 0, compiled.stdout[-4000:] + compiled.stderr[-3000:]
    return str(build / "tsbridge_fuzz_load")


@pytest.fixture(scope="session")
def seeds(tmp_path_factory):
    return [fuzz.parse_seed(p) for p in fuzz.make_seeds(tmp_path_factory.mktemp("fuzz-seeds"))]


def test_a_few_hundred_hostile_files_end_in_clean_errors_or_loads(fuzz_driver, seeds, tmp_path_factory):
    cases = fuzz.systematic_cases(seeds, start_id=10_000_000) + [fuzz.make_case(i, 20240601, seeds) for i in range(400)]
    results = fuzz.run_cases(fuzz_driver, cases, tmp_path_factory.mktemp("fuzz-cases"), jobs=2, timeout=60)
    summary = fuzz.summarize(results, 0)
    assert len(results) == len(cases)
    assert not summary["failures"], json.dumps(summary["failures"][:5], indent=2)
    by_id = {r["id"]: r for r in results}
    for case in cases:
        result = by_id[case.id]
        if result["outcome"] == "error":
            # One line naming the file, never LibTorch's multi-line dump.
            assert result["message"].startswith(f"{tmp_path_factory.getbasetemp()}") and "\n" not in result["message"]
        if case.mutator in ("truncate", "random_bytes"):
            assert result["outcome"] == "error", (case.description, result)
    assert summary["outcomes"].get("error", 0) > len(cases) // 2


def test_every_changed_entry_is_caught_by_integrity(fuzz_driver, seeds, tmp_path_factory):
    """Each entry of the exported seed, one byte changed and the digests left
    alone: loaded by default, every one is refused by the integrity check
    (without it, a changed weight loads and gives wrong numbers)."""
    seed = seeds[0]
    cases = []
    for record, content in seed.contents.items():
        if record in (fuzz.MANIFEST, ".data/serialization_id") or not content:
            continue
        records = dict(seed.contents)
        records[record] = content[:-1] + bytes([content[-1] ^ 0x20])
        data = fuzz.build_zip(seed.folder, list(records.items()))
        for verify in (True, False):
            cases.append(fuzz.Case(len(cases), "entry", seed.name, verify, record, data))
    results = {
        (r["description"], r["verify"]): r
        for r in fuzz.run_cases(fuzz_driver, cases, tmp_path_factory.mktemp("integrity-cases"), timeout=60)
    }
    for case in cases:
        result = results[case.description, case.verify]
        assert result["outcome"] in ("error", "loaded"), result
        if case.verify:
            assert (
                result["outcome"] == "error"
                and f"integrity check failed: entry '{case.description}'" in result["message"]
            ), result
    weights = [r for (record, verify), r in results.items() if record.startswith("constants/") and not verify]
    assert weights and all(r["outcome"] == "loaded" and r.get("self_test") == "failed" for r in weights)


def test_inputs_disagreeing_on_a_shared_dim_are_refused(fuzz_driver, seeds, pair_files, tmp_path_factory):
    """The driver's input mutation: every model whose inputs share a dynamic
    dim is called with the sharers disagreeing, and must refuse it (a .pt2's
    kernels would read past the smaller buffer)."""
    cases = [fuzz.Case(i, "shared_dim", seed.name, True, "as exported", seed.data) for i, seed in enumerate(seeds)]
    for form, path in pair_files.items():
        cases.append(fuzz.Case(len(cases), "shared_dim", path.name, True, form, path.read_bytes()))
    results = fuzz.run_cases(fuzz_driver, cases, tmp_path_factory.mktemp("shared-dim-cases"), timeout=60)
    assert all(r["outcome"] == "loaded" for r in results), results
    sharing = {r["seed"] for r in results if r.get("shared_dim") == "refused"}
    assert sharing == {"unfrozen.pt", "pair.pt2", "pair.pt"}, results


# ── the zip checks before LibTorch: one regression test per rule ──


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "m.pt"
    tsbridge.export(SimpleModel().eval(), torch.randn(5, 10), path)
    return path


def _layout(data: bytes):
    """(entries, cd_offset, cd_size, eocd) of a zip, entries as dicts."""
    eocd = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack("<HII", data[eocd + 10 : eocd + 20])
    entries, pos = [], cd_offset
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[pos + 28 : pos + 34])
        name = data[pos + 46 : pos + 46 + name_len].decode()
        header = struct.unpack("<I", data[pos + 42 : pos + 46])[0]
        local_name, local_extra = struct.unpack("<HH", data[header + 26 : header + 30])
        entries.append(
            {
                "name": name,
                "central": pos,
                "header": header,
                "method": struct.unpack("<H", data[pos + 10 : pos + 12])[0],
                "data": header + 30 + local_name + local_extra,
                "size": struct.unpack("<I", data[pos + 20 : pos + 24])[0],
            }
        )
        pos += 46 + name_len + extra_len + comment_len
    return entries, cd_offset, cd_size, eocd


def _entry(entries, suffix):
    return next(e for e in entries if e["name"].endswith(suffix))


def _put(data: bytearray, offset: int, fmt: str, value):
    data[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)


def _refused(path, data, message):
    path.write_bytes(bytes(data))
    with pytest.raises(tsbridge.InvalidArchiveError) as error:
        tsbridge.load(path)
    assert "not a TorchScript archive (" in str(error.value) and message in str(error.value), str(error.value)


@pytest.mark.parametrize(
    "rule",
    [
        "stored size",
        "past the end",
        "offset past",
        "deflate ratio",
        "overlap",
        "local name",
        "duplicate",
        "outside folder",
        "method",
        "encrypted",
        "zip64 missing",
        "trailing bytes",
        "cd count",
    ],
)
def test_the_zip_structure_is_checked_before_libtorch(archive, tmp_path, rule):
    data = bytearray(archive.read_bytes())
    entries, cd_offset, cd_size, eocd = _layout(bytes(data))
    pkl = _entry(entries, "/data.pkl")
    message = {
        "stored size": "is stored with",
        "past the end": "past the entries' area",
        "offset past": "local header offset",
        "deflate ratio": "beyond what deflate can produce",
        "overlap": "overlap",
        "local name": "different name in its local header",
        "duplicate": "appears twice",
        "outside folder": "is outside the archive folder",
        "method": "uses compression method 12",
        "encrypted": "is encrypted",
        "zip64 missing": "has no zip64 extra field",
        "trailing bytes": "no end-of-central-directory record at its end",
        "cd count": "more than a",
    }[rule]
    if rule == "stored size":
        _put(data, pkl["central"] + 24, "<I", pkl["size"] + 1)
    elif rule == "past the end":
        _put(data, pkl["central"] + 20, "<I", 0x7FFFFFFF)
        _put(data, pkl["central"] + 24, "<I", 0x7FFFFFFF)
    elif rule == "offset past":
        _put(data, pkl["central"] + 42, "<I", len(data) + 100)
    elif rule == "deflate ratio":
        _put(data, pkl["central"] + 10, "<H", 8)
        _put(data, pkl["central"] + 24, "<I", 0xFFFFFFF0)
    elif rule == "overlap":
        # data.pkl claims to run into the entry after it.
        following = min((e for e in entries if e["header"] > pkl["header"]), key=lambda e: e["header"])
        grown = following["data"] + 8 - pkl["data"]
        _put(data, pkl["central"] + 20, "<I", grown)
        _put(data, pkl["central"] + 24, "<I", grown)
    elif rule == "local name":
        data[pkl["header"] + 30 + len(pkl["name"]) - 1] ^= 0x01
    elif rule == "duplicate":
        # constants/1 renamed constants/0, in its central record and its local header.
        first, second = _entry(entries, "/constants/0"), _entry(entries, "/constants/1")
        name = first["name"].encode()
        data[second["central"] + 46 : second["central"] + 46 + len(name)] = name
        data[second["header"] + 30 : second["header"] + 30 + len(name)] = name
    elif rule == "outside folder":
        data[pkl["central"] + 46] ^= 0x02  # ".tsbridge-..." becomes ",tsbridge-..."
        data[pkl["header"] + 30] ^= 0x02
    elif rule == "method":
        _put(data, pkl["central"] + 10, "<H", 12)
    elif rule == "encrypted":
        _put(data, pkl["central"] + 8, "<H", 1)
    elif rule == "zip64 missing":
        _put(data, pkl["central"] + 20, "<I", 0xFFFFFFFF)
    elif rule == "trailing bytes":
        data += b"\x00" * 10
    elif rule == "cd count":
        _put(data, eocd + 8, "<H", 0xFFFF)
        _put(data, eocd + 10, "<H", 0xFFFF)
        zip64 = data.rfind(b"PK\x06\x06")
        _put(data, zip64 + 24, "<Q", 10**6)
        _put(data, zip64 + 32, "<Q", 10**6)
    _refused(tmp_path / "bad.case", data, message)  # not *.pt: conftest would read it


def test_zip64_extra_fields_are_read(archive, tmp_path):
    """Sizes saturated at 0xFFFFFFFF with the real values in a zip64 extra
    field (as LibTorch's writer does for entries over 4 GiB) pass the check,
    and LibTorch loads the file."""
    data = bytearray(archive.read_bytes())
    entries, cd_offset, cd_size, eocd = _layout(bytes(data))
    pkl = _entry(entries, "/data.pkl")
    central = bytearray(data[cd_offset : cd_offset + cd_size])
    at = pkl["central"] - cd_offset
    name_len, extra_len = struct.unpack("<HH", central[at + 28 : at + 32])
    _put(central, at + 20, "<I", 0xFFFFFFFF)
    _put(central, at + 24, "<I", 0xFFFFFFFF)
    _put(central, at + 30, "<H", extra_len + 20)
    extra_at = at + 46 + name_len + extra_len
    central[extra_at:extra_at] = struct.pack("<HHQQ", 1, 16, pkl["size"], pkl["size"])
    tail = bytearray(data[cd_offset + cd_size :])  # zip64 end record, locator, end record
    zip64, locator, end = 0, tail.find(b"PK\x06\x07"), tail.find(b"PK\x05\x06")
    _put(tail, zip64 + 40, "<Q", len(central))
    _put(tail, locator + 8, "<Q", cd_offset + len(central))
    _put(tail, end + 12, "<I", len(central))
    path = tmp_path / "zip64.pt"
    path.write_bytes(bytes(data[:cd_offset]) + bytes(central) + bytes(tail))
    with zipfile.ZipFile(path) as check:
        assert check.getinfo(pkl["name"]).file_size == pkl["size"]
    x = torch.randn(3, 10)
    torch.testing.assert_close(tsbridge.load(path)(x), torch.jit.load(str(archive))(x))


def test_junk_and_empty_files_are_not_zips(tmp_path):
    for name, content in {"empty.pt": b"", "short.pt": b"PK\x05\x06", "junk.pt": bytes(range(256)) * 40}.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(tsbridge.InvalidArchiveError, match="not a TorchScript archive \\(not a zip file: "):
            tsbridge.load(path)


# ── crashes the campaign found in LibTorch, each guarded and kept as a case ──


def _cut(seeds, seed_name, record, keep=0):
    seed = next(s for s in seeds if s.name == seed_name)
    records = [(r, c[:keep] if r == record else c) for r, c in seed.contents.items()]
    return fuzz.build_zip(seed.folder, fuzz.rehashed(records))


def _nested_cut(seeds):
    """The golden sample (a torch.save zip inside the archive) with its first
    storage record emptied, digests made to match."""
    import io

    seed = seeds[0]
    golden = seed.contents["extra/tsbridge/golden.pt"]
    with zipfile.ZipFile(io.BytesIO(golden)) as inner:
        folder = inner.namelist()[0].split("/", 1)[0] + "/"
        inner_records = [(i.filename[len(folder) :], inner.read(i)) for i in inner.infolist()]
    inner_records = [(r, b"" if r == "data/0" else c) for r, c in inner_records]
    records = [
        (r, fuzz.build_zip(folder, inner_records) if r == "extra/tsbridge/golden.pt" else c)
        for r, c in seed.contents.items()
    ]
    return fuzz.build_zip(seed.folder, fuzz.rehashed(records))


def test_libtorch_crashes_found_by_fuzzing_are_clean_errors(fuzz_driver, seeds, tmp_path_factory):
    """LibTorch sizes a storage from the numel its pickle declares and reads
    the record's buffer that far: an emptied weight record (digests made to
    match, or no manifest at all) loaded and then crashed forward() with a
    SEGV. A corrupt *.debug_pkl crashed printing the code; a string declared
    longer than its pickle hung the unpickler. Each such file is now refused,
    or loads safely, before LibTorch reads past anything."""
    cases = [
        fuzz.Case(0, "storage", "unfrozen.pt", True, "data/1 emptied", _cut(seeds, "unfrozen.pt", "data/1")),
        fuzz.Case(1, "storage", "saved.pt", False, "data/0 cut short", _cut(seeds, "saved.pt", "data/0", keep=3)),
        fuzz.Case(2, "storage", "exported.pt", True, "constants/0 emptied", _cut(seeds, "exported.pt", "constants/0")),
        fuzz.Case(3, "storage", "plain.pt", False, "data/0 emptied, no manifest", _cut(seeds, "plain.pt", "data/0")),
        fuzz.Case(4, "storage", "exported.pt", True, "golden sample storage emptied", _nested_cut(seeds)),
    ]
    seed = next(s for s in seeds if s.name == "unfrozen.pt")
    debug = next(r for r in seed.contents if r.endswith(".debug_pkl"))
    data = bytearray(seed.contents[debug])
    for i in range(len(data) // 3, len(data) // 3 + 2):
        data[i] ^= 0xFF
    records = [(r, bytes(data) if r == debug else c) for r, c in seed.contents.items()]
    cases.append(
        fuzz.Case(
            5,
            "debug_pkl",
            seed.name,
            True,
            "debug_pkl bytes flipped",
            fuzz.build_zip(seed.folder, fuzz.rehashed(records)),
        )
    )
    # A 2 GiB string declared in an 11-byte data.pkl: LibTorch's unpickler hung (killed after 20 s).
    seed = next(s for s in seeds if s.name == "saved.pt")
    records = [(r, b"\x80\x02X\xff\xff\xff\x7fabc." if r == "data.pkl" else c) for r, c in seed.contents.items()]
    cases.append(
        fuzz.Case(6, "pickle", seed.name, True, "huge BINUNICODE", fuzz.build_zip(seed.folder, fuzz.rehashed(records)))
    )
    results = {r["id"]: r for r in fuzz.run_cases(fuzz_driver, cases, tmp_path_factory.mktemp("found"), timeout=60)}
    for index in (0, 1, 2, 3):
        assert results[index]["outcome"] == "error", results[index]
        assert "not a valid TorchScript archive (" in results[index]["message"]
        assert "but the entry holds" in results[index]["message"]
    assert (
        "data.pkl declares storage 'data/1' of 5 Float elements (20 bytes), but the entry holds 0 bytes"
        in results[0]["message"]
    )
    assert "constants.pkl declares storage 'constants/0'" in results[2]["message"]
    golden = results[4]
    assert golden["outcome"] == "loaded" and "self_test: InvalidArchive" in golden["run_error"], golden
    assert "but the entry holds 0 bytes" in golden["run_error"]
    assert results[5]["outcome"] in ("loaded", "error"), results[5]
    assert results[6]["outcome"] == "error" and results[6]["seconds"] < 10, results[6]
    assert "data.pkl: malformed pickle: an argument runs past the end at byte 7" in results[6]["message"]


def test_a_truncated_pt_tensor_file_is_refused(tmp_path):
    tensor = tmp_path / "t.pt"
    torch.save(torch.arange(100, dtype=torch.float32), tensor)
    with zipfile.ZipFile(tensor) as old, zipfile.ZipFile(tmp_path / "cut.pt", "w") as new:
        for item in old.infolist():
            new.writestr(item, b"" if item.filename.endswith("/data/0") else old.read(item))
    from tsbridge import _core

    with pytest.raises(tsbridge.InputFileError, match=r"declares storage 'data/0' of 100 Float elements \(400 bytes\)"):
        _core.read_tensor(tmp_path / "cut.pt")
