"""Parity: the C++ runtime (tsbridge.load) gives what PyTorch gives for the
same model, run eagerly and through torch.jit.load of the same file.

Every expected value is computed in the test from the model itself; nothing
is hard-coded.
"""

import threading

import pytest
import torch

import tsbridge
from models import (
    ControlFlow,
    ConvNet,
    DictInput,
    DictOutput,
    EncoderModel,
    LSTMModel,
    MultiMethod,
    ScalarArgs,
    SimpleModel,
    TwoInputsTupleOutput,
)

ATOL = 1e-6


def capture(model, how, example_inputs):
    """Script or trace an eval-mode model the way a user would."""
    if how == "script":
        return tsbridge.script(model)
    return tsbridge.trace(model, example_inputs)


def export(tmp_path, module, name="model.pt", **save_kwargs):
    """Save a ScriptModule; return (C++ model, torch.jit.load model) of that file."""
    path = tmp_path / name
    tsbridge.save(module, path, **save_kwargs)
    return tsbridge.load(path), torch.jit.load(str(path))


def eager(fn, *args):
    with torch.no_grad():
        return fn(*args)


def assert_same_structure(actual, expected):
    """Same container types, keys and lengths, leaf by leaf."""
    assert type(actual) is type(expected), f"{type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected)
        for key in expected:
            assert_same_structure(actual[key], expected[key])
    elif isinstance(expected, (tuple, list)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same_structure(a, e)


def assert_parity(cpp, reference, atol=ATOL):
    """The C++ result matches a reference (eager) result: structure, dtype, values."""
    assert_same_structure(cpp, reference)
    torch.testing.assert_close(cpp, reference, rtol=0, atol=atol)


def assert_bitwise(cpp, jit):
    """The C++ result equals torch.jit.load's result of the same file, bit for bit."""
    assert_same_structure(cpp, jit)
    flat_cpp = tsbridge.specs.flatten_output(cpp)
    flat_jit = tsbridge.specs.flatten_output(jit)
    assert [p for _, p, _ in flat_cpp] == [p for _, p, _ in flat_jit]
    for (name, _, a), (_, _, b) in zip(flat_cpp, flat_jit, strict=True):
        if isinstance(b, torch.Tensor):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert torch.equal(a, b), f"{name}: max diff {(a - b).abs().max().item()}"
        else:
            assert a == b, name


# 1
@pytest.mark.parametrize("how", ["script", "trace"])
def test_simple_model(tmp_path, how):
    model = SimpleModel().eval()
    x = torch.randn(5, 10)
    cpp_model, jit_model = export(tmp_path, capture(model, how, x))
    expected = eager(model, x)
    # Several calls: TorchScript's profiling executor optimises after the first runs.
    for _ in range(3):
        cpp = cpp_model(x)
        assert isinstance(cpp, torch.Tensor) and cpp.shape == (5, 1)
        torch.testing.assert_close(cpp, expected, rtol=0, atol=1e-6)
        assert torch.equal(cpp, eager(jit_model, x))


# 2
@pytest.mark.parametrize("how", ["script", "trace"])
def test_conv_net(tmp_path, how):
    model = ConvNet()
    with torch.no_grad():  # give BatchNorm running statistics that matter
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.randn(2, 3, 8, 8)
    cpp_model, jit_model = export(tmp_path, capture(model, how, x))
    for batch in (x, torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)):
        cpp = cpp_model(batch)
        assert_parity(cpp, eager(model, batch))
        assert_bitwise(cpp, eager(jit_model, batch))


# 3
# Tracing nn.LSTM makes torch warn that its input-size check turns a tensor
# into a Python bool (TracerWarning): true of any trace of an LSTM, and what
# the user of tsbridge.trace should see; the comparisons below show this
# trace is right.
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("how", ["script", "trace"])
def test_lstm(tmp_path, how):
    model = LSTMModel().eval()
    x = torch.randn(3, 7, 6)
    cpp_model, jit_model = export(tmp_path, capture(model, how, x))
    for batch in (x, torch.randn(3, 7, 6)):
        cpp = cpp_model(batch)
        assert cpp.shape == (3, 3)
        assert_parity(cpp, eager(model, batch))
        assert_bitwise(cpp, eager(jit_model, batch))
    if how == "script":  # a scripted LSTM takes any batch and sequence length
        other = torch.randn(2, 11, 6)
        assert_parity(cpp_model(other), eager(model, other))


