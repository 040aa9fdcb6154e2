"""Verification codes and password-reset tokens shared by every node.

Not in the reference (it keeps them in process memory). Must match
``oneapi.db.models.VerificationCode``.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ZERO = sa.text("0")


def upgrade() -> None:
    op.create_table(
        "verification_codes",
        sa.Column("id", PK, primary_key=True, autoincrement=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("key", sa.String(191), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False, server_default=ZERO),
        sa.Column("expires_at", sa.BigInteger, nullable=False, server_default=ZERO),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=ZERO),
    )
    op.create_index("idx_verification_codes_purpose_key", "verification_codes",
                    ["purpose", "key"], unique=True)
    op.create_index("idx_verification_codes_expires_at", "verification_codes", ["expires_at"])


def downgrade() -> None:
    op.drop_index("idx_verification_codes_expires_at", table_name="verification_codes")
    op.drop_index("idx_verification_codes_purpose_key", table_name="verification_codes")
    op.drop_table("verification_codes")
