"""Fake upstream providers: real HTTP servers speaking each provider's wire format.

``from tests.fakes import FakeUpstream`` works; the import is lazy so that
``python -m tests.fakes.upstream`` does not load the module twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.upstream import FakeUpstream, Recorded

__all__ = ["FakeUpstream", "Recorded"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tests.fakes import upstream

        return getattr(upstream, name)
    raise AttributeError(name)
