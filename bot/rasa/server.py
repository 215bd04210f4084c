"""The Rasa server Parley talks to: a supervised local `rasa run --enable-api`, or an external one.

`SupervisedRasa` starts Rasa from its own environment on a free loopback port with a fresh random
API token, waits until the model is loaded, restarts it when it dies (with backoff), and follows the
store's `active` pointer: a newly activated model is started beside the old server and traffic moves
over only once it answers (blue/green), so activating or rolling back never leaves customers without
a bot. Conversation trackers live in SQLite under the instance folder, so a restart keeps every
conversation's dialogue state (and its pause). `ExternalRasa` wraps `PARLEY_RASA_URL`.

Both expose `client()` (raises `RasaUnavailable` when there is no healthy server) and `status()`
(what the admin page shows).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from bot.rasa import endpoints, store
from bot.rasa.client import RasaClient, RasaError, RasaUnavailable
from bot.rasa.config import RasaSettings
from bot.rasa.trainer import die_with_parent, rasa_env
from models.settings import Settings
from models.telemetry.metrics import RASA_RESTARTS

log = logging.getLogger(__name__)

RUNTIME_FILE = "server.json"
LOG_FILE = "server.log"
_POLL_S = 1.0
_BACKOFF_MAX_S = 30.0
_HEALTHY_RESET_S = 60.0
_LOG_TAIL = 40


class ServerState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


class RasaServer(Protocol):
    def client(self) -> RasaClient: ...

    def status(self) -> dict[str, Any]: ...

    def model_version(self) -> str | None: ...

    def wait_ready(self, timeout: float) -> bool: ...

    def stop(self) -> None: ...


def runtime_dir(settings: Settings) -> Path:
    return settings.instance_dir / "rasa"


def free_port() -> int:
    """A loopback port nobody listens on now (never 5000, which `parley run` and others default to)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != 5000:
            return port


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def version_of(model_file: str | None) -> str | None:
    """Rasa's `/status` names the file it serves; Parley names files after versions."""
    if not model_file:
        return None
    name = Path(model_file).name
    return name[: -len(".tar.gz")] if name.endswith(".tar.gz") else name


# --------------------------------------------------------------------------------------------- external


class ExternalRasa:
    """A Rasa server someone else runs (`PARLEY_RASA_URL`, `PARLEY_RASA_TOKEN`)."""

    def __init__(self, rasa: RasaSettings) -> None:
        assert rasa.url is not None
        self.rasa = rasa
        self._client = RasaClient(rasa.url, rasa.token, rasa.timeout_s)

    def client(self) -> RasaClient:
        return self._client

    def model_version(self) -> str | None:
        try:
            return version_of(self._client.status(timeout=2.0).get("model_file"))
        except RasaError:
            return None

    def status(self) -> dict[str, Any]:
        state, error, model = ServerState.READY, None, None
        try:
            model = version_of(self._client.status(timeout=2.0).get("model_file"))
        except RasaError as exc:
            state, error = ServerState.FAILED, str(exc)
        return {"mode": "external", "state": state.value, "url": self.rasa.url, "pid": None,
                "model_version": model, "restarts": 0, "last_error": error, "log_tail": []}

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._client.status(timeout=2.0)
                return True
            except RasaError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(1.0)

    def stop(self) -> None:
        self._client.close()


# ------------------------------------------------------------------------------------------- supervised


@dataclass
class _Process:
    proc: subprocess.Popen[bytes]
    port: int
    token: str
    version: str
    client: RasaClient
    started: float = field(default_factory=time.monotonic)


class StartFailed(RuntimeError):
    pass