# 4
@pytest.mark.parametrize("how", ["script", "trace"])
def test_transformer_encoder_layer(tmp_path, how):
    model = EncoderModel().eval()
    x = torch.randn(2, 6, 32)
    # Trace without grad, as inference does: TransformerEncoderLayer takes its
    # fast path only when grad is off, and torch.jit.trace's check re-traces
    # under no_grad, so a trace with grad on fails that check (plain
    # torch.jit.trace does the same).
    with torch.no_grad():
        module = capture(model, how, x)
    cpp_model, jit_model = export(tmp_path, module)
    for batch in (x, torch.randn(2, 6, 32)):
        cpp = cpp_model(batch)
        assert cpp.shape == (2, 6, 32)
        assert_parity(cpp, eager(model, batch))
        assert_bitwise(cpp, eager(jit_model, batch))


# 5
@pytest.mark.parametrize("how", ["script", "trace"])
def test_several_inputs_tuple_output(tmp_path, how):
    model = TwoInputsTupleOutput().eval()
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    cpp_model, jit_model = export(tmp_path, capture(model, how, (a, b)))
    for args in ((a, b), (torch.randn(3, 4), torch.randn(3, 4))):
        cpp = cpp_model(*args)
        assert isinstance(cpp, tuple) and len(cpp) == 3
        assert_parity(cpp, eager(model, *args))
        assert_bitwise(cpp, eager(jit_model, *args))


# 6
def test_dict_output(tmp_path):
    model = DictOutput().eval()
    x = torch.randn(4, 6)
    cpp_model, jit_model = export(tmp_path, tsbridge.script(model), example_inputs=(x,))
    for batch in (x, torch.randn(4, 6)):  # save() records the example shape as fixed
        cpp = cpp_model(batch)
        assert isinstance(cpp, dict) and list(cpp) == ["logits", "probs", "top"]
        assert cpp["top"].dtype == torch.int64
        assert_parity(cpp, eager(model, batch))
        assert_bitwise(cpp, eager(jit_model, batch))


# 7
def test_data_dependent_control_flow(tmp_path):
    model = ControlFlow().eval()
    cpp_model, jit_model = export(tmp_path, tsbridge.script(model))
    cases = []
    for rows in (1, 3, 7, 2):
        x = torch.randn(rows, 4)
        cases.append(x.abs() + 0.1)  # sum > 0: the relu branch
        cases.append(-x.abs() - 0.1)  # sum < 0: the tanh branch
    for x in cases:
        cpp = cpp_model(x)
        expected = eager(model, x)
        assert_parity(cpp, expected)
        assert_bitwise(cpp, eager(jit_model, x))
    # The two branches really differ, so a runtime stuck on one would fail above.
    pos, neg = cases[2], cases[3]
    assert not torch.allclose(eager(model, pos), eager(model, neg))


# 8
def test_scalar_and_list_arguments(tmp_path):
    model = ScalarArgs().eval()
    x = torch.randn(3, 4, 5)
    cpp_model, jit_model = export(tmp_path, tsbridge.script(model))
    combos = [
        (2, 0.5, True, [1]),
        (0, 3, False, [0, 2]),  # a Python int where float is declared
        (4, -1.25, False, [2]),
        (1, 2, True, (0, 1)),  # int for float, and a tuple for List[int]
    ]
    for n, scale, flag, dims in combos:
        cpp = cpp_model(x, n, scale, flag, dims)
        expected = eager(model, x, n, scale, flag, list(dims))
        assert_parity(cpp, expected)
        assert_bitwise(cpp, eager(jit_model, x, n, float(scale), flag, list(dims)))


