"""Leases of the master's scheduled jobs, so that each job runs on one node at a time.

Not in the reference (it has a single master). Must match
``oneapi.db.models.JobLease``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ZERO = sa.text("0")


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(191), nullable=False, server_default=""),
        sa.Column("expires_at", sa.BigInteger, nullable=False, server_default=ZERO),
    )


def downgrade() -> None:
    op.drop_table("job_leases")
