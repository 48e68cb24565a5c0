"""Where a reduced precision goes: the matrix products and convolutions
run in bf16/fp16 on weights stored in it, and everything between them
(normalisation, softmax, activations, the residual sum) stays in the
model's own dtype, each product's result cast back to its input's dtype.
Rounding every activation instead loses too much on deep encoders (the
suite's transformer misses fp32 eager by 4e-2 where the products alone stay
within 1e-2); convolutions and GEMMs are where bf16's speed is.

One rule, two graphs: TorchScript's, after freezing (`lowered_module`),
and torch.export's, traced again once lowered (`lowered_program_module`)."""

from __future__ import annotations

import contextlib
import io

import torch

# The ops that run reduced (TorchScript's and torch.export's names alike),
# and how many leading tensor arguments (input, weight, bias) go with them;
# an attention mask stays as it is.
GRAPH_OPS = {
    **{f"aten::{op}": 3 for op in ("linear", "addmm", "baddbmm", "_convolution", "scaled_dot_product_attention")},
    **{f"aten::{op}": 3 for op in ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d")},
    **{f"aten::{op}": 2 for op in ("matmul", "mm", "bmm")},
}
# Ops exact in any dtype: a product's result goes through them before it is
# cast back, so oneDNN still fuses a convolution's ReLU into it, and a cast
# back whose next use is another product's cast down is skipped (bf16 to fp32
# and back is exact).
EXACT_OPS = ("aten::relu", "aten::relu_", "aten::max_pool2d")


def lowered_module(module: torch.jit.ScriptModule, dtype: torch.dtype) -> tuple[torch.jit.ScriptModule, str]:
    """A fresh copy of `module` (frozen: its weights fold to `dtype`) with
    every method's products in `dtype`, and a note of how many. A copy,
    because TorchScript's executor keeps the graph it first ran."""
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    copy = torch.jit.load(buffer)
    lowered = 0
    for name in copy._c._method_names():
        graph = copy._c._get_method(name).graph
        torch._C._jit_pass_inline(graph)  # an unfrozen module's submodules' calls, to lower what they call
        _as_under_autocast(graph)
        # Each pass below ends at the return: a pass restores the insert
        # point it found, and one at a node it removed aborts the process.
        graph.setInsertPoint(graph.return_node())
        torch._C._jit_pass_constant_propagation(graph)
        lowered += _lower(graph, graph.block(), dtype, {})
        graph.setInsertPoint(graph.return_node())
        torch._C._jit_pass_constant_propagation(graph)  # folds the weights' casts
        torch._C._jit_pass_dce(graph)
    return copy, lowered_note(lowered, dtype)


def lowered_note(count: int, dtype: torch.dtype) -> str:
    name = {torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    return (
        f"{count} matrix-product and convolution ops of the graph in {name}, "
        "everything between them as eager computes it"
    )


def lowered_program_module(program: torch.export.ExportedProgram, dtype: torch.dtype) -> tuple[torch.nn.Module, int]:
    """The program as a module with its products in `dtype`, for
    torch.export to trace again (which gives every new node its metadata),
    and how many. Its weights are cast in the graph; Inductor's freezing
    folds those casts into weights stored in `dtype`."""
    module = program.module()
    graph = module.graph
    count = 0
    backs: set[torch.fx.Node] = set()  # the casts back this pass made
    for node in list(graph.nodes):
        leading = GRAPH_OPS.get(_fx_name(node))
        if leading is None:
            continue
        inputs = [(i, arg) for i, arg in enumerate(node.args[:leading]) if arg in backs or _floating_fx(arg)]
        if not inputs or inputs[0][0] != 0:
            continue
        with graph.inserting_before(node):
            for index, arg in inputs:
                low = (
                    arg.args[0]
                    if arg in backs
                    else graph.call_function(torch.ops.aten.to.dtype, (arg, dtype), _layout(node, index))
                )
                node.update_arg(index, low)
        source = inputs[0][1].args[1] if inputs[0][1] in backs else inputs[0][1]
        with graph.inserting_after(node):
            back = graph.call_function(torch.ops.aten.type_as.default, (node, source))
        node.replace_all_uses_with(back, delete_user_cb=lambda user, back=back: user is not back)
        _fx_pass_through(back)
        backs.add(back)
        count += 1
    graph.eliminate_dead_code()
    module.recompile()
    return module, count


def _fx_name(node) -> str:
    return node.target.name() if isinstance(node.target, torch._ops.OpOverload) else ""


def _fx_pass_through(back) -> None:
    """type_as(product) -> relu becomes relu(product) -> type_as (EXACT_OPS)."""
    while len(back.users) == 1:
        user = next(iter(back.users))
        if _fx_name(user) not in EXACT_OPS or user.args[0] is not back:
            return
        user.replace_input_with(back, back.args[0])
        user.replace_all_uses_with(back, delete_user_cb=lambda other, back=back: other is not back)
        back.update_arg(0, user)
        user.append(back)


def _layout(node, index: int) -> dict:
    """A linear's input cast to a contiguous copy: Inductor lowers a linear
    on a transposed 3-D input with a dynamic dim (attention's in-projection)
    as a batch of one-row products, which made the suite's bf16 transformer
    25x slower (101 ms against 4.0 ms)."""
    if node.target.name() == "aten::linear" and index == 0:
        return {"memory_format": torch.contiguous_format}
    return {}


def _floating_fx(arg) -> bool:
    value = arg.meta.get("val") if isinstance(arg, torch.fx.Node) else None
    return isinstance(value, torch.Tensor) and value.is_floating_point()


@contextlib.contextmanager
def unfused():
    """The MHA fast path off, so a trace records attention as its products."""
    was = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(was)


def _lower(graph, block, dtype: torch.dtype, reduced: dict) -> int:
    """Casts around each product of `block`; `reduced` maps each cast back
    made so far (by value name) to its inputs: the value in `dtype` it came
    from, and the value whose dtype it restores."""
    count = 0
    for node in list(block.nodes()):
        for inner in node.blocks():
            count += _lower(graph, inner, dtype, reduced)
        leading = GRAPH_OPS.get(node.kind())
        if leading is None:
            continue
        inputs = list(node.inputs())[:leading]
        tensors = [i for i, value in enumerate(inputs) if _may_be_floating(value)]
        if not tensors or 0 not in tensors:
            continue
        graph.setInsertPoint(node)
        for index in tensors:
            node.replaceInput(index, _cast(graph, inputs[index], dtype, reduced))
        # The dtype to restore: that of the value the first input was cast back to.
        source = reduced[inputs[0].debugName()][1] if inputs[0].debugName() in reduced else inputs[0]
        result = node.output()
        back = graph.create("aten::type_as", [result, source])
        back.insertAfter(node)
        result.replaceAllUsesWith(back.output())
        back.replaceInput(0, result)
        _pass_through(back)
        reduced[back.output().debugName()] = list(back.inputs())
        count += 1
    return count


def _pass_through(back) -> None:
    """type_as(product) -> relu becomes relu(product) -> type_as (EXACT_OPS)."""
    while len(back.output().uses()) == 1:
        use = back.output().uses()[0]
        user = use.user
        if user.kind() not in EXACT_OPS or use.offset != 0:
            return
        user.replaceInput(0, list(back.inputs())[0])
        back.moveAfter(user)
        user.output().replaceAllUsesWith(back.output())
        back.replaceInput(0, user.output())


def _cast(graph, value, dtype: torch.dtype, reduced: dict):
    """`value` in `dtype`: the value a cast back was made from, if it is one."""
    if value.debugName() in reduced:
        return reduced[value.debugName()][0]
    false, none = graph.insertConstant(False), graph.insertConstant(None)
    node = graph.create("aten::to", [value, graph.insertConstant(dtype), false, false, none])
    graph.insertNode(node)
    return node.output()


def _may_be_floating(value) -> bool:
    """A tensor value not known to be integral (a scripted graph's tensors
    carry no dtype; a frozen constant or a trace's do)."""
    kind = value.type().kind()
    if kind != "TensorType":
        return False
    dtype = value.type().dtype()
    return dtype is None or dtype.is_floating_point


def _as_under_autocast(graph) -> None:
    """Every torch.is_autocast_enabled() reads True, as in eager under
    autocast: PyTorch's encoder modules then take their reference path, not
    the fused kernels that compute a whole layer, residuals included, in one
    dtype (a trace is made with that fast path off: lowering.unfused)."""
    for node in list(_nodes(graph.block())):
        if node.kind() == "aten::is_autocast_enabled":
            graph.setInsertPoint(node)
            node.output().replaceAllUsesWith(graph.insertConstant(True))


def _nodes(block):
    for node in block.nodes():
        yield node
        for inner in node.blocks():
            yield from _nodes(inner)
