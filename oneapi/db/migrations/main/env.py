"""Alembic environment for the main database (all tables but logs)."""

from alembic import context

from oneapi.db.migrate import run_migrations

run_migrations(context, version_table="alembic_version")
