"""Routing bench: from a handoff to an available agent's notification, under a burst.

`parley run` on a fresh instance; N agents (`--agents`, 20) connected to `/console` over real
Socket.IO websockets and set online with room for the whole burst (capacity = ceil(burst/agents));
then `--burst` (100) webchat customers ask for a person at the same moment. For each conversation
two times are taken, both ending when the agent it was given to receives the `notification`
(`kind: "assigned"`) on their console socket:

- handoff -> notification: from the moment the server committed the handoff (`handed_off_at`;
  server and clients share the machine's clock) — what routing and the push add;
- send -> notification: from the customer's `emit("message")` — what the customer's wait for a
  person adds up to, with the bot's turn on 100 messages at once included.

Also checked: every conversation was given exactly once and no agent went over capacity. Reported
beside them: the bench process's own lag during the burst (`_Lag`: its 120 clients share one process and
the server's cores, so a late notification may be late in the bench) and the consoles' other frames.

    python -m bench.routing
    python -m bench.routing --agents 20 --burst 100 --database-url postgresql://postgres@127.0.0.1:5432/bench

Exit status: 0 fine; 1 some conversations were not notified in time or an invariant broke; 2 the
server did not come up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import socketio

from bench.load import percentile
from bench.servers import ServerError, parley_program, parley_server, sockets_threads

HANDOFF_TEXT = "I want to talk to a person"
EXIT_OK, EXIT_FAILED, EXIT_SERVER = 0, 1, 2


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _parley(database_url: str | None, start_timeout: float, sockets: int) -> Iterator[tuple[str, str]]:
    """`parley run` on a fresh instance, with a thread for each of the `sockets` the bench opens (each
    open websocket holds one; with the default 32, the 33rd socket would wait unanswered); yields
    (url, database url) so the bench can add users."""
    with tempfile.TemporaryDirectory(prefix="parley-bench-routing-") as instance:
        db_url = database_url or f"sqlite:///{Path(instance) / 'parley.db'}"
        env = {"DATABASE_URL": db_url, "PARLEY_SECRET_KEY": "bench-routing"}
        with parley_server(parley_program(None), start_timeout, env, threads=sockets_threads(sockets),
                           instance=instance) as url:
            yield url, db_url


def _fresh_schema(database_url: str) -> None:
    """A PostgreSQL bench database starts empty (SQLite gets a fresh file anyway)."""
    from sqlalchemy import text

    from models.db import Database
    from models.settings import Settings

    url = Settings.from_env(env={"DATABASE_URL": database_url, "PARLEY_SECRET_KEY": "x"}).database_url
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


def _agents(db_url: str, n: int, capacity: int) -> list[tuple[int, str]]:
    """Agents in the default team, with API tokens and room for the burst."""
    from models.accounts.tokens import do_issue_token
    from models.accounts.users import do_create_user
    from models.db import Database
    from models.schema.accounts import User
    from models.settings import Settings

    db = Database(Settings.from_env(env={"DATABASE_URL": db_url, "PARLEY_SECRET_KEY": "x"}).database_url)
    out = []
    try:
        with db.transaction() as s:
            for i in range(n):
                user = do_create_user(s, email=f"bench-agent-{i}@example.com", password="bench password",
                                      name=f"Agent {i}")
                user.capacity = capacity
                s.flush()
                out.append((user.id, do_issue_token(s, user.email)))
            assert all(isinstance(s.get(User, uid), User) for uid, _ in out)
    finally:
        db.dispose()
    return out


class _Agent:
    def __init__(self, url: str, user_id: int, token: str) -> None:
        self.user_id = user_id
        self.token = token
        self.got: dict[str, float] = {}  # conversation id -> wall-clock time of the "assigned" notification
        self.cond = threading.Condition()
        self.sock = socketio.Client(reconnection=False)
        self.frames: dict[str, int] = {}  # every other event this console heard, by name
        self.sock.on("notification", self._on, namespace="/console")
        self.sock.on("*", self._count, namespace="/console")
        self.sock.connect(url, namespaces=["/console"], transports=["websocket"], auth={"token": token},
                          wait_timeout=20)
        r = requests.post(f"{url}/api/v1/me/availability", json={"status": "online"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
        r.raise_for_status()

    def _count(self, event: str, _data: Any = None) -> None:
        self.frames[event] = self.frames.get(event, 0) + 1

    def _on(self, data: Any) -> None:
        now = time.time()
        if isinstance(data, dict) and data.get("kind") == "assigned":
            with self.cond:
                self.got.setdefault(data["conversation"]["id"], now)


class _Lag:
    """The bench process's own lag: a thread that asks to sleep `tick_s` and records how much longer it
    took (the GIL and the CPU shared with the clients' 120 reader threads and the server). A notification
    received by a client that lags this much was received late by the bench, not by the server."""

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.lags: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Lag:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            time.sleep(self.tick_s)
            self.lags.append(time.perf_counter() - t0 - self.tick_s)


class _Customer:
    def __init__(self, url: str) -> None:
        self.session = threading.Event()
        self.sock = socketio.Client(reconnection=False)
        self.sock.on("session", lambda _d: self.session.set(), namespace="/webchat")
        self.sock.connect(url, namespaces=["/webchat"], transports=["websocket"], wait_timeout=20)
        if not self.session.wait(20):
            raise RuntimeError("no session event")
        self.sent_at: float | None = None
        self.conversation_id: str | None = None
        self.error: str | None = None

    def ask(self, go: threading.Event) -> None:
        go.wait()
        self.sent_at = time.time()
        try:
            ack = self.sock.call("message", {"text": HANDOFF_TEXT}, namespace="/webchat", timeout=30)
        except Exception as exc:  # a timeout or a dropped socket: counted as a failure
            self.error = type(exc).__name__
            return
        if isinstance(ack, dict) and ack.get("ok"):
            self.conversation_id = ack["conversation_id"]
        else:
            self.error = str(ack)


def _handed_off_at(url: str, token: str, conversation_id: str) -> float | None:
    r = requests.get(f"{url}/api/v1/conversations/{conversation_id}", headers={"Authorization": f"Bearer {token}"},
                     timeout=10)
    if r.status_code != 200 or not r.json().get("handoff"):
        return None
    from datetime import datetime

    return datetime.fromisoformat(r.json()["handoff"]["created_at"]).timestamp()


def run(url: str, db_url: str, *, agents: int, burst: int, timeout: float) -> dict[str, Any]:
    capacity = math.ceil(burst / agents)
    _log(f"{agents} agents (capacity {capacity}) connecting to {url}")
    team = [_Agent(url, uid, token) for uid, token in _agents(db_url, agents, capacity)]
    _log(f"{burst} customers connecting")
    customers = [_Customer(url) for _ in range(burst)]
    go = threading.Event()
    threads = [threading.Thread(target=c.ask, args=(go,)) for c in customers]
    for t in threads:
        t.start()
    time.sleep(0.5)
    _log("burst")
    with _Lag() as lag:
        go.set()
        for t in threads:
            t.join(timeout)
        deadline = time.monotonic() + timeout
        wanted = {c.conversation_id for c in customers if c.conversation_id}
        while time.monotonic() < deadline:
            notified = set().union(*(a.got.keys() for a in team))
            if wanted <= notified:
                break
            time.sleep(0.05)
    given: dict[str, list[int]] = {}
    for a in team:
        for cid in a.got:
            given.setdefault(cid, []).append(a.user_id)
    send_to_note, handoff_to_note = [], []
    for c in customers:
        if c.conversation_id is None or c.conversation_id not in given or c.sent_at is None:
            continue
        owner = next(a for a in team if a.user_id == given[c.conversation_id][0])
        at = owner.got[c.conversation_id]
        send_to_note.append(at - c.sent_at)
        handed = _handed_off_at(url, team[0].token, c.conversation_id)
        if handed is not None:
            handoff_to_note.append(at - handed)
    per_agent = [len(a.got) for a in team]
    result = {
        "config": {"agents": agents, "burst": burst, "capacity": capacity, "cpus": os.cpu_count(),
                   "database": db_url.split(":", 1)[0]},
        "notified": len(given), "customers_failed": sum(1 for c in customers if c.error),
        "given_twice": sum(1 for owners in given.values() if len(owners) > 1),
        "max_per_agent": max(per_agent) if per_agent else 0,
        "handoff_to_notification_ms": _stats(handoff_to_note),
        "send_to_notification_ms": _stats(send_to_note),
        "bench_lag_ms": _stats(lag.lags),
        "console_frames": {event: sum(a.frames.get(event, 0) for a in team)
                           for event in sorted(set().union(*(a.frames for a in team)))},
    }
    _disconnect_all([c.sock for c in customers] + [a.sock for a in team])
    return result


def _disconnect_all(socks: list[socketio.Client], wait: float = 10.0) -> None:
    """Close every client, but never hang on one: websocket-client's close can wait forever for the
    server's close frame (seen once in ~3 runs), and the server is stopped right after anyway."""

    def close_all() -> None:
        for sock in socks:
            with contextlib.suppress(Exception):
                sock.disconnect()

    closer = threading.Thread(target=close_all, daemon=True)
    closer.start()
    closer.join(wait)
    if closer.is_alive():
        _log(f"some clients did not close within {wait:.0f}s; leaving them to the server's shutdown")


def _stats(values: list[float]) -> dict[str, float | None]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50": _round(percentile(ms, 50)), "p99": _round(percentile(ms, 99)),
            "max": _round(max(ms)) if ms else None}


