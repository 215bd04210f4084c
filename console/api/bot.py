"""The admin's bot pages and API: training data, training, evaluation, models, learning from handoffs.

`/admin/bot` is one page (console/templates/admin_bot.html + static/admin_bot.js); everything it does
goes through `/api/v1/bot/...` (admins only, like the rest of the API: session cookie + CSRF header, or
a Bearer token). The work itself lives in `bot.studio` and `bot.rasa`; this module only maps HTTP onto
it. `init_app` also subscribes the Rasa tracker listener (pause on handoff, resume on return).
"""

from __future__ import annotations

import difflib
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template

from bot.rasa import store as rasa_store
from bot.rasa import tracker_sync
from bot.rasa.client import RasaError
from bot.rasa.engine import RasaEngine
from bot.rasa.server import ExternalRasa
from bot.studio import handoffs, model_versions, versions
from bot.studio.checks import ChangeError
from bot.studio.project import ChangeRejected, RasaProject, StaleData
from bot.studio.runs import RunError, Runs
from bot.training_data import TrainingDataError, load_training_data
from console.api.declare import api, json_body, optional_json_body, query_args
from console.api.schemas import bot as sb
from console.auth import api_user, current_user, login_required
from console.runtime.jobs import InlineJobs, ThreadJobs
from console.services import services
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.schema.accounts import User
from models.schema.training import DataVersionKind

bp = Blueprint("admin_bot", __name__)


API = "/api/v1/bot"


def init_app(app: Flask, svc: Any) -> None:
    app.register_blueprint(bp)
    # Trainings and evaluations take minutes: they get a worker of their own, one at a time (two cores
    # are not shared better by running two), so they never hold up the bot's answers in `svc.jobs`.
    # Tests with inline jobs keep them inline (deterministic).
    app.extensions["parley_studio_jobs"] = svc.jobs if isinstance(svc.jobs, InlineJobs) else ThreadJobs(workers=1)
    # Rasa's tracker follows the conversation's owner: paused on handoff, resumed on return to the bot.
    app.extensions["parley_rasa_sync"] = tracker_sync.install(svc.db, svc.pipeline.engines, svc.jobs.submit)


def _admin() -> User:
    user = api_user()
    if user.role != "admin":
        raise Forbidden("Only admins can change the bot's training.")
    return user


