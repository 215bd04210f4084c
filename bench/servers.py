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
from collections.abc import Iterator, Mapping, Sequence
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


@contextlib.contextmanager
def launched(name: str, argv: Sequence[str], env: Mapping[str, str], url: str, log_dir: Path,
             ready_timeout_s: float) -> Iterator[str]:
    """Run `argv` until the block ends; yields `url` once it is healthy."""
    log_path = log_dir / f"{name}.log"
    print(f"[bench] starting {name}: {shlex.join(argv)}", file=sys.stderr)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_healthy(url, ready_timeout_s, process)
        except ServerError as exc:
            raise ServerError(f"{name}: {exc}\n--- last lines of its log ---\n{_tail(log_path)}") from exc
        yield url
    finally:
        _stop(process)


def _python_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
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


@contextlib.contextmanager
def parley_server(program: Sequence[str], ready_timeout_s: float,
                  extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """`parley run` on a free port with a fresh instance directory (database and bot model)."""
    port = free_port()
    argv = [*program, "run", "--host", HOST, "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="parley-bench-instance-") as instance:
        env = _python_env(PARLEY_INSTANCE=instance, **dict(extra_env or {}))
        with launched("parley", argv, env, f"http://{HOST}:{port}", Path(instance), ready_timeout_s) as url:
            yield url
