"""Real `parley web` and `parley worker` processes, for the tests of the production roles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.live import ROOT, free_port


@dataclass
class Role:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        os.killpg(self.proc.pid, sig)

    def stop(self) -> int:
        """SIGTERM, as an orchestrator would; SIGKILL what is left after 30 s. Returns the exit code."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(timeout=5)
        return int(self.proc.returncode)


def start_role(argv: list[str], env: dict[str, str], log_path: Path, *, name: str) -> Role:
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it for its lifetime
    proc = subprocess.Popen([sys.executable, "-m", "console.cli", *argv], cwd=ROOT, env={**os.environ, **env},
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    log.close()
    return Role(name, proc, log_path)


def start_worker(env: dict[str, str], log_path: Path, *, concurrency: int = 2, ready: str = "worker running",
                 timeout: float = 120) -> Role:
    """`parley worker`, once it says it runs (its engines are built and its loops started)."""
    role = start_role(["worker", "--concurrency", str(concurrency)], env, log_path, name="worker")
    deadline = time.monotonic() + timeout
    while ready not in role.log():
        if role.proc.poll() is not None:
            raise AssertionError(f"worker exited with {role.proc.returncode}:\n{role.log()[-3000:]}")
        if time.monotonic() > deadline:
            role.stop()
            raise AssertionError(f"worker did not start:\n{role.log()[-3000:]}")
        time.sleep(0.1)
    return role


def start_web(env: dict[str, str], log_path: Path, *, timeout: float = 120) -> Role:
    """`parley web` on a free port, once `/healthz` answers."""
    port = free_port()
    role = start_role(["web", "--port", str(port), "--threads", "16"], env, log_path, name="web")
    role.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if role.proc.poll() is not None:
            raise AssertionError(f"web exited with {role.proc.returncode}:\n{role.log()[-3000:]}")
        try:
            if requests.get(f"{role.url}/healthz", timeout=1).status_code == 200:
                return role
        except requests.RequestException:
            pass
        time.sleep(0.2)
    role.stop()
    raise AssertionError(f"{role.url} did not become healthy:\n{role.log()[-3000:]}")
