"""Tensor files through the C++ library (tsbridge/tensor_io.h): .npy, .npz and
torch.save's .pt, each checked against numpy or torch itself in the same test
(written by them and read by C++, written by C++ and read by them)."""

import gc
import io
import re
import struct
import time
import zipfile

import numpy as np
import pytest
import torch

import tsbridge
from tsbridge import _core

DTYPES = [
    np.float16,
    np.float32,
    np.float64,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.bool_,
    np.complex64,
    np.complex128,
]
SHAPES = [(), (0,), (7,), (3, 4), (2, 0, 3), (2, 3, 4, 5)]


def sample(dtype, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        values = rng.random(shape) > 0.5
    elif np.issubdtype(dtype, np.complexfloating):
        values = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    elif np.issubdtype(dtype, np.floating):
        values = rng.standard_normal(shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return np.asarray(values)  # 0-d results come back as numpy scalars


def assert_same(tensor, array):
    assert isinstance(tensor, torch.Tensor)
    assert tuple(tensor.shape) == array.shape
    got = tensor.numpy()
    assert got.dtype == array.dtype
    np.testing.assert_array_equal(got, array)


def npy_file(path, header, data=b"", version=(1, 0), magic=b"\x93NUMPY"):
    """A hand-made .npy: `header` is the dict text numpy would write."""
    text = header.encode("latin1")
    size = struct.pack("<H", len(text)) if version[0] == 1 else struct.pack("<I", len(text))
    path.write_bytes(magic + bytes(version) + size + text + data)
    return str(path)


def raises_input_file_error(message):
    return pytest.raises(tsbridge.InputFileError, match=re.escape(message))


# ── .npy ──


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_npy_from_numpy_reads_back(tmp_path, dtype, shape):
    array = sample(dtype, shape)
    np.save(tmp_path / "a.npy", array)
    tensor = _core.read_tensor(str(tmp_path / "a.npy"))
    assert_same(tensor, array)
    assert tensor.is_contiguous()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_npy_from_cpp_is_what_np_save_writes(tmp_path, dtype, shape):
    array = sample(dtype, shape)
    _core.write_npy(str(tmp_path / "cpp.npy"), torch.from_numpy(array))
    np.testing.assert_array_equal(np.load(tmp_path / "cpp.npy"), array)
    assert np.load(tmp_path / "cpp.npy").dtype == array.dtype
    np.save(tmp_path / "numpy.npy", array)
    assert (tmp_path / "cpp.npy").read_bytes() == (tmp_path / "numpy.npy").read_bytes()


def test_write_npy_takes_any_layout_and_accepts_pathlike(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    view = base.t()[1:, ::2]  # non-contiguous, with an offset
    _core.write_npy(tmp_path / "view.npy", view)
    np.testing.assert_array_equal(np.load(tmp_path / "view.npy"), view.numpy())
    z = torch.tensor([1 + 2j, 3 - 4j], dtype=torch.complex64).conj()  # a lazy conjugate view
    _core.write_npy(tmp_path / "conj.npy", z)
    np.testing.assert_array_equal(np.load(tmp_path / "conj.npy"), np.array([1 - 2j, 3 + 4j], np.complex64))


def test_npy_versions_2_and_3(tmp_path):
    data = np.arange(6, dtype="<i4").tobytes()
    header = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }\n"
    for version in [(2, 0), (3, 0)]:
        path = npy_file(tmp_path / f"v{version[0]}.npy", header, data, version)
        assert_same(_core.read_tensor(path), np.arange(6, dtype=np.int32).reshape(2, 3))
    array = np.arange(3, dtype=np.float32)
    with open(tmp_path / "np2.npy", "wb") as out:
        np.lib.format.write_array(out, array, version=(2, 0))
    assert_same(_core.read_tensor(str(tmp_path / "np2.npy")), array)


def test_python2_long_suffix_and_double_quotes(tmp_path):
    path = npy_file(
        tmp_path / "old.npy",
        '{"descr": "<f8", "fortran_order": False, "shape": (2L, 1L), }\n',
        np.array([1.5, 2.5]).tobytes(),
    )
    assert_same(_core.read_tensor(path), np.array([[1.5], [2.5]]))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,), ()], ids=str)
