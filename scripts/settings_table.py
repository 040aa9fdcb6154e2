"""Print the README's configuration table from oneapi.settings (the one source).

    .venv/bin/python scripts/settings_table.py          # print the table
    .venv/bin/python scripts/settings_table.py --write  # update README.md in place

tests/unit/test_readme.py fails when README.md and this output disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from oneapi.settings import setting_fields

BEGIN = "<!-- settings-table:begin -->"
END = "<!-- settings-table:end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


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
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


if __name__ == "__main__":
    if "--write" in sys.argv:
        README.write_text(readme_with_table(README.read_text()))
    else:
        print(table())
