"""Replace a generated block between two HTML-comment markers in README.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def with_block(text: str, begin: str, end: str, body: str) -> str:
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{body}\n{end}{tail}"


def main(argv: list[str], table: Callable[[], str], begin: str, end: str) -> None:
    """`--write` updates README.md in place; otherwise print the table."""
    if "--write" in argv:
        README.write_text(with_block(README.read_text(), begin, end, table()))
    else:
        print(table())