def _rejected(problems: list[str], message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": "invalid_data", "message": message, "problems": problems}}), 422


def _ids(value: list[int]) -> list[int]:
    return list(dict.fromkeys(value))[:500]


def _project() -> RasaProject:
    svc = services()
    try:
        versions.sync_from_database(svc.settings, svc.db)  # another server may have saved newer data
        return RasaProject.load(svc.settings.data_dir)
    except TrainingDataError as exc:
        raise InvalidInput(f"The training data cannot be read: {exc}", code="unreadable_data") from exc


def _runs() -> Runs:
    svc = services()
    return Runs(svc.settings, svc.db, current_app.extensions["parley_studio_jobs"].submit)


def _rasa_engine() -> RasaEngine | None:
    return next((e for e in services().pipeline.engines if isinstance(e, RasaEngine)), None)


@bp.get("/admin/bot")
@login_required
def page() -> str:
    user = current_user()
    if user is None or user.role != "admin":
        abort(403)
    return render_template("admin_bot.html", user=user)


@bp.get(f"{API}/data")
@api("The training data: intents (examples, answer, where used), responses, problems", sb.BotData, errors=(403,))
def data() -> Response:
    _admin()
    view = _project().view()
    with services().db.session() as s:
        last = versions.latest(s)
        view["version"] = versions.version_json(last) if last and last.data_hash_after == view["data_hash"] else None
    return jsonify(view)


def _changes(body: sb.ChangesIn) -> list[dict[str, Any]]:
    changes = body.changes
    if not changes:
        raise InvalidInput("'changes' must be a non-empty list of operations.")
    if len(changes) > 200:
        raise InvalidInput("At most 200 operations per change.")
    return changes


@bp.post(f"{API}/data/check")
@api("What a change would do, nothing written: problems it introduces, problems already there, diff",
     sb.CheckResult, body=sb.ChangesIn, errors=(403,))
def check() -> Any:
    """What a change would do, without writing anything: problems it introduces, and the diff."""
    _admin()
    body = json_body(sb.ChangesIn)
    project = _project()
    try:
        preview = project.preview(_changes(body))
    except ChangeError as exc:
        raise InvalidInput(str(exc), code="bad_change") from exc
    diff = {name: "".join(difflib.unified_diff(project.files[name].text.splitlines(keepends=True) if name in
                                                project.files else [], text.splitlines(keepends=True),
                                                f"a/{name}", f"b/{name}"))
            for name, text in preview.files.items()}
    stale = body.base_hash not in (None, preview.data_hash_before)
    return jsonify({"ok": not preview.introduced and not stale, "introduced": preview.introduced,
                    "existing": preview.existing, "summary": preview.summary, "diff": diff, "stale": stale})


@bp.post(f"{API}/data/changes")
@api("Apply a change: validated, written back to data/ in Rasa format, versioned (who/when/what)", sb.Committed,
     status=201, body=sb.ChangesIn, errors=(403, 409, 422),
     description="422 lists the problems the change would introduce (`error.problems`); nothing is written then.")
def change() -> Any:
    user = _admin()
    body = json_body(sb.ChangesIn)
    svc = services()
    try:
        done = versions.commit(svc.settings, svc.db, user, _changes(body), base_hash=body.base_hash)
    except ChangeError as exc:
        raise InvalidInput(str(exc), code="bad_change") from exc
    except ChangeRejected as exc:
        return _rejected(exc.problems, "Not saved: the change would introduce problems into the training data.")
    except StaleData as exc:
        raise Conflict(str(exc), code="stale_data") from exc
    return jsonify({"version": done.version, "summary": done.summary, "warnings": done.warnings,
                    "data": _project().view()}), 201


@bp.get(f"{API}/data/versions")
@api("Versions of the training data, newest first", sb.Versions, errors=(403,))
def data_versions() -> Response:
    _admin()
    with services().db.session() as s:
        return jsonify({"versions": versions.history(s)})


@bp.get(f"{API}/data/versions/<int:version_id>")
@api("A version with the unified diff of each file", sb.Detail, errors=(403,))
def data_version(version_id: int) -> Response:
    _admin()
    with services().db.session() as s:
        try:
            return jsonify(versions.detail(s, version_id))
        except LookupError as exc:
            raise NotFound(str(exc)) from exc


@bp.post(f"{API}/data/versions/<int:version_id>/restore")
@api("Put the data back as in that version (a new version)", sb.Committed, status=201, body=sb.RestoreIn,
     errors=(403, 409, 422), description="The body may be left out.")
def restore(version_id: int) -> Any:
    user = _admin()
    body = optional_json_body(sb.RestoreIn)
    svc = services()
    try:
        done = versions.restore(svc.settings, svc.db, user, version_id, base_hash=body.base_hash)
    except LookupError as exc:
        raise NotFound(str(exc)) from exc
    except ChangeRejected as exc:
        return _rejected(exc.problems, "Nothing to restore.")
    except StaleData as exc:
        raise Conflict(str(exc), code="stale_data") from exc
    return jsonify({"version": done.version, "warnings": done.warnings, "data": _project().view()}), 201


@bp.post(f"{API}/runs")
@api("Start a training (a candidate model) or an evaluation", sb.Run, status=202, body=sb.RunIn, errors=(403,))
def start_run() -> Any:
    user = _admin()
    parsed = json_body(sb.RunIn)
    body = parsed.model_dump(exclude_unset=True)
    kind, engine = parsed.kind, parsed.engine or ""
    try:
        if kind == "train":
            run = _runs().start_train(user, engine)
        elif kind == "evaluate":
            version = str(body.get("model_version") or "")
            if not version:
                raise InvalidInput("Which model? Give 'model_version'.")
            run = _runs().start_evaluate(user, engine, version, body)
        else:
            raise InvalidInput("kind must be 'train' or 'evaluate'.")
    except RunError as exc:
        raise InvalidInput(str(exc), code="bad_run") from exc
    except TrainingDataError as exc:
        raise InvalidInput(str(exc), code="unreadable_data") from exc
    return jsonify(run), 202


@bp.get(f"{API}/runs")
@api("Training and evaluation runs, newest first", sb.Runs, errors=(403,))
def runs() -> Response:
    _admin()
    return jsonify({"runs": _runs().list()})


@bp.get(f"{API}/runs/<int:run_id>")
@api("A run: status, progress, stage, result (metrics) or error", sb.Run, errors=(403,))
def run(run_id: int) -> Response:
    _admin()
    try:
        return jsonify(_runs().get(run_id))
    except LookupError as exc:
        raise NotFound(str(exc)) from exc


@bp.post(f"{API}/runs/<int:run_id>/cancel")
@api("Ask a queued or running run to stop", sb.Run, errors=(403,))
def cancel_run(run_id: int) -> Response:
    _admin()
    try:
        return jsonify(_runs().cancel(run_id))
    except LookupError as exc:
        raise NotFound(str(exc)) from exc


@bp.get(f"{API}/models")
@api("Models of both engines: active, rollback target, versions with their latest evaluations; the Rasa server's "
     "state", sb.Detail, errors=(403,))
def model_catalog() -> Response:
    _admin()
    svc = services()
    out = model_versions.catalog(svc.settings, svc.db, tuple(svc.settings.bot_engines))
    out["rasa_server"] = _rasa_status()
    return jsonify(out)


@bp.post(f"{API}/models/<engine>/<version>/activate")
@api("Make a model answer customers (the running bot follows)", sb.Detail, errors=(400, 403))
def activate(engine: str, version: str) -> Response:
    user = _admin()
    svc = services()
    try:
        done = model_versions.activate(svc.settings, svc.db, user, engine, version)
    except model_versions.ModelError as exc:
        raise InvalidInput(str(exc), code="bad_model") from exc
    except rasa_store.NoRasaModel as exc:
        raise NotFound(str(exc)) from exc
    return jsonify(_push_to_external(done))


@bp.post(f"{API}/models/<engine>/rollback")
@api("Go back to the model active before this one", sb.Detail, errors=(400, 403))
def rollback(engine: str) -> Response:
    user = _admin()
    svc = services()
    try:
        done = model_versions.rollback(svc.settings, svc.db, user, engine)
    except model_versions.ModelError as exc:
        raise InvalidInput(str(exc), code="bad_model") from exc
    return jsonify(_push_to_external(done))


def _push_to_external(done: dict[str, Any]) -> dict[str, Any]:
    """A supervised Rasa follows the `active` pointer by itself; an external one (PARLEY_RASA_URL) is asked
    to load the model file (`PUT /model`), which works when it shares this machine's disk."""
    engine = _rasa_engine()
    if done["engine"] != "rasa" or engine is None or not isinstance(engine.server, ExternalRasa):
        return done
    path = rasa_store.model_path(services().settings, done["active"])
    try:
        engine.server.client().replace_model(str(path))
        return {**done, "external_server": "loaded"}
    except RasaError as exc:
        return {**done, "external_server": f"not loaded ({exc}); deploy {path.name} to the Rasa server"}


@bp.get(f"{API}/compare")
@api("Two models side by side: headline metrics, per-intent F1, most confused pairs, per protocol", sb.Detail,
     query=sb.CompareQuery, errors=(403,))
def compare() -> Response:
    _admin()
    args = query_args(sb.CompareQuery)
    engine, a, b = args.engine, args.a, args.b
    if engine not in ("embedded", "rasa") or not a or not b:
        raise InvalidInput("Give engine (embedded|rasa), a and b (model versions).")
    return jsonify(model_versions.compare(services().db, engine, a, b))


def _rasa_status() -> dict[str, Any]:
    settings = services().settings
    engine = _rasa_engine()
    status: dict[str, Any] = engine.server.status() if engine is not None else {"mode": "not_in_use"}
    active = rasa_store.active_version(settings)
    status["active_version"] = active
    try:
        meta = rasa_store.load_meta(settings, active) if active else None
        status["data_changed_since_training"] = bool(
            meta and meta.data_hash != load_training_data(settings.data_dir).data_hash)
    except (TrainingDataError, rasa_store.NoRasaModel):
        status["data_changed_since_training"] = None
    return status


@bp.get(f"{API}/rasa")
@api("The Rasa server: mode, state, pid, model served, restarts, last error, log tail", sb.Detail, errors=(403,))
def rasa_status() -> Response:
    _admin()
    return jsonify(_rasa_status())


@bp.get(f"{API}/handoffs")
@api("Customer messages that led to a handoff, grouped when similar, most frequent first", sb.HandoffGroups,
     query=sb.HandoffQuery, errors=(403,))
def handoff_groups() -> Response:
    _admin()
    args = query_args(sb.HandoffQuery)
    reason = args.reason or None
    days = max(1, min(365, args.days if args.days is not None else 30))
    with services().db.session() as s:
        rows = handoffs.handoff_messages(s, reason=reason, days=days)
    return jsonify({"groups": handoffs.group_messages(rows), "messages": len(rows), "days": days,
                    "reason": reason})


@bp.post(f"{API}/handoffs/learn")
@api("Add handoff messages to an intent (existing, or new with its answer): one data version", sb.Learnt,
     status=201, body=sb.LearnIn, errors=(403, 404, 409, 422))
def learn() -> Any:
    """Add handoff messages to an intent (existing, or new with its answer): one data version."""
    user = _admin()
    body = json_body(sb.LearnIn)
    ids = _ids(body.message_ids)
    intent = body.intent.strip()
    svc = services()
    with svc.db.session() as s:
        texts = handoffs.texts_of(s, ids)
    if not texts:
        raise NotFound("None of these are customer messages.")
    chosen = body.texts
    examples = list(dict.fromkeys(" ".join(t.split()) for t in (chosen if isinstance(chosen, list) else
                                                               texts.values()) if isinstance(t, str) and t.strip()))
    project = _project()
    if body.new_intent:
        change_ops = [{"op": "add_intent", "intent": intent, "examples": examples,
                       "response": body.response or []}]
    else:
        if intent not in project.intents():
            raise InvalidInput(f"No intent '{intent}'.", code="bad_change")
        known = {e.casefold() for e in project.examples(intent)}
        fresh = [e for e in examples if e.casefold() not in known]
        change_ops = [{"op": "add_examples", "intent": intent, "examples": fresh}] if fresh else []
    version = None
    if change_ops:
        try:
            done = versions.commit(svc.settings, svc.db, user, change_ops, base_hash=body.base_hash,
                                   kind=DataVersionKind.LEARN,
                                   summary=f"Learnt from {len(texts)} handoff message(s): "
                                           f"{len(examples)} example(s) for '{intent}'.")
        except ChangeError as exc:
            raise InvalidInput(str(exc), code="bad_change") from exc
        except ChangeRejected as exc:
            return _rejected(exc.problems, "Not added: it would introduce problems into the training data.")
        except StaleData as exc:
            raise Conflict(str(exc), code="stale_data") from exc
        version = done.version
    with svc.db.transaction() as s:
        handoffs.mark(s, list(texts), action="added", intent=intent, user_id=user.id,
                      data_version_id=version["id"] if version else None)
    return jsonify({"version": version, "added": examples if change_ops else [], "intent": intent}), 201


@bp.post(f"{API}/handoffs/dismiss")
@api("Set handoff messages aside (they leave the list)", sb.Dismissed, body=sb.DismissIn, errors=(403,))
def dismiss() -> Response:
    user = _admin()
    ids = _ids(json_body(sb.DismissIn).message_ids)
    with services().db.transaction() as s:
        found = handoffs.texts_of(s, ids)
        handoffs.mark(s, list(found), action="dismissed", intent=None, user_id=user.id, data_version_id=None)
    return jsonify({"dismissed": len(found)})
