"""The counters of many users in two queries (`counters_for`, what the live push uses since issue 17)
give each user exactly what counting them one at a time by the visibility rule's SQL gives: checked on a
workspace with two teams, a supervisor, a restricted conversation, assignments and read marks."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, selectinload

from models.conversations.inbox import _last_human_reply_id, counters_for, users_who_can_see
from models.conversations.visibility import set_named_users, visible_clause
from models.db import Database
from models.schema.accounts import Team, User
from models.schema.conversations import Assignment, Conversation, Message, Owner, ReadMark, SenderType, Status
from tests.support.actors import Customer, make_user
from tests.support.statements import counting


def _one_by_one(session: Session, user: User) -> dict[str, int]:
    """The definition, one user at a time (the five queries `counters` made before issue 17)."""
    vis = visible_clause(user)
    human_open = and_(Conversation.status == Status.OPEN.value, Conversation.owner == Owner.HUMAN.value)
    mine = exists().where(Assignment.conversation_id == Conversation.id, Assignment.user_id == user.id)
    customer = (select(func.count(Message.id)).join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.sender_type == SenderType.CONTACT.value, human_open, vis))
    unreplied = customer.where(Message.id > _last_human_reply_id())
    read = (select(func.coalesce(func.max(ReadMark.last_read_message_id), 0))
            .where(ReadMark.conversation_id == Conversation.id, ReadMark.user_id == user.id)
            .correlate(Conversation).scalar_subquery())
    return {
        "unreplied": session.scalar(unreplied) or 0,
        "my_unreplied": session.scalar(unreplied.where(mine)) or 0,
        "unassigned": session.scalar(select(func.count(Conversation.id)).where(
            human_open, vis, ~exists().where(Assignment.conversation_id == Conversation.id))) or 0,
        "assigned_to_me": session.scalar(select(func.count(Conversation.id)).where(
            Conversation.status == Status.OPEN.value, mine)) or 0,
        "unread": session.scalar(customer.where(Message.id > read)) or 0,
    }


def test_counters_for_many_users_equal_counting_each(app: Flask, db: Database) -> None:
    ada = make_user(db, "ada@example.com")
    bob = make_user(db, "bob@example.com", team="Billing")
    eve = make_user(db, "eve@example.com", role="supervisor")
    make_user(db, "dan@example.com")
    customers = [Customer(app) for _ in range(5)]
    for n, customer in enumerate(customers):
        customer.say("a person please")
        for extra in range(n % 3):
            customer.say(f"hello again {extra}")
    with db.transaction() as s:
        convs = list(s.scalars(select(Conversation).order_by(Conversation.id)))
        billing = s.scalar(select(Team).where(Team.name == "Billing"))
        assert billing is not None and len(convs) == 5
        convs[1].team_id = billing.id
        set_named_users(s, convs[2], [bob])  # restricted to someone outside its team
        s.add(Assignment(conversation_id=convs[0].id, user_id=ada))
        s.add(Assignment(conversation_id=convs[2].id, user_id=bob))
        s.add(Assignment(conversation_id=convs[3].id, user_id=eve))
        first = s.scalar(select(func.min(Message.id)).where(Message.conversation_id == convs[3].id))
        s.add(ReadMark(user_id=ada, conversation_id=convs[3].id, last_read_message_id=first))
        s.add(Message(conversation_id=convs[4].id, direction="out", sender_type=SenderType.AGENT.value,
                      text="on it", channel="webchat", delivery_status="sent", author_id=eve))
        convs[4].status = Status.CLOSED.value
    with db.session() as s:
        users = list(s.scalars(select(User).options(selectinload(User.memberships)).order_by(User.id)))
        expected = {u.id: _one_by_one(s, u) for u in users}
        with counting(db.engine) as statements:
            got = counters_for(s, users)
        assert got == expected
        assert statements.count == 2  # however many users
        assert any(v["unreplied"] for v in got.values()) and any(v["assigned_to_me"] for v in got.values())
        team_ids = {c.team_id for c in convs}
        assert {u.id for t in team_ids for u in users_who_can_see(s, t)} >= {ada, bob, eve}
