"""Routing under real concurrency: several routers (each with its own engine, as separate processes
would have) and agents racing for the same chats. On PostgreSQL this exercises the row locks
(`FOR UPDATE SKIP LOCKED` over the queue, the agent's row before counting their chats); on SQLite
the write lock taken at the start of each routing transaction."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from models.contacts.identities import do_find_or_create_contact
from models.conversations.handoff import do_handoff
from models.conversations.ingest import do_ingest_inbound
from models.db import Database
from models.errors import Conflict
from models.routing.assign import do_accept, drain
from models.schema.accounts import User
from models.schema.base import utcnow
from models.schema.conversations import Assignment, Conversation, Status
from models.schema.routing import Policy, TeamRouting
from models.settings import Settings
from tests.support.actors import make_user


def _process(settings: Settings) -> Database:
    return Database(settings.database_url)  # no listeners: what it commits is seen through the database


def _conversations(db: Database, n: int, *, handed_off: bool) -> list[str]:
    out = []
    with db.transaction() as s:
        for i in range(n):
            contact = do_find_or_create_contact(s, "webchat", f"v_{i}", f"Visitor {i}")
            conv = do_ingest_inbound(s, contact=contact, channel="webchat", text="a person please").conversation
            if handed_off:
                do_handoff(s, conv, reason="customer_asked")
            out.append(conv.public_id)
    return out


def _agents(db: Database, n: int, capacity: int) -> list[int]:
    ids = [make_user(db, f"agent{i}@example.com") for i in range(n)]
    with db.transaction() as s:
        for uid in ids:
            user = s.get(User, uid)
            assert user is not None
            user.availability, user.capacity = "online", capacity
    return ids


def _race(workers: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = workers[i]()
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _loads(db: Database) -> tuple[Counter[int], Counter[int]]:
    with db.session() as s:
        per_agent = Counter(dict(s.execute(
            select(Assignment.user_id, func.count()).join(Conversation)
            .where(Conversation.status == Status.OPEN.value).group_by(Assignment.user_id)).all()))
        per_conv = Counter(dict(s.execute(
            select(Assignment.conversation_id, func.count()).group_by(Assignment.conversation_id)).all()))
    return per_agent, per_conv


def test_capacity_never_exceeded_under_concurrent_handoffs(settings: Settings, db: Database) -> None:
    agents = _agents(db, 5, capacity=2)
    public_ids = _conversations(db, 30, handed_off=False)
    team = 1
    processes = [_process(settings) for _ in range(6)]

    def handoffs_then_route(proc: Database, mine: list[str]) -> int:
        routed = 0
        for pid in mine:
            with proc.transaction() as s:
                conv = s.scalar(select(Conversation).where(Conversation.public_id == pid).with_for_update())
                assert conv is not None
                do_handoff(s, conv, reason="customer_asked")
            routed += len(drain(proc, team))
        return routed

    def agent_takes(proc: Database, uid: int) -> int:
        taken = 0
        for pid in reversed(public_ids):
            try:
                with proc.transaction() as s:
                    user = s.get(User, uid)
                    assert user is not None
                    do_accept(s, user, pid, utcnow())
                taken += 1
            except Conflict:
                pass
            except Exception as exc:  # InvalidState: still with the bot, not yet handed off
                assert type(exc).__name__ == "InvalidState", exc
        return taken

    try:
        workers: list[Callable[[], Any]] = [
            (lambda p=p, k=k: handoffs_then_route(p, public_ids[k::4])) for k, p in enumerate(processes[:4])]
        workers += [lambda: agent_takes(processes[4], agents[0]), lambda: agent_takes(processes[5], agents[1])]
        results = _race(workers)
    finally:
        for p in processes:
            p.dispose()
    assert not [r for r in results if isinstance(r, Exception)], results
    per_agent, per_conv = _loads(db)
    assert max(per_conv.values()) == 1  # nobody's chat was given twice
    assert all(per_agent[a] <= 2 for a in agents), per_agent  # capacity never exceeded
    assert sum(per_agent.values()) == 10  # and every free slot was used: 5 agents x 2
    with db.session() as s:
        waiting = s.scalar(select(func.count()).select_from(Conversation).where(Conversation.phase == "waiting"))
    assert waiting == 20


def test_a_taken_chat_is_never_assigned_twice(settings: Settings, db: Database) -> None:
    agents = _agents(db, 8, capacity=10)
    with db.transaction() as s:
        s.add(TeamRouting(team_id=1, policy=Policy.MANUAL.value, transfer_timeout_seconds=60,
                          closing_message="", queue_message=""))
    public_ids = _conversations(db, 5, handed_off=True)
    processes = [_process(settings) for _ in agents]
    try:
        for pid in public_ids:
            def take(proc: Database, uid: int, pid: str = pid) -> int:
                with proc.transaction() as s:
                    user = s.get(User, uid)
                    assert user is not None
                    do_accept(s, user, pid, utcnow())
                return uid

            results = _race([lambda p=p, u=u: take(p, u) for p, u in zip(processes, agents, strict=True)])
            winners = [r for r in results if isinstance(r, int)]
            losers = [r for r in results if isinstance(r, Conflict)]
            assert len(winners) == 1 and len(losers) == len(agents) - 1, results
            assert all(e.code == "taken" for e in losers)
    finally:
        for p in processes:
            p.dispose()
    _, per_conv = _loads(db)
    assert sorted(per_conv.values()) == [1] * 5


def test_several_routers_share_one_queue(settings: Settings, db: Database) -> None:
    agents = _agents(db, 10, capacity=3)
    bare = _process(settings)  # the app's own database would route them at once
    _conversations(bare, 40, handed_off=True)
    bare.dispose()
    processes = [_process(settings) for _ in range(5)]
    try:
        results = _race([lambda p=p: len(drain(p, 1)) for p in processes])
    finally:
        for p in processes:
            p.dispose()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 30
    per_agent, per_conv = _loads(db)
    assert max(per_conv.values()) == 1 and all(per_agent[a] == 3 for a in agents)
