"""The manifest: one schema (manifest.schema.json), one writer
(tsbridge.manifest) and one reader (the C++ Manifest, bound as
tsbridge._core.Manifest), tested against each other and docs/manifest.md."""

import json
import re
import zipfile
from pathlib import Path

import jsonschema
import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel
from tsbridge import _core, manifest as manifest_


class TupleAndDict(nn.Module):
    def forward(self, x, scale: float):
        return x * scale, {"sum": x.sum(dim=1), "max": x.amax(dim=1)}


def saved_models(tmp_path):
    x = torch.randn(5, 10)
    simple = tmp_path / "simple.pt"
    tsbridge.save(tsbridge.trace(SimpleModel().eval(), x), simple, metadata={"labels": ["cat", "dog"]})
    nested = tmp_path / "nested.pt"
    tsbridge.save(
        tsbridge.script(TupleAndDict()), nested, example_inputs=(torch.randn(3, 4), 2.0), input_names=["image", "scale"]
    )
    bare = tmp_path / "bare.pt"
    tsbridge.save(tsbridge.script(SimpleModel().eval()), bare)
    return [simple, nested, bare]


def read_manifest_entry(path):
    with zipfile.ZipFile(path) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith("extra/tsbridge/manifest.json")]
        return json.loads(archive.read(name))


def test_every_saved_manifest_matches_the_schema(tmp_path):
    schema = manifest_.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in saved_models(tmp_path):
        jsonschema.validate(read_manifest_entry(path), schema)


def test_the_reader_gives_what_was_stored(tmp_path):
    for path in saved_models(tmp_path):
        stored = read_manifest_entry(path)
        model = tsbridge.load(path)
        assert model.manifest.document == stored  # the whole document, converted in C++
        cpp_inputs = model.inputs()  # the C++ reader
        fields = ("name", "type", "dtype", "shape")
        assert [{k: spec[k] for k in fields} for spec in stored["inputs"]] == [
            {k: getattr(spec, k) for k in fields} for spec in cpp_inputs
        ]
        cpp_outputs = model.outputs
        assert len(cpp_outputs) == len(stored["outputs"])
        for cpp, py in zip(cpp_outputs, stored["outputs"], strict=True):
            assert cpp.name == py["name"] and cpp.dtype == py["dtype"] and cpp.shape == py["shape"]
            assert cpp.path == py["path"]
        typed = model.manifest  # the C++ reader's typed fields
        assert (typed.format_version, typed.tsbridge_version, typed.torch_version, typed.capture, typed.frozen) == (
            stored["format_version"],
            stored["tsbridge_version"],
            stored["torch_version"],
            stored["method"],
            stored["frozen"],
        )
        assert json.loads(typed.metadata_json) == stored["metadata"] and json.loads(typed.json) == stored
        assert typed.integrity.algorithm == stored["integrity"]["algorithm"]
        assert typed.integrity.entries == stored["integrity"]["entries"]
        golden = stored.get("golden")
        assert (typed.golden is None) == (golden is None)
        if golden:
            assert (typed.golden.entry, typed.golden.rtol, typed.golden.atol) == (
                golden["entry"],
                golden["rtol"],
                golden["atol"],
            )


def test_dtype_names_are_one_table_torch_and_the_schema_agree_with():
    from tsbridge import _core, specs

    table = _core.named_dtypes()  # the C++ runtime's (tsbridge/dtype.h)
    assert [str(dtype) for _, dtype in table] == [f"torch.{name}" for name, _ in table]
    schema = manifest_.schema()["$defs"]["dtype"]["oneOf"][1]["enum"]
    assert [name for name, _ in table] == schema
    for name, dtype in table:  # what export writes is what the C++ reader reads back
        assert specs.dtype_name(dtype) == name and specs.dtype_from_name(name) is dtype
    with pytest.raises(KeyError):
        specs.dtype_name(torch.uint16)  # no manifest name: refused, not guessed


def test_manifest_records_what_was_made(tmp_path):
    simple, nested, bare = saved_models(tmp_path)
    traced = read_manifest_entry(simple)
    assert traced["method"] == "trace"
    assert traced["torch_version"] == torch.__version__
    assert traced["tsbridge_version"] == tsbridge.__version__
    assert traced["inputs"] == [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [5, 10]}]
    assert traced["outputs"][0]["shape"] == [5, 1]
    assert traced["metadata"] == {"labels": ["cat", "dog"]}

    nested_manifest = read_manifest_entry(nested)
    assert nested_manifest["method"] == "script"
    assert [(s["name"], s["type"]) for s in nested_manifest["inputs"]] == [("image", "Tensor"), ("scale", "float")]
    assert [(o["name"], o["path"]) for o in nested_manifest["outputs"]] == [
        ("output[0]", [0]),
        ("output[1]['sum']", [1, "sum"]),
        ("output[1]['max']", [1, "max"]),
    ]

    # Without example inputs, names and types are known, dtypes and shapes are not.
    assert read_manifest_entry(bare)["inputs"] == [{"name": "x", "type": "Tensor", "dtype": None, "shape": None}]


