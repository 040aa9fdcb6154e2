"""Node roles: what a master and a slave do before (and besides) serving requests.

``NODE_TYPE`` picks the role (default master). ``prepare_node`` runs once in the
launching process, before Hypercorn starts its workers.
"""

from __future__ import annotations

from oneapi.settings import Settings


async def prepare_node(settings: Settings) -> None:
    if settings.is_master:
        from nodes.master import prepare
    else:
        from nodes.slave import prepare
    await prepare(settings)