def test_fortran_order_is_transposed_into_c_order(tmp_path, shape):
    array = np.asfortranarray(sample(np.float32, shape))
    np.save(tmp_path / "f.npy", array)
    assert (b"'fortran_order': True" in (tmp_path / "f.npy").read_bytes()) == (len(shape) > 1)
    tensor = _core.read_tensor(str(tmp_path / "f.npy"))
    assert tensor.is_contiguous()
    assert_same(tensor, np.ascontiguousarray(array))
    # map_npy cannot copy: it gives the column-major view numpy itself gives
    mapped = _core.map_npy(str(tmp_path / "f.npy"))
    assert tuple(mapped.stride()) == tuple(s // array.itemsize for s in array.strides)
    assert_same(mapped.contiguous(), np.ascontiguousarray(array))


def test_fortran_order_in_npz(tmp_path):
    array = np.asfortranarray(sample(np.int16, (3, 5)))
    np.savez(tmp_path / "f.npz", a=array)
    [(name, tensor)] = _core.read_npz(str(tmp_path / "f.npz"))
    assert name == "a" and tensor.is_contiguous()
    assert_same(tensor, np.ascontiguousarray(array))


# ── map_npy ──


def mapped_regions(path):
    """(start, end) of this process's mappings of `path`, from /proc/self/maps."""
    regions = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == str(path):
                start, end = (int(x, 16) for x in fields[0].split("-"))
                regions.append((start, end))
    return regions


def test_map_npy_views_the_file_pages(tmp_path):
    array = sample(np.float64, (256, 64))
    path = tmp_path / "big.npy"
    np.save(path, array)
    tensor = _core.map_npy(str(path))
    assert_same(tensor, array)
    regions = mapped_regions(path)
    assert regions, "the file is not mapped"
    assert any(start <= tensor.data_ptr() < end for start, end in regions), "the tensor is not in the mapping"
    # the data starts right after numpy's 64-byte-aligned header
    start = min(start for start, _ in regions)
    assert tensor.data_ptr() - start == 128
    # the mapping lives exactly as long as the tensor
    view = tensor[10:20]
    del tensor
    gc.collect()
    assert mapped_regions(path)
    assert_same(view, array[10:20])
    del view
    gc.collect()
    assert not mapped_regions(path)


def test_map_npy_writes_stay_private(tmp_path):
    array = sample(np.int32, (4, 4))
    path = tmp_path / "a.npy"
    np.save(path, array)
    before = path.read_bytes()
    tensor = _core.map_npy(str(path))
    tensor.add_(1)  # an in-place op must neither crash nor change the file
    assert_same(tensor, array + 1)
    assert path.read_bytes() == before
    np.testing.assert_array_equal(np.load(path), array)


def test_overwriting_a_mapped_file_leaves_the_mapping_intact(tmp_path):
    path = tmp_path / "a.npy"
    array = sample(np.float32, (512, 512))
    np.save(path, array)
    mapped = _core.map_npy(str(path))
    _core.write_npy(str(path), torch.zeros(1))  # replaces the file, does not truncate the mapped one
    assert_same(mapped, array)  # reading every page: a truncated mapping would SIGBUS here
    np.testing.assert_array_equal(np.load(path), np.zeros(1, np.float32))
    _core.write_npy(str(path), mapped)  # and back, from the mapping itself
    np.testing.assert_array_equal(np.load(path), array)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


def test_write_through_a_symlink(tmp_path):
    (tmp_path / "real.npy").write_bytes(b"")
    (tmp_path / "link.npy").symlink_to(tmp_path / "real.npy")
    _core.write_npy(str(tmp_path / "link.npy"), torch.arange(3))
    assert (tmp_path / "link.npy").is_symlink()
    np.testing.assert_array_equal(np.load(tmp_path / "real.npy"), np.arange(3))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_map_npy_every_dtype(tmp_path, dtype):
    for shape in [(), (0, 3), (5, 2)]:
        array = sample(dtype, shape)
        np.save(tmp_path / "a.npy", array)
        assert_same(_core.map_npy(str(tmp_path / "a.npy")), array)


# ── .npz ──


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["stored", "deflated"])
def test_npz_from_numpy_reads_back(tmp_path, save):
    arrays = {f"a_{np.dtype(d).name}": sample(d, (3, 2), seed=i) for i, d in enumerate(DTYPES)}
    arrays["empty"] = np.zeros((0, 4), np.float32)
    arrays["scalar"] = np.array(3.5)
    save(tmp_path / "a.npz", np.arange(3), **arrays)
    arrays["arr_0"] = np.arange(3)
    read = _core.read_npz(str(tmp_path / "a.npz"))
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        assert [name for name, _ in read] == [name[:-4] for name in archive.namelist()]  # file order
    assert sorted(name for name, _ in read) == sorted(arrays)
    for name, tensor in read:
        assert_same(tensor, arrays[name])


