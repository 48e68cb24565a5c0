"""Hostile and corrupt archives, run through tsbridge's C++ fuzz driver.

Makes a few valid tsbridge archives (seeds), mutates them — flipped bytes,
truncation at every region, shuffled and duplicated zip entries, oversized
declared sizes and offsets in the zip headers, manifests with wrong types,
pickles naming unknown classes, random bytes — and runs each case through
`tsbridge_fuzz_load` (tests/fuzz/fuzz_load.cpp), which loads it with
tsbridge::Model::load in a forked child and, when it loads, runs it. Every case
must end in a clean tsbridge::Error or a successful load: a crash, abort,
sanitizer report, escaped exception or hang is a finding.

    python tests/fuzz/fuzz.py --driver BUILD/tests/fuzz/tsbridge_fuzz_load \\
        --cases 10000 --jobs 2 --seed 1 --out /tmp/tsbridge-fuzz

writes results.jsonl, summary.json and findings/ (each failing case, with
how it was made) under --out and prints the summary. `--replay ID` remakes
and reruns one case. docs/reliability.md has the sanitized build this is
meant to run against. tests/test_fuzz.py runs a few hundred cases in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pickle
import queue
import random
import struct
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FAILURES = ("crash", "hang", "escaped", "unchecked", "driver_error")
MANIFEST = "extra/tsbridge/manifest.json"

# ── seeds ──


def make_seeds(folder: Path) -> list[Path]:
    """A few valid archives covering what tsbridge writes and reads: exported
    (frozen, golden sample, integrity), exported unfrozen with several inputs
    and a nested result, saved with tsbridge.save (no golden sample), and a
    plain torch.jit.save file with no manifest."""
    import torch

    import tsbridge
    from seed_models import Branchy, Small

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = folder / "exported.pt"
        tsbridge.export(Small().eval(), torch.randn(4, 6), path)
        paths.append(path)
        path = folder / "unfrozen.pt"
        tsbridge.export(
            Branchy().eval(),
            (torch.randn(3, 5), torch.randn(3, 5)),
            path,
            freeze=False,
            capture="script",
            metadata={"labels": ["a", "b"]},
            _extra_files={"notes.txt": "hello"},
        )
        paths.append(path)
        path = folder / "saved.pt"
        tsbridge.save(tsbridge.script(Small().eval()), path, example_inputs=torch.randn(2, 6))
        paths.append(path)
        path = folder / "plain.pt"
        torch.jit.save(torch.jit.script(Small().eval()), str(path))
        paths.append(path)
    return paths


# ── a zip, as regions and records ──


@dataclass
class Entry:
    name: str  # full name in the zip
    record: str  # name inside the archive folder
    header: int  # local header offset
    data: int  # first data byte
    size: int  # compressed size
    method: int
    central: int = 0  # offset of its central directory record


@dataclass
class Seed:
    name: str
    data: bytes
    entries: list[Entry]
    cd_offset: int
    cd_size: int
    eocd: int
    folder: str
    contents: dict[str, bytes] = field(default_factory=dict)  # record -> bytes
    manifest: dict | None = None

    def regions(self) -> list[tuple[str, int, int]]:
        """(what, start, end) of every structural part, in file order."""
        out = []
        for e in self.entries:
            out.append((f"local header of {e.record}", e.header, e.data))
            out.append((f"data of {e.record}", e.data, e.data + e.size))
        for e in self.entries:
            out.append((f"central record of {e.record}", e.central, e.central + 46 + len(e.name.encode())))
        out.append(("end of central directory", self.eocd, len(self.data)))
        return out


def parse_seed(path: Path) -> Seed:
    data = path.read_bytes()
    eocd = data.rfind(b"PK\x05\x06")
    _, _, _, count, cd_size, cd_offset, _ = struct.unpack("<HHHHIIH", data[eocd + 4 : eocd + 22])
    entries = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        folder = infos[0].filename.split("/", 1)[0] + "/"
        contents = {i.filename[len(folder) :]: archive.read(i) for i in infos}
    pos = cd_offset
    for info in infos:
        name_len, extra_len, comment_len = struct.unpack("<HHH", data[pos + 28 : pos + 34])
        header = info.header_offset
        local_name, local_extra = struct.unpack("<HH", data[header + 26 : header + 30])
        entries.append(
            Entry(
                info.filename,
                info.filename[len(folder) :],
                header,
                header + 30 + local_name + local_extra,
                info.compress_size,
                info.compress_type,
                pos,
            )
        )
        pos += 46 + name_len + extra_len + comment_len
    manifest = json.loads(contents[MANIFEST]) if MANIFEST in contents else None
    return Seed(path.name, data, entries, cd_offset, cd_size, eocd, folder, contents, manifest)


def build_zip(folder: str, records: list[tuple[str, bytes]]) -> bytes:
    """A zip of `records` (stored), in order, as Python's zipfile writes it."""
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for record, content in records:
            info = zipfile.ZipInfo(folder + record, date_time=(2024, 1, 1, 0, 0, 0))
            archive.writestr(info, content)
    return out.getvalue()


