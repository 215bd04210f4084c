"""Real Rasa for tests: one small model trained and one server started per test process, shared.

Training (~1 min) and starting a server (~30 s) are too slow to repeat per test, so both happen once,
on first use, and are reused (conversation ids are random, so tests do not see each other's trackers).
Without Rasa's environment the tests skip with the reason; `PARLEY_REQUIRE_RASA=1` (CI) turns that
skip into a failure, so a broken `make rasa` cannot pass CI unnoticed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.rasa import store
from bot.rasa.config import RasaSettings
from bot.rasa.server import SupervisedRasa
from bot.rasa.trainer import train
from models.settings import Settings

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rasa_tiny"


REQUIRED = os.environ.get("PARLEY_REQUIRE_RASA") == "1"


# Generous: two shared cores, TensorFlow's first import, other test processes.
SLOW = pytest.mark.timeout(1200)


def need_rasa() -> RasaSettings:
    rasa = RasaSettings()
    if rasa.installed:
        return rasa
    message = f"Rasa's environment is not built at {rasa.venv} (run `make rasa`)"
    if REQUIRED:
        pytest.fail(f"PARLEY_REQUIRE_RASA=1 but {message}")
    pytest.skip(f"{message}; PARLEY_REQUIRE_RASA=1 makes this a failure")


@dataclass(frozen=True)
class SharedRasa:
    settings: Settings  # its instance holds the model store (and the server's trackers)
    data_dir: Path
    version: str
    train_seconds: float


_lock = threading.Lock()


_shared: dict[str, object] = {}


def copy_fixture(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest)
    return dest


def shared_model() -> SharedRasa:
    """The tiny fixture data trained once (full model: NLU and rules), active in a private store."""
    rasa = need_rasa()
    with _lock:
        found = _shared.get("model")
        if isinstance(found, SharedRasa):
            return found
        root = Path(tempfile.mkdtemp(prefix="parley-test-rasa-"))
        atexit.register(shutil.rmtree, root, True)
        data = copy_fixture(root / "data")
        settings = Settings.from_env(env={"PARLEY_INSTANCE": str(root / "instance"), "PARLEY_SECRET_KEY": "x",
                                          "PARLEY_DATA": str(data)}, load_dotenv=False)
        result = train(settings, data, rasa=rasa, actor="tests")
        shared = SharedRasa(settings, data, result.meta.version, result.meta.train_seconds)
        _shared["model"] = shared
        return shared


def shared_server() -> SupervisedRasa:
    """One supervised server on the shared store's active model, ready."""
    model = shared_model()
    with _lock:
        found = _shared.get("server")
        if isinstance(found, SupervisedRasa):
            server = found
        else:
            server = SupervisedRasa(model.settings, RasaSettings()).start()
            atexit.register(server.stop)
            _shared["server"] = server
    if not server.wait_ready(600):
        tail = "\n".join(server.status()["log_tail"])
        pytest.fail(f"the test Rasa server did not start: {server.last_error}\n{tail}")
    return server


def active_version(settings: Settings) -> str | None:
    return store.active_version(settings)
