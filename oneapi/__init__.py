"""One API in Python: an OpenAI-compatible LLM API gateway."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("one-api")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
