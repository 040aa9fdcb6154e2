"""Accounting batches already committed, so a replayed Redis journal is applied once.

Not in the reference. Written in the same transaction as the batch it names (only
when the Redis journal is on). Must match ``oneapi.db.models.AppliedBatch``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ZERO = sa.text("0")


def upgrade() -> None:
    op.create_table(
        "applied_batches",
        sa.Column("batch_id", sa.String(191), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default=ZERO),
        sa.Column("applied_at", sa.BigInteger, nullable=False, server_default=ZERO),
    )
    op.create_index("idx_applied_batches_applied_at", "applied_batches", ["applied_at"])


def downgrade() -> None:
    op.drop_index("idx_applied_batches_applied_at", table_name="applied_batches")
    op.drop_table("applied_batches")
