"""The API holds to its own description: schemathesis generates requests from the generated
/api/v1/openapi.json (valid ones, and invalid ones: wrong types, missing fields, huge numbers) and sends
them in-process as an admin, an agent and anonymously. No answer may be a 5xx, use a status the
description does not list for that operation, or contradict the response schema it lists.

Bounded for CI: a few derandomized examples per operation and role (PARLEY_FUZZ_EXAMPLES to dig deeper).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from console.app import create_app
from console.runtime.jobs import InlineJobs
from models.accounts.tokens import do_issue_token
from tests.support.actors import Customer, make_user
from tests.support.databases import fresh_settings
from tests.support.engines import RuleEngine

EXAMPLES = int(os.environ.get("PARLEY_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, _template_db: str | None) -> Iterator[Flask]:
    """One app for the whole run, with something to find: an admin, an agent in a team, and a handed-off
    conversation (what the fuzzer changes or deletes along the way stays changed: that is fine)."""
    # The per-token API limit is documented (429 on every operation); the fuzzer's thousands of calls a
    # minute would otherwise test mostly that, not the endpoints.
    settings = fresh_settings(Path(tmp_path_factory.mktemp("fuzz")), _template_db).with_(
        rate_limit_api="100000/minute")
    app = create_app(settings, engines=[RuleEngine()], jobs=InlineJobs(), testing=True)
    db = app.extensions["parley"].db
    make_user(db, "admin@example.com", role="admin")
    make_user(db, "agent@example.com", team="Support")
    Customer(app).say("a human please")
    yield app
    db.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzz_app: Flask) -> Any:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzz_app)
    schema.config.generation.update(max_examples=EXAMPLES, deterministic=True)
    return schema


@pytest.fixture(scope="module")
def tokens(fuzz_app: Flask) -> dict[str, dict[str, str]]:
    db = fuzz_app.extensions["parley"].db
    with db.transaction() as s:
        out = {role: {"Authorization": f"Bearer {do_issue_token(s, f'{role}@example.com')}"}
               for role in ("admin", "agent")}
    return {**out, "anonymous": {}}


FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _fuzz(schema: Any, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Every operation, with valid and with invalid input; returns how many requests went out and the
    distinct failures (all of them, not just the first: one run shows everything to fix)."""
    sent: list[int] = []
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in GenerationMode:
            _examples(operation, mode, headers, sent, failures)()
    return len(sent), list(failures.values())


def _examples(operation: Any, mode: GenerationMode, headers: dict[str, str], sent: list[int],
              failures: dict[str, str]) -> Any:
    label = f"{operation.label} [{mode.value}]"

    @given(case=operation.as_strategy(generation_mode=mode))
    @FUZZ
    def run(case: Any) -> None:
        sent.append(1)
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # a check's failure (a FailureGroup): keep it, go on
            text = "\n".join(line for line in str(exc).splitlines()[:16] if line.strip())
            failures.setdefault(f"{label} {type(exc).__name__} {text[:150]}", f"{label}: {text}")

    return run


@pytest.mark.timeout(600)
@pytest.mark.parametrize("role", ["admin", "agent", "anonymous"])
def test_fuzz(api_schema: Any, tokens: dict[str, dict[str, str]], role: str) -> None:
    sent, failures = _fuzz(api_schema, tokens[role])
    print(f"{role}: {sent} requests")
    assert not failures, "\n\n".join(failures)
