"""A second Parley web process for tests/test_webhooks_out.py: same database, its own memory of which
webhook events are wanted, told of subscription changes only through Redis.

    python -m tests.support.webhook_process DATABASE_URL INSTANCE REDIS_URL CHANNEL

Prints `ready` once a customer message was handled (so this process remembers that nobody wants
`message.created`) and it listens on Redis; on a line on stdin, waits up to 5 s to be told of a change,
sends a customer message "are you there?" and prints `told` or `not told`, then `done`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from console.app import create_app
from console.runtime.jobs import InlineJobs
from console.runtime.subscription_sync import SubscriptionSync
from models.integrations import subscriptions
from models.settings import Settings
from tests.support.actors import Customer
from tests.support.engines import RuleEngine


def main(database_url: str, instance: str, redis_url: str, channel: str) -> None:
    env = {"PARLEY_INSTANCE": instance, "PARLEY_SECRET_KEY": "test-secret", "DATABASE_URL": database_url,
           "PARLEY_DATA": str(Path(__file__).resolve().parents[2] / "data")}
    settings = Settings.from_env(env=env, load_dotenv=False).with_(outbound_allow="127.0.0.1",
                                                                    webhook_backoff=0.0)
    subscriptions.WANTED_TTL_S = 3600.0  # only the change feed can make this process look again
    app = create_app(settings, engines=[RuleEngine()], jobs=InlineJobs(), testing=True)
    sync = SubscriptionSync(redis_url, channel)
    app.extensions["parley"].db.bus.subscribe(sync)
    subscriptions.use_change_feed(sync)
    deadline = time.monotonic() + 10
    while not sync.ensure_listening() and time.monotonic() < deadline:
        time.sleep(0.02)
    customer = Customer(app)
    customer.say("hello")
    remembered = app.extensions["parley"].db.engine in subscriptions._wanted
    print("ready" if sync.live and remembered else "not listening", flush=True)
    sys.stdin.readline()
    bind = app.extensions["parley"].db.engine
    deadline = time.monotonic() + 5
    while bind in subscriptions._wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    told = bind not in subscriptions._wanted
    customer.say("are you there?")
    print("told" if told else "not told", flush=True)
    app.extensions["parley"].db.dispose()
    print("done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
