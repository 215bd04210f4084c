"""Several processes on several hosts answer with one bot model: the database decides which, and the
model files travel through the shared storage (S3-compatible, or a folder every host mounts)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from bot import embedded, model_sync
from bot.training_data import load_training_data
from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.db import Database
from models.schema.training import BotModelActivation
from models.settings import Settings
from tests.support.actors import Agent, Customer, make_user
from tests.support.engines import RuleEngine
from tests.support.storage import S3Bucket

TINY = Path(__file__).parent / "fixtures" / "bot" / "tiny"
V1_ANSWER = "Track your order under My account."
V2_ANSWER = "Orders are tracked on the new page."


@pytest.fixture(params=["s3", "shared-folder"])
def shared(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Settings:
    """Host one's settings: tiny training data, and the storage every host shares."""
    data = tmp_path / "data"
    shutil.copytree(TINY, data)
    base = settings.with_(data_dir=data, bot_engines=("embedded",))
    if request.param == "s3":
        bucket: S3Bucket = request.getfixturevalue("s3_bucket")
        return base.with_(storage_url=bucket.url(), s3_endpoint_url=bucket.endpoint_url)
    return base.with_(storage_url=(tmp_path / "shared-storage").as_uri())


def _host(settings: Settings) -> Flask:
    return create_app(settings, jobs=InlineJobs(), testing=True)


def _activations(db: Database) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(a.version, a.note) for a in s.scalars(select(BotModelActivation).order_by(BotModelActivation.id))]


def _train_elsewhere(settings: Settings, tmp_path: Path) -> str:
    """What a studio training run does on some host: a candidate, stored and published, not active."""
    data = tmp_path / "data-v2"
    shutil.copytree(settings.data_dir, data)
    domain = data / "domain.yml"
    domain.write_text(domain.read_text().replace(V1_ANSWER, V2_ANSWER))
    model = embedded.train(load_training_data(data))
    embedded.save(model, settings)
    model_sync.publish(settings, "embedded", model.version)
    return model.version


def test_an_activation_through_one_host_is_answered_with_by_another(shared: Settings, tmp_path: Path) -> None:
    one = _host(shared)  # trains at first start: its model becomes everyone's
    db: Database = one.extensions["parley"].db
    ((v1, note),) = _activations(db)
    assert note == "trained at start"
    two_settings = shared.with_(instance_dir=tmp_path / "host-two")
    two = _host(two_settings)  # a second host: fetches that model instead of training its own
    assert _activations(db) == [(v1, "trained at start")]
    assert embedded.active_version(two_settings) == v1
    assert (two_settings.models_dir / "embedded" / v1 / embedded.MODEL_FILE).is_file()
    assert Customer(two).say("where is my order")["ok"]

    v2 = _train_elsewhere(shared, tmp_path)
    make_user(db, "root@example.com", role="admin")
    admin = Agent(one, "root@example.com")
    catalog = admin.get("/bot/models").get_json()["embedded"]
    assert catalog["active"] == v1 and {v["version"] for v in catalog["versions"]} == {v1, v2}
    assert admin.post(f"/bot/models/embedded/{v2}/activate").status_code == 200

    # host two never saw v2 before: its next customer is answered by it
    customer = Customer(two)
    customer.say("where is my order")
    assert customer.replies("bot")[-1] == V2_ANSWER
    assert embedded.active_version(two_settings) == v2
    # and the admin's view is the same from either host
    on_two = Agent(two, "root@example.com")
    assert on_two.get("/bot/models").get_json()["embedded"]["active"] == v2
    rolled = on_two.post("/bot/models/embedded/rollback")
    assert rolled.status_code == 200 and rolled.get_json()["active"] == v1
    again = Customer(two)
    again.say("where is my order")
    assert again.replies("bot")[-1] == V1_ANSWER
    for app in (two, one):
        app.extensions["parley"].db.dispose()