def test_npz_from_cpp_reads_in_numpy(tmp_path):
    arrays = {f"a_{np.dtype(d).name}": sample(d, (4,), seed=i) for i, d in enumerate(DTYPES)}
    arrays["scalar"] = np.array(7, dtype=np.int64)
    arrays["empty"] = np.zeros((2, 0), np.float64)
    _core.write_npz(str(tmp_path / "dict.npz"), {k: torch.from_numpy(v) for k, v in arrays.items()})
    with np.load(tmp_path / "dict.npz") as loaded:
        assert list(loaded.keys()) == list(arrays)
        for name, array in arrays.items():
            np.testing.assert_array_equal(loaded[name], array)
            assert loaded[name].dtype == array.dtype
    with zipfile.ZipFile(tmp_path / "dict.npz") as archive:
        assert archive.testzip() is None
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    # a list keeps its order, and C++ reads back what C++ wrote
    pairs = [("z", torch.ones(2)), ("a", torch.zeros(3, dtype=torch.int8))]
    _core.write_npz(str(tmp_path / "list.npz"), pairs)
    assert list(np.load(tmp_path / "list.npz").keys()) == ["z", "a"]
    read = _core.read_npz(str(tmp_path / "list.npz"))
    assert [name for name, _ in read] == ["z", "a"]
    assert all(torch.equal(t, want) for (_, t), (_, want) in zip(read, pairs, strict=True))


def test_empty_npz_both_ways(tmp_path):
    _core.write_npz(str(tmp_path / "cpp.npz"), {})
    assert len(np.load(tmp_path / "cpp.npz").files) == 0
    np.savez(tmp_path / "numpy.npz")
    assert _core.read_npz(str(tmp_path / "numpy.npz")) == []


def test_write_npz_replaces_a_file(tmp_path):
    path = tmp_path / "a.npz"
    path.write_bytes(b"not a zip at all")
    _core.write_npz(str(path), {"x": torch.arange(3)})
    np.testing.assert_array_equal(np.load(path)["x"], np.arange(3))


def test_write_npz_bad_arguments(tmp_path):
    with pytest.raises(tsbridge.InvalidArgumentError, match="a dict of name: tensor or a list of"):
        _core.write_npz(str(tmp_path / "a.npz"), [torch.ones(2)])
    with pytest.raises(tsbridge.InvalidArgumentError, match="array name 'x' appears twice"):
        _core.write_npz(str(tmp_path / "a.npz"), [("x", torch.ones(2)), ("x", torch.ones(2))])
    with pytest.raises(tsbridge.InvalidArgumentError, match="array 'b': dtype bfloat16 has no .npy equivalent"):
        _core.write_npz(str(tmp_path / "a.npz"), {"b": torch.ones(2, dtype=torch.bfloat16)})
    assert not (tmp_path / "a.npz").exists()


def test_every_build_reports_npz_support():
    # libzip is required at build time (cmake/Libzip.cmake stops without it):
    # no build quietly lacks .npz.
    features = {f.name: f for f in _core.build_features()}
    assert features["npz"].available and features["npz"].detail.startswith("libzip ")
    assert features["integrity"].available and "OpenSSL" in features["integrity"].detail


# ── .pt ──


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float32,
        torch.float64,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int8,
        torch.uint8,
        torch.bool,
        torch.complex64,
    ],
    ids=str,
)
def test_pt_from_torch_save(tmp_path, dtype):
    tensor = torch.randn(3, 5).to(dtype)
    torch.save(tensor, tmp_path / "t.pt")
    got = _core.read_tensor(str(tmp_path / "t.pt"))
    assert got.dtype == dtype and torch.equal(got, tensor)


