"""Small conversions every non-OpenAI adaptor needs."""

from __future__ import annotations

from typing import Any


def text_of(content: Any) -> str:
    """The text of an OpenAI message content: a string, or the text parts of an array."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return ""
