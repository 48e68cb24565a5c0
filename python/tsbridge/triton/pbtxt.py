"""Protobuf text format, written for the few field kinds a Triton config uses
(so writing a repository needs no protobuf package)."""

from __future__ import annotations

import json


class Symbol(str):
    """An enum value (TYPE_FP32, KIND_CPU): written bare, not quoted."""


def dumps(message: dict) -> str:
    return "".join(_fields(message, 0))


def _fields(message: dict, depth: int):
    pad = "  " * depth
    for key, value in message.items():
        if isinstance(value, dict):
            yield from _message(pad, key, value, depth)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            yield f"{pad}{key} [\n"
            for index, item in enumerate(value):
                yield f"{pad}  {{\n"
                yield from _fields(item, depth + 2)
                yield f"{pad}  }}{',' if index < len(value) - 1 else ''}\n"
            yield f"{pad}]\n"
        elif isinstance(value, list):
            yield f"{pad}{key}: [ {', '.join(_scalar(v) for v in value)} ]\n"
        else:
            yield f"{pad}{key}: {_scalar(value)}\n"


def _message(pad: str, key: str, value: dict, depth: int):
    if not value:
        yield f"{pad}{key} {{ }}\n"
        return
    yield f"{pad}{key} {{\n"
    yield from _fields(value, depth + 1)
    yield f"{pad}}}\n"


def _scalar(value) -> str:
    if isinstance(value, Symbol):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # JSON's escapes (\" \\ \n \t) are text format's; other text stays UTF-8.
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"no text format for {type(value).__name__}")
