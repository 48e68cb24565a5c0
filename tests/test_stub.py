"""python/tsbridge/_core.pyi stays in step with the compiled module: the same
functions and classes, the same members, the same parameter names in the
same order (pybind11 writes each signature on the first line of __doc__)."""

import ast
import inspect
import re
from pathlib import Path

import pytest

from tsbridge import _core

STUB = Path(_core.__file__).with_name("_core.pyi")


def stub_tree() -> dict:
    """{name: FunctionDef} for functions, {name: {member: node}} for classes;
    a class's read-only properties are annotated names (`name: str`)."""
    tree = ast.parse(STUB.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            members = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
            members.update({n.target.id: n for n in node.body if isinstance(n, ast.AnnAssign)})
            found[node.name] = members
    return found


def compiled_members(cls) -> set:
    """What a bound class offers: its properties and methods (pybind11's own
    helpers and object's defaults aside)."""
    return {
        name
        for name in vars(cls)
        if not name.startswith("_")
        or name in ("__init__", "__enter__", "__exit__")
        and "(self: tsbridge._core" in (getattr(cls, name).__doc__ or "")
    }


def pybind_parameters(obj) -> list:
    """Parameter names from pybind11's signature line, without self."""
    line = (obj.__doc__ or "").strip().splitlines()[0]
    inside = line[line.index("(") + 1 : line.rindex(") ->")]
    names = [re.split(r"[:=]", part.strip())[0].strip() for part in _split_top_level(inside) if part.strip()]
    return [n for n in names if n != "self"]


def _split_top_level(text: str) -> list:
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "[(" and 1 or (char in "])" and -1 or 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def stub_parameters(node: ast.FunctionDef) -> list:
    args = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    if node.args.vararg:
        args.insert(len(node.args.posonlyargs + node.args.args), "*" + node.args.vararg.arg)
    return [a for a in args if a != "self"]


def test_the_stub_names_what_the_module_has():
    stub = stub_tree()
    compiled = {n for n in dir(_core) if not n.startswith("_")}
    assert set(stub) == compiled


@pytest.mark.parametrize("name", sorted(n for n in dir(_core) if not n.startswith("_")))
def test_each_name_matches(name):
    stub = stub_tree()[name]
    obj = getattr(_core, name)
    if not inspect.isclass(obj):
        assert stub_parameters(stub) == pybind_parameters(obj), name
        return
    assert set(stub) == compiled_members(obj), name
    for member, node in stub.items():
        is_property = isinstance(node, ast.AnnAssign) or any(
            isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
        )
        assert is_property == isinstance(inspect.getattr_static(obj, member), property), f"{name}.{member}"
        if not is_property:
            assert stub_parameters(node) == pybind_parameters(getattr(obj, member)), f"{name}.{member}"