# 9
def test_exported_and_named_methods(tmp_path):
    model = MultiMethod().eval()
    x = torch.randn(5, 8)
    cpp_model, jit_model = export(tmp_path, tsbridge.script(model, method_name="other"))

    expected_forward = eager(model, x)
    assert_parity(cpp_model(x), expected_forward)
    assert_parity(cpp_model.run("forward", x), expected_forward)

    expected_embed = eager(model.embed, x)
    for cpp in (cpp_model.embed(x), cpp_model.run("embed", x)):
        assert cpp.shape == (5, 4)
        assert_parity(cpp, expected_embed)
        assert_bitwise(cpp, eager(jit_model.embed, x))

    for k in (3, -2):
        expected_other = eager(model.other, x, k)
        for cpp in (cpp_model.other(x, k), cpp_model.run("other", x, k)):
            assert_parity(cpp, expected_other)
            assert_bitwise(cpp, eager(jit_model.other, x, k))


# 10
@pytest.mark.parametrize("with_examples", [False, True])
def test_dict_input(tmp_path, with_examples):
    model = DictInput().eval()

    def make(batch):
        return {"image": torch.randn(batch, 5), "text": torch.randn(batch, 7), "weight": torch.rand(batch, 1)}

    example = make(4)
    save_kwargs = {"example_inputs": (example,)} if with_examples else {}
    cpp_model, jit_model = export(tmp_path, tsbridge.script(model), **save_kwargs)
    for inputs in (example, make(4), make(2)):
        cpp = cpp_model(inputs)
        assert cpp.shape == (inputs["image"].shape[0], 3)
        assert_parity(cpp, eager(model, inputs))
        assert_bitwise(cpp, eager(jit_model, inputs))


# 11
def test_methods_and_input_specs(tmp_path):
    x = torch.randn(5, 8)
    multi = tmp_path / "multi.pt"
    tsbridge.save(tsbridge.script(MultiMethod().eval(), method_name="other"), multi, example_inputs=(x,))
    scalars = tmp_path / "scalars.pt"
    tsbridge.save(
        tsbridge.script(ScalarArgs().eval()),
        scalars,
        example_inputs=(torch.randn(2, 3), 2, 0.5, True, [1]),
        input_names=["x", "n", "s", "f", "d"],
    )
    traced = tmp_path / "traced.pt"
    tsbridge.save(tsbridge.trace(SimpleModel().eval(), torch.randn(5, 10)), traced)

    model = tsbridge.load(multi)
    assert {"forward", "embed", "other"} <= set(model.methods)
    assert set(torch.jit.load(str(multi))._c._method_names()) <= set(model.methods)

    for path in (multi, scalars, traced):
        model = tsbridge.load(path)
        assert model.manifest is not None
        python_specs = [
            {k: spec[k] for k in ("name", "type", "dtype", "shape")} for spec in model.manifest.document["inputs"]
        ]
        cpp_specs = [{k: getattr(spec, k) for k in ("name", "type", "dtype", "shape")} for spec in model.inputs()]
        assert python_specs == cpp_specs, path.name
        assert python_specs, path.name

    scalar_specs = tsbridge.load(scalars).inputs()
    assert [(s.name, s.type) for s in scalar_specs] == [
        ("x", "Tensor"),
        ("n", "int"),
        ("s", "float"),
        ("f", "bool"),
        ("d", "List[int]"),
    ]
    assert scalar_specs[0].dtype == "float32" and scalar_specs[0].shape == [2, 3]


# 12
def test_concurrent_calls_match_serial(tmp_path):
    model = ConvNet().eval()
    x = torch.randn(2, 3, 8, 8)
    cpp_model, _ = export(tmp_path, tsbridge.trace(model, x))
    threads, calls = 4, 50
    inputs = [[torch.randn(2, 3, 8, 8) for _ in range(calls)] for _ in range(threads)]
    serial = [[cpp_model(inp) for inp in per_thread] for per_thread in inputs]
    # The serial results are right to begin with.
    assert_parity(serial[0][0], eager(model, inputs[0][0]))

    results = [[None] * calls for _ in range(threads)]
    errors = []
    start = threading.Barrier(threads)

    def worker(t):
        try:
            start.wait()
            for i in range(calls):
                results[t][i] = cpp_model(inputs[t][i])
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in pool), "a worker thread hung"
    assert not errors, errors
    for t in range(threads):
        for i in range(calls):
            assert torch.equal(results[t][i], serial[t][i]), f"thread {t}, call {i}"
