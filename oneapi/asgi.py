"""The ASGI application Hypercorn workers import (``oneapi.asgi:app``).

Each worker process builds its own app from the environment; the launcher
(``one-api``) has already run the node's start-up (migrations on a master).
"""

from __future__ import annotations

from oneapi.log import setup_logging
from oneapi.settings import load_settings

settings = load_settings()
setup_logging(settings.log_dir, one_file=settings.only_one_log_file, level=settings.log_level,
              debug=settings.debug)

from oneapi.app import create_app  # noqa: E402 - logging first, then the app

app = create_app(settings)
