"""The pre-chat form: a webchat visitor gives a name and an email before their first message.

What the visitor types is stored on *their own* contact only. An email is a claim the browser never
proved, so it never finds, joins or merges another contact that has the same address: two contacts may
then carry one email, and an agent who knows better merges them (models/contacts/merge.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models.contacts.details import check_contact_changes
from models.errors import InvalidInput
from models.feedback.options import FIELDS, feedback_view, required_fields
from models.schema.contacts import Contact

LABELS = {"name": "your name", "email": "your email"}


def check_prechat_answers(options: dict[str, Any] | None, raw: Any) -> dict[str, str]:
    """The visitor's answers, checked against the inbox's form: required fields given, email well formed,
    a name of at most 200 characters and an email of at most 254; fields the form has off are refused."""
    form = feedback_view(options)["prechat_form"]
    if form is None:
        raise InvalidInput("This chat has no pre-chat form.", code="no_prechat_form")
    if not isinstance(raw, dict):
        raise InvalidInput('Send {"name": "...", "email": "..."}.', code="invalid")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)}.")
    given = {f: raw[f] for f in FIELDS if isinstance(raw.get(f), str) and raw[f].strip()}
    for field in FIELDS:
        if field in raw and raw[field] is not None and not isinstance(raw[field], str):
            raise InvalidInput(f"{field} must be text.", code=f"bad_{field}")
        if form[field] == "required" and field not in given:
            raise InvalidInput(f"Please enter {LABELS[field]}.", code=f"missing_{field}")
        if form[field] == "off" and field in given:
            raise InvalidInput(f"This form does not ask for {LABELS[field]}.", code="invalid")
    checked = check_contact_changes(given)  # the same rules as an agent's edit (bad_name, bad_email)
    return {k: v for k, v in checked.items() if v}


def do_prechat(session: Session, contact: Contact, answers: dict[str, str]) -> None:
    """Store the answers on the visitor's own contact (never another's: see the module's docstring)."""
    for field, value in answers.items():
        setattr(contact, field, value)
    session.flush()


def check_prechat_done(options: dict[str, Any] | None, contact: Contact | None, default_name: str) -> None:
    """Before a visitor's first message: every required field of the form is known. `default_name` is
    the name a contact gets before anybody names it (a name equal to it was not given)."""
    missing = [f for f in required_fields(options)
               if contact is None or not getattr(contact, f) or (f == "name" and contact.name == default_name)]
    if missing:
        raise InvalidInput("Please fill in the form before you start the chat: "
                           + " and ".join(LABELS[f] for f in missing) + ".", code="prechat_required")
