"""Series read from the database at scrape time: who waits in which team's queue and for how long, the
bot turns not yet taken (customer messages the bot owes an answer), the outbox backlog, and durable
timers that are due. One query each, so a scrape stays cheap."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models.db import Database
from models.routing.queue import queued_since
from models.schema.accounts import Team
from models.schema.base import utcnow
from models.schema.channels import OutboxItem, OutboxState
from models.schema.conversations import Conversation, Message, Owner, Phase, SenderType, Status
from models.schema.routing import Timer

log = logging.getLogger(__name__)

BACKLOG_STATES = (OutboxState.PENDING.value, OutboxState.SENDING.value, OutboxState.UNCONFIRMED.value)


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None and now.tzinfo is not None:
        now = now.replace(tzinfo=None)
    return max(0.0, (now - then).total_seconds())


class DatabaseCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterable[Metric]:
        try:
            return self._collect(utcnow())
        except SQLAlchemyError:  # the database being down must not take the other series with it
            log.exception("metrics: the database could not be read")
            up = GaugeMetricFamily("parley_database_up", "Whether the last scrape could read the database")
            up.add_metric([], 0)
            return [up]

    def _collect(self, now: datetime) -> list[Metric]:
        length = GaugeMetricFamily("parley_queue_length", "Conversations waiting for an agent, by team",
                                   labels=["team"])
        wait = GaugeMetricFamily("parley_queue_oldest_wait_seconds",
                                 "How long the longest-waiting conversation has waited, by team", labels=["team"])
        backlog = GaugeMetricFamily("parley_outbox_backlog", "Outbound messages not yet sent, by channel and state",
                                    labels=["channel", "state"])
        backlog_age = GaugeMetricFamily("parley_outbox_oldest_age_seconds", "Age of the oldest unsent message, by "
                                        "channel", labels=["channel"])
        failed = GaugeMetricFamily("parley_outbox_failed", "Outbound messages given up on, by channel",
                                   labels=["channel"])
        timers = GaugeMetricFamily("parley_timers_due", "Durable routing timers past their due time, by kind",
                                   labels=["kind"])
        timers_age = GaugeMetricFamily("parley_timers_overdue_seconds", "How late the most overdue timer is, by kind",
                                       labels=["kind"])
        with self.db.session() as s:
            waiting = (Conversation.status == Status.OPEN.value) & (Conversation.owner == Owner.HUMAN.value) & (
                Conversation.phase.in_((Phase.WAITING.value, Phase.ASSIGNING.value)))
            rows = s.execute(select(Team.name, func.count(Conversation.id), func.min(queued_since()))
                             .join(Conversation, Conversation.team_id == Team.id).where(waiting).group_by(Team.name))
            for team, count, oldest in rows:
                length.add_metric([team], count)
                wait.add_metric([team], _age(now, oldest))
            rows = s.execute(select(OutboxItem.channel, OutboxItem.state, func.count(OutboxItem.id),
                                    func.min(OutboxItem.created_at)).group_by(OutboxItem.channel, OutboxItem.state)
                             .where(OutboxItem.state.in_((*BACKLOG_STATES, OutboxState.FAILED.value))))
            oldest_by_channel: dict[str, float] = {}
            for channel, state, count, oldest in rows:
                if state == OutboxState.FAILED.value:
                    failed.add_metric([channel], count)
                    continue
                backlog.add_metric([channel, state], count)
                oldest_by_channel[channel] = max(oldest_by_channel.get(channel, 0.0), _age(now, oldest))
            for channel, age in oldest_by_channel.items():
                backlog_age.add_metric([channel], age)
            rows = s.execute(select(Timer.kind, func.count(Timer.id), func.min(Timer.due_at))
                             .where(Timer.due_at <= now).group_by(Timer.kind))
            for kind, count, oldest in rows:
                timers.add_metric([kind], count)
                timers_age.add_metric([kind], _age(now, oldest))
            turns, turns_age = self._bot_turns(s, now)
        up = GaugeMetricFamily("parley_database_up", "Whether the last scrape could read the database")
        up.add_metric([], 1)
        return [length, wait, turns, turns_age, backlog, backlog_age, failed, timers, timers_age, up]

    def _bot_turns(self, s: Session, now: datetime) -> tuple[Metric, Metric]:
        """The bot's work queue: messages past a bot-owned conversation's cursor are turns not yet taken."""
        pending = GaugeMetricFamily("parley_bot_turns_pending", "Conversations with a customer message the bot "
                                    "has not answered yet")
        age = GaugeMetricFamily("parley_bot_turns_oldest_age_seconds", "Age of the oldest customer message the "
                                "bot has not answered yet")
        count, oldest = s.execute(
            select(func.count(func.distinct(Conversation.id)), func.min(Message.created_at))
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.status == Status.OPEN.value, Conversation.owner == Owner.BOT.value,
                   Message.sender_type == SenderType.CONTACT.value, Message.id > Conversation.bot_cursor)).one()
        pending.add_metric([], count or 0)
        age.add_metric([], _age(now, oldest))
        return pending, age
