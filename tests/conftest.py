"""Shared fixtures. Database fixtures live in tests/dbs.py and are re-exported here."""

from __future__ import annotations

from tests.dbs import db_dsn

__all__ = ["db_dsn"]
