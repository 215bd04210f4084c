"""Reports bench: every report over 30 days, and a full export, on a large PostgreSQL history.

Generates `--conversations` (100,000) conversations with `--messages` (1,000,000) messages over the
last 90 days in a schema of its own (migrated, filled with COPY, dropped afterwards) in
`--database-url` (or PARLEY_BENCH_DATABASE_URL; default the machine's postgresql://postgres@127.0.0.1:5432/test):
about 40% handed off with a packet, assignments, closes (some automatic, some reopened), transfers,
expired offers, assist drafts and agents' availability changes. Then times each report over the last
30 days as an admin would ask for it (`--repeat` runs, p50 and max), beside a bare baseline (one
`count(*)` of the period's conversations), and a full export of the period's closed conversations as
JSON Lines (rows per second, peak memory of the process).

    python -m bench.reports
    python -m bench.reports --conversations 2000 --messages 20000   # a quick end-to-end check

Exit status: 0 fine; 1 a report's p50 is over the goal (500 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import text

from models.db import Database
from models.migrate import upgrade
from models.reports.export import ExportQuery, conversations, render
from models.reports.query import check_filters, scope_for
from models.reports.render import report_json, run
from models.schema.accounts import User

GOAL_MS = 500.0
REASONS = ("customer_asked", "low_confidence", "out_of_scope", "repeated_fallback", "policy")
INTENTS = ("billing", "refund", "hours", "shipping", "account", "cancel", "greet", "nlu_fallback")
DAYS = 90


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _ts(t: datetime) -> str:
    return t.isoformat()


class Generator:
    """Rows for COPY, made as they are written (nothing held but ids)."""

    def __init__(self, n_convs: int, n_messages: int, now: datetime, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.n, self.m, self.now = n_convs, n_messages, now
        self.teams, self.agents = 5, 50
        self.per_conv = max(2, n_messages // n_convs)
        self.start = now - timedelta(days=DAYS)
        self.created = array("d", bytes(8 * n_convs))  # seconds after `start`, per conversation
        self.handed = bytearray(n_convs)
        self.first_intent = bytearray(n_convs)  # index in INTENTS of the bot's first answer (message 2)

    def users(self) -> Iterator[tuple[Any, ...]]:
        for i in range(1, self.agents + 2):
            role = "admin" if i == self.agents + 1 else "agent"
            yield (i, f"u{i}@bench.example", f"Agent {i}", "x", role, "offline", True, _ts(self.start), None, "{}")

    def members(self) -> Iterator[tuple[Any, ...]]:
        for i in range(1, self.agents + 1):
            yield (1 + (i - 1) % self.teams, i)

    def availability(self) -> Iterator[tuple[Any, ...]]:
        n = 0
        for uid in range(1, self.agents + 1):
            t = self.start
            while t < self.now:
                for status, hours in (("online", 4), ("away", 1), ("online", 3), ("offline", 16)):
                    n += 1
                    yield (n, uid, status, _ts(t))
                    t += timedelta(hours=hours)

    def conversations(self, out: dict[str, list[tuple[Any, ...]]]) -> Iterator[tuple[Any, ...]]:
        """Conversations; fills `out` with their packets, assignments, audit rows, transfers, offers
        and drafts in small lists flushed by the caller (so memory stays bounded)."""
        rng = self.rng
        span = (self.now - self.start).total_seconds() - 3 * 86400
        for cid in range(1, self.n + 1):
            offset = rng.random() * span
            created = self.start + timedelta(seconds=offset)
            team = rng.randint(1, self.teams)
            agent = team + self.teams * rng.randint(0, self.agents // self.teams - 1)
            handed = rng.random() < 0.4
            closed = rng.random() < 0.85
            self.created[cid - 1], self.handed[cid - 1] = offset, int(handed)
            first = rng.randrange(len(INTENTS))
            self.first_intent[cid - 1] = first
            handed_at = created + timedelta(seconds=rng.randint(10, 120)) if handed else None
            closed_at = created + timedelta(minutes=rng.randint(5, 180)) if closed else None
            if handed:
                assert handed_at is not None
                out["packets"].append((cid, cid, rng.choice(REASONS), rng.choice(INTENTS), _ts(handed_at)))
                if rng.random() < 0.9:
                    out["assignments"].append((cid, agent, _ts(handed_at + timedelta(seconds=rng.randint(5, 600)))))
                if rng.random() < 0.05:
                    out["transfers"].append((cid, agent, 1 + agent % self.agents, "accepted",
                                             _ts(handed_at + timedelta(minutes=3))))
                if rng.random() < 0.1:
                    out["offers"].append((cid, agent, "expired", _ts(handed_at), _ts(handed_at + timedelta(seconds=30)),
                                          _ts(handed_at + timedelta(seconds=30))))
                if rng.random() < 0.2:
                    out["drafts"].append((cid, agent, _ts(handed_at + timedelta(minutes=1)), rng.choice(INTENTS),
                                          rng.choice(("sent_unchanged", "edited", "discarded", None))))
            if closed:
                assert closed_at is not None
                out["audit"].append((cid, "conversation.closed", _ts(closed_at)))
                if handed and rng.random() < 0.2:
                    out["audit"].append((cid, "routing.auto_closed", _ts(closed_at)))
                if rng.random() < 0.03:
                    out["audit"].append((cid, "conversation.reopened", _ts(closed_at - timedelta(minutes=1))))
            yield (cid, f"c_bench{cid}", 1 + (cid - 1) // 2, team, "webchat" if cid % 3 else "sms",
                   "closed" if closed else "open", "human" if handed else "bot", _ts(created),
                   _ts(closed_at or created), _ts(handed_at) if handed_at else None,
                   _ts(closed_at) if closed_at else None, cid % 97 == 0, 0, 0,
                   # what do_send_bot_reply stores as it sends the bot's first answer (message 2, at +30 s)
                   INTENTS[first], _ts(created + timedelta(seconds=30)))

    def messages(self) -> Iterator[tuple[Any, ...]]:
        """`per_conv` messages per conversation: customer and bot turns, agent replies (some of them
        private notes) once handed off. Uses the times `conversations` recorded (run it first)."""
        rng = random.Random(11)
        mid = 0
        for cid in range(1, self.n + 1):
            created = self.start + timedelta(seconds=self.created[cid - 1])
            handed = self.handed[cid - 1] == 1
            for i in range(self.per_conv):
                mid += 1
                at = _ts(created + timedelta(seconds=30 * i))
                if i % 2 == 0:
                    yield (mid, cid, "in", "contact", None, f"customer message {mid}", False, at, None, None,
                           "webchat", "received")
                elif handed and i > 2:
                    author = 1 + cid % self.agents
                    yield (mid, cid, "out", "agent", author, f"agent reply {mid}", i % 7 == 0, at, None, None,
                           "webchat", "sent")
                else:
                    intent = INTENTS[self.first_intent[cid - 1]] if i == 1 else rng.choice(INTENTS)
                    yield (mid, cid, "out", "bot", None, f"bot answer {mid}", False, at, intent, "answer",
                           "webchat", "sent")


COPIES = {
    "users": "users (id, email, name, password_hash, role, availability, active, created_at, capacity, notifications)",
    "teams": "teams (id, name, created_at)",
    "team_members": "team_members (team_id, user_id)",
    "availability_changes": "availability_changes (id, user_id, status, changed_at)",
    "contacts": "contacts (id, name, online, created_at)",
    "conversations": "conversations (id, public_id, contact_id, team_id, channel, status, owner, created_at, "
                     "last_activity_at, handed_off_at, closed_at, restricted, bot_cursor, bot_fallbacks, first_intent, "
                     "bot_first_at)",
    "messages": "messages (id, conversation_id, direction, sender_type, author_id, text, private, created_at, "
                "bot_intent, bot_decision, channel, delivery_status)",
}


def _fill(conn: psycopg.Connection[Any], gen: Generator) -> None:
    cur = conn.cursor()

    def copy(name: str, rows: Any) -> int:
        n = 0
        with cur.copy(f"COPY {COPIES.get(name, name)} FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
                n += 1
        return n

    copy("teams", ((i, f"Team {i}", _ts(gen.start)) for i in range(1, gen.teams + 1)))
    copy("users", gen.users())
    copy("team_members", gen.members())
    copy("availability_changes", gen.availability())
    copy("contacts", ((i, f"Contact {i}", False, _ts(gen.start)) for i in range(1, gen.n // 2 + 2)))
    side: dict[str, list[tuple[Any, ...]]] = {k: [] for k in
                                              ("packets", "assignments", "audit", "transfers", "offers", "drafts")}
    t = time.perf_counter()
    copy("conversations", gen.conversations(side))
    copy("handoff_packets (id, conversation_id, reason, intent, created_at, ranking, summary, stages)",
         ((i, c, r, it, at, "[]", "", "[]") for i, (c, _, r, it, at) in enumerate(side["packets"], 1)))
    copy("assignments (conversation_id, user_id, assigned_at)", side["assignments"])
    copy("assignment_periods (conversation_id, user_id, started_at)", side["assignments"])
    copy("audit_events (id, conversation_id, kind, created_at, data)",
         ((i, c, k, at, "{}") for i, (c, k, at) in enumerate(side["audit"], 1)))
    copy("routing_transfers (conversation_id, from_user_id, to_user_id, status, created_at, decided_at)",
         ((c, f, to, s, at, at) for c, f, to, s, at in side["transfers"]))
    copy("routing_offers (conversation_id, user_id, status, created_at, expires_at, decided_at)", side["offers"])
    copy("assist_drafts (conversation_id, user_id, created_at, intent, mode, question, text, sources, outcome)",
         ((c, u, at, it, "retrieval", "q", "d", "[]", o) for c, u, at, it, o in side["drafts"]))
    n_messages = copy("messages", gen.messages())
    for table in ("users", "teams", "contacts", "conversations", "messages", "handoff_packets", "audit_events",
                  "availability_changes"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    conn.commit()
    cur.execute("ANALYZE")
    _log(f"filled {gen.n} conversations, {n_messages} messages in {time.perf_counter() - t:.1f} s")


def _time_reports(db: Database, now: datetime, repeat: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    start = (now - timedelta(days=30)).isoformat()
    with db.session() as s:
        admin = s.scalar(text("SELECT id FROM users WHERE role = 'admin'"))
        user = s.get(User, admin)
        assert user is not None
        t_base = []
        for _ in range(repeat):
            t = time.perf_counter()
            s.execute(text("SELECT count(*) FROM conversations WHERE created_at >= :a"),
                      {"a": now - timedelta(days=30)})
            t_base.append((time.perf_counter() - t) * 1000)
        out["baseline count(*)"] = {"p50_ms": statistics.median(t_base), "max_ms": max(t_base)}
        for name, groups in (("agents", ("agent", "day")), ("live", ("team", "day", "intent")),
                             ("bot", ("intent", "day"))):
            for group in groups:
                times = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    f = check_filters(s, name, now=now, start=start, group_by=group)
                    json.dumps(report_json(run(s, name, f, scope_for(user, name, f), now)), default=str)
                    times.append((time.perf_counter() - t) * 1000)
                out[f"{name} by {group}"] = {"p50_ms": statistics.median(times), "max_ms": max(times)}
                _log(f"{name} by {group}: p50 {statistics.median(times):.0f} ms")
    return out


def _time_export(db: Database, now: datetime) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with db.session() as s:
        admin = s.scalar(text("SELECT id FROM users WHERE role = 'admin'"))
        user = s.get(User, admin)
        assert user is not None
        q = ExportQuery("jsonl", now - timedelta(days=30), now, "closed", None)
        t = time.perf_counter()
        n = size = 0
        for line in render(conversations(s, user, q), "jsonl"):
            n += 1
            size += len(line)
        elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"conversations": n, "seconds": round(elapsed, 2), "rows_per_second": round(n / elapsed, 1),
            "megabytes": round(size / 1e6, 1), "peak_rss_mb_before": round(before, 1),
            "peak_rss_mb_after": round(after, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--conversations", type=int, default=100_000)
    p.add_argument("--messages", type=int, default=None, help="default: 10 per conversation")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--database-url", default=os.environ.get("PARLEY_BENCH_DATABASE_URL",
                                                            "postgresql://postgres@127.0.0.1:5432/test"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--schema", default=None,
                   help="fill this schema (made if missing) and keep it; when it is already filled, time it as it is "
                        "(migrated first), which lets a change be measured on the same data")
    args = p.parse_args(argv)
    messages = args.messages or args.conversations * 10
    schema = args.schema or f"bench_reports_{os.getpid()}"
    base = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1) \
        if args.database_url.startswith("postgresql://") else args.database_url
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    admin_db = Database(base)
    with admin_db.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    db = Database(url)
    try:
        upgrade(db.engine)
        with db.engine.begin() as conn:
            filled = conn.execute(text("SELECT max(created_at) FROM conversations")).scalar()
        if filled is not None:  # generated by an earlier run: `now` as it was then
            now = datetime.now(UTC)
            now = (filled + timedelta(days=3)).astimezone(UTC) if filled + timedelta(days=3) < now else now
            _log(f"schema {schema} is filled already: timing it as it is")
        else:
            now = datetime.now(UTC)
            plain = args.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(plain, options=f"-csearch_path={schema}") as conn:
                _fill(conn, Generator(args.conversations, messages, now))
        figures = {"conversations": args.conversations, "messages": messages,
                   "reports": _time_reports(db, now, args.repeat), "export": _time_export(db, now)}
    finally:
        db.dispose()
        if args.schema is None:
            with admin_db.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_db.dispose()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"reports over 30 days, {args.conversations} conversations / {messages} messages in 90 days:")
        for name, t in figures["reports"].items():
            print(f"  {name:<22} p50 {t['p50_ms']:8.1f} ms   max {t['max_ms']:8.1f} ms")
        e = figures["export"]
        print(f"export (jsonl, closed, 30 days): {e['conversations']} conversations in {e['seconds']} s = "
              f"{e['rows_per_second']} conversations/s, {e['megabytes']} MB; peak RSS {e['peak_rss_mb_before']} -> "
              f"{e['peak_rss_mb_after']} MB")
    slow = [n for n, t in figures["reports"].items() if not n.startswith("baseline") and t["p50_ms"] > GOAL_MS]
    if slow:
        _log(f"over the {GOAL_MS:.0f} ms goal: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
