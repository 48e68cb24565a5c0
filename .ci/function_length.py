#!/usr/bin/env python3
"""Lists the functions over LIMIT lines outside the tests, and fails if any is
not in ALLOWED below.

Paths (DEFAULT_PATHS): python/tsbridge, cpp and benchmarks (its Python and
the bare loop's C and C++); folders whose name starts with a dot (a build
cache such as benchmarks/.cache) are skipped.

Python: every def, from its `def` line to its last line
(ast: end_lineno - lineno + 1; a nested function counts on its own and inside
its parent). C and C++ (*.cpp, *.cc, *.h, *.hpp, *.c): a brace-matching scan that
skips comments, string, raw-string and character literals and preprocessor
lines; namespaces, `extern "C"`, classes, structs, unions and enums are
containers whose members it looks into; a function counts from the first line
of its signature (template line included) to its closing brace, and
everything inside it (lambdas, local classes, nested blocks) is part of it.
A brace initializer outside a function (a data table) is not a function.

Usage: .ci/function_length.py [--limit N] [--all] [PATH ...]
"""

from __future__ import annotations

import argparse
import ast
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 80
DEFAULT_PATHS = ["python/tsbridge", "cpp", "benchmarks"]
CPP_SUFFIXES = {".cpp", ".cc", ".h", ".hpp", ".c"}

# The exceptions (data tables, the tsrun option table, the pickle
# opcode switch): "path:function" -> why it stays long. An entry that no
# longer names a function over the limit fails the check, so the list cannot
# rot. Data tables at namespace scope need no entry, since they are not
# functions: tsrun's option table is one (kFlags in cpp/tools/tsrun/options.cpp).
ALLOWED = {
    "cpp/src/archive/pickle_check.cpp:Scanner::step": "the pickle opcode switch: one case per opcode, one line each",
}


@dataclass
class Function:
    path: str
    name: str
    line: int
    lines: int


# ── Python ──


