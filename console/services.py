"""The per-application services, reachable from views and socket handlers through `services()`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from flask import current_app
from sqlalchemy.orm import Session

from bot.pipeline import BotPipeline, Claimed
from connectors.webchat import VisitorTokens
from console.runtime.jobs import Jobs
from models.db import Database, first_after_commit
from models.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    jobs: Jobs
    pipeline: BotPipeline
    visitors: VisitorTokens
    # Who runs the turn (console/runtime/roles.py): this process's bot threads (`parley run`), the
    # workers woken through Redis (`parley web`); None: `jobs` (tests, one-shot commands).
    wake_bot: Callable[[int], None] | None = None
    # Who runs a turn whose claim a customer message's transaction took (`parley run`: this process's
    # bot threads); None: `jobs` when `wake_bot` is None too, else nobody (turns run elsewhere).
    resume_bot: Callable[[Claimed], None] | None = None
    # `parley web` with `PARLEY_WEB_ANSWERS` (console/runtime/roles.py): a customer message's transaction
    # answers it too when every engine answers in process and its model is loaded here; the rest (slow
    # engines, a backlog, a model still loading) goes to the workers as before.
    web_answers: bool = False

    @property
    def answers_in_web(self) -> bool:
        """This web process answers the turn in the message's transaction (`web_answers`, engines that
        answer in milliseconds), keeping the bot's claim until its pushes are out (`finish_answered`)."""
        return self.web_answers and self.pipeline.answers_at_once and not self.pipeline.stopping

    @property
    def claims_turns(self) -> bool:
        """Whether this process runs the bot turns of the messages it stores: their transaction may
        then take the bot's claim too (`resume_turn` after the commit), a transaction fewer per message."""
        return (self.resume_bot is not None or self.wake_bot is None) and not self.pipeline.stopping

    @property
    def turns_elsewhere(self) -> bool:
        """Worker processes run the bot's turns (`parley web`: woken through Redis), not this one."""
        return self.wake_bot is not None and self.resume_bot is None

    def resume_turn(self, claimed: Claimed) -> None:
        """Run the turn `claimed` holds the claim for, in the background (the message is committed)."""
        if self.resume_bot is not None:
            self.resume_bot(claimed)
        else:
            self.jobs.submit(self.pipeline.resume, claimed)

    def finish_answered(self, claimed: Claimed) -> None:
        """The turn `claimed` was answered in its message's transaction, whose events are now pushed:
        give the claim back in the background (bot/pipeline.py `BotPipeline.finish_answered`)."""
        self.jobs.submit(self.pipeline.finish_answered, claimed)

    def wake_on_commit(self, session: Session, conversation_id: int) -> bool:
        """When another process answers (`wake_bot`: `parley web` waking the workers through Redis),
        wake it the moment `session`'s transaction commits, before the consoles' pushes of that
        commit (a read and a publish each) go out on this thread: the turn starts that much sooner.
        False: nothing arranged, call `process_conversation` once committed."""
        if self.wake_bot is None:
            return False
        first_after_commit(session, partial(self.wake_bot, conversation_id))
        return True

    def process_conversation(self, conversation_id: int) -> None:
        """Let the bot answer what the customer wrote, in the background. The message is committed:
        if the wake-up is lost with this process, a worker's sweep finds it (bot_turns.py)."""
        if self.wake_bot is not None:
            self.wake_bot(conversation_id)
        else:
            self.jobs.submit(self.pipeline.process, conversation_id)


def services() -> Services:
    svc: Services = current_app.extensions["parley"]
    return svc
