"""The supervised Rasa's API token is on no command line and in no log: Rasa's own Python gets it from
a 0600 file it deletes, and the request log masks it. Runs a stand-in for Rasa's environment that
records what Rasa would have seen, so it needs no Rasa installed."""

from __future__ import annotations

import json
import logging
import os
import stat
import sys
from pathlib import Path

import httpx
import pytest

from bot.rasa.client import RasaClient
from bot.rasa.config import RasaSettings
from bot.rasa.server import StartFailed, SupervisedRasa
from models.settings import Settings

_FAKE_MAIN = '''
import json, os, sys
def main():
    with open("/proc/self/cmdline", "rb") as fh:
        cmdline = fh.read().decode().split("\\0")
    json.dump({"argv": sys.argv, "cmdline": cmdline, "files": os.listdir(".")},
              open(os.environ["FAKE_RASA_RECORD"], "w"))
    token = sys.argv[sys.argv.index("--auth-token") + 1]
    print(f"DEBUG sanic: serving with --auth-token {token}", flush=True)
    sys.exit(3)
'''


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_the_token_is_on_no_command_line_and_in_no_log(tmp_path: Path, settings: Settings,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    pkg = tmp_path / "site" / "rasa"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(_FAKE_MAIN)
    python = venv / "bin" / "python"
    python.write_text(f"#!/bin/sh\nPYTHONPATH={tmp_path / 'site'} exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    (venv / "bin" / "rasa").write_text("#!/bin/sh\nexit 1\n")
    (venv / "bin" / "rasa").chmod(0o755)
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_RASA_RECORD", str(record))
    model = tmp_path / "model-v1.tar.gz"
    model.write_bytes(b"model")
    workdir = tmp_path / "run"
    workdir.mkdir()
    server = SupervisedRasa(settings, RasaSettings(venv=venv), model_file=model, workdir=workdir)

    with pytest.raises(StartFailed) as failed:
        server._launch("v1")
    seen = json.loads(record.read_text())
    token = seen["argv"][seen["argv"].index("--auth-token") + 1]
    assert len(token) >= 24 and seen["argv"][:2] == ["rasa", "run"]
    assert not any(token in part for part in seen["cmdline"])  # what `ps` shows
    assert token not in str(failed.value) and "[token]" in str(failed.value)  # the log tail we show
    assert not any(name.startswith(".rasa-token") for name in os.listdir(workdir))  # file deleted


def test_a_token_file_is_private(tmp_path: Path) -> None:
    from bot.rasa.server import write_token_file

    path = write_token_file(tmp_path / ".rasa-token-1", "s3cret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "s3cret"


def test_request_logs_mask_the_token(caplog: pytest.LogCaptureFixture) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"model_file": "x"})

    client = RasaClient("http://127.0.0.1:5005", "the-rasa-token", 1.0)
    client._http = httpx.Client(base_url=client.url, transport=httpx.MockTransport(answer))
    with caplog.at_level(logging.DEBUG, logger="httpx"):  # `parley` commands quiet httpx to WARNING
        client.status()
    assert "token=[token]" in caplog.text and "the-rasa-token" not in caplog.text
