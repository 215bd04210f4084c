"""Per-contact presets (admins): who the contact's future conversations are restricted to and auto-assigned among."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.audit import audit
from models.conversations.visibility import check_user_ids, set_named_users
from models.errors import Forbidden, InvalidInput, InvalidState, NotFound
from models.schema.accounts import User
from models.schema.contacts import Contact
from models.schema.conversations import (
    Conversation,
)
from models.schema.routing import (
    ContactPreset,
    PresetKind,
)


def presets_of(session: Session, contact_id: int) -> dict[str, list[int]]:
    rows = session.execute(select(ContactPreset.kind, ContactPreset.user_id)
                           .where(ContactPreset.contact_id == contact_id)
                           .order_by(ContactPreset.user_id)).all()
    out: dict[str, list[int]] = {PresetKind.VISIBLE.value: [], PresetKind.ASSIGN.value: []}
    for kind, uid in rows:
        out.setdefault(kind, []).append(uid)
    return out


def apply_contact_presets(session: Session, conv: Conversation) -> None:
    """A new conversation of a contact with a visibility preset starts restricted, in the same
    transaction that creates it, so not even its first message reaches anybody else."""
    visible = presets_of(session, conv.contact_id)[PresetKind.VISIBLE.value]
    if visible:
        set_named_users(session, conv, visible)


def do_set_contact_presets(session: Session, actor: User, contact_id: int,
                           body: dict[str, Any]) -> dict[str, list[int]]:
    """An admin presets, for a contact's future conversations, who sees them and who gets them."""
    if actor.role != "admin":
        raise Forbidden("Only admins set a contact's visibility and assignment presets.")
    if session.get(Contact, contact_id) is None:
        raise NotFound("No such contact.")
    unknown = sorted(set(body) - {"visible_user_ids", "assign_user_ids"})
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    current = presets_of(session, contact_id)
    wanted = {
        PresetKind.VISIBLE.value: check_user_ids(session, body.get("visible_user_ids", current["visible"]),
                                                 "visible_user_ids", allow_null=False) or [],
        PresetKind.ASSIGN.value: check_user_ids(session, body.get("assign_user_ids", current["assign"]),
                                                "assign_user_ids", allow_null=False) or [],
    }
    if wanted["visible"] and not set(wanted["assign"]) <= set(wanted["visible"]):
        raise InvalidInput("Who gets the conversations must be among who may see them.",
                           code="assign_not_visible")
    write_presets(session, contact_id, wanted)
    audit(session, "contact.presets", actor=actor, contact_id=contact_id, presets=wanted)
    return wanted


def write_presets(session: Session, contact_id: int, wanted: dict[str, list[int]]) -> None:
    """Replace a contact's presets with these (already checked) ones."""
    session.query(ContactPreset).filter(ContactPreset.contact_id == contact_id).delete(
        synchronize_session="evaluate")
    for kind, ids in wanted.items():
        for uid in ids:
            session.add(ContactPreset(contact_id=contact_id, user_id=uid, kind=kind))
    session.flush()


def merged_presets(keep: dict[str, list[int]], other: dict[str, list[int]]) -> dict[str, list[int]]:
    """The presets of two contacts merged into one: the strictest visibility wins (one side's
    restriction is kept; two restrictions leave only the users both name), and the auto-assignment
    lists join, within who may see. Raises `InvalidState` when both restrict to nobody in common:
    an admin must decide who may see the customer before the two are merged."""
    kv, ov = keep[PresetKind.VISIBLE.value], other[PresetKind.VISIBLE.value]
    if kv and ov:
        visible = [u for u in kv if u in set(ov)]
        if not visible:
            raise InvalidState("The two contacts are confidential to different people; an admin must set "
                               "one visibility preset for both before they are merged.", code="presets_conflict")
    else:
        visible = kv or ov
    assign = list(dict.fromkeys(keep[PresetKind.ASSIGN.value] + other[PresetKind.ASSIGN.value]))
    if visible:
        assign = [u for u in assign if u in set(visible)]
    return {PresetKind.VISIBLE.value: visible, PresetKind.ASSIGN.value: assign}
