"""tsbridge.to_triton and `tsbridge triton`: every config.pbtxt written is
parsed with Triton's own ModelConfig schema (the protobuf module tritonclient
ships) and checked against the manifest and against what the model returns
when the deployed copy runs."""

import subprocess
import warnings

import pytest
import torch

import models
import tsbridge
from tsbridge import cli
from tsbridge.triton import RepositoryExistsError, UnservableError

pytestmark = pytest.mark.serving

model_config_pb2 = pytest.importorskip(
    "tritonclient.grpc.model_config_pb2", reason="needs the 'triton' optional dependencies (pip install '.[triton]')"
)
text_format = pytest.importorskip("google.protobuf.text_format", reason="needs the 'triton' optional dependencies")

# Written here, not taken from tsbridge: what each Triton type means in torch.
TRITON_DTYPES = {
    "TYPE_BOOL": torch.bool,
    "TYPE_UINT8": torch.uint8,
    "TYPE_INT8": torch.int8,
    "TYPE_INT16": torch.int16,
    "TYPE_INT32": torch.int32,
    "TYPE_INT64": torch.int64,
    "TYPE_FP16": torch.float16,
    "TYPE_FP32": torch.float32,
    "TYPE_FP64": torch.float64,
}


def parse(path) -> "model_config_pb2.ModelConfig":
    """config.pbtxt through Triton's schema: unknown fields or bad values raise."""
    with open(path, encoding="utf-8") as f:
        return text_format.Parse(f.read(), model_config_pb2.ModelConfig())


def dtype_of(tensor_config) -> torch.dtype:
    return TRITON_DTYPES[model_config_pb2.DataType.Name(tensor_config.data_type)]


def leaves(value):
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    return [value]


def full_shape(config, tensor_config, batch: int, size: int) -> list[int]:
    """The shape a request has: the batch (when batching), then the dims, -1 at `size`."""
    dims = list(tensor_config.reshape.shape) if tensor_config.HasField("reshape") else list(tensor_config.dims)
    dims = [size if d == -1 else d for d in dims]
    return ([batch] if config.max_batch_size > 0 else []) + dims


def assert_shape_fits(config, tensor_config, tensor: torch.Tensor, batch: int):
    expected = ([batch] if config.max_batch_size > 0 else []) + (
        list(tensor_config.reshape.shape) if tensor_config.HasField("reshape") else list(tensor_config.dims)
    )
    assert tensor.dim() == len(expected), (tensor_config.name, tensor.shape, expected)
    for got, want in zip(tensor.shape, expected, strict=True):
        assert want == -1 or got == want, (tensor_config.name, tensor.shape, expected)


def requests_from_config(config, batch=2, size=3, seed=0):
    """Inputs made from the config alone, as a Triton client would send them."""
    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for tensor_config in config.input:
        shape = full_shape(config, tensor_config, batch, size)
        if config.max_batch_size == 0 and shape:
            shape[0] = batch  # the batch dim of a full-dims config is its first -1
        inputs.append(torch.randn(shape, generator=generator, dtype=dtype_of(tensor_config)))
    return tuple(inputs)


def check_against_model(config, written, eager, manifest):
    """Names, types and dims of `config` against the manifest, the eager
    model and the deployed copy run by tsbridge's C++ runtime."""
    assert len(config.input) == len(manifest["inputs"])
    assert len(config.output) == len(manifest["outputs"])
    tensor_configs, specs = [*config.input, *config.output], [*manifest["inputs"], *manifest["outputs"]]
    for tensor_config, spec in zip(tensor_configs, specs, strict=True):
        assert dtype_of(tensor_config) == getattr(torch, spec["dtype"]), tensor_config.name
        shape = spec["shape"][1:] if config.max_batch_size > 0 else spec["shape"]
        declared = list(tensor_config.reshape.shape) if tensor_config.HasField("reshape") else list(tensor_config.dims)
        assert declared == [-1 if isinstance(d, str) else d for d in shape], tensor_config.name

    inputs = requests_from_config(config)
    with torch.no_grad():
        expected = eager(*inputs)
    got = tsbridge.load(written.model_file)(*inputs)
    torch.testing.assert_close(got, expected)
    for tensor_config, tensor in zip(config.output, leaves(expected), strict=True):
        assert dtype_of(tensor_config) == tensor.dtype, tensor_config.name
        assert_shape_fits(config, tensor_config, tensor, batch=2)
    return expected


