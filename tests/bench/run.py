"""One command benchmark: the gateway against a bare pass-through and a direct call.

    .venv/bin/python -m tests.bench.run [--out results.md] [--quick]

Starts (all on 127.0.0.1, all stopped on exit, Ctrl-C or error):
  * the fake OpenAI upstream (tests/fakes/upstream.py, standalone, uvloop),
  * the bare pass-through app (tests/bench/bare_app.py, Hypercorn, 1 uvloop worker),
  * the gateway (`python -m oneapi --workers 1`) in a temp dir, its SQLite database
    seeded with one OpenAI channel pointing at the fake and one unlimited token.
Then measures, with wrk, non-stream req/s and p50/p99 at 64 connections and p50 at
1 connection for each target, and with tests/bench/streamload.py 500 concurrent
streams (50 chunks, 20 ms apart); prints one Markdown table (see README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
TOKEN_KEY = "benchbenchbenchbenchbenchbenchbenchbenchbench000"  # 48 alphanumerics
CHANNEL_KEY = "bench-key"
MODEL = "gpt-3.5-turbo"
BODY = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "Hello"}]})
TARGETS = ("direct", "bare", "gateway")
TITLES = {"direct": "Direct (fake upstream)", "bare": "Bare pass-through", "gateway": "Gateway"}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '%(body)s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,"write":%%d,' ..
    '"status":%%d,"timeout":%%d,"p50":%%d,"p90":%%d,"p99":%%d,"mean":%%f,"max":%%d}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ processes
@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM the process group we created for it (its own session), then SIGKILL."""
        family = [(p, start_time(p)) for p in tree_pids(self.pid)] if self.alive() else []
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        # Workers left behind by a parent that died first (same group, or re-grouped).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid, started in family[1:]:
            if started is not None and start_time(pid) == started:  # not a recycled pid
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


@dataclass
class Processes:
    workdir: Path
    started: list[Proc] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], *, env: dict[str, str],
              cwd: Path = ROOT) -> Proc:
        log = self.workdir / f"{name}.log"
        say(f"starting {name}: {' '.join(cmd)}")
        popen = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                 stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
        proc = Proc(name, popen, log)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()
        self.started.clear()


def base_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment without the gateway's settings (a developer's .env, say)."""
    try:
        from oneapi.settings import setting_fields

        ours = {f.metadata["env"] for f in setting_fields()}
    except Exception:  # the gateway package may be mid-edit; keep going
        ours = set()
    env = {k: v for k, v in os.environ.items() if k not in ours}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update(extra or {})
    return env


def wait_until(check: Callable[[], bool], proc: Proc, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} "
                               f"before {what}:\n{proc.tail()}")
        with contextlib.suppress(httpx.HTTPError, OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name}: not {what} after {timeout:.0f}s:\n{proc.tail()}")


def http_answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        httpx.get(url, timeout=2)
        return True
    return check


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


def tree_pids(pid: int) -> list[int]:
    """`pid` and all its descendants (scans /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def start_time(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_mib(pid: int) -> tuple[float | None, float | None]:
    """(largest single process, sum over the tree) of VmHWM, MiB."""
    peaks = []
    for p in tree_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    if not peaks:
        return None, None
    return max(peaks), sum(peaks)


# ------------------------------------------------------------------- gateway
def seed_gateway(db_path: Path, upstream_url: str) -> None:
    """Migrate the gateway's SQLite database, then add one channel, ability and token."""
    seed_database({"SQLITE_PATH": str(db_path)}, upstream_url)


def seed_database(env: dict[str, str], upstream_url: str) -> None:
    """The same on the database these settings name (SQL_DSN for the cluster run)."""
    from sqlalchemy import insert, select

    from nodes.master import prepare
    from oneapi.db.engine import Database
    from oneapi.db.models import Ability, Channel, Token, User
    from oneapi.settings import load_settings

    settings = load_settings(env, dotenv=None)

    async def go() -> None:
        await prepare(settings)
        db = Database.from_settings(settings)
        try:
            async with db.engine.begin() as conn:
                now = int(time.time())
                root = (await conn.execute(
                    select(User.__table__.c.id).where(User.__table__.c.role >= 100)
                    .order_by(User.__table__.c.id).limit(1))).scalar()
                result = await conn.execute(insert(Channel.__table__).values(
                    type=1, key=CHANNEL_KEY, status=1, name="bench", base_url=upstream_url,
                    models=MODEL, group="default", priority=0, weight=0, created_time=now,
                    other="", model_mapping="", config=""))
                channel_id = result.inserted_primary_key[0]
                await conn.execute(insert(Ability.__table__).values(
                    group="default", model=MODEL, channel_id=channel_id, enabled=True,
                    priority=0))
                await conn.execute(insert(Token.__table__).values(
                    user_id=root or 1, key=TOKEN_KEY, status=1, name="bench",
                    created_time=now, accessed_time=now, expired_time=-1,
                    unlimited_quota=True, remain_quota=0, used_quota=0))
        finally:
            await db.dispose()

    asyncio.run(go())


# ---------------------------------------------------------------------- load
def wrk(url: str, key: str, connections: int, seconds: float, threads: int,
        script: Path) -> dict[str, Any]:
    script.write_text(WRK_SCRIPT % {"body": BODY, "key": key})
    cmd = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds:g}s",
           "--timeout", "10s", "-s", str(script), url + "/v1/chat/completions"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60,
                         check=False)
    for line in out.stdout.splitlines():
        if line.startswith("WRKJSON "):
            data: dict[str, Any] = json.loads(line[8:])
            data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
            data["errors"] = sum(data[k] for k in ("connect", "read", "write", "status",
                                                   "timeout"))
            return data
    raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout}")


