"""The container image recipe (Dockerfile, .dockerignore, scripts/docker-entrypoint.sh).

There is no Docker engine here, so the image cannot be built: these tests read
the Dockerfile for the properties issue 8 names, and run what the image would
run - the entry point and the HEALTHCHECK command against a real gateway laid
out as in the image (settings from the Dockerfile's ENV, data in a "/data" dir).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import ROOT, settings_env_names
from tests.server import Server, clean_env, free_port, wait_ready

DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "scripts" / "docker-entrypoint.sh"
# Variables of the runtime, not of the app.
NOT_SETTINGS = {"PATH", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [a for k, a in self.instructions if k == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for line in self.args("ENV"):
            for item in shlex.split(line):
                name, _, value = item.partition("=")
                values[name] = value
        return values


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions per stage, continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    stages: list[Stage] = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else ""
            stages.append(Stage(parts[0], name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


def healthcheck_command(stage: Stage) -> str:
    (check,) = stage.args("HEALTHCHECK")
    _options, _, command = check.partition("CMD ")
    assert command, check
    return command.strip()


# --- what the Dockerfile says --------------------------------------------------------------

def test_multi_stage_build_frontend_with_node_and_package_with_pip(stages: list[Stage]) -> None:
    frontend = next(s for s in stages if s.image.startswith("node:20"))
    runs = " && ".join(frontend.args("RUN"))
    assert "npm ci" in runs and "npm run build" in runs
    assert any("frontend/package-lock.json" in a for a in frontend.args("COPY"))
    assert any("pip install ." in r for s in stages for r in s.args("RUN"))
    runtime = stages[-1]
    assert runtime.image.startswith("python:3.11-slim")
    # The built console is copied in and FRONTEND_DIR names where it landed.
    copied = [a.split() for a in runtime.args("COPY") if f"--from={frontend.name}" in a]
    assert copied and copied[0][1].endswith("/dist")
    assert runtime.env()["FRONTEND_DIR"] == copied[0][2]


def test_runtime_runs_unprivileged_with_data_volume_and_port(stages: list[Stage]) -> None:
    runtime = stages[-1]
    (user,) = runtime.args("USER")
    assert user.split(":")[0] not in ("root", "0")
    assert runtime.args("EXPOSE") == ["3000"]
    assert runtime.args("VOLUME") == ["/data"]
    assert runtime.args("WORKDIR")[-1] == "/data"  # .env in the volume is read too
    # The user must own /data in the image, so a fresh named volume is writable.
    uid = user.split(":")[0]
    assert any(f"--uid {uid}" in r and "chown" in r and "/data" in r
               for r in runtime.args("RUN"))
    # The chart runs the same user, so /data volumes (fsGroup) fit the image.
    values = yaml.safe_load((ROOT / "helm" / "one-api" / "values.yaml").read_text())
    assert str(values["podSecurityContext"]["runAsUser"]) == uid


def test_runtime_env_names_settings_the_app_reads(stages: list[Stage]) -> None:
    known = settings_env_names()
    for stage in stages:
        unknown = set(stage.env()) - known - NOT_SETTINGS
        assert not unknown, f"stage {stage.name or stage.image} sets {sorted(unknown)}"
    env = stages[-1].env()
    assert env["SQLITE_PATH"].startswith("/data/")
    assert env["LOG_DIR"].startswith("/data/")
    toml = [a.split() for a in stages[-1].args("COPY") if a.startswith("hypercorn.toml")]
    assert toml and env["HYPERCORN_CONFIG"] == toml[0][1]


def test_time_zone_data_is_installed(stages: list[Stage]) -> None:
    assert any("install" in r and "tzdata" in r for r in stages[-1].args("RUN"))


def test_healthcheck_asks_api_status_with_python(stages: list[Stage]) -> None:
    command = healthcheck_command(stages[-1])
    assert command.startswith("python -c ")
    assert "/api/status" in command and "curl" not in command


def test_entrypoint_is_the_shipped_script(stages: list[Stage]) -> None:
    runtime = stages[-1]
    (entry,) = runtime.args("ENTRYPOINT")
    target = next(a.split()[1] for a in runtime.args("COPY")
                  if a.startswith("scripts/docker-entrypoint.sh"))
    assert entry == f'["{Path(target).name}"]' or entry == f'["{target}"]'
    assert os.access(ENTRYPOINT, os.X_OK)
    assert subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=False).returncode == 0


# --- .dockerignore -------------------------------------------------------------------------

def _pattern(raw: str) -> tuple[bool, re.Pattern[str]]:
    negate = raw.startswith("!")
    text = raw[1:] if negate else raw
    text = text.strip().strip("/")
    regex = ""
    i = 0
    while i < len(text):
        if text.startswith("**/", i):
            regex, i = regex + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif text[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif text[i] == "?":
            regex, i = regex + "[^/]", i + 1
        else:
            regex, i = regex + re.escape(text[i]), i + 1
    return negate, re.compile(regex + "$")


def in_build_context(path: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    included = True
    for negate, regex in patterns:
        if any(regex.match(c) for c in candidates):
            included = negate
    return included


def context_files(source: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> list[str]:
    base = ROOT / source
    if base.is_file():
        return [source]
    found = []
    for directory, dirs, files in os.walk(base):
        rel_dir = Path(directory).relative_to(ROOT).as_posix()
        dirs[:] = [d for d in dirs if in_build_context(f"{rel_dir}/{d}", patterns)
                   or d not in ("node_modules", "dist", "__pycache__")]
        found += [f"{rel_dir}/{f}" for f in files]
    return found


def test_dockerignore_keeps_every_copied_source_and_drops_the_rest(stages: list[Stage]) -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [_pattern(line) for line in lines if line.strip() and not line.startswith("#")]
    sources = [a.split()[:-1] for s in stages for a in s.args("COPY") if "--from=" not in a]
    for source in (src for group in sources for src in group):
        source = source.rstrip("/")
        files = [f for f in context_files(source, patterns)
                 if "__pycache__" not in f and not f.startswith("frontend/node_modules/")
                 and not f.startswith("frontend/dist/")]
        assert files, f"COPY {source}: nothing there"
        missing = [f for f in files if not in_build_context(f, patterns)]
        assert not missing, f"COPY {source}: .dockerignore drops {missing[:5]}"
    for dropped in (".git/HEAD", ".venv/bin/python", "frontend/node_modules/x/index.js",
                    "frontend/dist/index.html", "tests/conftest.py", "one-api.db",
                    "oneapi/__pycache__/x.pyc", "helm/one-api/Chart.yaml"):
        assert not in_build_context(dropped, patterns), dropped


# --- what the image runs -------------------------------------------------------------------

def image_like_env(stages: list[Stage], data: Path) -> dict[str, str]:
    """The runtime stage's settings with /data and the image's files mapped onto this tree."""
    env = {k: v for k, v in stages[-1].env().items() if k not in NOT_SETTINGS}
    env.pop("FRONTEND_DIR")  # the console may not be built here; the placeholder serves
    env["HYPERCORN_CONFIG"] = str(ROOT / "hypercorn.toml")
    return {k: v.replace("/data", str(data)) if v.startswith("/data") else v
            for k, v in env.items()}


@pytest.mark.server
def test_entrypoint_serves_and_healthcheck_follows_it(stages: list[Stage],
                                                       tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    env = clean_env({**image_like_env(stages, data), "PORT": str(port),
                     "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    output = tmp_path / "server.out"
    process = subprocess.Popen(["sh", str(ENTRYPOINT), "--workers", "1"], cwd=data, env=env,
                               stdout=output.open("wb"), stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", data, output)
    check = ["sh", "-c", healthcheck_command(stages[-1])]
    try:
        wait_ready(server)
        healthy = subprocess.run(check, env=env, capture_output=True, timeout=30, check=False)
        assert healthy.returncode == 0, healthy.stderr
        # SQLite and the logs land in the volume, as the ENV lines promise.
        assert (data / "one-api.db").is_file()
        assert any((data / "logs").glob("oneapi-*.log"))
    finally:
        server.stop()
    down = subprocess.run(check, env=env, capture_output=True, timeout=30, check=False)
    assert down.returncode != 0
