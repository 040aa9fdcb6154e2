"""Create a table, or adopt the reference's existing one in place.

Used by the baseline migrations. A database written by songquanpeng/one-api
(GORM AutoMigrate) has the same table and column names but no Alembic version
table; adopting it adds whatever columns and indexes an older reference version
lacked, fills NULLs where we require a value, and never drops or rewrites a row.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic.operations import Operations

log = logging.getLogger("oneapi.db")


def create_or_adopt(op: Operations, table: sa.Table) -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if not inspector.has_table(table.name):
        table.create(bind)
        return
    log.info("adopting existing table %s", table.name)
    present = {c["name"] for c in inspector.get_columns(table.name)}
    for column in table.columns:
        if column.name in present:
            continue
        log.info("adding column %s.%s", table.name, column.name)
        op.add_column(table.name, _addable(column))
    # Rows written before we owned the table may hold NULL where we need a value.
    for column in table.columns:
        if column.nullable or column.primary_key or column.default is None:
            continue
        value = getattr(column.default, "arg", None)
        if callable(value) or value is None:
            continue
        bind.execute(
            sa.update(table).where(table.c[column.name].is_(None)).values({column.name: value})
        )
    existing = {ix["name"] for ix in inspector.get_indexes(table.name)}
    covered = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table.name)}
    covered |= {tuple(uc["column_names"]) for uc in inspector.get_unique_constraints(table.name)}
    for index in table.indexes:
        cols = tuple(c.name for c in index.columns)
        if index.name in existing or (index.unique and cols in covered):
            continue
        log.info("adding index %s on %s%s", index.name, table.name, cols)
        index.create(bind)


def _addable(column: sa.Column[object]) -> sa.Column[object]:
    """A copy of `column` that can be added to a table that already has rows."""
    copy = column._copy()
    # Added columns start nullable (existing rows get the server default or NULL,
    # which the backfill above then replaces).
    copy.nullable = True
    return copy