def run_selftest(tsrun_path, path):
    return subprocess.run([tsrun_path, "--selftest", str(path)], capture_output=True, text=True, timeout=120)


# ── TorchScript ──


def test_torchscript_archive_becomes_a_batching_repository(tmp_path, tsrun_path):
    model = models.SimpleModel().eval()
    tsbridge.export(model, torch.randn(5, 10), tmp_path / "simple.pt")
    written = tsbridge.to_triton(tmp_path / "simple.pt", tmp_path / "repo", instances=2)

    assert written.model_file == str(tmp_path / "repo" / "simple" / "1" / "model.pt")
    config = parse(written.config_file)
    assert config.name == "simple" and config.platform == "pytorch_libtorch"
    assert config.max_batch_size > 0 and config.HasField("dynamic_batching")
    # forward's own argument name, and Triton's positional output name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation warning
        arguments = [a.name for a in torch.jit.load(written.model_file).forward.schema.arguments[1:]]
    assert [i.name for i in config.input] == arguments == ["x"]
    assert [o.name for o in config.output] == ["OUTPUT__0"]
    assert [(g.count, model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind)) for g in config.instance_group] == [
        (2, "KIND_CPU")
    ]
    assert {k: v.string_value for k, v in config.parameters.items()} == {
        "INFERENCE_MODE": "true",
        "DISABLE_OPTIMIZED_EXECUTION": "true",
    }
    check_against_model(config, written, model, tsbridge.load(written.model_file).manifest.document)

    # The golden sample travelled inside the copy: C++ replays it there.
    assert written.has_golden
    result = run_selftest(tsrun_path, written.model_file)
    assert result.returncode == 0, result.stdout + result.stderr


def test_model_mixing_its_batch_gets_full_dims_and_refuses_batching(tmp_path):
    # a @ b.T is [batch, batch]: batching requests together would mix them.
    model = models.TwoInputsTupleOutput().eval()
    tsbridge.export(model, (torch.randn(3, 4), torch.randn(3, 4)), tmp_path / "two.pt")
    written = tsbridge.to_triton(tmp_path / "two.pt", tmp_path / "repo", name="two")
    config = parse(written.config_file)
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert [i.name for i in config.input] == ["a", "b"]
    assert [o.name for o in config.output] == ["OUTPUT__0", "OUTPUT__1", "OUTPUT__2"]
    check_against_model(config, written, model, tsbridge.load(written.model_file).manifest.document)

    with pytest.raises(UnservableError, match=r"output\[1\].*beyond dim 0") as error:
        tsbridge.to_triton(tmp_path / "two.pt", tmp_path / "repo", name="two_b", max_batch_size=4)
    assert "\n" not in str(error.value)
    with pytest.raises(tsbridge.InvalidArgumentError, match="dynamic batching needs"):
        tsbridge.to_triton(tmp_path / "two.pt", tmp_path / "repo", name="two_c", dynamic_batching=True)


def test_renamed_inputs_fall_back_to_positional_names(tmp_path):
    model = models.SimpleModel().eval()
    tsbridge.export(model, torch.randn(5, 10), tmp_path / "renamed.pt", input_names=["features"])
    config = parse(tsbridge.to_triton(tmp_path / "renamed.pt", tmp_path / "repo").config_file)
    # Triton matches config names against forward's parameters ("x"), not the manifest's.
    assert [i.name for i in config.input] == ["INPUT__0"]


def test_file_without_manifest_needs_shapes_and_says_which_option(tmp_path):
    model = models.TwoInputsTupleOutput().eval()
    torch.jit.save(torch.jit.script(model), tmp_path / "plain.pt")
    with pytest.raises(UnservableError, match=r"no tsbridge manifest.*--shape NAME=DIMS\[:DTYPE\]"):
        tsbridge.to_triton(tmp_path / "plain.pt", tmp_path / "repo")

    specs = [{"name": n, "dtype": "float32", "shape": ["batch", 4]} for n in ("a", "b")]
    written = tsbridge.to_triton(tmp_path / "plain.pt", tmp_path / "repo", input_specs=specs)
    config = parse(written.config_file)
    assert config.max_batch_size == 0  # the probe saw output[1] follow the batch in dim 1
    assert [list(o.dims) for o in config.output] == [[-1, 4], [-1, -1], [-1, 4]]
    inputs = requests_from_config(config)
    for tensor_config, tensor in zip(config.output, leaves(model(*inputs)), strict=True):
        assert_shape_fits(config, tensor_config, tensor, batch=2)
        assert dtype_of(tensor_config) == tensor.dtype