def _round(v: float | None) -> float | None:
    return round(v, 1) if v is not None else None


def _table(r: dict[str, Any]) -> str:
    c = r["config"]
    h, s, g = r["handoff_to_notification_ms"], r["send_to_notification_ms"], r["bench_lag_ms"]
    return "\n".join([
        f"routing: {c['agents']} agents online (capacity {c['capacity']}), burst of {c['burst']} handoffs, "
        f"{c['database']}, {c['cpus']} CPUs",
        f"{'':<28}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}",
        f"{'handoff -> notification':<28}{h['n']:>6}{h['p50']!s:>10}{h['p99']!s:>10}{h['max']!s:>10}",
        f"{'send -> notification':<28}{s['n']:>6}{s['p50']!s:>10}{s['p99']!s:>10}{s['max']!s:>10}",
        f"{'bench client lag (5 ms tick)':<28}{g['n']:>6}{g['p50']!s:>10}{g['p99']!s:>10}{g['max']!s:>10}",
        "frames to the consoles besides notifications: "
        + (", ".join(f"{e} {n}" for e, n in r["console_frames"].items()) or "none"),
        f"notified {r['notified']}/{c['burst']}, customer failures {r['customers_failed']}, "
        f"given twice {r['given_twice']}, most chats for one agent {r['max_per_agent']} (capacity {c['capacity']})",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=20, help="agents connected and online (20)")
    parser.add_argument("--burst", type=int, default=100, help="customers asking for a person at once (100)")
    parser.add_argument("--timeout", type=float, default=60.0, help="how long to wait for every notification, s")
    parser.add_argument("--start-timeout", type=float, default=180.0, help="server start timeout, s")
    parser.add_argument("--database-url", help="run the server on this database (emptied first!), e.g. PostgreSQL")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not (1 <= args.agents <= 200 and 1 <= args.burst <= 2000):
        parser.error("--agents must be 1..200 and --burst 1..2000")
    if args.database_url:
        _fresh_schema(args.database_url)
    try:
        with _parley(args.database_url, args.start_timeout, args.agents + args.burst) as (url, db_url):
            result = run(url, db_url, agents=args.agents, burst=args.burst, timeout=args.timeout)
    except ServerError as exc:
        _log(str(exc))
        return EXIT_SERVER
    print(json.dumps(result, indent=2) if args.json else _table(result))
    ok = (result["notified"] == args.burst and result["given_twice"] == 0
          and result["max_per_agent"] <= result["config"]["capacity"])
    return EXIT_OK if ok else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
