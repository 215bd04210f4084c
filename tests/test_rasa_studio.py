"""The admin's loop with real Rasa: studio edits round-trip through Rasa's own validator; a candidate
trained from the console, evaluated, then activated (and rolled back) while the supervised server keeps
answering — it starts the new model beside the old one and switches when it is ready."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from bot.rasa import store
from bot.rasa.engine import RasaEngine
from bot.rasa.server import SupervisedRasa
from bot.rasa.trainer import rasa_env
from bot.studio import versions
from models.db import Database
from models.settings import Settings
from tests.support.actors import Agent, make_user
from tests.support.rasa import FIXTURE, SLOW, need_rasa, shared_model

pytestmark = SLOW
REPO_DATA = Path(__file__).parent.parent / "data"


def _rasa_validate(data: Path) -> subprocess.CompletedProcess[str]:
    rasa = need_rasa()
    return subprocess.run(
        [str(rasa.rasa_bin), "data", "validate", "--data", "nlu.yml", "rules.yml", "stories.yml",
         "--domain", "domain.yml"],
        cwd=data, env=rasa_env(), capture_output=True, text=True, timeout=600, check=False)


def test_studio_edits_round_trip_through_rasa_data_validate(tmp_path: Path, settings: Settings) -> None:
    need_rasa()
    data = tmp_path / "data"
    shutil.copytree(REPO_DATA, data)
    s = settings.with_(data_dir=data)
    db = Database(s.database_url)
    try:
        for changes in (
            [{"op": "add_intent", "intent": "gift_cards", "examples": ["do you sell gift cards", "gift card please",
                                                                       "can I buy a voucher"],
              "response": ["Gift cards from $10.", "We sell gift cards from $10."]}],
            [{"op": "add_examples", "intent": "order_status", "examples": ["where's order [7654321](order_id)"]}],
            [{"op": "set_response", "response": "utter_thanks", "texts": ["You're welcome!"]}],
            [{"op": "delete_intent", "intent": "opening_hours"}],
        ):
            versions.commit(s, db, None, changes, base_hash=None)
    finally:
        db.dispose()
    result = _rasa_validate(data)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture
def rasa_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The tiny fixture as data/, and the shared model (trained once) copied in as the active model."""
    model = shared_model()
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data)
    s = settings.with_(data_dir=data)
    target = store.store_dir(s)
    target.mkdir(parents=True)
    shutil.copytree(store.store_dir(model.settings) / model.version, target / model.version)
    store.activate(s, model.version, actor="tests")
    return s


@pytest.fixture
def server(rasa_settings: Settings) -> Iterator[SupervisedRasa]:
    supervised = SupervisedRasa(rasa_settings).start()
    assert supervised.wait_ready(600), supervised.status()
    yield supervised
    supervised.stop()


@pytest.fixture
def engines(rasa_settings: Settings, server: SupervisedRasa) -> list[Any]:
    return [RasaEngine(rasa_settings, server)]


@pytest.fixture
def app(rasa_settings: Settings, engines: list[Any]) -> Iterator[Flask]:
    from console.app import create_app
    from console.runtime.jobs import InlineJobs

    application = create_app(rasa_settings, engines=engines, jobs=InlineJobs(), testing=True)
    yield application
    application.extensions["parley"].db.dispose()


def _wait_for(server: SupervisedRasa, version: str) -> None:
    deadline = time.monotonic() + 600
    while server.model_version() != version and time.monotonic() < deadline:
        time.sleep(0.5)
    assert server.model_version() == version, server.status()


def test_a_rasa_candidate_from_the_console_is_evaluated_activated_and_rolled_back(
        app: Flask, db: Database, rasa_settings: Settings, server: SupervisedRasa) -> None:
    make_user(db, "root@example.com", role="admin")
    admin = Agent(app, "root@example.com")
    first = store.active_version(rasa_settings)
    assert first is not None
    status = admin.get("/bot/rasa").get_json()
    assert status["mode"] == "supervised" and status["state"] == "ready" and status["model_version"] == first
    assert status["data_changed_since_training"] is False

    base = admin.get("/bot/data").get_json()["data_hash"]
    r = admin.post("/bot/data/changes", {"base_hash": base, "changes": [
        {"op": "add_examples", "intent": "order_status", "examples": ["where is my stuff", "parcel tracking"]}]})
    assert r.status_code == 201
    assert admin.get("/bot/rasa").get_json()["data_changed_since_training"] is True

    run = admin.post("/bot/runs", {"kind": "train", "engine": "rasa"}).get_json()
    run = admin.get(f"/bot/runs/{run['id']}").get_json()
    assert run["status"] == "succeeded", run
    candidate = run["result"]["model_version"]
    meta = store.load_meta(rasa_settings, candidate)
    assert meta.kind == "full" and meta.data_version == run["data_version"] and meta.n_examples == 26
    assert store.active_version(rasa_settings) == first and server.model_version() == first

    evaluation = admin.post("/bot/runs", {"kind": "evaluate", "engine": "rasa", "model_version": candidate,
                                          "protocol": "holdout", "fraction": 0.3}).get_json()
    evaluation = admin.get(f"/bot/runs/{evaluation['id']}").get_json()
    assert evaluation["status"] == "succeeded", evaluation
    assert evaluation["result"]["data_examples"] == 26 and evaluation["result"]["intent_accuracy"] is not None
    listed = {v["version"]: v for v in admin.get("/bot/models").get_json()["rasa"]["versions"]}
    assert listed[candidate]["evaluations"][0]["intent_accuracy"] == evaluation["result"]["intent_accuracy"]

    old_pid = server.status()["pid"]
    assert admin.post(f"/bot/models/rasa/{candidate}/activate").status_code == 200
    _wait_for(server, candidate)  # blue/green: the new model is served once it is loaded ...
    assert server.status()["pid"] != old_pid and server.restarts == 0  # ... without a crash or a restart
    assert server.client().parse("parcel tracking")["intent"]["name"] == "order_status"

    assert admin.post("/bot/models/rasa/rollback").get_json()["active"] == first
    _wait_for(server, first)
