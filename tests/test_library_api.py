"""The C++ calls an app makes beyond load and forward (inputs from files by
name, tensors in and out, named leaves, checks without a run, warm-up of any
method, typed metadata, batches by name, options of the other format), run
by tests/native/library_api.cpp and checked here against PyTorch."""

import subprocess

import numpy as np
import pytest
import torch
from torch import nn

import tsbridge
from native.harness import build_env, native_build

pytestmark = pytest.mark.native


class TwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x, y):
        return self.linear(x), x * y

    @torch.jit.export
    def double(self, x):
        return x * 2


class TensorAndInt(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int]:
        return x * 2, x.shape[0]


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library-api")
    torch.manual_seed(0)
    model = TwoOut().eval()
    path = folder / "two.pt"
    tsbridge.export(
        model,
        (torch.randn(2, 4), torch.randn(2, 4)),
        path,
        capture="script",
        input_names=["x", "y"],
        output_names=["logits", "product"],
        dynamic_dims={"x": {0: "batch"}, "y": {0: "batch"}},
        metadata={"labels": ["cat", "dog", "eel"], "version": 3},
    )
    x, y = torch.randn(7, 4), torch.randn(7, 4)
    np.savez(folder / "inputs.npz", y=y.numpy(), x=x.numpy())  # not in the model's order
    pair = folder / "pair.pt"
    tsbridge.export(TensorAndInt(), torch.randn(2, 4), pair, capture="script")
    program = native_build(tmp_path_factory).program("library_api")
    result = subprocess.run(
        [program, str(path), str(folder), str(pair)], capture_output=True, text=True, timeout=300, env=build_env()
    )
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    with torch.inference_mode():
        expected = model(x, y)
    return folder, lines, expected


def test_forward_tensors_on_inputs_read_by_name(ran):
    folder, _, expected = ran
    for index, want in enumerate(expected):
        torch.testing.assert_close(torch.from_numpy(np.load(folder / f"tensor{index}.npy")), want)


def test_output_leaves_carry_the_manifest_names(ran):
    assert ran[1]["leaves"] == "logits,product"


def test_check_inputs_refuses_without_running(ran):
    lines = ran[1]
    assert lines["check_inputs"].startswith("InputMismatch ")
    assert "method 'forward' takes 2 input(s) (x: Tensor, y: Tensor), got 1" in lines["check_inputs"]
    assert lines["check_dtype"].startswith("InputMismatch ")
    assert "input 'y': expected float32[batch,4], got float64[7,4]" in lines["check_dtype"]


def test_warm_up_of_another_method_and_unknown_methods(ran):
    lines = ran[1]
    assert lines["warm_up"] == "3"
    assert lines["inputs"].startswith("MethodNotFound ") and "no method 'nope' (available: " in lines["inputs"]


def test_metadata_as_typed_values(ran):
    lines = ran[1]
    assert lines["labels"] == "cat,dog,eel"
    assert float(lines["version"]) == 3
    assert lines["absent"] == "0"
    assert lines["wrong_kind"] == "InvalidArgument metadata 'labels' is an array, not a string"


def test_run_batches_by_name(ran):
    folder, lines, expected = ran
    assert lines["batches"] == "7 3"
    stored = np.load(folder / "batches.npz")
    torch.testing.assert_close(torch.from_numpy(stored["logits"]), expected[0])
    torch.testing.assert_close(torch.from_numpy(stored["product"]), expected[1])


def test_options_of_the_other_format_are_refused(ran):
    assert ran[1]["load"].startswith(
        "InvalidArgument AOTInductor options (runners) do not apply to a TorchScript archive"
    )


def test_a_result_no_tensor_call_can_return_is_one_fault_with_one_code(ran):
    folder, lines, _ = ran
    pair = folder / "pair.pt"
    assert lines["forward_one_tensor"] == (
        f"InferenceFailed {pair}: forward returned Tuple, not one tensor; "
        "call forward(std::vector<c10::IValue>) instead"
    )
    assert lines["forward_tensors"] == (
        f"InferenceFailed {pair}: forward returned output[1] as Int, not a tensor; call forward() instead"
    )