class SupervisedRasa:
    """A local Rasa server started, watched and restarted by Parley (one per Parley process)."""

    def __init__(self, settings: Settings, rasa: RasaSettings | None = None, *, model_file: Path | None = None,
                 workdir: Path | None = None, follow: Callable[[], object] | None = None) -> None:
        """Follows the store's `active` model; or serves `model_file` alone (throwaway evaluation models,
        one-shot CLI commands), then in `workdir` and without advertising itself in `server.json`.
        `follow`, called on each poll, moves that pointer to the version the database names."""
        self.settings = settings
        self._follow_db = follow
        self.rasa = rasa or RasaSettings.from_settings(settings)
        self._model_file = model_file
        self._pinned = version_of(str(model_file)) if model_file is not None else None
        self._follow = model_file is None
        self._write_runtime = model_file is None and workdir is None
        self._lock = threading.Lock()
        self._current: _Process | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = ServerState.STOPPED
        self.restarts = 0
        self.last_error: str | None = None
        self.started_at: str | None = None
        self._failed_version: str | None = None
        self._dir = workdir or runtime_dir(settings)
        self._tokens: set[str] = set()  # every API token issued, redacted from the log tail we show

    # --- public ----------------------------------------------------------------------------------

    def start(self) -> SupervisedRasa:
        self.rasa.require_installed()
        if self._thread is not None:
            return self
        self._dir.mkdir(parents=True, exist_ok=True)
        self.state = ServerState.STARTING
        self._thread = threading.Thread(target=self._supervise, name="rasa-supervisor", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def client(self) -> RasaClient:
        current = self._current
        if current is None or not self._ready.is_set():
            raise RasaUnavailable(f"the local Rasa server is {self.state.value}"
                                  + (f": {self.last_error}" if self.last_error else ""))
        return current.client

    def model_version(self) -> str | None:
        current = self._current
        return current.version if current is not None else None

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def status(self) -> dict[str, Any]:
        current = self._current
        return {
            "mode": "supervised",
            "state": self.state.value,
            "url": f"http://127.0.0.1:{current.port}" if current else None,
            "pid": current.proc.pid if current else None,
            "model_version": current.version if current else None,
            "active_version": self._wanted_version(),
            "started_at": self.started_at,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "log_tail": self._read_log_tail(),
        }

    def stop(self) -> None:
        self._stopping.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)
        with self._lock:
            current, self._current = self._current, None
        self._ready.clear()
        if current is not None:
            self._terminate(current)
        self.state = ServerState.STOPPED
        if self._write_runtime:
            with contextlib.suppress(FileNotFoundError):
                (self._dir / RUNTIME_FILE).unlink()

    # --- the supervisor loop -----------------------------------------------------------------------

    def _wanted_version(self) -> str | None:
        if self._pinned:
            return self._pinned
        if self._follow_db is not None:
            self._follow_db()
        return store.active_version(self.settings)

    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            current = self._current
            wanted = self._wanted_version()
            if current is None:
                if wanted is None or wanted == self._failed_version:
                    self.state = ServerState.FAILED
                    self.last_error = self.last_error or "no active Rasa model: run `parley bot train --engine rasa`"
                    self._stopping.wait(2.0)
                    continue
                try:
                    self._install(self._launch(wanted))
                    failures = 0
                except StartFailed as exc:
                    failures += 1
                    self.last_error = str(exc)
                    self.state = ServerState.RESTARTING if failures < 5 else ServerState.FAILED
                    log.error("Rasa server did not start (%s); retrying", exc)
                    self._stopping.wait(min(_BACKOFF_MAX_S, 2.0 ** failures))
                continue
            code = current.proc.poll()
            if code is not None and not self._stopping.is_set():
                self.restarts += 1
                RASA_RESTARTS.inc()
                self.last_error = f"Rasa server exited with code {code}"
                log.error("Rasa server (pid %s) exited with code %s; restarting", current.proc.pid, code)
                self._ready.clear()
                with self._lock:
                    self._current = None
                self.state = ServerState.RESTARTING
                self._stopping.wait(1.0)
                continue
            if self._follow and wanted and wanted != current.version and wanted != self._failed_version:
                self._switch(wanted)
            self._stopping.wait(_POLL_S)

    def _switch(self, version: str) -> None:
        """Blue/green: start the new model beside the old server, move over, then stop the old one."""
        log.info("Rasa: switching to model %s", version)
        try:
            fresh = self._launch(version)
        except StartFailed as exc:
            self._failed_version = version
            self.last_error = f"model {version} did not start; still serving the previous one: {exc}"
            log.error("%s", self.last_error)
            return
        with self._lock:
            old, self._current = self._current, fresh
        self._publish_runtime(fresh)
        if old is not None:
            self._terminate(old)

    def _install(self, process: _Process) -> None:
        with self._lock:
            self._current = process
        self.state = ServerState.READY
        self.started_at = _now()
        self.last_error = None
        self._failed_version = None
        self._ready.set()
        self._publish_runtime(process)

    def _launch(self, version: str) -> _Process:
        model = self._model_file if self._model_file is not None else store.model_path(self.settings, version)
        if not model.is_file():
            self._failed_version = version
            raise StartFailed(f"model file {model} is missing")
        self._write_config_files()
        port, token = free_port(), secrets.token_urlsafe(24)
        self._tokens.add(token)
        token_file = write_token_file(self._dir / f".rasa-token-{port}", token)
        args = launch_args(self.rasa, token_file, [
            "run", "--enable-api", "-i", "127.0.0.1", "-p", str(port), "--model", str(model),
            "--endpoints", str(self._dir / "endpoints.yml"), "--credentials", str(self._dir / "credentials.yml")])
        log_path = self._dir / LOG_FILE
        env = rasa_env(endpoints.environment(self.settings, shared=self._write_runtime))
        with open(log_path, "ab") as out:
            out.write(f"\n--- {_now()} starting model {version} on port {port}\n".encode())
            out.flush()
            proc = subprocess.Popen(args, cwd=self._dir, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent if sys.platform.startswith("linux") else None)
        client = RasaClient(f"http://127.0.0.1:{port}", token, self.rasa.timeout_s)
        process = _Process(proc=proc, port=port, token=token, version=version, client=client)
        try:
            return self._wait_ready(process, version, log_path)
        finally:
            token_file.unlink(missing_ok=True)  # the bootstrap deletes it; not if Rasa never got that far

    def _wait_ready(self, process: _Process, version: str, log_path: Path) -> _Process:
        proc, client, port = process.proc, process.client, process.port
        deadline = time.monotonic() + self.rasa.start_timeout_s
        while True:
            if self._stopping.is_set():
                self._terminate(process)
                raise StartFailed("stopping")
            code = proc.poll()
            if code is not None:
                client.close()
                raise StartFailed(f"rasa run exited with code {code} while starting; see {log_path}:\n"
                                  + "\n".join(self._read_log_tail()[-8:]))
            try:
                served = version_of(client.status(timeout=2.0).get("model_file"))
                if served == version:
                    log.info("Rasa server ready on port %s (pid %s) with model %s", port, proc.pid, version)
                    return process
            except RasaError:
                pass
            if time.monotonic() >= deadline:
                self._terminate(process)
                raise StartFailed(f"Rasa did not load model {version} within {self.rasa.start_timeout_s:g}s")
            time.sleep(0.5)

    def _write_config_files(self) -> None:
        # Trackers in SQLite, or in PostgreSQL shared by every process's server, with Redis locks
        # (bot/rasa/endpoints.py): dialogue state (and a handoff's pause) survives a restart.
        endpoints.prepare(self.settings, shared=self._write_runtime)
        config = endpoints.endpoints(self.settings, self._dir, shared=self._write_runtime)
        (self._dir / "endpoints.yml").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        os.chmod(self._dir / "endpoints.yml", 0o600)  # it may hold the database password
        (self._dir / "credentials.yml").write_text("rest: {}\n", encoding="utf-8")

    def _publish_runtime(self, process: _Process) -> None:
        """Tell `parley bot parse/evaluate --engine rasa` in other shells where the server is (mode 600)."""
        if not self._write_runtime:
            return
        info = {"url": f"http://127.0.0.1:{process.port}", "token": process.token, "pid": process.proc.pid,
                "owner_pid": os.getpid(), "version": process.version, "started_at": _now()}
        tmp = self._dir / f".{RUNTIME_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        os.replace(tmp, self._dir / RUNTIME_FILE)

    def _terminate(self, process: _Process) -> None:
        process.client.close()
        if process.proc.poll() is not None:
            return
        try:
            os.killpg(process.proc.pid, signal.SIGTERM)
            process.proc.wait(timeout=20)
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.proc.pid, signal.SIGKILL)
            process.proc.wait()

    def _read_log_tail(self) -> list[str]:
        try:
            with open(self._dir / LOG_FILE, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 16384))
                lines = fh.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            return []
        tail = [line for line in lines if line.strip()][-_LOG_TAIL:]
        for token in self._tokens:
            tail = [line.replace(token, "[token]") for line in tail]
        return tail


