"""The per-application services, reachable from views and socket handlers through `services()`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from bot.pipeline import BotPipeline
from connectors.webchat import VisitorTokens
from console.runtime.jobs import Jobs
from models.db import Database
from models.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    jobs: Jobs
    pipeline: BotPipeline
    visitors: VisitorTokens

    def process_conversation(self, conversation_id: int) -> None:
        """Let the bot answer what the customer wrote, in the background."""
        self.jobs.submit(self.pipeline.process, conversation_id)


def services() -> Services:
    svc: Services = current_app.extensions["parley"]
    return svc