def rehashed(records: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The records with the manifest's digests made to match them again, so
    a mutation of an entry gets past the integrity check to LibTorch."""
    contents = dict(records)
    if MANIFEST not in contents:
        return records
    try:
        manifest = json.loads(contents[MANIFEST])
        integrity = manifest["integrity"]
        integrity["entries"] = {
            r: hashlib.sha256(c).hexdigest() for r, c in records if r not in (MANIFEST, ".data/serialization_id")
        }
    except (ValueError, KeyError, TypeError):
        return records
    text = json.dumps(manifest, indent=2).encode()
    return [(r, text if r == MANIFEST else c) for r, c in records]


# ── mutations: each returns (bytes, description) ──

INTERESTING32 = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]


def flip_bits(rng: random.Random, seed: Seed):
    data = bytearray(seed.data)
    count = rng.choice([1, 1, 2, 4, 8, 32])
    for _ in range(count):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data), f"{count} random bit flips"


def flip_region(rng: random.Random, seed: Seed):
    what, start, end = rng.choice([r for r in seed.regions() if r[2] > r[1]])
    data = bytearray(seed.data)
    count = rng.choice([1, 2, 4])
    for _ in range(count):
        i = rng.randrange(start, end)
        data[i] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256), data[i] ^ 0xFF])
    return bytes(data), f"{count} bytes set in {what}"


def truncate(rng: random.Random, seed: Seed):
    what, start, end = rng.choice(seed.regions())
    cut = max(0, min(len(seed.data) - 1, rng.choice([start, end, (start + end) // 2]) + rng.randint(-3, 3)))
    return seed.data[:cut], f"truncated at {cut} (near {what})"


def oversize(rng: random.Random, seed: Seed):
    """A size, offset or count in a zip header set to a lie."""
    data = bytearray(seed.data)
    target = rng.choice(["central", "local", "eocd"])
    file_size = len(data)
    values = INTERESTING32 + [file_size, file_size + 1, file_size * 2, file_size - 1]
    entry = rng.choice(seed.entries)
    if target == "central":
        offset, fieldname = rng.choice(
            [
                (20, "compressed size"),
                (24, "uncompressed size"),
                (42, "local header offset"),
                (28, "name length"),
                (30, "extra length"),
            ]
        )
        base = entry.central + offset
        width = 2 if "length" in fieldname else 4
        where = f"central record of {entry.record}: {fieldname}"
    elif target == "local":
        offset, fieldname = rng.choice(
            [(18, "compressed size"), (22, "uncompressed size"), (26, "name length"), (28, "extra length")]
        )
        base = entry.header + offset
        width = 2 if "length" in fieldname else 4
        where = f"local header of {entry.record}: {fieldname}"
    else:
        offset, fieldname = rng.choice(
            [
                (8, "entries on disk"),
                (10, "entries"),
                (12, "central directory size"),
                (16, "central directory offset"),
                (20, "comment length"),
            ]
        )
        base = seed.eocd + offset
        width = 2 if offset in (8, 10, 20) else 4
        where = f"end record: {fieldname}"
    old = int.from_bytes(data[base : base + width], "little")
    value = rng.choice(values + [old + 1, old - 1, old * 2, old + 4096]) % (1 << (8 * width))
    data[base : base + width] = value.to_bytes(width, "little")
    return bytes(data), f"{where} {old} -> {value}"


def shuffle_entries(rng: random.Random, seed: Seed):
    records = list(seed.contents.items())
    how = rng.choice(["reorder", "central order", "swap contents", "duplicate", "drop", "add"])
    if how == "reorder":
        rng.shuffle(records)
        return build_zip(seed.folder, records), "entries rewritten in a shuffled order"
    if how == "central order":
        # The same entries, their central directory records permuted.
        data = bytearray(seed.data)
        chunks = []
        for e in seed.entries:
            name_len, extra_len, comment_len = struct.unpack("<HHH", data[e.central + 28 : e.central + 34])
            chunks.append(bytes(data[e.central : e.central + 46 + name_len + extra_len + comment_len]))
        rng.shuffle(chunks)
        data[seed.cd_offset : seed.cd_offset + seed.cd_size] = b"".join(chunks)
        return bytes(data), "central directory records permuted"
    if how == "swap contents":
        i, j = rng.sample(range(len(records)), 2)
        (a, ca), (b, cb) = records[i], records[j]
        records[i], records[j] = (a, cb), (b, ca)
        rehash = rng.random() < 0.7
        if rehash:
            records = rehashed(records)
        return build_zip(seed.folder, records), f"contents of {a} and {b} swapped{' (rehashed)' if rehash else ''}"
    if how == "duplicate":
        record, content = rng.choice(records)
        other = rng.choice([b"", b"garbage", content[::-1], os.urandom(64)])
        records.insert(rng.randrange(len(records) + 1), (record, other))
        return build_zip(seed.folder, records), f"a second entry named {record}"
    if how == "drop":
        record, _ = records.pop(rng.randrange(len(records)))
        return build_zip(seed.folder, records), f"entry {record} removed"
    name = rng.choice(["extra/evil.txt", "code/__torch__/evil.py", "data/999", "../escape", "x/../../etc/passwd"])
    records.append((name, b"import os\n"))
    return build_zip(seed.folder, records), f"unlisted entry {name} added"


def _wrong_value(rng: random.Random):
    return rng.choice(
        [
            None,
            0,
            -1,
            1.5,
            "",
            "x",
            [],
            {},
            True,
            2**70,
            -(2**63),
            [[[]]],
            {"a": None},
            "\u0000",
            "A" * 10000,
            float("inf") if rng.random() < 0.1 else 1e308,
            [1, "a", None],
        ]
    )


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def manifest_types(rng: random.Random, seed: Seed):
    """The manifest with one field of the wrong type, removed, or its text broken."""
    if seed.manifest is None:
        return random_bytes(rng, seed)
    records = list(seed.contents.items())
    manifest = json.loads(json.dumps(seed.manifest))
    how = rng.choice(["type", "type", "type", "remove", "text", "deep", "integrity"])
    if how in ("type", "remove"):
        path = rng.choice([p for p in _paths(manifest) if p])
        parent = manifest
        for step in path[:-1]:
            parent = parent[step]
        if how == "remove":
            del parent[path[-1]]
            what = f"manifest field {'/'.join(map(str, path))} removed"
        else:
            parent[path[-1]] = _wrong_value(rng)
            what = f"manifest field {'/'.join(map(str, path))} = {json.dumps(parent[path[-1]])[:40]}"
        text = json.dumps(manifest, allow_nan=True).encode()
    elif how == "integrity":
        manifest["integrity"] = rng.choice(
            [
                {"algorithm": "md5", "entries": manifest.get("integrity", {}).get("entries", {})},
                {"algorithm": "sha256", "entries": {}},
                {"algorithm": "sha256", "entries": {"data.pkl": "0" * 64}},
                {"algorithm": "sha256", "entries": {"": "ab"}},
                {
                    "algorithm": "sha256",
                    "entries": {k: v.upper() for k, v in manifest.get("integrity", {}).get("entries", {}).items()},
                },
                {"algorithm": "sha256"},
                [],
                "sha256",
            ]
        )
        text = json.dumps(manifest).encode()
        what = f"integrity record replaced: {json.dumps(manifest['integrity'])[:60]}"
    elif how == "deep":
        depth = rng.choice([100, 1000, 100000])
        key = rng.choice(["metadata", "inputs", "outputs", "golden", "integrity"])
        manifest[key] = "@@"
        text = json.dumps(manifest).replace('"@@"', "[" * depth + "]" * depth).encode()
        what = f"manifest {key} nested {depth} deep"
    else:
        text = json.dumps(manifest).encode()
        cut = rng.randrange(len(text))
        text = rng.choice(
            [
                text[:cut],
                text[:cut] + b"\xff\xfe" + text[cut:],
                b"",
                b"null",
                b"[]",
                b"1e999999",
                b'{"format_version": 1e400}',
                b'{"format_version": 1, "format_version": 2}',
            ]
        )
        what = "manifest text broken"
    records = [(r, text if r == MANIFEST else c) for r, c in records]
    return build_zip(seed.folder, records), what


def _pickle_bytes(rng: random.Random) -> tuple[bytes, str]:
    """A data.pkl that names a class LibTorch does not know, or is not a
    well-formed pickle at all."""
    module, name = rng.choice(
        [
            ("__torch__", "NoSuchClass"),
            ("__torch__.models", "Missing"),
            ("os", "system"),
            ("builtins", "eval"),
            ("torch._utils", "_rebuild_tensor_v2"),
            ("collections", "OrderedDict"),
            ("torch", "nonexistent"),
            ("", ""),
            ("__torch__.torch.classes", "X"),
        ]
    )
    # LibTorch reads protocol 2 only: mostly that, so the body is parsed.
    proto = rng.choice([b"\x80\x02"] * 6 + [b"\x80\x04", b""])
    body = rng.choice(
        [
            b"c" + module.encode() + b"\n" + name.encode() + b"\n)\x81.",  # GLOBAL, EMPTY_TUPLE, NEWOBJ
            b"c" + module.encode() + b"\n" + name.encode() + b"\n(X\x02\x00\x00\x00lsR.",  # GLOBAL, call with "ls"
            b"c" + module.encode() + b"\n" + name.encode() + b"\n}b.",  # GLOBAL, BUILD with {}
            b"\x8c"
            + bytes([len(module)])
            + module.encode()
            + b"\x8c"
            + bytes([len(name)])
            + name.encode()
            + b"\x93)\x81.",
            b"(" * rng.choice([1, 100, 100000]) + b".",  # MARKs
            b"]" + b"q\x00" * 10 + b"h\x00" * 100 + b".",  # memo games
            b"h\xff.",
            b"j\xff\xff\xff\xff.",
            b"X\xff\xff\xff\x7fabc.",
            b"B\x00\x00\x00\x80x.",
            b"K",
            b"Q.",
            b"\x95" + struct.pack("<Q", 2**62) + b".",  # persistent id of nothing, FRAME
            b"",
            b".",
            b"R.",
            b"b.",
            b"t.",
            b"s.",
            b"u.",
            b"e.",
            b"a.",
        ]
    )
    return proto + body, f"pickle naming {module}.{name}" if name else "malformed pickle"


def pickle_unknown(rng: random.Random, seed: Seed):
    records = list(seed.contents.items())
    pickles = [r for r, _ in records if r.endswith(".pkl") and not r.endswith("debug_pkl")]
    if not pickles:
        return random_bytes(rng, seed)
    target = rng.choice(pickles + ["data.pkl"] * 3)
    if rng.random() < 0.6:
        content, what = _pickle_bytes(rng)
    else:
        # A real pickle made by Python, of an object LibTorch has never heard of.
        content = pickle.dumps(
            rng.choice([Entry("a", "b", 0, 0, 0, 0), {"a": Seed}, pickle.PickleError("x"), random.Random(1)]),
            protocol=rng.choice([2, 2, 2, 4]),
        )
        what = "a Python pickle of a foreign class"
    records = [(r, content if r == target else c) for r, c in records]
    rehash = rng.random() < 0.8
    if rehash:
        records = rehashed(records)
    return build_zip(seed.folder, records), f"{target}: {what}{' (rehashed)' if rehash else ''}"


def pickle_fields(rng: random.Random, seed: Seed):
    """A real pickle of the archive (data.pkl, constants.pkl, the golden
    sample's) with one of its numbers or strings changed in place: tensor
    sizes, strides, storage offsets and numels, storage keys, dtypes and
    class names, so LibTorch's rebuild of tensors and objects sees lies that
    are still well-formed pickles."""
    import pickletools

    records = list(seed.contents.items())
    pickles = [i for i, (r, _) in enumerate(records) if r.endswith(".pkl") and not r.endswith("debug_pkl")]
    if not pickles:
        return random_bytes(rng, seed)
    index = rng.choice(pickles)
    record, content = records[index]
    try:
        ops = [(op.name, arg, pos) for op, arg, pos in pickletools.genops(content)]
    except Exception:  # noqa: BLE001
        return random_bytes(rng, seed)
    targets = [
        o
        for o in ops
        if o[0] in ("BININT1", "BININT2", "BININT", "BINUNICODE", "SHORT_BINSTRING", "BINSTRING", "GLOBAL", "LONG1")
    ]
    if not targets:
        return random_bytes(rng, seed)
    name, arg, pos = rng.choice(targets)
    data = bytearray(content)
    if name == "BININT1":
        data[pos + 1] = rng.choice([0, 0xFF, 0x7F, arg + 1 if arg < 255 else 0])
        what = f"BININT1 {arg} -> {data[pos + 1]}"
    elif name == "BININT2":
        value = rng.choice([0, 0xFFFF, 0x8000, (arg + 1) & 0xFFFF])
        data[pos + 1 : pos + 3] = value.to_bytes(2, "little")
        what = f"BININT2 {arg} -> {value}"
    elif name in ("BININT", "LONG1"):
        width = 4 if name == "BININT" else data[pos + 1]
        start = pos + 1 if name == "BININT" else pos + 2
        value = rng.choice([-1, 0, 2**31 - 1, -(2**31), 2**30]) % (1 << (8 * width))
        data[start : start + width] = value.to_bytes(width, "little")
        what = f"{name} {arg} -> {value}"
    else:
        text = arg.encode() if isinstance(arg, str) else bytes(arg)
        if name == "GLOBAL":
            old = (arg.replace(" ", "\n") + "\n").encode()
            new = rng.choice(
                [
                    b"__torch__.Nope\nX\n",
                    b"torch\nFloatStorage\n",
                    b"torch\nQUInt4x2Storage\n",
                    b"torch._utils\n_rebuild_qtensor\n",
                    b"torch._utils\n_rebuild_sparse_tensor\n",
                    b"torch\nBFloat16Storage\n",
                    b"builtins\nset\n",
                ]
            )
            data[pos + 1 : pos + 1 + len(old)] = new
            what = f"GLOBAL {arg} -> {new.decode().strip()}"
        else:
            header = {"BINUNICODE": 5, "SHORT_BINSTRING": 2, "BINSTRING": 5}[name]
            new = rng.choice(
                [b"999", b"", b"cuda", b"cuda:7", b"meta", b"../data/0", text[::-1], text + b"x", b"\xff" * len(text)]
            )
            size = len(new).to_bytes(header - 1, "little")
            data[pos : pos + header + len(text)] = data[pos : pos + 1] + size + new
            what = f"{name} {text[:20]!r} -> {new[:20]!r}"
    records[index] = (record, bytes(data))
    rehash = rng.random() < 0.9
    if rehash:
        records = rehashed(records)
    return build_zip(seed.folder, records), f"{record}: {what}{' (rehashed)' if rehash else ''}"


def entry_bytes(rng: random.Random, seed: Seed):
    """One entry's content changed: bytes flipped, cut or grown. Rehashed
    (mostly), so LibTorch's parsers see it; not, so integrity catches it."""
    records = list(seed.contents.items())
    index = rng.randrange(len(records))
    record, content = records[index]
    content = bytearray(content)
    how = rng.choice(["flip", "flip", "cut", "grow", "nested"])
    if how == "nested" and not content.startswith(b"PK"):
        how = "flip"  # only the golden sample is a zip
    if how == "flip" and content:
        for _ in range(rng.choice([1, 2, 8])):
            i = rng.randrange(len(content))
            content[i] = rng.choice([0, 0xFF, rng.randrange(256), content[i] ^ (1 << rng.randrange(8))])
    elif how == "cut":
        content = content[: rng.randrange(len(content))] if content else content
    elif how == "grow":
        content += rng.choice([b"\x00" * 16, os.urandom(rng.randrange(1, 4096)), bytes(content)])
    elif how == "nested" and content.startswith(b"PK"):
        # A zip inside the archive (the golden sample, torch.save's format).
        inner = Seed("inner", bytes(content), [], 0, 0, 0, "")
        try:
            inner = parse_seed_bytes(bytes(content))
            mutated, inner_what = rng.choice([flip_bits, truncate, oversize, flip_region])(rng, inner)
            content = bytearray(mutated)
            how = f"nested zip: {inner_what}"
        except Exception:  # noqa: BLE001 - not a zip we can map: flip instead
            content[rng.randrange(len(content))] ^= 0xFF
    records[index] = (record, bytes(content))
    rehash = record != MANIFEST and rng.random() < 0.75
    if rehash:
        records = rehashed(records)
    return build_zip(seed.folder, records), f"{record}: {how}{' (rehashed)' if rehash else ''}"


def parse_seed_bytes(data: bytes) -> Seed:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".zip") as f:
        f.write(data)
        f.flush()
        return parse_seed(Path(f.name))


def random_bytes(rng: random.Random, seed: Seed):
    size = rng.choice([0, 1, 21, 22, 100, 4096, 65536])
    data = rng.randbytes(size)
    prefix = rng.choice([b"", b"PK\x03\x04", b"PK\x05\x06" + b"\x00" * 18, seed.data[: rng.randrange(64, 512)]])
    return prefix + data, f"{len(prefix)}-byte prefix + {size} random bytes"


def splice(rng: random.Random, seed: Seed, others: list[Seed]):
    other = rng.choice(others)
    cut_a, cut_b = rng.randrange(len(seed.data)), rng.randrange(len(other.data))
    return seed.data[:cut_a] + other.data[cut_b:], f"first {cut_a} bytes + {other.name} from {cut_b}"


MUTATORS: dict[str, Callable] = {
    "flip_bits": flip_bits,
    "flip_region": flip_region,
    "truncate": truncate,
    "oversize": oversize,
    "shuffle_entries": shuffle_entries,
    "manifest_types": manifest_types,
    "pickle_unknown": pickle_unknown,
    "pickle_fields": pickle_fields,
    "entry_bytes": entry_bytes,
    "random_bytes": random_bytes,
    "splice": splice,
}


@dataclass
class Case:
    id: int
    mutator: str
    seed: str
    verify: bool
    description: str
    data: bytes


def make_case(case_id: int, master_seed: int, seeds: list[Seed]) -> Case:
    """Case `case_id` of a campaign: the same ids and seed give the same bytes."""
    rng = random.Random(f"{master_seed}:{case_id}")
    seed = rng.choice(seeds)
    mutator = rng.choice(list(MUTATORS))
    # Most cases run as loaded by default (integrity on); a third with
    # --no-verify-integrity, so that what integrity would catch reaches LibTorch too.
    verify = rng.random() < 0.67
    if mutator == "splice":
        data, what = splice(rng, seed, seeds)
    else:
        data, what = MUTATORS[mutator](rng, seed)
    return Case(case_id, mutator, seed.name, verify, what, data)


def systematic_cases(seeds: list[Seed], start_id: int = 0) -> list[Case]:
    """Deterministic cases for the first seed: truncation at every region
    boundary (and just inside it), and every header size or offset field of
    every entry set to an oversized value."""
    seed = seeds[0]
    cases = []
    last = len(seed.data) - 1
    cuts = sorted({max(0, min(last, p + d)) for _, s, e in seed.regions() for p in (s, e) for d in (0, 1)})
    for cut in cuts:
        cases.append(Case(start_id + len(cases), "truncate", seed.name, True, f"truncated at {cut}", seed.data[:cut]))
    big = [0xFFFFFFFF, len(seed.data) + 1]
    for e in seed.entries:
        for base, label in [
            (e.central + 20, "central compressed size"),
            (e.central + 24, "central uncompressed size"),
            (e.central + 42, "central local header offset"),
            (e.header + 18, "local compressed size"),
            (e.header + 22, "local uncompressed size"),
        ]:
            for value in big:
                data = bytearray(seed.data)
                data[base : base + 4] = value.to_bytes(4, "little")
                cases.append(
                    Case(
                        start_id + len(cases),
                        "oversize",
                        seed.name,
                        True,
                        f"{e.record}: {label} = {value}",
                        bytes(data),
                    )
                )
    for offset, label in [(8, "entries on disk"), (10, "entries"), (12, "cd size"), (16, "cd offset")]:
        width = 2 if offset < 12 else 4
        data = bytearray(seed.data)
        data[seed.eocd + offset : seed.eocd + offset + width] = b"\xff" * width
        cases.append(Case(start_id + len(cases), "oversize", seed.name, True, f"end record {label} = max", bytes(data)))
    return cases


# ── running cases through the driver ──


class Driver:
    """One tsbridge_fuzz_load process; cases go in one line at a time."""

    def __init__(self, command: list[str], env: dict):
        self.command, self.env = command, env
        self.process = None

    def run(self, path: str, timeout: float) -> dict:
        if self.process is not None and self.process.poll() is not None:
            self.close()  # it died on an earlier case: reap it and close its pipes
        if self.process is None:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self.env,
            )
        try:
            self.process.stdin.write(path + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.close()
            return {"case": path, "outcome": "driver_error", "message": "the driver process died"}
        return json.loads(line)

    def close(self):
        if self.process is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            self.process.wait(timeout=30)
            self.process.stdout.close()
            self.process = None


def sanitizer_env() -> dict:
    """The environment a sanitized driver needs (harmless for a plain one)."""
    env = dict(os.environ)
    here = Path(__file__).resolve().parent
    env.setdefault(
        "ASAN_OPTIONS",
        "detect_leaks=0:abort_on_error=0:exitcode=86:allocator_may_return_null=1:handle_abort=1:symbolize=1",
    )
    env.setdefault(
        "UBSAN_OPTIONS", f"print_stacktrace=1:halt_on_error=1:exitcode=87:suppressions={here / 'ubsan.supp'}"
    )
    env.pop("LD_LIBRARY_PATH", None)
    return env


def run_cases(
    driver: str,
    cases: list[Case],
    folder: Path,
    jobs: int = 2,
    timeout: float = 20,
    memory_mb: int = 0,
    progress: Callable[[int, int], None] | None = None,
    extra_args: tuple[str, ...] = (),
) -> list[dict]:
    """Writes each case to `folder` and runs it; results in case order."""
    folder.mkdir(parents=True, exist_ok=True)
    results: list[dict | None] = [None] * len(cases)
    todo: queue.Queue = queue.Queue()
    for index in range(len(cases)):
        todo.put(index)
    env = sanitizer_env()
    done = [0]
    lock = threading.Lock()

    def worker():
        base = [driver, "--timeout", str(timeout), *extra_args] + (["--memory-mb", str(memory_mb)] if memory_mb else [])
        drivers = {True: Driver(base, env), False: Driver(base + ["--no-verify-integrity"], env)}
        try:
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                case = cases[index]
                path = folder / f"{case.id:06d}.case"
                path.write_bytes(case.data)
                result = drivers[case.verify].run(str(path), timeout)
                result.update(
                    id=case.id,
                    mutator=case.mutator,
                    seed=case.seed,
                    verify=case.verify,
                    description=case.description,
                    size=len(case.data),
                )
                if result["outcome"] not in FAILURES:
                    path.unlink()
                results[index] = result
                with lock:
                    done[0] += 1
                    if progress:
                        progress(done[0], len(cases))
        finally:
            for d in drivers.values():
                d.close()

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def summarize(results: list[dict], seconds: float) -> dict:
    outcomes = Counter(r["outcome"] for r in results)
    by_mutator: dict[str, Counter] = defaultdict(Counter)
    for r in results:
        by_mutator[r["mutator"]][r["outcome"]] += 1
    codes = Counter(r.get("code", "") for r in results if r["outcome"] == "error")
    loaded = [r for r in results if r["outcome"] == "loaded"]
    return {
        "cases": len(results),
        "seconds": round(seconds, 1),
        "outcomes": dict(outcomes),
        "error_codes": dict(codes),
        "loaded_and_ran_cleanly": sum(1 for r in loaded if "run_error" not in r),
        "loaded_then_clean_run_error": sum(1 for r in loaded if "run_error" in r),
        "self_test_failed_after_load": {
            "verify": sum(1 for r in loaded if r.get("self_test") == "failed" and r["verify"]),
            "no_verify": sum(1 for r in loaded if r.get("self_test") == "failed" and not r["verify"]),
        },
        "by_mutator": {m: dict(c) for m, c in sorted(by_mutator.items())},
        "failures": [
            {
                k: r.get(k)
                for k in (
                    "id",
                    "outcome",
                    "mutator",
                    "seed",
                    "verify",
                    "description",
                    "signal",
                    "exit",
                    "code",
                    "message",
                    "report",
                    "stage",
                )
            }
            for r in results
            if r["outcome"] in FAILURES
        ],
    }


def print_summary(summary: dict, out=sys.stdout) -> None:
    print(f"{summary['cases']} cases in {summary['seconds']} s", file=out)
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["outcomes"].items())), file=out)
    print("clean error codes: " + ", ".join(f"{k} {v}" for k, v in sorted(summary["error_codes"].items())), file=out)
    print(f"{'mutator':<16} " + " ".join(f"{o:>8}" for o in ("error", "loaded", *FAILURES)), file=out)
    for mutator, counts in summary["by_mutator"].items():
        print(f"{mutator:<16} " + " ".join(f"{counts.get(o, 0):>8}" for o in ("error", "loaded", *FAILURES)), file=out)
    for failure in summary["failures"][:50]:
        print(
            f"FINDING {failure['outcome']}: case {failure['id']} ({failure['mutator']} on {failure['seed']}, "
            f"verify={failure['verify']}): {failure['description']}",
            file=out,
        )
        if failure.get("report") or failure.get("message"):
            print(
                "    " + (failure.get("report") or failure.get("message") or "").strip().replace("\n", "\n    "),
                file=out,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--driver", required=True, help="the tsbridge_fuzz_load executable")
    parser.add_argument("--cases", type=int, default=1000, help="random cases (plus the systematic ones)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20, help="seconds before a case counts as a hang")
    parser.add_argument("--memory-mb", type=int, default=0, help="address-space limit per case (not under ASan)")
    parser.add_argument("--max-seconds", type=float, default=0, help="stop making new cases after this long")
    parser.add_argument("--out", default="/tmp/tsbridge-fuzz")
    parser.add_argument("--replay", type=int, help="remake and rerun one case id (of --seed)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    out = Path(args.out)
    seeds = [parse_seed(p) for p in make_seeds(out / "seeds")]
    systematic = systematic_cases(seeds, start_id=10_000_000)
    if args.replay is not None:
        cases = [c for c in systematic if c.id == args.replay] or [make_case(args.replay, args.seed, seeds)]
    else:
        cases = systematic + [make_case(i, args.seed, seeds) for i in range(args.cases)]
    # The wiring check: children that overflow a heap buffer on purpose must
    # come back as crashes, or a clean campaign would prove nothing.
    canaries = [Case(-1 - i, "canary", s.name, True, "deliberate heap overflow", s.data) for i, s in enumerate(seeds)]
    canary = run_cases(args.driver, canaries, out / "canary", 1, args.timeout, extra_args=("--canary",))
    caught = sum(r["outcome"] == "crash" for r in canary)
    print(
        f"canary: {caught}/{len(canary)} deliberate heap overflows reported as crashes"
        f"{'' if caught == len(canary) else ' (is the driver built with TSBRIDGE_SANITIZE?)'}",
        file=sys.stderr,
    )
    started = time.monotonic()
    results: list[dict] = []
    batch = 500
    for begin in range(0, len(cases), batch):
        if args.max_seconds and time.monotonic() - started > args.max_seconds:
            print(f"stopping: --max-seconds {args.max_seconds} reached", file=sys.stderr)
            break
        results += run_cases(
            args.driver, cases[begin : begin + batch], out / "cases", args.jobs, args.timeout, args.memory_mb
        )
        print(
            f"{len(results)}/{len(cases)} cases, {time.monotonic() - started:.0f} s, "
            f"{sum(r['outcome'] in FAILURES for r in results)} findings",
            file=sys.stderr,
            flush=True,
        )
    summary = summarize(results, time.monotonic() - started)
    summary.update(master_seed=args.seed, driver=args.driver, canary_caught=f"{caught}/{len(canary)}")
    findings = out / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    by_id = {c.id: c for c in cases}
    for failure in summary["failures"]:
        case = by_id[failure["id"]]
        (findings / f"{case.id}-{case.mutator}.pt").write_bytes(case.data)
        (findings / f"{case.id}-{case.mutator}.json").write_text(json.dumps(failure, indent=2))
    with open(out / "results.jsonl", "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print_summary(summary)
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
