"""Start a server under test as a child process, wait until it is healthy, and stop it.

Each server runs in a process group of its own (`start_new_session`), so stopping it also stops
anything it started (a reloader, workers), and nothing else. Output goes to a log file, never to a
pipe nobody reads, and its tail is shown when the server does not come up.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
RESERVED_PORTS = frozenset({5000})
STOP_GRACE_S = 10.0
POLL_INTERVAL_S = 0.25
LOG_TAIL_LINES = 40


class ServerError(Exception):
    """A server under test did not come up, or went away."""


def free_port() -> int:
    """A loopback port nobody listens on right now (never 5000)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port
    raise ServerError("no free loopback port")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2.0) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_healthy(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `GET /healthz` until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _healthy(url):
            return
        if process is not None and process.poll() is not None:
            raise ServerError(f"server exited with code {process.returncode} before it was healthy")
        time.sleep(POLL_INTERVAL_S)
    raise ServerError(f"{url}/healthz did not answer 200 within {timeout_s:.0f} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group; SIGKILL whatever is left after a grace period (or an interrupt)."""
    try:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_GRACE_S)
    finally:
        # Also reaches anything the server left behind in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5.0)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-LOG_TAIL_LINES:])


_GROUPS: dict[str, int] = {}  # url -> the process group serving it, while `launched` runs it
_SESSIONS: set[int] = set()  # every server process this bench started and still runs (each leads a session)


def _session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[3])  # state, ppid, pgrp, then the session


def servers_cpu_s() -> float:
    """CPU seconds (user + system) used so far by every process of the servers this bench runs — a
    server, its gunicorn worker, `parley worker` — read from /proc (Linux). Processes
    that have exited no longer count, so compare two readings taken close together."""
    if not _SESSIONS:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or _session_of(int(entry.name)) not in _SESSIONS:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def wait_until_idle(progress: Callable[[], int] = lambda: 0, *, busy_share: float = 0.10, window_s: float = 0.5,
                    limit_s: float = 60.0) -> float | None:
    """Wait until the servers this bench runs have caught up with the work already handed to them:
    over one `window_s` they use less than `busy_share` of one core and `progress()` (e.g. the bot
    replies a fake provider received) did not move. The seconds waited, or None when still busy after
    `limit_s`. A step measured while the last one's backlog (bot turns, outbound sends) is still
    being worked off measures that backlog, not the step's own rate."""
    start = time.monotonic()
    while True:
        cpu, seen = servers_cpu_s(), progress()
        time.sleep(window_s)
        if servers_cpu_s() - cpu < busy_share * window_s and progress() == seen:
            return time.monotonic() - start
        if time.monotonic() - start > limit_s:
            return None


@dataclass(frozen=True)
class ProcessUsage:
    """What a server process holds right now, from /proc (Linux)."""

    pid: int
    rss_kb: int
    threads: int
    open_files: int
    max_open_files: int | None


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])  # the field after the state, past the command's name


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise ServerError(f"/proc/{pid}/status has no {field}")


def serving_pid(url: str) -> int:
    """The process holding `url`'s connections: gunicorn's worker (a child of the started command, the
    largest when there are several), else the started command itself."""
    leader = _GROUPS.get(url)
    if leader is None:
        raise ServerError(f"{url} was not started by this bench")
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent_of(int(p.name)) == leader]
    return max(children, key=lambda pid: _status(pid, "VmRSS")) if children else leader


def usage(pid: int) -> ProcessUsage:
    limit = None
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            limit = int(line.split()[3])
    return ProcessUsage(pid=pid, rss_kb=_status(pid, "VmRSS"), threads=_status(pid, "Threads"),
                        open_files=len(os.listdir(f"/proc/{pid}/fd")), max_open_files=limit)