def test_archive_stays_plain_torchscript(tmp_path):
    for path in saved_models(tmp_path):
        extra = {"tsbridge/manifest.json": ""}
        plain = torch.jit.load(str(path), _extra_files=extra)
        assert json.loads(extra["tsbridge/manifest.json"]) == read_manifest_entry(path)
        assert isinstance(plain, torch.jit.ScriptModule)


def test_user_extra_files_round_trip(tmp_path):
    path = tmp_path / "extra.pt"
    tsbridge.save(tsbridge.script(SimpleModel()), path, _extra_files={"labels.txt": "cat\ndog\n"})
    wanted = {"labels.txt": "", "missing.txt": ""}
    tsbridge.load(path, _extra_files=wanted)
    assert wanted == {"labels.txt": b"cat\ndog\n", "missing.txt": b""}


def test_the_manifest_name_is_reserved(tmp_path):
    with pytest.raises(ValueError, match="tsbridge/manifest.json"):
        tsbridge.save(tsbridge.script(SimpleModel()), tmp_path / "m.pt", _extra_files={"tsbridge/manifest.json": "{}"})


def test_the_reader_refuses_a_newer_format():
    with pytest.raises(tsbridge.UnsupportedVersionError, match="format 2"):
        _core.Manifest.parse(json.dumps({"format_version": 2}))


# ── one definition: the writer, the schema, the reader and the docs agree ──


def full_manifest() -> dict:
    """A .pt2's manifest with every section the writer has, through its functions."""
    spec = {"name": "x", "type": "Tensor", "dtype": "float32", "shape": ["batch", 10]}
    document = manifest_.build(
        capture="export",
        frozen=True,
        inputs=[spec],
        outputs=[{**spec, "name": "output", "path": []}],
        metadata={"labels": ["cat", "dog"], "a": 1},
        format="aoti",
        layout="channels_last",  # a TorchScript archive's key, here so one document holds every key
        dims={"batch": {"min": 1, "max": 64}},
        golden=manifest_.golden(entry="tsbridge/golden.pt.b64", rtol=1e-4, atol=1e-5, encoding="base64"),
        aoti=manifest_.aoti_record(
            compile_seconds=12.5,
            inductor_configs={"freezing": True},
            parallel_loops="runtime",
            build="prepack-on",
            prepacked=True,
            device="cpu",
        ),
        cpu={"target": "x86-64-v3", "arch": "x86_64", "features": ["avx2", "avx512_bf16"], "vec_isa": "avx512"},
        precision={
            "compute": "bf16",
            "rtol": 0.01,
            "atol": 0.02,
            "checks": [
                {
                    "name": "example inputs",
                    "outputs": [{"output": "output", "max_abs_error": 0.003, "max_rel_error": None}],
                }
            ],
            "cpu_features": ["avx512_bf16"],
        },
    )
    settings = {"threads": 2, "optimize_graph": False, "profiling_executor": None, "onednn_fusion": False, "runners": 1}
    tuning = {
        "winner": "aoti",
        "settings": settings,
        "reason": "fastest",
        "noise": 0.05,
        "rounds": 3,
        "machine": {"arch": "x86_64", "cpu_model": "cpu", "cores": 2, "features": ["avx2"]},
        "measured_at": "2026-01-01T00:00:00Z",
        "candidates": [
            {
                "name": "aoti",
                "format": "aoti",
                "build": "default",
                "settings": settings,
                "us_per_call": 10.0,
                "spread": 0.01,
                "status": "ok",
            }
        ],
    }
    provenance = manifest_.migrated_from(
        file="old.pt", sha256="0" * 64, converter="c", capture="script", tsbridge_version="0.1", torch_version="2.13"
    )
    selection = {"chosen": "aoti", "median_us": {"aoti": 10.0, "torchscript": 12.0}, "rounds": 3}
    document = manifest_.revised(document, tuning=tuning, selection=selection, migrated_from=provenance)
    return manifest_.with_integrity(document, {"data/0": "ab"})