def test_pt_views_scalars_and_empty(tmp_path):
    base = torch.arange(20.0).reshape(4, 5)
    for name, tensor in {"view": base[1:, ::2], "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 3)}.items():
        torch.save(tensor, tmp_path / f"{name}.pt")
        got = _core.read_tensor(str(tmp_path / f"{name}.pt"))
        assert got.shape == tensor.shape and torch.equal(got, tensor)


def test_pt_errors(tmp_path):
    torch.save({"a": torch.ones(1)}, tmp_path / "dict.pt")
    with raises_input_file_error(f"{tmp_path / 'dict.pt'}: holds a GenericDict, not one tensor"):
        _core.read_tensor(str(tmp_path / "dict.pt"))
    (tmp_path / "junk.pt").write_bytes(b"junk" * 100)
    with raises_input_file_error(f"{tmp_path / 'junk.pt'}: not a file saved by torch.save ("):
        _core.read_tensor(str(tmp_path / "junk.pt"))


# ── NpyStreamWriter ──


def test_stream_writer_three_batches(tmp_path):
    path = tmp_path / "s.npy"
    batches = [torch.randn(4, 3), torch.randn(1, 3), torch.randn(5, 3)]
    writer = _core.NpyStreamWriter(str(path), 10)
    for batch in batches:
        writer.append(batch)
    writer.finish()
    writer.finish()  # a second finish is harmless
    loaded = np.load(path)
    np.testing.assert_array_equal(loaded, torch.cat(batches).numpy())
    # the header is the one np.save writes for the whole array
    np.save(tmp_path / "whole.npy", loaded)
    assert path.read_bytes() == (tmp_path / "whole.npy").read_bytes()


def test_stream_writer_as_context_manager(tmp_path):
    with _core.NpyStreamWriter(tmp_path / "s.npy", 6) as writer:
        for i in range(3):
            writer.append(torch.full((2,), i, dtype=torch.int16))
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), np.array([0, 0, 1, 1, 2, 2], np.int16))


def test_stream_writer_row_count_mismatch(tmp_path):
    path = tmp_path / "s.npy"
    writer = _core.NpyStreamWriter(str(path), 10)
    writer.append(torch.zeros(4, 2))
    with pytest.raises(
        tsbridge.InvalidArgumentError, match="a batch of 7 rows would make 11, more than the 10 declared"
    ):
        writer.append(torch.zeros(7, 2))
    with pytest.raises(
        tsbridge.InvalidArgumentError, match=re.escape("batch dtype float64 differs from the first batch's float32")
    ):
        writer.append(torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(
        tsbridge.InvalidArgumentError, match=re.escape("batch rows of shape [3] differ from the first batch's [2]")
    ):
        writer.append(torch.zeros(1, 3))
    with pytest.raises(tsbridge.InvalidArgumentError, match=re.escape(f"{path}: 4 rows written, 10 declared")):
        writer.finish()
    assert not list(tmp_path.iterdir()), "an incomplete stream must not leave a file that claims rows it lacks"


def test_stream_writer_dropped_unfinished_leaves_nothing(tmp_path):
    path = tmp_path / "s.npy"
    writer = _core.NpyStreamWriter(str(path), 3)
    writer.append(torch.zeros(1))
    assert not path.exists(), "the file appears only when complete"
    assert len(list(tmp_path.iterdir())) == 1  # its temporary file
    del writer
    gc.collect()
    assert not list(tmp_path.iterdir())
    with pytest.raises(tsbridge.InvalidArgumentError, match="rows must be at least 0"):
        _core.NpyStreamWriter(str(path), -1)


# ── bad files: each is tsbridge.InputFileError, naming the file and the fault ──

HEADER = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 10), }\n"


@pytest.mark.parametrize("read", [_core.read_tensor, _core.map_npy], ids=["read", "map"])
def test_missing_file(tmp_path, read):
    path = str(tmp_path / "nope.npy")
    with raises_input_file_error(f"{path}: no such file"):
        read(path)
    with raises_input_file_error(f"{tmp_path}: not a regular file"):
        read(str(tmp_path))