def raise_open_files_limit(needed: int) -> int:
    """Raise this process's soft limit on open files to at least `needed` (the servers it starts
    inherit it); the limit now in force. Fails when the hard limit is lower."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise ServerError(f"{needed} open files needed, the hard limit is {hard} (raise it: ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    return soft


@contextlib.contextmanager
def launched(name: str, argv: Sequence[str], env: Mapping[str, str], url: str, log_dir: Path,
             ready_timeout_s: float) -> Iterator[str]:
    """Run `argv` until the block ends; yields `url` once it is healthy."""
    log_path = log_dir / f"{name}.log"
    print(f"[bench] starting {name}: {shlex.join(argv)}", file=sys.stderr)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    _SESSIONS.add(process.pid)
    try:
        try:
            wait_healthy(url, ready_timeout_s, process)
        except ServerError as exc:
            raise ServerError(f"{name}: {exc}\n--- last lines of its log ---\n{_tail(log_path)}") from exc
        _GROUPS[url] = process.pid
        yield url
    finally:
        _GROUPS.pop(url, None)
        _stop(process)
        _SESSIONS.discard(process.pid)


# A bench measures throughput, not the abuse limits: one visitor sending 50 messages in a few seconds
# would be refused at the 31st (unless the shell sets its own).
BENCH_LIMITS = {
    "PARLEY_RATE_LIMIT_WEBCHAT_MESSAGES": "1000000/minute",
    "PARLEY_RATE_LIMIT_WEBCHAT_MESSAGES_PER_ADDRESS": "1000000/minute",
    "PARLEY_RATE_LIMIT_WEBCHAT_CONVERSATIONS": "1000000/hour",
    "PARLEY_RATE_LIMIT_WEBCHAT_CONVERSATIONS_PER_ADDRESS": "1000000/hour",
}


ROOT = Path(__file__).resolve().parents[1]


def _python_env(**extra: str) -> dict[str, str]:
    """This shell's environment, with this checkout first on the import path: the venv's `parley` may
    be an editable install of another checkout, and the bench measures the code it ships with."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def _parley_env(**extra: str) -> dict[str, str]:
    env = _python_env(**extra)
    for name, value in BENCH_LIMITS.items():
        env.setdefault(name, value)
    return env


@contextlib.contextmanager
def baseline_server(ready_timeout_s: float = 30.0) -> Iterator[str]:
    """The bare echo server (`bench/echo_server.py`) on a free port."""
    port = free_port()
    script = Path(__file__).with_name("echo_server.py")
    argv = [sys.executable, str(script), "--host", HOST, "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="parley-bench-baseline-") as tmp, \
            launched("baseline", argv, _python_env(), f"http://{HOST}:{port}", Path(tmp),
                     ready_timeout_s) as url:
        yield url


def parley_program(override: str | None) -> list[str]:
    """How to invoke Parley's CLI: `--parley-cmd`, else the venv's `parley`, else `-m console.cli`."""
    if override:
        return shlex.split(override)
    script = Path(sys.executable).parent / "parley"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "console.cli"]


def operator_env(url: str) -> dict[str, str]:
    """What an operator sets before `parley web` on PostgreSQL will start (models/production.py):
    the address providers sign and media links point to — here the web process's own — and the
    sites allowed to open customer sockets, here the one origin the bench's clients send
    (websocket-client sends `http://host:port` of the URL it connects to)."""
    return {"PARLEY_PUBLIC_URL": url, "PARLEY_WIDGET_ORIGINS": url}


DEFAULT_THREADS = 32  # `parley run` / `parley web --threads`
STACK_THREADS = 64  # the production stack's `parley web --threads` in the benches


def sockets_threads(sockets: int) -> int:
    """`--threads` for a server that must hold `sockets` websockets open at once: under gunicorn's
    gthread worker each open websocket holds a thread for its whole life, and a connection beyond the
    threads is accepted but waits, unanswered, until one closes. An operator sizes `--threads` to the
    sockets expected; the bench adds the CLI's default (32) for the HTTP requests meanwhile."""
    return sockets + DEFAULT_THREADS


def threads_for(sockets: int, configured: int = DEFAULT_THREADS) -> int:
    """`configured` threads while they leave a few (8) for HTTP beside `sockets` websockets, so the
    figures stay comparable with earlier runs; else `sockets_threads(sockets)`."""
    return configured if sockets + 8 <= configured else sockets_threads(sockets)


