"""Reads tsrun's human summary back into numbers, so tests can compare it
with what PyTorch computes."""

import re

_LINE = re.compile(
    r"^  (?P<name>\S+): (?P<dtype>\w+)\[(?P<shape>[^\]]*)\]"
    r"(?: min=(?P<min>\S+) max=(?P<max>\S+) mean=(?P<mean>\S+) first=\[(?P<first>[^\]]*)\])?$"
)


def parse_section(stdout: str, section: str) -> dict[str, dict]:
    """{name: {dtype, shape, min, max, mean, first}} of the `inputs:` or `outputs:` block."""
    lines = stdout.splitlines()
    start = lines.index(f"{section}:") + 1
    values = {}
    for line in lines[start:]:
        match = _LINE.match(line)
        if not match:
            break
        shape = [int(d) for d in match["shape"].split(", ") if d]
        entry = {"dtype": match["dtype"], "shape": shape}
        if match["min"] is not None:
            entry.update(
                min=float(match["min"]),
                max=float(match["max"]),
                mean=float(match["mean"]),
                first=[float(v) for v in match["first"].split(", ") if v != "..."],
            )
        values[match["name"]] = entry
    return values