# Every key the schema defines, with what the reader makes of it in `full_manifest`:
# (the attribute path on _core.Manifest, the value expected there).
READ_AS = {
    "format": ("format_version", 1),  # the marker: the reader refuses another (test below)
    "format_version": ("format_version", 1),
    "tsbridge_version": ("tsbridge_version", tsbridge.__version__),
    "torch_version": ("torch_version", torch.__version__),
    "method": ("capture", "export"),
    "backend": ("format", "aoti"),
    "frozen": ("frozen", True),
    "layout": ("layout", "channels_last"),
    "inputs": ("inputs.0.name", "x"),
    "outputs": ("outputs.0.name", "output"),
    "metadata": ("metadata", {"labels": ["cat", "dog"], "a": 1}),
    "dims": ("dims.batch.max", 64),
    "golden": ("golden.encoding", "base64"),
    "integrity": ("integrity.entries", {"data/0": "ab"}),
    "cpu": ("cpu.vec_isa", "avx512"),
    "tuning": ("tuning.settings.threads", 2),
    "selection": ("selection.chosen", "aoti"),
    "selection.chosen": ("selection.chosen", "aoti"),
    "selection.median_us": ("selection.median_us", {"aoti": 10.0, "torchscript": 12.0}),
    "selection.rounds": ("selection.rounds", 3),
    "aoti": ("aoti.build", "prepack-on"),
    "aoti.compile_seconds": ("aoti.compile_seconds", 12.5),
    "aoti.inductor_configs": ("aoti.inductor_configs", {"freezing": True}),
    "aoti.threads": ("parallel_loops", "runtime"),
    "aoti.build": ("aoti.build", "prepack-on"),
    "aoti.prepacked": ("aoti.prepacked", True),
    "aoti.device": ("device", "cpu"),
    "migrated_from": ("migrated_from.file", "old.pt"),
    "migrated_from.file": ("migrated_from.file", "old.pt"),
    "migrated_from.sha256": ("migrated_from.sha256", "0" * 64),
    "migrated_from.converter": ("migrated_from.converter", "c"),
    "migrated_from.method": ("migrated_from.capture", "script"),
    "migrated_from.tsbridge_version": ("migrated_from.tsbridge_version", "0.1"),
    "migrated_from.torch_version": ("migrated_from.torch_version", "2.13"),
    "precision": ("precision.compute", "bf16"),
    "precision.compute": ("precision.compute", "bf16"),
    "precision.rtol": ("precision.rtol", 0.01),
    "precision.atol": ("precision.atol", 0.02),
    "precision.checks": ("precision.checks.0.outputs.0.max_abs_error", 0.003),
    "precision.cpu_features": ("precision.cpu_features", ["avx512_bf16"]),
}


def schema_keys(schema: dict, node: dict, prefix: str = "") -> set[str]:
    """The property names the schema defines at `node` and in the sections
    under it ("aoti.build"), following $refs."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    keys = set()
    for name, child in node.get("properties", {}).items():
        keys.add(prefix + name)
        keys |= schema_keys(schema, child, f"{prefix}{name}.")
    return keys


def attribute(value, path: str):
    for step in path.split("."):
        value = (
            value[int(step)] if step.isdigit() else (value[step] if isinstance(value, dict) else getattr(value, step))
        )
    return value


def test_every_key_of_the_top_level_aoti_migrated_from_selection_and_precision_is_read_by_the_cpp_reader():
    schema = manifest_.schema()
    read = {
        key
        for key in schema_keys(schema, schema)
        if key.count(".") == 0 or key.split(".")[0] in ("aoti", "migrated_from", "selection", "precision")
    }
    assert set(READ_AS) == read  # a key added to the schema needs a reader field (and a row here)
    parsed = _core.Manifest.parse(json.dumps(full_manifest()))
    for key, (path, expected) in READ_AS.items():
        assert attribute(parsed, path) == expected, key
    assert parsed.document == full_manifest()


def test_the_writer_refuses_a_key_the_schema_does_not_define():
    document = full_manifest()
    for broken in ({**document, "extra": 1}, {**document, "aoti": {**document["aoti"], "threads_count": 4}}):
        with pytest.raises(ValueError, match="does not match its schema"):
            manifest_.revised(broken)
    with pytest.raises(TypeError):
        manifest_.revised(document, speed=1)  # only the sections it knows


def test_the_reader_translates_the_stored_names_in_one_place():
    document = full_manifest()
    assert {manifest_.STORED_AS[k] for k in ("capture", "format")} <= set(document)
    assert manifest_.STORED_AS["parallel_loops"] in document["aoti"]
    torchscript = {k: v for k, v in document.items() if k not in ("backend", "aoti")}
    parsed = _core.Manifest.parse(json.dumps(torchscript))
    assert (parsed.format, parsed.parallel_loops, parsed.aoti) == ("torchscript", "", None)  # "": unrecorded
    with pytest.raises(tsbridge.InvalidArchiveError, match=r"malformed tsbridge manifest: format: expected"):
        _core.Manifest.parse(json.dumps({**document, "format": "other"}))


def test_the_reader_refuses_an_unknown_layout_and_reads_an_absent_one_as_unrecorded():
    document = full_manifest()
    with pytest.raises(
        tsbridge.InvalidArchiveError, match=r'layout: expected "channels_last" or "contiguous", got "nhwc"'
    ):
        _core.Manifest.parse(json.dumps({**document, "layout": "nhwc"}))
    older = {k: v for k, v in document.items() if k != "layout"}
    assert _core.Manifest.parse(json.dumps(older)).layout == ""


def test_docs_name_every_key_the_schema_defines():
    schema = manifest_.schema()
    keys = schema_keys(schema, schema)
    for name in schema["$defs"]:
        keys |= schema_keys(schema, schema["$defs"][name])
    text = (Path(__file__).parents[1] / "docs" / "manifest.md").read_text()
    named = set(re.findall(r"`([a-z_0-9.]+)`", text))
    missing = sorted(key for key in keys if key.rsplit(".", 1)[-1] not in named and key not in named)
    assert not missing, f"docs/manifest.md does not name {missing}"