@pytest.mark.parametrize("read", [_core.read_tensor, _core.map_npy], ids=["read", "map"])
def test_truncated_and_oversized_data(tmp_path, read):
    path = npy_file(tmp_path / "t.npy", HEADER, b"\0" * 120)
    with raises_input_file_error(f"{path}: truncated: header says [5,10] float32 (200 bytes), file holds 120"):
        read(path)
    path = npy_file(tmp_path / "t.npy", HEADER, b"\0" * 240)
    with raises_input_file_error(
        f"{path}: more data than the header says: header says [5,10] float32 (200 bytes), file holds 240"
    ):
        read(path)
    # a real file cut short
    np.save(tmp_path / "real.npy", np.zeros((100, 100)))
    data = (tmp_path / "real.npy").read_bytes()
    (tmp_path / "real.npy").write_bytes(data[:-1])
    with raises_input_file_error("truncated: header says [100,100] float64 (80000 bytes), file holds 79999"):
        read(str(tmp_path / "real.npy"))


@pytest.mark.parametrize(
    "content",
    [b"", b"\x93NUM", b"PK\x03\x04 a zip, not a .npy", b"\x93NUMPZ\x01\x00"],
    ids=["empty", "short", "zip", "one-byte-off"],
)
def test_corrupt_magic(tmp_path, content):
    (tmp_path / "m.npy").write_bytes(content)
    with raises_input_file_error(f"{tmp_path / 'm.npy'}: not a .npy file (no \\x93NUMPY magic)"):
        _core.read_tensor(str(tmp_path / "m.npy"))


def test_unsupported_version(tmp_path):
    path = npy_file(tmp_path / "v.npy", HEADER, b"\0" * 200, version=(4, 0))
    with raises_input_file_error(f"{path}: unsupported .npy format version 4.0"):
        _core.read_tensor(path)


@pytest.mark.parametrize(
    "header, why",
    [
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 10), ", "ends inside a value"),
        ("{'descr': '<f4', 'fortran_order': False 'shape': (5, 10)}", "expected ',' or '}' at byte 40"),
        ("{'descr': '<f4', 'fortran_order': False}", "no 'shape'"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 10), 'extra': 1}", "unexpected key 'extra'"),
        ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (5, 10)}", "key 'descr' appears twice"),
        ("{'descr': '<f4', 'fortran_order': 0, 'shape': (5, 10)}", "'fortran_order' is not True or False"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (50)}", "'shape' is not a tuple"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5, -10)}", "'shape' is not a tuple of sizes"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 'a')}", "'shape' is not a tuple of sizes"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5, 10)} junk", "text after the dict"),
        ("{'descr': '<f4, 'fortran_order': False, 'shape': (5, 10)}", "expected ',' or '}' at byte 17"),
        ("{'descr' '<f4', 'fortran_order': False, 'shape': (5, 10)}", "expected ':' at byte 9"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (5 10)}", "expected ',' or ')' at byte 53"),
        ("{'descr': '<f4\n', 'fortran_order': False, 'shape': (5, 10)}", "unterminated string"),
        ("{'descr': '<f4', 'fortran_order': Falsehood, 'shape': (5, 10)}", "unexpected character at byte 34"),
        ("{'descr': __import__('os'), 'fortran_order': False, 'shape': (5, 10)}", "unexpected character"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "an integer too large"),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, " * 65 + ")}", "65 dims, more than 64"),
        ("{'descr': 5, 'fortran_order': False, 'shape': (5, 10)}", "'descr' is not a string"),
        ("[" * 50, "expected '{'"),
        ("{'descr': " + "(" * 50 + ")" * 50 + "}", "nested too deeply"),
    ],
)
def test_corrupt_header(tmp_path, header, why):
    path = npy_file(tmp_path / "h.npy", header + "\n", b"\0" * 200)
    with pytest.raises(
        tsbridge.InputFileError, match=re.escape(f"{path}: corrupt .npy header (") + ".*" + re.escape(why)
    ):
        _core.read_tensor(path)


def test_header_longer_than_the_file(tmp_path):
    path = tmp_path / "h.npy"
    path.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", 500_000) + b"{}")
    with raises_input_file_error(f"{path}: corrupt .npy header (the file ends inside it)"):
        _core.read_tensor(str(path))
    path.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFFF) + b"{}")
    with raises_input_file_error(f"{path}: corrupt .npy header (it claims 4294967295 bytes)"):
        _core.read_tensor(str(path))


