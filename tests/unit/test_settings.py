"""Settings: every environment variable of spec 10.2, its default, and strict parsing."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from oneapi.settings import Settings, SettingsError, load_settings, setting_fields

# Spec section 10.2, "Environment variables (all read by the code)". Hard-coded on
# purpose: the spec file is not part of the project.
SPEC_ENV_VARS = frozenset({
    "PORT", "GIN_MODE", "DEBUG", "DEBUG_SQL", "SESSION_SECRET", "SQL_DSN", "LOG_SQL_DSN",
    "SQLITE_PATH", "SQLITE_BUSY_TIMEOUT", "SQL_MAX_IDLE_CONNS", "SQL_MAX_OPEN_CONNS",
    "SQL_MAX_LIFETIME", "REDIS_CONN_STRING", "REDIS_PASSWORD", "REDIS_MASTER_NAME",
    "MEMORY_CACHE_ENABLED", "SYNC_FREQUENCY", "NODE_TYPE", "FRONTEND_BASE_URL",
    "CHANNEL_TEST_FREQUENCY", "CHANNEL_UPDATE_FREQUENCY", "POLLING_INTERVAL",
    "BATCH_UPDATE_ENABLED", "BATCH_UPDATE_INTERVAL", "GLOBAL_API_RATE_LIMIT",
    "GLOBAL_WEB_RATE_LIMIT", "RELAY_TIMEOUT", "RELAY_PROXY", "USER_CONTENT_REQUEST_PROXY",
    "USER_CONTENT_REQUEST_TIMEOUT", "GEMINI_SAFETY_SETTING", "GEMINI_VERSION", "THEME",
    "ENABLE_METRIC", "METRIC_QUEUE_SIZE", "METRIC_SUCCESS_RATE_THRESHOLD",
    "METRIC_SUCCESS_CHAN_SIZE", "METRIC_FAIL_CHAN_SIZE", "INITIAL_ROOT_TOKEN",
    "INITIAL_ROOT_ACCESS_TOKEN", "ONLY_ONE_LOG_FILE", "ENFORCE_INCLUDE_USAGE", "TEST_PROMPT",
    "TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "TZ",
})

ENV_OF = {f.name: f.metadata["env"] for f in setting_fields()}
FIELD_OF = {env: name for name, env in ENV_OF.items()}


def load(**env: str) -> Settings:
    return load_settings(env, dotenv=None)


# --- coverage of the spec ---------------------------------------------------------------------


def test_every_spec_variable_is_read() -> None:
    missing = SPEC_ENV_VARS - set(FIELD_OF)
    assert not missing, f"spec 10.2 variables not read by Settings: {sorted(missing)}"


def test_reference_flag_marks_exactly_the_spec_variables() -> None:
    reference = {f.metadata["env"] for f in setting_fields() if f.metadata["reference"]}
    assert reference == SPEC_ENV_VARS


def test_field_metadata_is_complete() -> None:
    names = [f.metadata["env"] for f in setting_fields()]
    assert len(names) == len(set(names)), "two fields read the same variable"
    for f in setting_fields():
        assert f.metadata["doc"], f"{f.metadata['env']} has no doc"
        assert callable(f.metadata["parse"])


def _sample(f: dataclasses.Field[Any]) -> tuple[str, Any]:
    """A valid raw value for `f` that differs from its default, and its parsed value."""
    special: dict[str, tuple[str, Any]] = {
        "NODE_TYPE": ("slave", "slave"),
        "SESSION_COOKIE_SECURE": ("true", "true"),
        "SQL_DSN": ("postgres://u:p@db:5432/oneapi", "postgres://u:p@db:5432/oneapi"),
        "LOG_SQL_DSN": ("root:p@tcp(db:3306)/logs", "root:p@tcp(db:3306)/logs"),
        "GIN_MODE": ("debug", "debug"),
        "SESSION_SECRET": ("a-long-random-string", "a-long-random-string"),
    }
    name = f.metadata["env"]
    if name in special:
        return special[name]
    default = f.default
    if isinstance(default, bool):
        return ("true" if not default else "false"), not default
    if isinstance(default, int):
        value = max(default, 0) + 7
        return str(value), value
    if isinstance(default, float):
        value = max(default, 0.0) + 0.25
        return str(value), value
    assert isinstance(default, str), name
    return f"value-of-{name.lower()}", f"value-of-{name.lower()}"


@pytest.mark.parametrize("field", setting_fields(), ids=lambda f: f.metadata["env"])
def test_each_variable_sets_its_field(field: dataclasses.Field[Any]) -> None:
    raw, expected = _sample(field)
    settings = load(**{field.metadata["env"]: raw})
    assert getattr(settings, field.name) == expected
    # ... and nothing else changes.
    baseline = load()
    for other in setting_fields():
        if other.name in (field.name, "debug"):  # GIN_MODE=debug also turns on DEBUG
            continue
        assert getattr(settings, other.name) == getattr(baseline, other.name), other.name


# --- defaults (spec 10.2) ---------------------------------------------------------------------


def test_defaults() -> None:
    s = load()
    expected = {
        "port": 3000,
        "sqlite_path": "one-api.db",
        "sqlite_busy_timeout": 3000,
        "sql_max_idle_conns": 100,
        "sql_max_open_conns": 1000,
        "sql_max_lifetime": 60,
        "sync_frequency": 600,
        "batch_update_enabled": False,
        "batch_update_interval": 5,
        "global_api_rate_limit": 480,
        "global_web_rate_limit": 240,
        "relay_timeout": 0,
        "polling_interval": 0,
        "user_content_request_timeout": 30,
        "gemini_version": "v1",
        "gemini_safety_setting": "BLOCK_NONE",
        "theme": "default",
        "test_prompt": "Output only your specific model name with no additional text.",
        "enable_metric": False,
        "metric_queue_size": 10,
        "metric_success_rate_threshold": 0.8,
        "metric_success_chan_size": 1024,
        "metric_fail_chan_size": 128,
        "node_type": "master",
        "gin_mode": "release",
        "debug": False,
        "debug_sql": False,
        "memory_cache_enabled": False,
        "only_one_log_file": False,
        "enforce_include_usage": False,
        "sql_dsn": "",
        "log_sql_dsn": "",
        "redis_conn_string": "",
        "session_secret": "",
    }
    actual = {k: getattr(s, k) for k in expected}
    assert actual == expected
    assert s.is_master
    assert not s.redis_enabled
    assert not s.memory_cache
    assert not s.separate_log_database


def test_default_database_is_sqlite_at_sqlite_path() -> None:
    s = load()
    assert s.database.kind == "sqlite"
    assert s.database.url.database == "one-api.db"
    assert s.log_database == s.database
    s = load(SQLITE_PATH="/data/x.db")
    assert s.database.url.database == "/data/x.db"


def test_sql_dsn_and_log_sql_dsn_are_parsed() -> None:
    s = load(SQL_DSN="root:pw@tcp(db:3306)/oneapi", LOG_SQL_DSN="postgres://u@pg/logs")
    assert (s.database.kind, s.database.url.database) == ("mysql", "oneapi")
    assert (s.log_database.kind, s.log_database.url.database) == ("postgresql", "logs")
    assert s.separate_log_database
    # SQL_DSN wins over SQLITE_PATH.
    assert load(SQL_DSN="postgres://u@pg/main", SQLITE_PATH="x.db").database.kind == "postgresql"


@pytest.mark.parametrize("value", ["master", "MASTER", "", "primary", "Slave2", "worker"])
def test_anything_but_slave_is_master(value: str) -> None:
    s = load(NODE_TYPE=value)
    assert s.node_type == "master"
    assert s.is_master


@pytest.mark.parametrize("value", ["slave", "SLAVE", " slave "])
def test_slave(value: str) -> None:
    s = load(NODE_TYPE=value)
    assert s.node_type == "slave"
    assert not s.is_master


@pytest.mark.parametrize(
    ("raw", "value"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True),
     ("false", False), ("False", False), ("0", False), ("no", False), ("off", False)],
)
def test_bool_forms(raw: str, value: bool) -> None:
    assert load(MEMORY_CACHE_ENABLED=raw).memory_cache_enabled is value


def test_blank_values_mean_default() -> None:
    s = load(PORT="", SYNC_FREQUENCY="   ", DEBUG="")
    assert (s.port, s.sync_frequency, s.debug) == (3000, 600, False)


def test_gin_mode_debug_turns_on_debug() -> None:
    assert load(GIN_MODE="debug").debug is True
    assert load(GIN_MODE="release").debug is False


def test_redis_turns_on_memory_cache() -> None:
    s = load(REDIS_CONN_STRING="redis://localhost:6379/0")
    assert s.redis_enabled
    assert s.memory_cache


def test_numbers_are_stripped() -> None:
    s = load(PORT=" 8080 ", METRIC_SUCCESS_RATE_THRESHOLD=" 0.5")
    assert (s.port, s.metric_success_rate_threshold) == (8080, 0.5)


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SYNC_FREQUENCY", "abc"),
        ("SYNC_FREQUENCY", "10s"),
        ("SYNC_FREQUENCY", "0"),
        ("SYNC_FREQUENCY", "-5"),
        ("PORT", "http"),
        ("PORT", "0"),
        ("PORT", "30.5"),
        ("PORT", "12\n34"),
        ("DEBUG", "maybe"),
        ("MEMORY_CACHE_ENABLED", "enabled"),
        ("BATCH_UPDATE_ENABLED", "2"),
        ("BATCH_UPDATE_INTERVAL", "0"),
        ("SQLITE_BUSY_TIMEOUT", "-1"),
        ("SQL_MAX_OPEN_CONNS", "0"),
        ("SQL_MAX_IDLE_CONNS", "-1"),
        ("SQL_MAX_LIFETIME", "1m"),
        ("GLOBAL_API_RATE_LIMIT", "-1"),
        ("RELAY_TIMEOUT", "-3"),
        ("POLLING_INTERVAL", "-0.5"),
        ("POLLING_INTERVAL", "fast"),
        ("METRIC_SUCCESS_RATE_THRESHOLD", "high"),
        ("METRIC_QUEUE_SIZE", "0"),
        ("CHANNEL_TEST_FREQUENCY", "ten"),
        ("SESSION_COOKIE_SECURE", "sometimes"),
        ("SESSION_SECRET", "random_string"),
        ("SQL_DSN", "not a dsn"),
        ("SQL_DSN", "oracle://u:p@h/db"),
        ("SQL_DSN", "postgres://u:p@h:port/db"),
        ("SQL_DSN", "root:pw@tcp(h:3306)/"),
        ("LOG_SQL_DSN", "not a dsn"),
        ("LOG_SQL_DSN", "mssql://u@h/db"),
    ],
)
def test_bad_value_names_the_variable_in_one_line(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        load(**{name: raw})
    message = str(info.value)
    assert message.startswith(f"{name}:"), message
    assert "\n" not in message
    assert len(message) > len(name) + 2


def test_secret_value_not_echoed_for_bad_dsn() -> None:
    with pytest.raises(SettingsError) as info:
        load(SQL_DSN="postgres://u:TopSecret9@h:notaport/db")
    assert "TopSecret9" not in str(info.value)


def test_settings_error_is_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_log_sql_dsn_error_does_not_blame_sql_dsn() -> None:
    with pytest.raises(SettingsError, match=r"^LOG_SQL_DSN:"):
        load(SQL_DSN="postgres://u@h/db", LOG_SQL_DSN="nope")


# --- overrides (command-line flags) -----------------------------------------------------------


def test_port_env_wins_over_port_flag() -> None:
    s = load_settings({"PORT": "4000"}, dotenv=None, overrides={"port": 5000})
    assert s.port == 4000


def test_port_flag_used_without_port_env() -> None:
    assert load_settings({}, dotenv=None, overrides={"port": 5000}).port == 5000
    assert load_settings({"PORT": " "}, dotenv=None, overrides={"port": 5000}).port == 5000


def test_other_flags_win_over_env() -> None:
    s = load_settings({"LOG_DIR": "/env/logs"}, dotenv=None, overrides={"log_dir": "/flag/logs"})
    assert s.log_dir == "/flag/logs"


# --- immutability -----------------------------------------------------------------------------


def test_settings_are_frozen() -> None:
    s = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    # New attributes are refused too (CPython 3.11 raises TypeError for frozen+slots).
    with pytest.raises((dataclasses.FrozenInstanceError, AttributeError, TypeError)):
        s.brand_new = 1  # type: ignore[attr-defined]
    assert s.port == 3000


def test_settings_compare_by_value() -> None:
    assert load(PORT="4000") == load(PORT="4000")
    assert load(PORT="4000") != load(PORT="4001")


# --- .env loading -----------------------------------------------------------------------------


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """os.environ without any setting variable; whatever .env adds is undone afterwards."""
    monkeypatch.chdir(tmp_path)
    for name in FIELD_OF:
        # setenv first so that monkeypatch records the variable and restores (removes) it.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return monkeypatch


def test_dotenv_is_loaded_from_the_working_directory(clean_environ: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nSYNC_FREQUENCY=60\nexport NODE_TYPE=slave\nTEST_PROMPT=\"quoted value\"\n"
    )
    s = load_settings()
    assert s.sync_frequency == 60
    assert s.node_type == "slave"
    assert s.test_prompt == "quoted value"


def test_dotenv_does_not_override_the_environment(clean_environ: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PORT=4000\nSYNC_FREQUENCY=60\n")
    clean_environ.setenv("PORT", "5000")
    s = load_settings()
    assert s.port == 5000
    assert s.sync_frequency == 60
    assert os.environ["PORT"] == "5000"


def test_dotenv_bad_value_is_reported(clean_environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SYNC_FREQUENCY=often\n")
    with pytest.raises(SettingsError, match=r"^SYNC_FREQUENCY:"):
        load_settings()


def test_dotenv_custom_path(clean_environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text("THEME=berry\n")
    (tmp_path / ".env").write_text("THEME=air\n")
    assert load_settings(dotenv=tmp_path / "prod.env").theme == "berry"


def test_no_dotenv_file_is_fine(clean_environ: pytest.MonkeyPatch) -> None:
    assert load_settings().port == 3000


def test_dotenv_disabled(clean_environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("THEME=air\n")
    assert load_settings(dotenv=None).theme == "default"


def test_explicit_environ_ignores_dotenv(clean_environ: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("THEME=air\n")
    clean_environ.setenv("PORT", "5000")
    s = load_settings({"GEMINI_VERSION": "v1beta"})
    assert (s.theme, s.port, s.gemini_version) == ("default", 3000, "v1beta")
    assert "THEME" not in os.environ
