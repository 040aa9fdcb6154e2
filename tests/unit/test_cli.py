"""Command-line flags, Hypercorn configuration and log files."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from oneapi.__main__ import build_parser, hypercorn_config
from oneapi.log import DailyFileHandler
from oneapi.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_flags_in_both_spellings() -> None:
    parser = build_parser()
    args = parser.parse_args(["--port", "8080", "--log-dir", "/tmp/l", "--workers", "3"])
    assert (args.port, args.log_dir, args.workers) == (8080, "/tmp/l", 3)
    args = parser.parse_args(["-port", "9090", "-log-dir", "x"])
    assert (args.port, args.log_dir) == (9090, "x")


def test_version_and_help_exit_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--version", "--help"):
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([flag])
        assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("v") and "--log-dir" in out


def test_repository_hypercorn_toml_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    config = hypercorn_config(load_settings({"PORT": "4321"}, dotenv=None), None)
    assert config.worker_class == "uvloop"
    assert config.keep_alive_timeout == 75 and config.graceful_timeout == 30
    assert config.bind == ["0.0.0.0:4321"]
    assert config.application_path == "oneapi.asgi:app"
    assert config.accesslog is None  # the app writes its own access lines


def test_environment_and_flag_override_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    settings = load_settings({"WORKERS": "4", "GRACEFUL_TIMEOUT": "5",
                              "KEEP_ALIVE_TIMEOUT": "7"}, dotenv=None)
    config = hypercorn_config(settings, None)
    assert (config.workers, config.graceful_timeout, config.keep_alive_timeout) == (4, 5, 7)
    assert hypercorn_config(settings, 0).workers == 0  # the flag beats the variable


def test_missing_hypercorn_config_is_a_settings_error(tmp_path: Path) -> None:
    settings = load_settings({"HYPERCORN_CONFIG": str(tmp_path / "nope.toml")}, dotenv=None)
    with pytest.raises(SettingsError, match="HYPERCORN_CONFIG"):
        hypercorn_config(settings, None)


def test_builtin_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = hypercorn_config(load_settings({}, dotenv=None), None)
    assert config.worker_class == "uvloop" and config.workers == 1


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "line at %s", (created,), None)
    record.created = created
    return record


def test_daily_log_file_moves_to_a_new_day(tmp_path: Path) -> None:
    handler = DailyFileHandler(tmp_path)
    try:
        now = time.time()
        handler.emit(_record(now))
        handler.emit(_record(now + 86400))
    finally:
        handler.close()
    today = time.strftime("oneapi-%Y%m%d.log", time.localtime(now))
    tomorrow = time.strftime("oneapi-%Y%m%d.log", time.localtime(now + 86400))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([today, tomorrow])
    assert str(now) in (tmp_path / today).read_text()
    assert str(now + 86400) in (tmp_path / tomorrow).read_text()