def test_cli_writes_a_repository_from_shapes_and_uses_the_exit_codes(tmp_path, capsys):
    model = models.SimpleModel().eval()
    torch.jit.save(torch.jit.script(model), tmp_path / "plain.pt")
    repo = tmp_path / "repo"
    args = [
        str(tmp_path / "plain.pt"),
        str(repo),
        "--shape",
        "x=-1x10:float32",
        "--name",
        "seed",
        "--max-batch-size",
        "16",
        "--max-queue-delay-us",
        "500",
        "--version",
        "3",
    ]
    assert cli.main(["triton", *args]) == cli.EXIT_OK
    config = parse(repo / "seed" / "config.pbtxt")
    assert (repo / "seed" / "3" / "model.pt").is_file()
    assert config.max_batch_size == 16 and config.dynamic_batching.max_queue_delay_microseconds == 500
    assert [list(i.dims) for i in config.input] == [[10]] and [list(o.dims) for o in config.output] == [[1]]
    x = torch.randn(4, 10)
    torch.testing.assert_close(tsbridge.load(repo / "seed" / "3" / "model.pt")(x), model(x))

    capsys.readouterr()
    assert cli.main(["triton", *args]) == cli.EXIT_FAILED  # exists
    assert "--replace" in capsys.readouterr().err
    assert cli.main(["triton", *args, "--replace", "--no-dynamic-batching"]) == cli.EXIT_USAGE  # delay needs it
    assert cli.main(["triton", str(tmp_path / "plain.pt"), str(repo), "--shape", "x=ten"]) == cli.EXIT_USAGE
    assert cli.main(["triton", str(tmp_path / "missing.pt"), str(repo)]) == cli.EXIT_LOAD
    err = capsys.readouterr().err
    assert all(line.startswith("tsbridge: error: ") for line in err.splitlines() if "error" in line)


def test_cli_shapes_take_the_one_input_spec_grammar(tmp_path, capsys):
    torch.jit.save(torch.jit.script(models.SimpleModel().eval()), tmp_path / "plain.pt")
    repo = tmp_path / "repo"
    command = ["triton", str(tmp_path / "plain.pt"), str(repo)]
    assert cli.main([*command, "--shape", "x=batch,10", "--name", "named"]) == cli.EXIT_OK
    config = parse(repo / "named" / "config.pbtxt")
    assert config.max_batch_size == 8 and [list(i.dims) for i in config.input] == [[10]]  # dim 0 named batch
    capsys.readouterr()
    refused = [
        ("x=-1x10:flot", "got 'x=-1x10:flot': unknown dtype 'flot'"),
        ("x", "got 'x': no '=' after the input's name"),
        ("x=batchx10", "'batchx10' holds a name: join the dims by ','"),
        ("x=", "Triton's config needs at least one dim"),
    ]
    for text, fault in refused:
        assert cli.main([*command, "--shape", text, "--name", "refused"]) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert err.startswith("tsbridge: error: --shape") and err.count("\n") == 1 and fault in err, err
    assert sorted(p.name for p in repo.iterdir()) == ["named"]


def test_existing_model_is_refused_unless_replaced_and_other_models_stay(tmp_path):
    repo = tmp_path / "repo"
    tsbridge.export(models.SimpleModel().eval(), torch.randn(5, 10), tmp_path / "a.pt")
    tsbridge.export(models.MLP().eval(), torch.randn(5, 16), tmp_path / "b.pt")
    tsbridge.to_triton(tmp_path / "a.pt", repo, name="first")
    tsbridge.to_triton(tmp_path / "b.pt", repo, name="second")  # added beside the first
    with pytest.raises(RepositoryExistsError, match="already exists.*replace"):
        tsbridge.to_triton(tmp_path / "b.pt", repo, name="first")
    assert parse(repo / "first" / "config.pbtxt").input[0].dims == [10]  # untouched

    tsbridge.to_triton(tmp_path / "b.pt", repo, name="first", replace=True)
    assert parse(repo / "first" / "config.pbtxt").input[0].dims == [16]
    assert parse(repo / "second" / "config.pbtxt").input[0].dims == [16]
    assert sorted(p.name for p in repo.iterdir()) == ["first", "second"]  # no staging folders left