@pytest.mark.parametrize(
    "descr, why",
    [
        ("<U5", ""),
        ("|O", " (Python objects)"),
        ("|S3", ""),
        ("<u2", ""),
        ("<f16", ""),
        ("<M8[ns]", ""),
        (">f4", " (big-endian; save it little-endian, e.g. arr.astype('<f4'))"),
        (">c16", " (big-endian; save it little-endian, e.g. arr.astype('<c16'))"),
        ("|f4", ""),
        ("f4", ""),
    ],
)
def test_unsupported_dtype(tmp_path, descr, why):
    path = npy_file(
        tmp_path / "d.npy", f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (5, 10), }}\n", b"\0" * 800
    )
    with raises_input_file_error(f"{path}: unsupported .npy dtype '{descr}'{why}"):
        _core.read_tensor(path)


def test_unsupported_dtypes_as_numpy_writes_them(tmp_path):
    np.save(tmp_path / "u.npy", np.array(["hello", "world"]))
    with raises_input_file_error(f"{tmp_path / 'u.npy'}: unsupported .npy dtype '<U5'"):
        _core.read_tensor(str(tmp_path / "u.npy"))
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with raises_input_file_error(f"{tmp_path / 'o.npy'}: unsupported .npy dtype '|O' (Python objects)"):
        _core.read_tensor(str(tmp_path / "o.npy"))
    np.save(tmp_path / "b.npy", np.arange(4, dtype=">f4"))
    with raises_input_file_error(f"{tmp_path / 'b.npy'}: unsupported .npy dtype '>f4' (big-endian"):
        _core.read_tensor(str(tmp_path / "b.npy"))
    np.save(tmp_path / "s.npy", np.zeros(3, dtype=[("x", "<f4"), ("y", "<i4")]))
    with raises_input_file_error(f"{tmp_path / 's.npy'}: unsupported .npy dtype (a structured array)"):
        _core.read_tensor(str(tmp_path / "s.npy"))


def test_one_byte_types_in_any_byte_order(tmp_path):
    for order in "<>|=":
        path = npy_file(
            tmp_path / "b.npy",
            f"{{'descr': '{order}i1', 'fortran_order': False, 'shape': (3,), }}\n",
            bytes([1, 255, 7]),
        )
        assert_same(_core.read_tensor(path), np.array([1, -1, 7], np.int8))


@pytest.mark.parametrize("read", [_core.read_tensor, _core.map_npy], ids=["read", "map"])
def test_gigantic_shape_fails_fast(tmp_path, read):
    # 4 EB of float32 in a 200-byte file: refused by size before any allocation
    path = npy_file(
        tmp_path / "g.npy",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 1000000), }\n",
        b"\0" * 200,
    )
    start = time.perf_counter()
    with raises_input_file_error(
        f"{path}: truncated: header says [1000000000000,1000000] float32 (4000000000000000000 bytes), file holds 200"
    ):
        read(path)
    # sizes that overflow 64 bits, even with a zero dim alongside
    for shape in [
        "(4294967296, 4294967296)",
        "(0, 4611686018427387904, 4611686018427387904)",
        "(2305843009213693952, 4)",
    ]:
        path = npy_file(tmp_path / "o.npy", f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}\n")
        with raises_input_file_error(f"{path}: corrupt .npy header (shape "):
            read(path)
    assert time.perf_counter() - start < 2


def test_bool_bytes_other_than_0_and_1(tmp_path):
    path = npy_file(tmp_path / "b.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }\n", bytes([0, 1, 2]))
    with raises_input_file_error(f"{path}: corrupt bool data (bytes other than 0 and 1)"):
        _core.read_tensor(path)


def test_unknown_extension_and_npz_to_read_tensor(tmp_path):
    (tmp_path / "a.txt").write_text("1 2 3")
    with raises_input_file_error(f"{tmp_path / 'a.txt'}: unknown tensor file type '.txt' (expected .npy or .pt)"):
        _core.read_tensor(str(tmp_path / "a.txt"))
    np.savez(tmp_path / "a.npz", x=np.zeros(1))
    with raises_input_file_error(f"{tmp_path / 'a.npz'}: an .npz holds several arrays; read it with read_npz"):
        _core.read_tensor(str(tmp_path / "a.npz"))
    with open(tmp_path / "UPPER.NPY", "wb") as out:
        np.save(out, np.ones(2))
    assert_same(_core.read_tensor(str(tmp_path / "UPPER.NPY")), np.ones(2))


