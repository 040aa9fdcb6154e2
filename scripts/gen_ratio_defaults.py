#!/usr/bin/env python3
"""Generate ``oneapi/billing/ratio_defaults.py`` from the reference Go sources.

The reference project keeps its default price tables as Go map literals in
``relay/billing/ratio/model.go`` (model and completion ratios), ``image.go``
(image size ratios, ``n`` bounds, prompt limits, upstream model names) and
``group.go`` (group ratios).  Many values are constant expressions such as
``0.012 * RMB`` or ``0.25 / 1000 * USD``.

This script evaluates those expressions the way the Go compiler evaluates
untyped constants: with exact rational arithmetic, where an operation between
two *integer* constants stays an integer (so ``500 / 7`` is ``71``), and the
exact result is rounded to the nearest float64 only at the very end.  No
``eval()`` is involved: the literal is parsed with :mod:`ast` and walked by a
tiny interpreter that accepts only numbers, the named constants, ``+ - * /``,
unary signs, parentheses, strings and nested ``{...}`` literals.

Usage::

    python scripts/gen_ratio_defaults.py                    # read the mirror via git
    python scripts/gen_ratio_defaults.py path/to/model.go   # explicit model.go
    git show HEAD:relay/billing/ratio/model.go | python scripts/gen_ratio_defaults.py -

Options ``--image`` / ``--group`` take a path (or ``-``) for ``image.go`` /
``group.go``; by default they are read from the git mirror (or, when
``model.go`` was given as a file, from the same directory if present there).
``--check`` exits non-zero if the output file is not up to date.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = Path("/work/.mirror/songquanpeng+one-api/repo")
DEFAULT_REV = "HEAD"
RATIO_DIR = "relay/billing/ratio"
DEFAULT_OUTPUT = REPO_ROOT / "oneapi" / "billing" / "ratio_defaults.py"


# ---------------------------------------------------------------------------
# Go source helpers
# ---------------------------------------------------------------------------


def strip_go_comments(src: str) -> str:
    """Blank out ``//`` and ``/* */`` comments, leaving string literals intact.

    Newlines are preserved so that offsets/line numbers stay meaningful.
    """
    out: list[str] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                if src[j] == "\\":
                    j += 1
                elif src[j] == "\n":
                    raise ValueError("unterminated string literal in Go source")
                j += 1
            out.append(src[i : j + 1])
            i = j + 1
        elif c == "`":
            j = src.find("`", i + 1)
            if j < 0:
                raise ValueError("unterminated raw string literal in Go source")
            out.append(src[i : j + 1])
            i = j + 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated block comment in Go source")
            out.append("".join(ch for ch in src[i : j + 2] if ch == "\n"))
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _matching_brace(src: str, open_idx: int) -> int:
    """Index of the ``}`` closing the ``{`` at *open_idx* (comment-free source)."""
    depth = 0
    i = open_idx
    while i < len(src):
        c = src[i]
        if c in "\"'`":
            end = "`" if c == "`" else c
            j = i + 1
            while src[j] != end:
                j += 2 if (src[j] == "\\" and end != "`") else 1
            i = j
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced braces in Go source")


def extract_map_literal(src: str, name: str) -> str:
    """Return the ``{...}`` text of ``var <name> = map[...]...{...}``."""
    m = re.search(rf"(?m)^\s*(?:var\s+)?{re.escape(name)}\s*=\s*map\[[^{{\n]*\{{", src)
    if m is None:
        raise ValueError(f"map literal {name!r} not found in Go source")
    open_idx = m.end() - 1
    return src[open_idx : _matching_brace(src, open_idx) + 1]


_CONST_BLOCK = re.compile(r"(?ms)^const\s*\((.*?)^\)")
_CONST_SINGLE = re.compile(r"(?m)^const\s+([A-Za-z_]\w*)(?:\s+\w+)?\s*=\s*(.+)$")
_CONST_LINE = re.compile(r"^\s*([A-Za-z_]\w*)(?:\s+(\w+))?\s*=\s*(.+?)\s*$")


def extract_constants(src: str) -> dict[str, GoConst]:
    """Evaluate the package-level constants declared in *src* (in order)."""
    consts: dict[str, GoConst] = {}
    decls: list[tuple[str, str | None, str]] = []
    for block in _CONST_BLOCK.finditer(src):
        for line in block.group(1).splitlines():
            if not line.strip():
                continue
            m = _CONST_LINE.match(line)
            if m is None:
                raise ValueError(f"unsupported const declaration: {line.strip()!r}")
            decls.append((m.group(1), m.group(2), m.group(3)))
    for m in _CONST_SINGLE.finditer(src):
        decls.append((m.group(1), None, m.group(2)))
    for cname, ctype, expr in decls:
        value = GoConstEvaluator(consts).evaluate_text(expr)
        if ctype is not None and ctype.startswith("float"):
            value = GoConst(value.value, is_int=False)
        consts[cname] = value
    return consts


# ---------------------------------------------------------------------------
# Safe evaluator with Go untyped-constant semantics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GoConst:
    """An exact untyped Go constant: a rational value plus its integer-ness."""

    value: Fraction
    is_int: bool

    def to_float(self) -> float:
        # int / int true division in Python is correctly rounded, as is the
        # Go conversion of an exact constant to float64.
        return self.value.numerator / self.value.denominator


def _go_int_div(a: Fraction, b: Fraction) -> Fraction:
    q = abs(a.numerator) // abs(b.numerator)
    return Fraction(q if (a < 0) == (b < 0) else -q)


class GoConstEvaluator:
    """Walks a restricted :mod:`ast` tree; anything unexpected is rejected."""

    def __init__(self, constants: dict[str, GoConst]) -> None:
        self.constants = constants
        self.source = ""

    def evaluate_text(self, text: str) -> GoConst:
        self.source = text.strip()
        tree = ast.parse(self.source, mode="eval")
        return self.number(tree.body)

    def number(self, node: ast.expr) -> GoConst:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float):
                raise ValueError(f"not a number: {ast.dump(node)}")
            text = ast.get_source_segment(self.source, node)
            if text is None:
                raise ValueError("cannot recover literal text")
            text = text.replace("_", "")
            if isinstance(node.value, int):
                return GoConst(Fraction(int(text, 0)), is_int=True)
            return GoConst(Fraction(text), is_int=False)
        if isinstance(node, ast.Name):
            if node.id not in self.constants:
                raise ValueError(f"unknown constant {node.id!r}")
            return self.constants[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.number(node.operand)
            sign = -1 if isinstance(node.op, ast.USub) else 1
            return GoConst(sign * operand.value, operand.is_int)
        if isinstance(node, ast.BinOp):
            left, right = self.number(node.left), self.number(node.right)
            both_int = left.is_int and right.is_int
            a, b = left.value, right.value
            if isinstance(node.op, ast.Add):
                return GoConst(a + b, both_int)
            if isinstance(node.op, ast.Sub):
                return GoConst(a - b, both_int)
            if isinstance(node.op, ast.Mult):
                return GoConst(a * b, both_int)
            if isinstance(node.op, ast.Div):
                if b == 0:
                    raise ValueError("division by zero in constant expression")
                return GoConst(_go_int_div(a, b) if both_int else a / b, both_int)
        raise ValueError(f"unsupported expression: {ast.unparse(node)!r}")


GoValue = float | int | str | tuple["GoValue", ...] | dict[str, "GoValue"]


class GoLiteralReader:
    """Converts a comment-free Go composite literal to Python data."""

    def __init__(self, constants: dict[str, GoConst]) -> None:
        self.evaluator = GoConstEvaluator(constants)

    def read(self, literal: str, leaf: Callable[[GoConst], GoValue]) -> dict[str, GoValue]:
        self.leaf = leaf
        # Go and Python share the syntax needed here: "k": v pairs, nested
        # braces (a Go array literal such as {1, 10} parses as a Python set,
        # whose elements ast keeps in source order), numbers and strings.
        self.evaluator.source = literal
        tree = ast.parse(literal, mode="eval")
        result = self.value(tree.body)
        if not isinstance(result, dict):
            raise ValueError("expected a map literal")
        return result

    def value(self, node: ast.expr) -> GoValue:
        if isinstance(node, ast.Dict):
            out: dict[str, GoValue] = {}
            for key, val in zip(node.keys, node.values, strict=True):
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    raise ValueError("map keys must be string literals")
                if key.value in out:
                    raise ValueError(f"duplicate map key {key.value!r}")
                out[key.value] = self.value(val)
            return out
        if isinstance(node, ast.Set):
            return tuple(self.value(e) for e in node.elts)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        return self.leaf(self.evaluator.number(node))


def as_float(c: GoConst) -> float:
    return c.to_float()


def no_numbers(c: GoConst) -> GoValue:
    raise ValueError(f"expected a string, got the number {c.value}")


def as_int(c: GoConst) -> int:
    if c.value.denominator != 1:
        raise ValueError(f"expected an integer constant, got {c.value}")
    return int(c.value)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _float_lit(v: GoValue) -> str:
    if not isinstance(v, float):
        raise TypeError(f"expected float, got {v!r}")
    return repr(v)


def _int_lit(v: GoValue) -> str:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"expected int, got {v!r}")
    return repr(v)


def _str_lit(v: GoValue) -> str:
    if not isinstance(v, str):
        raise TypeError(f"expected str, got {v!r}")
    return _q(v)


def _pair_lit(v: GoValue) -> str:
    if not isinstance(v, tuple) or len(v) != 2:
        raise TypeError(f"expected a pair, got {v!r}")
    return f"({_int_lit(v[0])}, {_int_lit(v[1])})"


def _q(s: str) -> str:
    # A JSON string literal is also a valid double-quoted Python literal.
    return json.dumps(s)


def render_dict(
    name: str, type_: str, data: dict[str, GoValue], fmt: Callable[[GoValue], str]
) -> Iterator[str]:
    yield f"{name}: {type_} = {{"
    for key, val in data.items():
        yield f"    {_q(key)}: {fmt(val)},"
    yield "}"


def render_nested(name: str, data: dict[str, GoValue]) -> Iterator[str]:
    yield f"{name}: dict[str, dict[str, float]] = {{"
    for key, inner in data.items():
        if not isinstance(inner, dict):
            raise TypeError(f"expected nested map for {key!r}")
        yield f"    {_q(key)}: {{"
        for size, val in inner.items():
            yield f"        {_q(size)}: {_float_lit(val)},"
        yield "    },"
    yield "}"


@dataclass
class Sources:
    model_go: str
    image_go: str | None
    group_go: str | None
    origin: str


def render_module(src: Sources) -> tuple[str, dict[str, int]]:
    model_src = strip_go_comments(src.model_go)
    consts = extract_constants(model_src)
    reader = GoLiteralReader(consts)
    model_ratio = reader.read(extract_map_literal(model_src, "ModelRatio"), as_float)
    completion = reader.read(extract_map_literal(model_src, "CompletionRatio"), as_float)

    const_desc = ", ".join(
        f"{k} = {v.to_float() if not v.is_int else int(v.value)!r}" for k, v in consts.items()
    )
    lines = [
        '"""Default ratio tables of the reference implementation.',
        "",
        "GENERATED FILE - DO NOT EDIT.  Regenerate with:",
        "",
        "    .venv/bin/python scripts/gen_ratio_defaults.py",
        "",
        f"Source: {src.origin}.",
        f"Constant expressions were evaluated exactly with {const_desc}",
        "(Go untyped-constant semantics: integer / integer truncates), then rounded to float64.",
        '"""',
        "",
    ]
    counts = {"DEFAULT_MODEL_RATIO": len(model_ratio), "DEFAULT_COMPLETION_RATIO": len(completion)}
    lines += render_dict("DEFAULT_MODEL_RATIO", "dict[str, float]", model_ratio, _float_lit)
    lines.append("")
    lines += render_dict("DEFAULT_COMPLETION_RATIO", "dict[str, float]", completion, _float_lit)

    if src.group_go is not None:
        group_src = strip_go_comments(src.group_go)
        group = GoLiteralReader(extract_constants(group_src)).read(
            extract_map_literal(group_src, "GroupRatio"), as_float
        )
        counts["DEFAULT_GROUP_RATIO"] = len(group)
        lines.append("")
        lines += render_dict("DEFAULT_GROUP_RATIO", "dict[str, float]", group, _float_lit)

    if src.image_go is not None:
        image_src = strip_go_comments(src.image_go)
        image_reader = GoLiteralReader(extract_constants(image_src))
        sizes = image_reader.read(extract_map_literal(image_src, "ImageSizeRatios"), as_float)
        amounts = image_reader.read(
            extract_map_literal(image_src, "ImageGenerationAmounts"), as_int
        )
        limits = image_reader.read(
            extract_map_literal(image_src, "ImagePromptLengthLimitations"), as_int
        )
        origin = image_reader.read(
            extract_map_literal(image_src, "ImageOriginModelName"), no_numbers
        )
        counts.update(
            DEFAULT_IMAGE_SIZE_RATIOS=len(sizes),
            DEFAULT_IMAGE_GENERATION_AMOUNTS=len(amounts),
            DEFAULT_IMAGE_PROMPT_LENGTH_LIMITS=len(limits),
            IMAGE_ORIGIN_MODEL_NAMES=len(origin),
        )
        lines.append("")
        lines.append("# Image size -> price multiplier, per image model.")
        lines += render_nested("DEFAULT_IMAGE_SIZE_RATIOS", sizes)
        lines.append("")
        lines.append("# Allowed range (inclusive) of the request's n, per image model.")
        lines += render_dict(
            "DEFAULT_IMAGE_GENERATION_AMOUNTS", "dict[str, tuple[int, int]]", amounts, _pair_lit
        )
        lines.append("")
        lines.append("# Maximum prompt length (bytes), per image model.")
        lines += render_dict(
            "DEFAULT_IMAGE_PROMPT_LENGTH_LIMITS", "dict[str, int]", limits, _int_lit
        )
        lines.append("")
        lines.append("# Model name sent upstream for the given public image model name.")
        lines += render_dict("IMAGE_ORIGIN_MODEL_NAMES", "dict[str, str]", origin, _str_lit)

    return "\n".join(lines) + "\n", counts


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def _git_show(mirror: Path, rev: str, path: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "-C", str(mirror), "show", f"{rev}:{path}"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _read(arg: str) -> str:
    return sys.stdin.read() if arg == "-" else Path(arg).read_text(encoding="utf-8")


def _git_rev(mirror: Path, rev: str) -> str:
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        ["git", "-C", str(mirror), "rev-parse", rev],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def load_sources(args: argparse.Namespace) -> Sources:
    mirror: Path = args.mirror
    rev: str = args.rev

    def sibling_or_git(explicit: str | None, filename: str) -> str | None:
        if explicit is not None:
            return None if explicit == "none" else _read(explicit)
        if args.model_go not in (None, "-"):
            candidate = Path(args.model_go).with_name(filename)
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        try:
            return _git_show(mirror, rev, f"{RATIO_DIR}/{filename}")
        except (OSError, subprocess.CalledProcessError):
            print(f"warning: {filename} unavailable; its tables are omitted", file=sys.stderr)
            return None

    if args.model_go is None:
        origin = (
            f"{RATIO_DIR}/{{model,image,group}}.go of\nsongquanpeng/one-api@{_git_rev(mirror, rev)}"
        )
        model_go = _git_show(mirror, rev, f"{RATIO_DIR}/model.go")
    else:
        origin = f"{RATIO_DIR}/model.go of songquanpeng/one-api\n(supplied as {args.model_go})"
        model_go = _read(args.model_go)
    return Sources(
        model_go=model_go,
        image_go=sibling_or_git(args.image, "image.go"),
        group_go=sibling_or_git(args.group, "group.go"),
        origin=origin,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_go", nargs="?", help="path to model.go, or - for stdin")
    parser.add_argument("--image", help="path to image.go, - for stdin, or 'none'")
    parser.add_argument("--group", help="path to group.go, - for stdin, or 'none'")
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--rev", default=DEFAULT_REV)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="fail if output is stale")
    args = parser.parse_args(argv)

    text, counts = render_module(load_sources(args))
    summary = ", ".join(f"{k}={v}" for k, v in counts.items())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date ({summary})", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date ({summary})")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output} ({summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