def test_what_triton_cannot_serve_is_refused_naming_the_reason(tmp_path):
    repo = tmp_path / "repo"
    tsbridge.export(models.DictOutput().eval(), torch.randn(3, 6), tmp_path / "dict.pt")
    with pytest.raises(UnservableError, match=r"returns Dict\[str, Tensor\].*tuple"):
        tsbridge.to_triton(tmp_path / "dict.pt", repo)

    scalar_args = (torch.randn(3, 4), 2, 0.5, True, [1])
    tsbridge.export(models.ScalarArgs().eval(), scalar_args, tmp_path / "scalars.pt")
    with pytest.raises(UnservableError, match="input 'n' is int"):
        tsbridge.to_triton(tmp_path / "scalars.pt", repo)

    tsbridge.export(models.MultiMethod().eval(), torch.randn(3, 8), tmp_path / "multi.pt")
    with pytest.raises(UnservableError, match="forward only"):
        tsbridge.to_triton(tmp_path / "multi.pt", repo, method="embed")

    class Double(torch.nn.Module):
        def forward(self, x):
            return x * 2

    torch.jit.save(torch.jit.script(Double()), tmp_path / "double.pt")
    with pytest.raises(UnservableError, match="input 'x' is bfloat16"):
        tsbridge.to_triton(
            tmp_path / "double.pt", repo, input_specs=[{"name": "x", "dtype": "bfloat16", "shape": ["batch", 3]}]
        )
    with pytest.raises(tsbridge.InvalidArgumentError, match="model name"):
        tsbridge.to_triton(tmp_path / "multi.pt", repo, name="../escape")
    with pytest.raises(tsbridge.InvalidArgumentError, match="version"):
        tsbridge.to_triton(tmp_path / "multi.pt", repo, version=0)
    assert not repo.exists() or not any(repo.iterdir())  # nothing half-written


# ── .pt2 ──


def test_pt2_package_becomes_a_torch_aoti_repository(packages, tmp_path, tsrun_path):
    package = packages["mlp"]
    written = tsbridge.to_triton(package.path, tmp_path / "repo")
    assert written.model_file.endswith("/mlp/1/model.pt2")
    config = parse(written.config_file)
    assert config.platform == "torch_aoti"
    # Triton's torch_aoti does not batch above 1 yet: full dims, the batch as -1.
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert [i.name for i in config.input] == ["ARGS[0]"] and [o.name for o in config.output] == ["RESULT"]
    assert [list(i.dims) for i in config.input] == [[-1, 16]]
    assert {k: v.string_value for k, v in config.parameters.items()} == {"INFERENCE_MODE": "true"}
    manifest = tsbridge.load(written.model_file).manifest.document
    check_against_model(config, written, package.model, manifest)

    # The call-spec names address what the package returns (PyTorch's own loader).
    inputs = requests_from_config(config)
    returned = torch._inductor.aoti_load_package(written.model_file)(*inputs)
    assert isinstance(returned, torch.Tensor)  # a bare tensor: Triton's call spec names it RESULT
    torch.testing.assert_close(returned, package.model(*inputs), rtol=1e-4, atol=1e-5)

    result = run_selftest(tsrun_path, written.model_file)
    assert result.returncode == 0, result.stdout + result.stderr

    ordinal = parse(
        tsbridge.to_triton(
            package.path, tmp_path / "repo", name="mlp_ordinal", naming="ordinal", max_batch_size=1
        ).config_file
    )
    assert [i.name for i in ordinal.input] == ["INPUT__0"] and [o.name for o in ordinal.output] == ["OUTPUT__0"]
    assert ordinal.max_batch_size == 1 and [list(i.dims) for i in ordinal.input] == [[16]]


def test_pt2_batching_above_one_and_gpu_instances_are_refused(packages, tmp_path):
    package = packages["mlp"]
    with pytest.raises(UnservableError, match="torch_aoti.*above 1"):
        tsbridge.to_triton(package.path, tmp_path / "repo", max_batch_size=8)
    with pytest.raises(UnservableError, match="compiled for cpu.*KIND_GPU"):
        tsbridge.to_triton(package.path, tmp_path / "repo", kind="gpu")