@contextlib.contextmanager
def parley_server(program: Sequence[str], ready_timeout_s: float,
                  extra_env: Mapping[str, str] | None = None, *, threads: int | None = None,
                  instance: str | None = None) -> Iterator[str]:
    """`parley run` on a free port with a fresh instance directory (SQLite database and bot model),
    or `instance` when the caller made one (to reach the database itself)."""
    port = free_port()
    argv = [*program, "run", "--host", HOST, "--port", str(port)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    with contextlib.ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(tempfile.TemporaryDirectory(prefix="parley-bench-instance-"))
        # The embedded default: SQLite in the fresh instance, no Redis; served at its own address to the
        # bench's clients whatever this shell exports (and started, on PostgreSQL, as an operator would).
        url = f"http://{HOST}:{port}"
        env = _parley_env(**{**operator_env(url), "PARLEY_INSTANCE": instance, "DATABASE_URL": "",
                             "REDIS_URL": "", **dict(extra_env or {})})
        with launched("parley", argv, env, url, Path(instance), ready_timeout_s):
            yield url


def stack_urls() -> tuple[str, str] | None:
    """PostgreSQL and Redis for the production stack (`PARLEY_BENCH_DATABASE_URL` or `DATABASE_URL`,
    and `REDIS_URL`), or None when either is missing or the database is not PostgreSQL."""
    database = os.environ.get("PARLEY_BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    redis = os.environ.get("REDIS_URL") or ""
    if not database.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")) or not redis:
        return None
    return database, redis


@contextlib.contextmanager
def _fresh_schema(database_url: str) -> Iterator[str]:
    """A PostgreSQL schema of its own for one bench run (dropped after), as DATABASE_URL."""
    import secrets

    import sqlalchemy as sa

    url = database_url.replace("postgres://", "postgresql://", 1)
    driver_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    engine = sa.create_engine(driver_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def _wait_for_line(path: Path, text: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise ServerError(f"exited with code {process.returncode}\n--- last lines of its log ---\n{_tail(path)}")
        time.sleep(POLL_INTERVAL_S)
    raise ServerError(f"did not say {text!r} within {timeout_s:.0f} s\n--- its log ---\n{_tail(path)}")


def stack_env(url: str, instance: str, database_url: str, redis_url: str,
              extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the production stack's processes serving at `url` (both roles share it).
    The bench's limits and the operator's settings are defaults: `extra_env` (and, for the limits,
    the shell) may override them."""
    import secrets

    return _parley_env(**{**operator_env(url), "PARLEY_INSTANCE": instance, "DATABASE_URL": database_url,
                          "REDIS_URL": redis_url, "PARLEY_SECRET_KEY": secrets.token_urlsafe(24),
                          "PARLEY_SOCKETIO_CHANNEL": f"parley-bench-{secrets.token_hex(4)}",
                          **dict(extra_env or {})})


@contextlib.contextmanager
def production_stack(program: Sequence[str], ready_timeout_s: float, database_url: str, redis_url: str,
                     extra_env: Mapping[str, str] | None = None, *, web_threads: int = STACK_THREADS,
                     worker_concurrency: int = 4) -> Iterator[str]:
    """`parley worker` + `parley web` (gunicorn) on PostgreSQL (a fresh schema) and Redis: the
    production topology on one machine. Yields the web process's URL."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    with tempfile.TemporaryDirectory(prefix="parley-bench-stack-") as instance, \
            _fresh_schema(database_url) as schema_url:
        env = stack_env(url, instance, schema_url, redis_url, extra_env)
        worker_argv = [*program, "worker", "--concurrency", str(worker_concurrency)]
        print(f"[bench] starting worker: {shlex.join(worker_argv)}", file=sys.stderr)
        worker_log = Path(instance) / "worker.log"
        with open(worker_log, "wb") as log:
            worker = subprocess.Popen(worker_argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        _SESSIONS.add(worker.pid)
        try:
            try:  # first the worker: it migrates and trains the bot, which the web process then reuses
                _wait_for_line(worker_log, "worker running", worker, ready_timeout_s)
            except ServerError as exc:
                raise ServerError(f"worker: {exc}") from exc
            web_argv = [*program, "web", "--host", HOST, "--port", str(port), "--threads", str(web_threads)]
            with launched("web", web_argv, env, url, Path(instance), ready_timeout_s):
                yield url
        finally:
            _stop(worker)
            _SESSIONS.discard(worker.pid)
