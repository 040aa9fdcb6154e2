"""Provider adaptors: one module per provider behind the ``Adaptor`` protocol.

The relay core asks ``adaptor_for(channel_type)`` and never learns provider names.
"""

from __future__ import annotations

from oneapi.relay.adaptors.base import Adaptor
from oneapi.relay.adaptors.openai import OpenAIAdaptor

_OPENAI = OpenAIAdaptor()
_BY_TYPE: dict[int, Adaptor] = {}


def register(channel_type: int, adaptor: Adaptor) -> None:
    _BY_TYPE[channel_type] = adaptor


def adaptor_for(channel_type: int) -> Adaptor:
    return _BY_TYPE.get(channel_type, _OPENAI)


def dedicated_adaptors() -> dict[int, Adaptor]:
    """Channel types served by an adaptor of their own (not the OpenAI one)."""
    return dict(_BY_TYPE)


from oneapi.relay.adaptors import anthropic as _anthropic, aws as _aws  # noqa: E402,F401,I001 - register themselves
from oneapi.relay.adaptors import google as _google  # noqa: E402,F401 - registers itself
from oneapi.relay.adaptors import aiproxy as _aiproxy, cloudflare as _cloudflare, cohere as _cohere, coze as _coze, deepl as _deepl  # noqa: E402,F401,E501 - register themselves
from oneapi.relay.adaptors import ollama as _ollama, tencent as _tencent, xunfei as _xunfei  # noqa: E402, F401 - register themselves
from oneapi.relay.adaptors import ali as _ali, baidu as _baidu, zhipu as _zhipu  # noqa: E402,F401 - register themselves
from oneapi.relay.adaptors import replicate as _replicate  # noqa: E402,F401 - registers itself