def test_a_version_nobody_published_is_refused_and_the_bot_keeps_answering(settings: Settings,
                                                                          tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(TINY, data)
    host = _host(settings.with_(data_dir=data, bot_engines=("embedded",)))
    db: Database = host.extensions["parley"].db
    make_user(db, "root@example.com", role="admin")
    admin = Agent(host, "root@example.com")
    for bad in ("20990101T000000000000Z-deadbeef-0000", "..", "a%2F..%2Fb"):
        r = admin.post(f"/bot/models/embedded/{bad}/activate")
        assert 400 <= r.status_code < 500, (bad, r.status_code)
    # an activation row naming a version no host has (a broken deploy): the current model answers on
    assert len(_activations(db)) == 1
    with db.transaction() as s:
        model_sync.record_activation(s, "embedded", "20990101T000000000000Z-deadbeef-0000", actor_name="ops")
    customer = Customer(host)
    customer.say("where is my order")
    assert customer.replies("bot")[-1] == V1_ANSWER
    db.dispose()


def test_endpoints_of_the_supervised_rasa(settings: Settings, tmp_path: Path) -> None:
    from bot.rasa import endpoints

    sqlite = endpoints.endpoints(settings.with_(database_url="sqlite:////x/parley.db", redis_url=None), tmp_path)
    assert sqlite == {"tracker_store": {"type": "SQL", "dialect": "sqlite", "db": str(tmp_path / "trackers.db")}}
    assert endpoints.environment(settings.with_(database_url="sqlite:////x/parley.db")) == {}
    pg = settings.with_(database_url="postgresql+psycopg://parley:s%40cret@db.internal:6543/parley"
                                     "?sslmode=require&options=-csearch_path%3Dx",
                        redis_url="rediss://:p%40ss@cache.internal:6380/2")
    config: dict[str, Any] = endpoints.endpoints(pg, tmp_path)
    assert config["tracker_store"] == {"type": "SQL", "dialect": "postgresql", "host": "db.internal", "port": 6543,
                                       "db": "parley", "username": "parley", "password": "s@cret",
                                       "query": {"sslmode": "require"}}
    assert config["lock_store"] == {"type": "redis", "url": "cache.internal", "port": 6380, "db": 2,
                                    "key_prefix": "parley", "use_ssl": True, "password": "p@ss"}
    assert endpoints.environment(pg) == {"POSTGRESQL_SCHEMA": "rasa"}
    # without Redis the lock store stays Rasa's in-memory one; throwaway servers keep trackers to themselves
    assert "lock_store" not in endpoints.endpoints(pg.with_(redis_url=None), tmp_path)
    assert endpoints.endpoints(pg, tmp_path, shared=False)["tracker_store"]["dialect"] == "sqlite"
    assert endpoints.environment(pg, shared=False) == {}


def test_training_data_saved_through_one_host_is_what_every_host_reads_and_trains(settings: Settings,
                                                                                  tmp_path: Path) -> None:
    """Each host has its own copy of data/ (a deploy); the database's newest data version decides."""
    hosts = []
    for name in ("one", "two"):
        data = tmp_path / f"data-{name}"
        shutil.copytree(TINY, data)
        hosts.append(create_app(settings.with_(instance_dir=tmp_path / name, data_dir=data),
                                engines=[RuleEngine()], jobs=InlineJobs(), testing=True))
    one, two = hosts
    db: Database = one.extensions["parley"].db
    make_user(db, "root@example.com", role="admin")
    on_one, on_two = Agent(one, "root@example.com"), Agent(two, "root@example.com")
    loaded_on_two = on_two.get("/bot/data").get_json()["data_hash"]
    change = {"op": "add_intent", "intent": "gift_cards", "response": ["Gift cards from $10."],
              "examples": ["do you sell gift cards", "gift card please", "can I buy a voucher"]}
    saved = on_one.post("/bot/data/changes", {"changes": [change],
                                              "base_hash": on_one.get("/bot/data").get_json()["data_hash"]})
    assert saved.status_code == 201, saved.get_json()
    # host two reads what host one saved (its own folder is brought up to date) ...
    view = on_two.get("/bot/data").get_json()
    assert view["data_hash"] == saved.get_json()["version"]["data_hash"] != loaded_on_two
    assert "gift_cards" in load_training_data(tmp_path / "data-two").intents
    # ... an edit made there from the old state is refused, not recorded over the newer one ...
    stale = on_two.post("/bot/data/changes", {"changes": [{"op": "add_examples", "intent": "greet",
                                                           "examples": ["howdy"]}], "base_hash": loaded_on_two})
    assert stale.status_code == 409 and stale.get_json()["error"]["code"] == "stale_data"
    # ... and a model trained from the console on host two knows the new intent
    run = on_two.post("/bot/runs", {"kind": "train", "engine": "embedded"})
    assert run.status_code in (200, 201, 202), run.get_json()
    done = on_two.get(f"/bot/runs/{run.get_json()['id']}").get_json()
    assert done["status"] == "succeeded", done
    version = done["result"]["model_version"]
    assert "gift_cards" in embedded.load_model(two.extensions["parley"].settings, version).meta.intents
    history = on_one.get("/bot/data/versions").get_json()["versions"]
    assert [v["kind"] for v in history] == ["change", "baseline"]
    for app in hosts:
        app.extensions["parley"].db.dispose()


def test_published_models_are_pruned_but_never_an_activated_one(settings: Settings, s3_bucket: S3Bucket) -> None:
    from bot import model_store

    shared = settings.with_(storage_url=s3_bucket.url(), s3_endpoint_url=s3_bucket.endpoint_url)
    store = shared.models_dir / "embedded"
    names = [f"2026010{i}T000000000000Z-cafe{i}000-000{i}" for i in range(1, 8)]
    for name in names:
        model_store.write_version(store, name, lambda d: (d / "meta.json").write_text("{}"))
        model_sync.publish(shared, "embedded", name)
    app = _host_without_bot(shared)
    db: Database = app.extensions["parley"].db
    with db.transaction() as s:
        model_sync.record_activation(s, "embedded", names[0], actor_name="ops")  # the oldest is active
    assert model_sync.prune_published(shared, db, "embedded", keep=5) == [names[1]]
    assert model_sync.published_versions(shared, "embedded") == sorted(set(names) - {names[1]}, reverse=True)
    assert not [k for k in s3_bucket.object_keys() if names[1] in k]
    # a host that lacks a published version fetches it whole; an unpublished one is not there to fetch
    other = shared.with_(instance_dir=shared.instance_dir.parent / "other")
    assert model_sync.fetch(other, "embedded", names[0])
    assert (other.models_dir / "embedded" / names[0] / "meta.json").read_text() == "{}"
    assert not model_sync.fetch(other, "embedded", names[1])
    with pytest.raises(ValueError):
        model_sync.fetch(other, "embedded", "../escape")
    db.dispose()


def _host_without_bot(settings: Settings) -> Flask:
    return create_app(settings, engines=[RuleEngine()], jobs=InlineJobs(), testing=True)


def test_the_supervised_rasa_writes_its_endpoints_and_makes_its_schema(settings: Settings) -> None:
    """What `rasa run` is started with, on whichever database this suite runs (no Rasa needed)."""
    import json
    import stat

    from sqlalchemy import create_engine, text

    from bot.rasa import endpoints
    from bot.rasa.server import SupervisedRasa, runtime_dir

    configured = settings.with_(redis_url="redis://127.0.0.1:6379/0")
    runtime_dir(configured).mkdir(parents=True)  # what start() makes before the first launch
    SupervisedRasa(configured)._write_config_files()
    path = runtime_dir(configured) / "endpoints.yml"
    written = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    if not endpoints.is_postgresql(settings.database_url):
        assert written == {"tracker_store": {"type": "SQL", "dialect": "sqlite",
                                             "db": str(runtime_dir(configured) / "trackers.db")}}
        return
    assert written["tracker_store"]["dialect"] == "postgresql" and written["lock_store"]["type"] == "redis"
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'rasa'")) == 1
    engine.dispose()


def test_a_turn_follows_the_active_model_without_a_query_of_its_own(settings: Settings, tmp_path: Path) -> None:
    """The database's choice is read with the turn's own look (bot/pipeline.py), not asked again by the
    engine: one statement fewer per bot turn, and still the model active when the turn was read."""
    from tests.support.statements import counting

    data = tmp_path / "data"
    shutil.copytree(TINY, data)
    host_settings = settings.with_(data_dir=data, bot_engines=("embedded",))
    host = _host(host_settings)
    db: Database = host.extensions["parley"].db
    customer = Customer(host)
    customer.say("hi")
    v2 = _train_elsewhere(host_settings, tmp_path)
    with db.transaction() as s:
        model_sync.record_activation(s, "embedded", v2, actor_name="ops")
    with counting(db.engine) as statements:
        customer.say("where is my order")
    assert customer.replies("bot")[-1] == V2_ANSWER  # the activation committed before the turn: followed
    asked = [sql for sql in statements.seen if sql.startswith("SELECT bot_model_activations")]
    assert asked == [], statements.report()
    assert any("bot_model_activations" in sql for sql in statements.seen)  # read within the look
    db.dispose()
