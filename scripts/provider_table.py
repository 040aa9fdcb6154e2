"""Print (or write into README.md) the table of channel types and their support.

    .venv/bin/python -m scripts.provider_table --write

tests/unit/test_readme.py fails when README.md and this output disagree.
"""

from __future__ import annotations

import sys

from oneapi.relay import catalog
from oneapi.relay.adaptors import dedicated_adaptors
from scripts.readme_blocks import main, with_block

SPECIAL = {
    43: "yes: raw proxy at `/v1/oneapi/proxy/<channel id>/...` (admin keys only, billed)",
}
NOTES = {
    3: " (deployment URLs, `api-version` from the channel config, `api-key` header)",
    8: " (base URL + the full `/v1/...` path)",
    20: " (adds OpenRouter's `HTTP-Referer` and `X-Title`)",
    26: " (request always re-serialised)",
    27: " (chat only, `/v1/text/chatcompletion_v2`)",
    40: " (`/api/v3/...` paths)",
    41: " (chat only)",
    47: " (chat only, `/v2/chat/completions`)",
    49: " (`/compatible-mode/v1/...` paths)",
    50: " (base URL + the path without `/v1`)",
    51: " (base URL + the path without `/v1`)",
}
BEGIN = "<!-- provider-table:begin -->"
END = "<!-- provider-table:end -->"


def table() -> str:
    dedicated = dedicated_adaptors()
    rows = ["| type | name | default base URL | support |", "|---|---|---|---|"]
    for t in catalog.channel_types():
        if t.id in SPECIAL:
            support = SPECIAL[t.id]
        elif t.id in dedicated:
            support = f"yes: `{type(dedicated[t.id]).__module__.rsplit('.', 1)[-1]}` adaptor"
        elif t.api_type == "openai":
            support = "yes: OpenAI-compatible adaptor" + NOTES.get(t.id, "")
        else:
            support = f"not yet: needs the `{t.api_type}` adaptor"
        base = f"`{t.base_url}`" if t.base_url else "-"
        rows.append(f"| {t.id} | {t.label} | {base} | {support} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    return with_block(text, BEGIN, END, table())


if __name__ == "__main__":
    main(sys.argv, table, BEGIN, END)