def python_functions(path: Path, shown: str) -> list[Function]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = ".".join([*scope, child.name])
                found.append(Function(shown, name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, [*scope, child.name])
            elif isinstance(child, ast.ClassDef):
                visit(child, [*scope, child.name])
            else:
                visit(child, scope)

    visit(tree, [])
    return found


# ── C and C++ ──


def strip_cpp(text: str) -> str:
    """`text` with comments, literals and preprocessor lines blanked out:
    same length, same newlines, so offsets keep their line numbers. String
    and character literals become "" and '' (plus blanks)."""
    out = list(text)
    n = len(text)
    i = 0
    line_start = True  # only blanks since the last newline: a `#` starts a directive

    def blank(start: int, end: int) -> None:
        for k in range(start, min(end, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if c in " \t\r\f\v":
            i += 1
            continue
        if line_start and c == "#":  # a directive, with its continuation lines and comments
            j = i
            while j < n and text[j] != "\n":
                if text.startswith("/*", j):
                    close = text.find("*/", j + 2)
                    j = n if close < 0 else close + 2
                elif text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 2
                else:
                    j += 1
            blank(i, j)
            i = j
            continue
        line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            close = text.find("*/", i + 2)
            j = n if close < 0 else close + 2
            blank(i, j)
            i = j
        elif c == '"' or c == "'":
            word = _word_before(text, i)
            if c == "'" and word[:1].isdigit():  # a digit separator: 1'000'000
                i += 1
                continue
            if c == '"' and word in ("R", "u8R", "uR", "UR", "LR"):
                open_paren = text.find("(", i + 1)
                delimiter = text[i + 1 : open_paren]
                close = text.find(")" + delimiter + '"', open_paren + 1)
                j = n if close < 0 else close + len(delimiter) + 2
            else:
                j = i + 1
                while j < n and text[j] != c and text[j] != "\n":
                    j += 2 if text[j] == "\\" else 1
                j += 1
            blank(i + 1, j - 1)
            i = j
        else:
            i += 1
    return "".join(out)


def _word_before(text: str, i: int) -> str:
    j = i
    while j > 0 and (text[j - 1].isalnum() or text[j - 1] == "_"):
        j -= 1
    return text[j:i]


CONTAINER = re.compile(r'^(?:inline\s+)?namespace\b|^extern\s*"\s*"\s*$')
CLASS_KEY = re.compile(r"\b(class|struct|union|enum)\b")
ACCESS = re.compile(r"^(?:(?:public|private|protected)\s*:(?!:)\s*)+")
TEMPLATE = re.compile(r"^template\s*<")
ATTRIBUTES = re.compile(r"\[\[.*?\]\]|\b(?:alignas|__attribute__|__declspec)\s*\((?:[^()]|\([^()]*\))*\)")
# Words that stand before a `(` in a signature without naming the function.
NOT_NAMES = set("if for while switch return sizeof alignof alignas decltype noexcept static_assert throw catch".split())
NAME = re.compile(r"((?:[A-Za-z_~][\w:~]*::)?operator\s*(?:\(\)|[^\s(]+)|[A-Za-z_~][\w:~]*)\s*(?:<[^()]*>)?\s*\(")


def _skip_template_header(prelude: str) -> str:
    """The prelude without its leading `template <...>` clauses."""
    while TEMPLATE.match(prelude):
        depth, k = 0, prelude.index("<")
        for k in range(prelude.index("<"), len(prelude)):
            if prelude[k] == "<":
                depth += 1
            elif prelude[k] == ">":
                depth -= 1
                if depth == 0:
                    break
        prelude = prelude[k + 1 :].lstrip()
    return prelude


def _top_level(text: str) -> str:
    """`text` with everything inside (), [] and {} dropped."""
    depth, kept = 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            kept.append(ch)
    return "".join(kept)


def _kind(prelude: str) -> tuple[str, str]:
    """What a `{` after `prelude` (the code since the last statement boundary)
    opens: ("container", ""), ("function", name) or ("data", "")."""
    prelude = _skip_template_header(ACCESS.sub("", prelude.strip()))
    if CONTAINER.match(prelude):
        return "container", ""
    plain = ATTRIBUTES.sub(" ", prelude)  # alignas(8), [[nodiscard]], __attribute__((...))
    top = _top_level(plain)
    if "=" in re.sub(r"operator\s*\S*=|[=!<>]=", "", top):
        if re.search(r"\]\s*(?:\(|mutable\b|->|$)", plain):  # a lambda at namespace scope, named by its variable
            names = re.findall(r"([A-Za-z_]\w*)\s*=", plain)
            return "function", names[0] if names else "<lambda>"
        return "data", ""
    if "(" not in plain:
        return ("container", "") if CLASS_KEY.search(plain) else ("data", "")
    for match in NAME.finditer(plain):
        name = re.sub(r"\s+", "", match.group(1))
        if name.split("::")[-1] not in NOT_NAMES:
            return "function", name
    return "function", "<unnamed>"


def cpp_functions(path: Path, shown: str) -> list[Function]:
    text = path.read_text(encoding="utf-8", errors="replace")
    code = strip_cpp(text)
    starts = [0]
    for k, ch in enumerate(code):
        if ch == "\n":
            starts.append(k + 1)

    def line_of(offset: int) -> int:
        lo, hi = 0, len(starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1

    found: list[Function] = []
    scopes: list[str] = []  # container names, for qualified member names
    stack: list[tuple[str, str]] = []  # (kind, name) per open container
    boundary = 0  # where the current declaration's text starts
    i, n = 0, len(code)
    while i < n:
        ch = code[i]
        if ch in ";":
            boundary = i + 1
        elif ch == "}":
            if stack:
                _, name = stack.pop()
                if name:
                    scopes.pop()
            boundary = i + 1
        elif ch == ":" and re.search(r"\b(?:public|private|protected)\s*$", code[boundary:i]):
            boundary = i + 1
        elif ch == "{":
            prelude = code[boundary:i]
            kind, name = _kind(prelude)
            if kind == "function":
                init = _initializer_brace(prelude)
                if init:  # `: member_{value}` in a constructor's initializer list
                    i = _matching(code, i) + 1
                    continue
                end = _matching(code, i)
                first = boundary + (len(prelude) - len(prelude.lstrip()))
                first += len(ACCESS.match(prelude.lstrip()).group(0)) if ACCESS.match(prelude.lstrip()) else 0
                start_line, end_line = line_of(first), line_of(end)
                qualified = "::".join([*scopes, name]) if scopes and "::" not in name else name
                found.append(Function(shown, qualified, start_line, end_line - start_line + 1))
                i = end + 1
                boundary = i
                continue
            if kind == "container":
                label = _container_name(prelude)
                stack.append(("container", label))
                if label:
                    scopes.append(label)
                boundary = i + 1
            else:  # data: skip the initializer whole
                i = _matching(code, i) + 1
                continue
        i += 1
    return found


def _initializer_brace(prelude: str) -> bool:
    """True when a `{` after `prelude` is a member's brace initializer in a
    constructor's list (`) : a_(x), b_{` ) rather than the body."""
    stripped = prelude.rstrip()
    if not re.search(r"\)\s*(?:noexcept\s*)?:(?!:)", _top_level_keep_parens(prelude)):
        return False
    return bool(re.search(r"[\w>]$", stripped))


def _top_level_keep_parens(text: str) -> str:
    """`text` with the inside of each (), {} group emptied, the brackets kept."""
    depth, kept = 0, []
    for ch in text:
        if ch in "({":
            if depth == 0:
                kept.append(ch)
            depth += 1
        elif ch in ")}":
            depth -= 1
            if depth == 0:
                kept.append(ch)
        elif depth == 0:
            kept.append(ch)
    return "".join(kept)


def _container_name(prelude: str) -> str:
    prelude = ATTRIBUTES.sub(" ", _skip_template_header(ACCESS.sub("", prelude.strip())))
    match = re.match(r"(?:inline\s+)?namespace\s+([\w:]+)", prelude)
    if match:
        return ""  # namespaces do not qualify names in the report
    match = re.search(r"\b(?:class|struct|union)\s+(?:\[\[[^\]]*\]\]\s*)?([A-Za-z_]\w*)", prelude)
    return match.group(1) if match else ""


def _matching(code: str, open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


# ── the report ──


def _hidden(path: Path, base: Path) -> bool:
    """True inside a dot-folder below `base` (a build cache, not our code)."""
    return any(part.startswith(".") for part in path.relative_to(base).parts[:-1])


def functions_in(paths: list[Path]) -> list[Function]:
    found = []
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file() and not _hidden(p, base))
        for path in files:
            try:
                shown = str(path.resolve().relative_to(ROOT))
            except ValueError:
                shown = str(path)
            if path.suffix == ".py":
                found += python_functions(path, shown)
            elif path.suffix in CPP_SUFFIXES:
                found += cpp_functions(path, shown)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help=f"files or folders (default: {' '.join(DEFAULT_PATHS)})")
    parser.add_argument("--limit", type=int, default=LIMIT, help=f"most lines a function may have (default {LIMIT})")
    parser.add_argument("--all", action="store_true", help="list every function found, longest first")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.paths] if args.paths else [ROOT / p for p in DEFAULT_PATHS]
    found = functions_in(paths)
    if args.all:
        for f in sorted(found, key=lambda f: -f.lines):
            print(f"{f.lines:5d}  {f.path}:{f.line}  {f.name}")
        return 0
    over = sorted((f for f in found if f.lines > args.limit), key=lambda f: (f.path, f.line))
    failed = []
    for f in over:
        reason = ALLOWED.get(f"{f.path}:{f.name}")
        if reason:
            print(f"allowed  {f.path}:{f.line}  {f.name}: {f.lines} lines ({reason})")
        else:
            print(f"TOO LONG {f.path}:{f.line}  {f.name}: {f.lines} lines (limit {args.limit})")
            failed.append(f)
    if not args.paths:  # only the default scan sees every allow-list entry's file
        seen = {f"{f.path}:{f.name}" for f in over}
        for key in sorted(set(ALLOWED) - seen):
            print(f"STALE    {key}: in the allow-list but not over {args.limit} lines (remove the entry)")
            failed.append(None)
    if failed:
        print(
            f"{len(failed)} problem(s): split the function, or add it to ALLOWED in {Path(__file__).name} "
            "with a one-line reason if it is a table",
            file=sys.stderr,
        )
        return 1
    print(f"no function over {args.limit} lines outside the allow-list ({len(found)} functions checked)")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `--all | head` ends quietly
    sys.exit(main())
