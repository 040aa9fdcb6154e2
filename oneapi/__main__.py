"""Command line: ``one-api`` / ``python -m oneapi``.

Flags as the reference (``--port``, ``--log-dir``, ``--version``, ``--help``; the
Go-style single-dash spellings work too), plus ``--workers``. The launcher runs
the node's start-up (migrations and root bootstrap on a master, waiting for the
schema on a slave) once, then hands over to Hypercorn.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from oneapi import __version__
from oneapi.settings import Settings, SettingsError, load_settings

log = logging.getLogger("oneapi")

DEFAULT_HYPERCORN: dict[str, Any] = {
    "worker_class": "uvloop",
    "workers": 1,
    "keep_alive_timeout": 75,
    "graceful_timeout": 30,
    "shutdown_timeout": 60,
    "backlog": 2048,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="one-api",
        description="One API: an OpenAI-compatible LLM API gateway. "
                    "Configuration comes from environment variables (and .env); see README.",
    )
    parser.add_argument("--port", "-port", type=int, default=None,
                        help="listening port (default 3000; the PORT variable wins)")
    parser.add_argument("--log-dir", "-log-dir", dest="log_dir", default=None,
                        help="log directory (default ./logs)")
    parser.add_argument("--workers", "-workers", type=int, default=None,
                        help="worker processes (default: hypercorn.toml; 0 = in-process)")
    parser.add_argument("--version", "-version", action="version",
                        version=f"v{__version__}", help="print the version and exit")
    return parser


def hypercorn_config(settings: Settings, workers: int | None) -> Any:
    from hypercorn.config import Config

    path = settings.hypercorn_config or ("hypercorn.toml" if Path("hypercorn.toml").is_file()
                                         else "")
    if path:
        if not Path(path).is_file():
            raise SettingsError(f"HYPERCORN_CONFIG: no such file {path!r}")
        config = Config.from_toml(path)
    else:
        config = Config.from_mapping(DEFAULT_HYPERCORN)
    config.bind = [f"0.0.0.0:{settings.port}"]
    config.application_path = "oneapi.asgi:app"
    config.accesslog = None  # the app logs one line per request itself
    config.errorlog = logging.getLogger("hypercorn.error")
    if workers is not None:
        config.workers = workers
    elif settings.workers >= 0:
        config.workers = settings.workers
    if settings.graceful_timeout >= 0:
        config.graceful_timeout = settings.graceful_timeout
    if settings.keep_alive_timeout >= 0:
        config.keep_alive_timeout = settings.keep_alive_timeout
    if sys.platform == "win32" and config.worker_class == "uvloop":
        config.worker_class = "asyncio"
    return config


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.port is not None:
        overrides["port"] = args.port
    if args.log_dir is not None:
        overrides["log_dir"] = args.log_dir
    try:
        settings = load_settings(overrides=overrides)
        config = hypercorn_config(settings, args.workers)
    except SettingsError as exc:
        print(f"one-api: {exc}", file=sys.stderr)
        return 2

    from oneapi.log import setup_logging

    log_dir = setup_logging(settings.log_dir, one_file=settings.only_one_log_file,
                            level=settings.log_level, debug=settings.debug)
    # Workers are fresh processes that read the environment: hand them the flags.
    os.environ["LOG_DIR"] = str(log_dir)
    if config.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="oneapi-metrics-")

    log.info("One API v%s starting as %s node on port %d (%d worker%s)", __version__,
             settings.node_type, settings.port, config.workers,
             "" if config.workers == 1 else "s")
    try:
        from nodes import prepare_node

        asyncio.run(prepare_node(settings))
    except Exception as exc:
        log.error("start-up failed: %s", _one_line(exc))
        log.debug("start-up failure", exc_info=True)
        print(f"one-api: start-up failed: {_one_line(exc)}", file=sys.stderr)
        return 1

    from hypercorn.run import run

    return run(config)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


if __name__ == "__main__":
    sys.exit(main())
