"""Log lines to stdout and to a daily file under the log directory.

Same files as the reference: ``oneapi-YYYYMMDD.log`` (a new one each day), or
``oneapi.log`` with ``ONLY_ONE_LOG_FILE=true``. Every worker process appends to
the same file; line-sized appends with O_APPEND do not interleave.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import time
from pathlib import Path

_FORMAT = "[%(levelname)s] %(asctime)s | %(name)s | %(message)s"
_DATEFMT = "%Y/%m/%d - %H:%M:%S"
_MARK = "_oneapi_configured"


class DailyFileHandler(logging.FileHandler):
    """A FileHandler that moves to a new ``oneapi-YYYYMMDD.log`` when the day changes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.day = time.strftime("%Y%m%d")
        super().__init__(self._path(self.day), encoding="utf-8", delay=False)

    def _path(self, day: str) -> str:
        return str(self.directory / f"oneapi-{day}.log")

    def emit(self, record: logging.LogRecord) -> None:
        day = time.strftime("%Y%m%d", time.localtime(record.created))
        if day != self.day:
            self.acquire()
            try:
                if day != self.day:
                    self.close()
                    self.day = day
                    self.baseFilename = os.path.abspath(self._path(day))
                    self.stream = self._open()
            finally:
                self.release()
        super().emit(record)


class AccessLog:
    """One line per request, without the logging module's per-record cost.

    Lines look like every other INFO line and go to the same places (stdout and
    the day's file), but are formatted once and written in batches: at most
    ~0.2 s after they were produced, or as soon as 256 are waiting, and at exit.
    """

    FLUSH_AFTER = 0.2
    MAX_PENDING = 256

    def __init__(self) -> None:
        self.enabled = False
        self.directory: Path | None = None
        self.one_file = False
        self._lines: list[str] = []
        self._second = -1
        self._stamp = ""
        self._timer: asyncio.TimerHandle | None = None

    def configure(self, directory: Path | None, one_file: bool, enabled: bool) -> None:
        self.flush()
        self.directory, self.one_file, self.enabled = directory, one_file, enabled

    def write(self, rid: str, status: int, millis: float, ip: str, method: str,
              path: str) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(_DATEFMT, time.localtime(second))
        self._lines.append(f"[INFO] {self._stamp} | oneapi.access | {rid} | {status:3d} | "
                           f"{millis:8.3f}ms | {ip:>15} | {method} {path}\n")
        if len(self._lines) >= self.MAX_PENDING:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(self.FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        text = "".join(self._lines)
        self._lines.clear()
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (OSError, ValueError):
            pass  # stdout closed: the file still gets the lines
        if self.directory is not None:
            name = "oneapi.log" if self.one_file else time.strftime("oneapi-%Y%m%d.log")
            try:
                with open(self.directory / name, "a", encoding="utf-8") as fh:
                    fh.write(text)
            except OSError:
                pass


access = AccessLog()
atexit.register(access.flush)


def setup_logging(log_dir: str, *, one_file: bool = False, level: str = "INFO",
                  debug: bool = False) -> Path:
    """Configure the root logger once per process; returns the log directory."""
    directory = Path(log_dir).expanduser().resolve()
    root = logging.getLogger()
    if getattr(root, _MARK, None) == (str(directory), one_file):
        return directory
    if os.environ.get("TZ"):
        time.tzset()
    directory.mkdir(parents=True, exist_ok=True)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter(_FORMAT, _DATEFMT)
    stream = logging.StreamHandler(sys.stdout)
    file_handler: logging.Handler = (
        logging.FileHandler(directory / "oneapi.log", encoding="utf-8") if one_file
        else DailyFileHandler(directory)
    )
    for handler in (stream, file_handler):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel("DEBUG" if debug else level.upper())
    # Libraries that are chatty at INFO: keep their warnings only.
    for noisy in ("alembic", "aiosqlite", "asyncio", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    setattr(root, _MARK, (str(directory), one_file))
    access.configure(directory, one_file, root.isEnabledFor(logging.INFO))
    return directory
