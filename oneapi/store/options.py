"""The ``options`` table: one row per changed option (spec 2.7, 8)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from oneapi.db.engine import Database
from oneapi.db.models import Option
from oneapi.options import Options


async def save_option(db: Database, key: str, value: str) -> None:
    """Insert or update one option row."""
    for _ in range(2):  # a concurrent first save of the same key: then it is an update
        async with db.session() as session:
            result = await session.execute(
                update(Option).where(Option.key == key).values(value=value))
            if not result.rowcount:  # type: ignore[attr-defined]
                session.add(Option(key=key, value=value))
            try:
                await session.commit()
                return
            except IntegrityError:
                await session.rollback()
    raise RuntimeError(f"could not save option {key}")


async def reload_options(db: Database, options: Options) -> None:
    """Overlay every stored row on the defaults (what each process serves)."""
    async with db.session() as session:
        await options.load(session)
