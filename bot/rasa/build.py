"""Make the `rasa` engine for `PARLEY_BOT_ENGINES=rasa` (called by `bot.engines.build_engines`).

With `PARLEY_RASA_URL` Parley talks to that server. Otherwise it starts its own and waits for it to be
healthy. A first start with no Rasa model trains one from `data/` (minutes, said in the log); a model
older than `data/` keeps serving — the admin trains, compares and activates the new one from the
console (or `parley bot train --engine rasa`), rather than a restart silently swapping the bot.
"""

from __future__ import annotations

import logging

from bot.model_sync import ModelFollower
from bot.rasa import store
from bot.rasa.config import RasaSettings
from bot.rasa.engine import RasaEngine
from bot.rasa.server import ExternalRasa, RasaServer, SupervisedRasa
from bot.training_data import TrainingDataError, load_training_data
from models.settings import Settings

log = logging.getLogger(__name__)


def build_rasa_engine(settings: Settings, *, wait: bool = True, follower: ModelFollower | None = None) -> RasaEngine:
    """With a `follower`, the supervised server serves the model the database names (fetched from the
    shared storage when this host lacks it), and a model trained here at first start becomes active
    for every process."""
    rasa = RasaSettings.from_settings(settings)
    server: RasaServer
    if rasa.url:
        server = ExternalRasa(rasa)
        if wait and not server.wait_ready(min(rasa.start_timeout_s, 30.0)):
            log.error("Rasa at %s is not answering; customers will be handed off (bot_error) until it does",
                      rasa.url)
        return RasaEngine(settings, server)
    rasa.require_installed()
    if follower is not None:
        follower.follow("rasa")
    version = ensure_model(settings, rasa)
    if follower is not None:
        follower.announce("rasa", version, note="trained at start")
    supervised = SupervisedRasa(settings, rasa, follow=(lambda: follower.follow("rasa")) if follower else None)
    supervised.start()
    if wait:
        log.info("waiting for the local Rasa server to load its model (up to %.0fs)", rasa.start_timeout_s)
        if not supervised.wait_ready(rasa.start_timeout_s):
            log.error("the local Rasa server is not ready (%s); customers will be handed off (bot_error) "
                      "until it is", supervised.last_error or supervised.state.value)
    return RasaEngine(settings, supervised)


def ensure_model(settings: Settings, rasa: RasaSettings) -> str:
    """The active version; trains one first if there is none at all."""
    version = store.active_version(settings)
    if version is None or not store.model_path(settings, version).is_file():
        from bot.rasa.trainer import train

        log.warning("no Rasa model yet: training one from %s (this takes a few minutes)", settings.data_dir)
        result = train(settings, rasa=rasa, actor="parley run",
                       progress=lambda share, stage: log.info("rasa train: %3.0f%% %s", share * 100, stage))
        return result.meta.version
    try:
        current = load_training_data(settings.data_dir).data_hash
        if store.load_meta(settings, version).data_hash != current:
            log.warning("the active Rasa model %s was trained on older data than %s; train and activate a new "
                        "one from the console or with `parley bot train --engine rasa`", version, settings.data_dir)
    except (TrainingDataError, store.NoRasaModel) as exc:
        log.warning("could not compare the Rasa model with the training data: %s", exc)
    return version
