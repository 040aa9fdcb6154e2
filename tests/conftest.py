"""Shared fixtures: databases (tests/dbs.py) and the in-process API (tests/api_support.py)."""

from __future__ import annotations

from tests.api_support import api, api_any_db
from tests.dbs import db_dsn

__all__ = ["api", "api_any_db", "db_dsn"]
