"""Log lines to stdout and to a daily file under the log directory.

Same files as the reference: ``oneapi-YYYYMMDD.log`` (a new one each day), or
``oneapi.log`` with ``ONLY_ONE_LOG_FILE=true``. Every worker process appends to
the same file; line-sized appends with O_APPEND do not interleave.
"""

from __future__ import annotations

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
    return directory