def test_write_errors(tmp_path):
    with raises_input_file_error(f"{tmp_path / 'no' / 'a.npy'}: cannot be written (No such file or directory)"):
        _core.write_npy(str(tmp_path / "no" / "a.npy"), torch.ones(2))
    with pytest.raises(
        tsbridge.InvalidArgumentError,
        match=re.escape("a.npy: dtype bfloat16 has no .npy equivalent (convert it first, e.g. to float32)"),
    ):
        _core.write_npy(str(tmp_path / "a.npy"), torch.ones(2, dtype=torch.bfloat16))
    with pytest.raises(tsbridge.InvalidArgumentError, match="a sparse tensor cannot be stored as .npy"):
        _core.write_npy(str(tmp_path / "a.npy"), torch.eye(2).to_sparse())
    assert not (tmp_path / "a.npy").exists()


def test_npz_missing_and_not_a_zip(tmp_path):
    with raises_input_file_error(f"{tmp_path / 'nope.npz'}: no such file"):
        _core.read_npz(str(tmp_path / "nope.npz"))
    for content in [b"", b"this is not a zip file" * 10]:
        (tmp_path / "bad.npz").write_bytes(content)
        with raises_input_file_error(f"{tmp_path / 'bad.npz'}: not an .npz file (not a zip archive)"):
            _core.read_npz(str(tmp_path / "bad.npz"))
    np.save(tmp_path / "a.npy", np.zeros(3))
    with raises_input_file_error(f"{tmp_path / 'a.npy'}: not an .npz file (not a zip archive)"):
        _core.read_npz(str(tmp_path / "a.npy"))


def test_npz_bad_members(tmp_path):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("good.npy", "w") as member:
            np.lib.format.write_array(member, np.arange(3))
        archive.writestr("bad.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 10) + b"{'descr': ")
    with raises_input_file_error(f"{path}: member 'bad.npy': corrupt .npy header (ends inside a value)"):
        _core.read_npz(str(path))

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", b"hello")
    with raises_input_file_error(f"{path}: member 'notes.txt': is not a .npy array"):
        _core.read_npz(str(path))

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("u.npy", _npy_bytes(np.array(["ab"])))
    with raises_input_file_error(f"{path}: member 'u.npy': unsupported .npy dtype '<U2'"):
        _core.read_npz(str(path))

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("t.npy", _npy_bytes(np.zeros(10))[:-8])
    with raises_input_file_error(
        f"{path}: member 't.npy': truncated: header says [10] float64 (80 bytes), file holds 72"
    ):
        _core.read_npz(str(path))


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_npz_corrupted_data_fails_its_crc(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, x=np.zeros(1000))
    data = bytearray(path.read_bytes())
    data[2000] ^= 0xFF  # a byte inside x's (stored) data
    path.write_bytes(bytes(data))
    with raises_input_file_error(f"{path}: member 'x.npy': cannot be read (CRC error)"):
        _core.read_npz(str(path))


@pytest.mark.parametrize(
    "save, problem",
    [
        (np.savez_compressed, "claims 4294967280 bytes from 71 compressed (corrupt)"),
        (np.savez, "has inconsistent sizes (corrupt)"),
    ],
    ids=["deflated", "stored"],
)
def test_npz_member_claiming_a_huge_size_is_refused_before_reading(tmp_path, save, problem):
    # A member whose zip headers (local and central, kept consistent) claim
    # 4 GB of data: refused by its sizes alone, before anything is allocated.
    path = tmp_path / "h.npz"
    save(path, x=np.zeros(4))
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    huge = struct.pack("<I", 0xFFFFFFF0)
    data[central + 24 : central + 28] = huge  # uncompressed size, central directory
    data[22:26] = huge  # uncompressed size, local header
    path.write_bytes(bytes(data))
    start = time.perf_counter()
    with raises_input_file_error(f"{path}: member 'x.npy': {problem}"):
        _core.read_npz(str(path))
    assert time.perf_counter() - start < 2
