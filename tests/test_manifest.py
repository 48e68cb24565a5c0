"""The manifest: one schema, two readers (Python and C++), tested on the same files."""

import json
import zipfile

import jsonschema
import pytest
import torch
from torch import nn

import tsbridge
from models import SimpleModel
from tsbridge import manifest as manifest_


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


def test_python_and_cpp_readers_agree(tmp_path):
    for path in saved_models(tmp_path):
        stored = read_manifest_entry(path)
        model = tsbridge.load(path)
        assert model.manifest == stored  # the Python reader
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
        typed = model._core.manifest  # the C++ reader's typed fields
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
    schema = manifest_.schema()["$defs"]["spec"]["properties"]["dtype"]["oneOf"][1]["enum"]
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


def test_python_reader_refuses_newer_format():
    with pytest.raises(tsbridge.UnsupportedVersionError, match="format 2"):
        manifest_.parse(json.dumps({"format_version": 2}))
