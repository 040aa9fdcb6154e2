"""Alembic environment for the log database (the logs table, maybe elsewhere)."""

from alembic import context

from oneapi.db.migrate import run_migrations

run_migrations(context, version_table="alembic_version_logs")
