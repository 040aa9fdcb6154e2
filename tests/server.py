"""Start the real gateway (``python -m oneapi``) as a subprocess for integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment minus our settings, plus `extra`."""
    from oneapi.settings import setting_fields

    ours = {f.metadata["env"] for f in setting_fields()}
    env = {k: v for k, v in os.environ.items() if k not in ours}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(extra)
    return env


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    workdir: Path
    output: Path

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


def launch(workdir: Path, env: Mapping[str, str], args: list[str] | None = None,
           *, python_args: list[str] | None = None) -> Server:
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    output = workdir / "server.out"
    full_env = clean_env({"PORT": str(port), **env})
    cmd = [sys.executable, *(python_args or ["-m", "oneapi"]), *(args or [])]
    process = subprocess.Popen(cmd, cwd=workdir, env=full_env, stdout=output.open("wb"),
                               stderr=subprocess.STDOUT)
    return Server(process, f"http://127.0.0.1:{port}", workdir, output)


def wait_ready(server: Server, timeout: float = 60) -> float:
    """Poll /api/status until it answers; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}:\n"
                                 f"{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base_url + "/api/status", timeout=2).status_code == 200:
                return time.monotonic() - start
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"server not ready after {timeout}s:\n{server.log()}")


@contextlib.contextmanager
def running(workdir: Path, env: Mapping[str, str], args: list[str] | None = None,
            **kwargs: object) -> Iterator[Server]:
    server = launch(workdir, env, args, **kwargs)  # type: ignore[arg-type]
    try:
        wait_ready(server)
        yield server
    finally:
        server.stop()