def stream_load(url: str, key: str, concurrency: int, seconds: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tests.bench.streamload", "--url", url, "--key", key,
           "--concurrency", str(concurrency), "--duration", f"{seconds:g}", "--grace", "15"]
    out = subprocess.run(cmd, cwd=ROOT, env=base_env(), capture_output=True, text=True,
                         timeout=seconds + 90, check=False)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"streamload failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def probe(url: str, key: str) -> tuple[bool, str]:
    """One non-stream request: (ok, description)."""
    try:
        r = httpx.post(url + "/v1/chat/completions", content=BODY, timeout=30,
                       headers={"Content-Type": "application/json",
                                "Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    text = r.text[:300].replace("\n", " ")
    if r.status_code != 200:
        return False, f"HTTP {r.status_code}: {text}"
    try:
        content = r.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return False, f"HTTP 200 but not a chat completion: {text}"
    return True, f"HTTP 200, {len(content.split())} words"


# --------------------------------------------------------------------- table
def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b:
        return "n/a"
    return f"{a / b:.2f}x"


def build_table(r: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    def get(target: str, *path: str) -> Any:
        node: Any = r.get(target)
        for p in path:
            if not isinstance(node, dict):
                return None
            node = node.get(p)
        return node

    def ms(target: str, *path: str) -> float | None:
        v = get(target, *path)
        return None if v is None else v / 1000

    gw_err = get("gateway", "error_rate")
    gw_valid = gw_err is not None and gw_err < 0.01
    rows: list[tuple[str, list[Any], str, str]] = []

    def row(label: str, values: list[Any], digits: int = 1, ratios: bool = True) -> None:
        gw, bare, direct = values[2], values[1], values[0]
        numeric = all(isinstance(v, int | float) or v is None for v in values)
        ok = ratios and numeric and gw_valid
        rows.append((label, [fmt(v, digits) for v in values],
                     ratio(gw, bare) if ok else "", ratio(gw, direct) if ok else ""))

    c = meta["connections"]
    row(f"non-stream req/s @{c} conns", [get(t, "load", "rps") for t in TARGETS])
    row(f"non-stream p50 @{c} (ms)", [ms(t, "load", "p50") for t in TARGETS], 2)
    row(f"non-stream p99 @{c} (ms)", [ms(t, "load", "p99") for t in TARGETS], 2)
    row("non-stream errors (non-2xx + socket)", [
        None if get(t, "load") is None else
        f"{get(t, 'load', 'errors')} / {get(t, 'load', 'requests')} "
        f"({100 * get(t, 'error_rate'):.1f}%)" for t in TARGETS], ratios=False)
    row("p50 @1 conn (ms)", [ms(t, "single", "p50") for t in TARGETS], 3)
    d1, b1, g1 = (ms(t, "single", "p50") for t in TARGETS)
    added = [None, None if None in (b1, d1) else b1 - d1,  # type: ignore[operator]
             None if None in (g1, d1) else g1 - d1]  # type: ignore[operator]
    row("added p50 over direct @1 (ms)", added, 3, ratios=False)
    row("added p50 over bare @1 (ms)",
        [None, None, None if None in (g1, b1) else g1 - b1], 3,  # type: ignore[operator]
        ratios=False)
    s = meta["streams"]
    row(f"streams started ({s} concurrent, {meta['stream_seconds']:g} s)",
        [get(t, "stream", "started") for t in TARGETS])
    row("streams completed", [get(t, "stream", "completed") for t in TARGETS])
    row("streams failed", [get(t, "stream", "failed") for t in TARGETS], ratios=False)
    row("stream chunks relayed /s", [get(t, "stream", "events_per_s") for t in TARGETS])
    row("stream TTFB p50 (ms)", [get(t, "stream", "ttfb_p50_ms") for t in TARGETS])
    row("stream TTFB p99 (ms)", [get(t, "stream", "ttfb_p99_ms") for t in TARGETS])
    row("peak RSS, largest process (MiB)", [get(t, "rss_max") for t in TARGETS])
    row("peak RSS, all processes (MiB)", [get(t, "rss_total") for t in TARGETS])

    head = ["Metric", *(TITLES[t] for t in TARGETS), "Gateway / bare", "Gateway / direct"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, values, rb, rd in rows:
        lines.append("| " + " | ".join([label, *values, rb, rd]) + " |")
    notes = [
        "",
        f"{meta['date']}, {meta['cpus']} CPUs, Python {meta['python']}; wrk "
        f"{meta['threads']} thread(s), {meta['seconds']:g} s per run after "
        f"{meta['warmup']:g} s warm-up; upstream stream {meta['chunks']} chunks "
        f"{meta['interval'] * 1000:g} ms apart. All processes share the machine.",
    ]
    for t in TARGETS:
        if get(t, "probe") and not get(t, "probe_ok"):
            notes.append(f"- {TITLES[t]}: probe failed: {get(t, 'probe')}")
        if get(t, "failure"):
            notes.append(f"- {TITLES[t]}: {get(t, 'failure')}")
        if get(t, "stream", "sample_error"):
            notes.append(f"- {TITLES[t]} streams: first error: "
                         f"{get(t, 'stream', 'sample_error')[:200]}")
    if r.get("gateway") and not gw_valid:
        notes.append("- Gateway ratios omitted: its error rate is above 1%.")
    return "\n".join(lines + notes) + "\n"


# ---------------------------------------------------------------------- main
def check_tools() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk  (Debian/Ubuntu), then rerun")


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM/SIGHUP behave like Ctrl-C so that `finally` blocks clean up."""
    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="also write the Markdown table to this file")
    p.add_argument("--json", type=Path, help="write the raw figures as JSON")
    p.add_argument("--only", nargs="+", choices=TARGETS, default=list(TARGETS),
                   help="targets to measure (default: all three)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=1, help="wrk threads (2 CPUs: keep 1)")
    p.add_argument("--seconds", type=float, default=10, help="each wrk load run")
    p.add_argument("--warmup", type=float, default=2)
    p.add_argument("--latency-seconds", type=float, default=5, help="the 1-connection run")
    p.add_argument("--streams", type=int, default=500)
    p.add_argument("--stream-seconds", type=float, default=15)
    p.add_argument("--chunks", type=int, default=50)
    p.add_argument("--interval", type=float, default=0.02)
    p.add_argument("--no-stream", action="store_true", help="skip the streaming test")
    p.add_argument("--gateway-env", action="append", default=[], metavar="NAME=VALUE",
                   help="extra environment for the gateway (repeatable)")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, database)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 s loads, 1 s warm-up, 100 streams for 4 s")
    args = p.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup, args.latency_seconds = 2, 1, 2
        args.streams, args.stream_seconds = 100, 4
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    check_tools()
    raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="oneapi-bench-"))
    procs = Processes(workdir)
    results: dict[str, dict[str, Any]] = {}
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "threads": args.threads,
            "seconds": args.seconds, "warmup": args.warmup, "chunks": args.chunks,
            "interval": args.interval, "connections": args.connections,
            "streams": args.streams, "stream_seconds": args.stream_seconds}
    servers: dict[str, Proc] = {}
    urls: dict[str, str] = {}
    keys = {"direct": CHANNEL_KEY, "bare": CHANNEL_KEY, "gateway": f"sk-{TOKEN_KEY}"}
    try:
        with interruptible():
            # 1. fake upstream
            port = free_port()
            fake = procs.start("fake-upstream", [
                sys.executable, "-m", "tests.fakes.upstream", "--port", str(port),
                "--chunks", str(args.chunks), "--interval", str(args.interval)],
                env=base_env())
            urls["direct"] = f"http://127.0.0.1:{port}"
            servers["direct"] = fake
            wait_until(http_ok(urls["direct"] + "/v1/models"), fake, "ready")

            # 2. bare pass-through
            if "bare" in args.only:
                port = free_port()
                bare = procs.start("bare-app", [
                    sys.executable, str(ROOT / "tests/bench/bare_app.py"), "--port", str(port)],
                    env=base_env({"UPSTREAM": urls["direct"], "UPSTREAM_KEY": CHANNEL_KEY}))
                urls["bare"] = f"http://127.0.0.1:{port}"
                servers["bare"] = bare
                wait_until(http_answers(urls["bare"] + "/"), bare, "ready")

            # 3. the gateway, on a seeded database
            if "gateway" in args.only:
                gwdir = workdir / "gateway"
                (gwdir / "logs").mkdir(parents=True)
                try:
                    say("migrating and seeding the gateway database")
                    seed_gateway(gwdir / "one-api.db", urls["direct"])
                    port = free_port()
                    extra = dict(kv.split("=", 1) for kv in args.gateway_env)
                    gateway = procs.start("gateway", [
                        sys.executable, "-m", "oneapi", "--workers", "1"], cwd=gwdir,
                        env=base_env({"PORT": str(port), "SQLITE_PATH": str(gwdir / "one-api.db"),
                                      "LOG_DIR": str(gwdir / "logs"), "GRACEFUL_TIMEOUT": "5",
                                      **extra}))
                    urls["gateway"] = f"http://127.0.0.1:{port}"
                    servers["gateway"] = gateway
                    wait_until(http_ok(urls["gateway"] + "/api/status"), gateway, "ready")
                except Exception as exc:
                    say(f"gateway could not start: {exc}")
                    results["gateway"] = {"failure": f"could not start: {str(exc)[:500]}"}

            # 4. non-stream load with wrk
            for target in TARGETS:
                if target not in args.only or target not in urls:
                    continue
                res = results.setdefault(target, {})
                ok, desc = probe(urls[target], keys[target])
                res["probe"], res["probe_ok"] = desc, ok
                say(f"{target}: probe {desc}")
                if not ok:
                    say(f"WARNING: {target} answers with errors; measuring anyway, "
                        "the table reports the error rate")
                script = workdir / f"{target}.lua"
                say(f"{target}: warm-up {args.warmup:g} s")
                wrk(urls[target], keys[target], args.connections, args.warmup, args.threads,
                    script)
                say(f"{target}: {args.connections} connections for {args.seconds:g} s")
                res["load"] = wrk(urls[target], keys[target], args.connections, args.seconds,
                                  args.threads, script)
                res["error_rate"] = (res["load"]["errors"] / res["load"]["requests"]
                                     if res["load"]["requests"] else 1.0)
                say(f"{target}: 1 connection for {args.latency_seconds:g} s")
                res["single"] = wrk(urls[target], keys[target], 1, args.latency_seconds, 1,
                                    script)
                say(f"{target}: {res['load']['rps']:.0f} req/s, p50 "
                    f"{res['load']['p50'] / 1000:.2f} ms, 1-conn p50 "
                    f"{res['single']['p50'] / 1000:.3f} ms, errors {res['load']['errors']}")
                if res["error_rate"] > 0.01:
                    say(f"WARNING: {target} error rate {100 * res['error_rate']:.1f}% "
                        f"({res['load']['errors']} of {res['load']['requests']})")

            # 5. streams
            if not args.no_stream:
                for target in TARGETS:
                    if target not in args.only or target not in urls:
                        continue
                    say(f"{target}: {args.streams} concurrent streams for "
                        f"{args.stream_seconds:g} s")
                    try:
                        st = stream_load(urls[target], keys[target], args.streams,
                                         args.stream_seconds)
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        results.setdefault(target, {})["failure"] = f"stream load: {exc}"
                        continue
                    results.setdefault(target, {})["stream"] = st
                    say(f"{target}: streams {st['completed']}/{st['started']} completed, "
                        f"{st['events_per_s']:.0f} chunks/s, TTFB p50 {fmt(st['ttfb_p50_ms'])} "
                        f"ms, failed {st['failed']}")
                    if st["failed"]:
                        say(f"WARNING: {target}: {st['failed']} streams failed: "
                            f"{st['sample_error'][:300]}")

            # 6. memory
            for target, proc in servers.items():
                if proc.alive():
                    rss_max, rss_total = peak_rss_mib(proc.pid)
                    results.setdefault(target, {}).update(rss_max=rss_max, rss_total=rss_total)
    except KeyboardInterrupt:
        say("interrupted; stopping everything")
        procs.stop_all()
        return 130
    finally:
        procs.stop_all()
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    table = build_table(results, meta)
    print(table)
    if args.out:
        args.out.write_text(table)
        say(f"wrote {args.out}")
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
