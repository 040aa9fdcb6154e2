"""Every environment variable the gateway reads, parsed once into a frozen object.

The names and defaults follow the reference (spec section 10.2). Unlike the
reference, a value that does not parse is an error that stops start-up with a
one-line message naming the variable, instead of silently becoming 0.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneapi.db.dsn import DatabaseURL, DSNError, parse_dsn, sqlite_url


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the variable."""


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _parse_bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {raw!r}") from None


def _parse_float(raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None


def _parse_str(raw: str) -> str:
    return raw


def _parse_node_type(raw: str) -> str:
    # The reference treats anything but "slave" as master.
    return "slave" if raw.strip().lower() == "slave" else "master"


def _parse_secure(raw: str) -> str:
    low = raw.strip().lower()
    if low in ("", "auto"):
        return "auto"
    return "true" if _parse_bool(low) else "false"


def _env(
    name: str,
    default: Any,
    doc: str,
    parse: Callable[[str], Any] | None = None,
    *,
    minimum: float | None = None,
    reference: bool = True,
) -> Any:
    """Declare a setting read from environment variable `name`."""
    if parse is None:
        parse = {bool: _parse_bool, int: _parse_int, float: _parse_float}.get(
            type(default), _parse_str
        )
    meta = {
        "env": name,
        "doc": doc,
        "parse": parse,
        "minimum": minimum,
        "reference": reference,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class Settings:
    # --- server -------------------------------------------------------------------
    port: int = _env("PORT", 3000, "Listen port (wins over --port).", minimum=1)
    log_dir: str = _env("LOG_DIR", "./logs", "Log directory (the --log-dir flag wins).",
                        reference=False)
    only_one_log_file: bool = _env("ONLY_ONE_LOG_FILE", False,
                                   "Write oneapi.log instead of one oneapi-YYYYMMDD.log per day.")
    debug: bool = _env("DEBUG", False, "Verbose logs; disables rate limiting.")
    debug_sql: bool = _env("DEBUG_SQL", False, "Log every SQL statement.")
    gin_mode: str = _env("GIN_MODE", "release", "Accepted for compatibility; `debug` = DEBUG.")
    workers: int = _env("WORKERS", -1, "Hypercorn worker processes (-1: take hypercorn.toml).",
                        reference=False)
    hypercorn_config: str = _env("HYPERCORN_CONFIG", "",
                                 "Path of the Hypercorn TOML file (default: ./hypercorn.toml, "
                                 "else the packaged one).", reference=False)
    graceful_timeout: float = _env("GRACEFUL_TIMEOUT", -1.0,
                                   "Seconds to drain requests on SIGTERM (-1: hypercorn.toml).",
                                   reference=False)
    keep_alive_timeout: float = _env("KEEP_ALIVE_TIMEOUT", -1.0,
                                     "HTTP keep-alive seconds (-1: hypercorn.toml).",
                                     reference=False)
    log_level: str = _env("LOG_LEVEL", "INFO", "Python log level.", reference=False)
    frontend_dir: str = _env("FRONTEND_DIR", "",
                             "Directory of the built web UI (default: frontend/dist).",
                             reference=False)
    tz: str = _env("TZ", "", "Time zone of log lines and daily log files.")

    # --- sessions -----------------------------------------------------------------
    session_secret: str = _env("SESSION_SECRET", "",
                               "Cookie signing key; set the same value on every node.")
    session_cookie_secure: str = _env("SESSION_COOKIE_SECURE", "auto",
                                      "Secure flag of the session cookie: auto (when the request "
                                      "came over https), true or false.",
                                      _parse_secure, reference=False)

    # --- databases ----------------------------------------------------------------
    sql_dsn: str = _env("SQL_DSN", "", "Main database: empty = SQLite; postgres://...; "
                        "Go MySQL DSN user:pass@tcp(host:port)/db; or a SQLAlchemy URL.")
    log_sql_dsn: str = _env("LOG_SQL_DSN", "", "Separate database for the logs table.")
    sqlite_path: str = _env("SQLITE_PATH", "one-api.db", "SQLite file when SQL_DSN is empty.")
    sqlite_busy_timeout: int = _env("SQLITE_BUSY_TIMEOUT", 3000, "SQLite busy timeout (ms).",
                                    minimum=0)
    sql_max_idle_conns: int = _env("SQL_MAX_IDLE_CONNS", 100, "Pooled idle connections.",
                                   minimum=0)
    sql_max_open_conns: int = _env("SQL_MAX_OPEN_CONNS", 1000, "Maximum open connections.",
                                   minimum=1)
    sql_max_lifetime: int = _env("SQL_MAX_LIFETIME", 60, "Connection lifetime (seconds).",
                                 minimum=0)

    # --- cluster ------------------------------------------------------------------
    node_type: str = _env("NODE_TYPE", "master", "`master` (default) or `slave`.",
                          _parse_node_type)
    frontend_base_url: str = _env("FRONTEND_BASE_URL", "",
                                  "Slaves redirect page requests here.")
    redis_conn_string: str = _env("REDIS_CONN_STRING", "",
                                  "redis:// URL, or comma-separated addresses for sentinel.")
    redis_password: str = _env("REDIS_PASSWORD", "", "Password for sentinel/cluster Redis.")
    redis_master_name: str = _env("REDIS_MASTER_NAME", "", "Sentinel master name.")
    memory_cache_enabled: bool = _env("MEMORY_CACHE_ENABLED", False,
                                      "Cache tokens, users and channels in memory.")
    sync_frequency: int = _env("SYNC_FREQUENCY", 600,
                               "Seconds between full cache reloads; Redis TTL.", minimum=1)
    batch_update_enabled: bool = _env("BATCH_UPDATE_ENABLED", False,
                                      "Write quota changes behind in batches.")
    batch_update_interval: int = _env("BATCH_UPDATE_INTERVAL", 5,
                                      "Seconds between batch flushes.", minimum=1)

    # --- scheduled jobs -----------------------------------------------------------
    channel_test_frequency: int = _env("CHANNEL_TEST_FREQUENCY", 0,
                                       "Minutes between automatic channel tests (0: off).",
                                       minimum=0)
    channel_update_frequency: int = _env("CHANNEL_UPDATE_FREQUENCY", 0,
                                         "Minutes between balance updates (0: off).", minimum=0)
    polling_interval: float = _env("POLLING_INTERVAL", 0.0,
                                   "Seconds to wait between channels in tests.", minimum=0)

    # --- limits -------------------------------------------------------------------
    global_api_rate_limit: int = _env("GLOBAL_API_RATE_LIMIT", 480,
                                      "Requests per 180 s per IP on /api (0: off).", minimum=0)
    global_web_rate_limit: int = _env("GLOBAL_WEB_RATE_LIMIT", 240,
                                      "Requests per 180 s per IP on pages (0: off).", minimum=0)

    # --- relay --------------------------------------------------------------------
    relay_timeout: int = _env("RELAY_TIMEOUT", 0, "Upstream request timeout, s (0: none).",
                              minimum=0)
    relay_proxy: str = _env("RELAY_PROXY", "", "HTTP proxy for upstream calls.")
    user_content_request_proxy: str = _env("USER_CONTENT_REQUEST_PROXY", "",
                                           "Proxy for fetching user-supplied image URLs.")
    user_content_request_timeout: int = _env("USER_CONTENT_REQUEST_TIMEOUT", 30,
                                             "Timeout (s) for fetching user content.", minimum=0)
    enforce_include_usage: bool = _env("ENFORCE_INCLUDE_USAGE", False,
                                       "Always ask OpenAI upstreams for stream usage.")
    gemini_safety_setting: str = _env("GEMINI_SAFETY_SETTING", "BLOCK_NONE",
                                      "Gemini safety threshold.")
    gemini_version: str = _env("GEMINI_VERSION", "v1", "Default Gemini API version.")
    test_prompt: str = _env("TEST_PROMPT",
                            "Output only your specific model name with no additional text.",
                            "Prompt used by channel tests.")
    enable_metric: bool = _env("ENABLE_METRIC", False,
                               "Disable channels whose success rate falls below the threshold.")
    metric_queue_size: int = _env("METRIC_QUEUE_SIZE", 10, "Results per channel in the window.",
                                  minimum=1)
    metric_success_rate_threshold: float = _env("METRIC_SUCCESS_RATE_THRESHOLD", 0.8,
                                                "Success rate below which a channel is disabled.",
                                                minimum=0)
    metric_success_chan_size: int = _env("METRIC_SUCCESS_CHAN_SIZE", 1024,
                                         "Buffered success events.", minimum=1)
    metric_fail_chan_size: int = _env("METRIC_FAIL_CHAN_SIZE", 128, "Buffered failure events.",
                                      minimum=1)

    # --- bootstrap & misc -----------------------------------------------------------
    initial_root_token: str = _env("INITIAL_ROOT_TOKEN", "",
                                   "API key created for root on first start.")
    initial_root_access_token: str = _env("INITIAL_ROOT_ACCESS_TOKEN", "",
                                          "Root's management access token on first start.")
    theme: str = _env("THEME", "default", "Web theme name (kept for compatibility).")
    tiktoken_cache_dir: str = _env("TIKTOKEN_CACHE_DIR", "",
                                   "Accepted for compatibility; encodings ship with the app.")
    data_gym_cache_dir: str = _env("DATA_GYM_CACHE_DIR", "",
                                   "Accepted for compatibility; encodings ship with the app.")

    # Derived values (not read from the environment directly).
    database: DatabaseURL = field(default=None, metadata={"derived": True})  # type: ignore[assignment]
    log_database: DatabaseURL = field(default=None, metadata={"derived": True})  # type: ignore[assignment]

    @property
    def is_master(self) -> bool:
        return self.node_type == "master"

    @property
    def redis_enabled(self) -> bool:
        return bool(self.redis_conn_string)

    @property
    def memory_cache(self) -> bool:
        return self.memory_cache_enabled or self.redis_enabled

    @property
    def separate_log_database(self) -> bool:
        return bool(self.log_sql_dsn)


def setting_fields() -> list[dataclasses.Field[Any]]:
    """The environment-backed fields, in declaration order."""
    return [f for f in dataclasses.fields(Settings) if "env" in f.metadata]


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    dotenv: str | os.PathLike[str] | None = ".env",
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Parse settings from `environ` (default: os.environ plus `.env`).

    `.env` never overrides a variable that is already set, like godotenv.
    `overrides` (from command-line flags) win over the environment except where
    the reference lets the environment win (PORT beats --port).
    """
    if environ is None:
        if dotenv and Path(dotenv).is_file():
            from dotenv import load_dotenv

            load_dotenv(dotenv, override=False)
        environ = os.environ
    values: dict[str, Any] = {}
    for f in setting_fields():
        name = f.metadata["env"]
        raw = environ.get(name, "")
        if overrides and f.name in overrides and not (f.name == "port" and raw.strip()):
            values[f.name] = overrides[f.name]
            continue
        if raw.strip() == "":
            continue
        try:
            value = f.metadata["parse"](raw)
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from None
        minimum = f.metadata["minimum"]
        if minimum is not None and value < minimum:
            raise SettingsError(f"{name}: must be at least {minimum:g}, got {raw!r}")
        values[f.name] = value
    if values.get("gin_mode") == "debug":
        values["debug"] = True
    if values.get("session_secret") == "random_string":
        # The sample compose file's placeholder: refuse it, as the reference does.
        raise SettingsError("SESSION_SECRET: 'random_string' is the example value; "
                            "set a long random string")
    settings = Settings(**values)
    try:
        database = (parse_dsn(settings.sql_dsn) if settings.sql_dsn
                    else sqlite_url(settings.sqlite_path))
    except DSNError as exc:
        raise SettingsError(f"SQL_DSN: {exc}") from None
    try:
        log_database = parse_dsn(settings.log_sql_dsn) if settings.log_sql_dsn else database
    except DSNError as exc:
        raise SettingsError(f"LOG_SQL_DSN: {exc}") from None
    return dataclasses.replace(settings, database=database, log_database=log_database)
