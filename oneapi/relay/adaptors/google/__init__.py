"""Google's providers: Gemini (type 24), PaLM (11) and Vertex AI (42).

Importing the package registers the three adaptors. Gemini's OpenAI-compatible
endpoint (type 51) needs no conversion and stays with the OpenAI adaptor.
"""

from __future__ import annotations

from oneapi.relay.adaptors.google import gemini, palm, vertex

__all__ = ["gemini", "palm", "vertex"]