# ------------------------------------------------------------------------------------------ launching

# Rasa takes its API token only as `--auth-token` on its command line, which every local user can
# read (`ps`, /proc/<pid>/cmdline). So Rasa's own Python runs this bootstrap: it reads the token from
# a 0600 file, deletes the file, and hands Rasa its arguments inside the process, where `ps` does not
# see them. Rasa's console script does nothing else than call `rasa.__main__.main`.
_BOOTSTRAP = ("import os, sys; p = sys.argv[1]; t = open(p, encoding='utf-8').read(); os.unlink(p); "
              "sys.argv = ['rasa', *sys.argv[2:], '--auth-token', t]; "
              "from rasa.__main__ import main; main()")


def write_token_file(path: Path, token: str) -> Path:
    """The token for the bootstrap, readable by this user only (replaced if a stale one is there)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token)
    return path


def launch_args(rasa: RasaSettings, token_file: Path, args: list[str]) -> list[str]:
    return [str(rasa.venv / "bin" / "python"), "-c", _BOOTSTRAP, str(token_file), *args]


# ------------------------------------------------------------------------------------------ discovery


def running_server(settings: Settings, rasa: RasaSettings | None = None) -> RasaClient | None:
    """The Rasa server of a `parley run` on this instance, if one is up (for one-shot CLI commands)."""
    rasa = rasa or RasaSettings.from_settings(settings)
    try:
        info = json.loads((runtime_dir(settings) / RUNTIME_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(int(info["owner_pid"]), 0)
    except (KeyError, ValueError, ProcessLookupError, PermissionError, TypeError):
        return None
    client = RasaClient(str(info["url"]), str(info["token"]), rasa.timeout_s)
    try:
        client.status(timeout=2.0)
    except RasaError:
        client.close()
        return None
    return client
