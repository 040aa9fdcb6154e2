"""Print the README's configuration table from oneapi.settings (the one source).

    .venv/bin/python -m scripts.settings_table          # print the table
    .venv/bin/python -m scripts.settings_table --write  # update README.md in place

tests/unit/test_readme.py fails when README.md and this output disagree.
"""

from __future__ import annotations

import sys

from oneapi.settings import setting_fields
from scripts.readme_blocks import main, with_block

BEGIN = "<!-- settings-table:begin -->"
END = "<!-- settings-table:end -->"


def table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in setting_fields():
        default = f.default
        shown = ("" if default in ("", None) else
                 str(default).lower() if isinstance(default, bool) else str(default))
        note = "" if f.metadata["reference"] else " *(ours)*"
        doc = f.metadata["doc"].replace("|", "\\|")
        rows.append(f"| `{f.metadata['env']}` | {f'`{shown}`' if shown else '-'} | {doc}{note} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    return with_block(text, BEGIN, END, table())


if __name__ == "__main__":
    main(sys.argv, table, BEGIN, END)
