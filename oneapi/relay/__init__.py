"""The OpenAI-compatible relay under /v1."""
