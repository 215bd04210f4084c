"""Storing a provider's inbound message: idempotent, safe against concurrent duplicates.

Providers retry webhooks, and may deliver the same message twice at once. The unique
`(channel, provider_message_id)` decides: the first transaction stores it, a concurrent one fails
on the constraint, rolls back, and on its retry finds the stored message (`created=False`). The
same retry covers two first messages from a new number racing to create the contact.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from models.channels.attachments import do_add_pending
from models.contacts.blocking import do_keep_blocked
from models.contacts.identities import do_find_or_create_phone_contact
from models.contacts.opt_out import do_note_keyword
from models.conversations.ingest import LOOK_UP, contact_and_open_conversation, do_ingest_inbound
from models.conversations.webchat_ingest import do_store_text, look, steady
from models.db import Database, Submit
from models.inboxes.routing import inbox_for_number

ATTEMPTS = 5


@dataclass(frozen=True)
class Media:
    ref: str
    filename: str | None = None


@dataclass(frozen=True)
class Stored:
    conversation_id: int
    message_id: int
    created: bool
    attachment_ids: tuple[int, ...] = ()
    public_id: str = ""  # the conversation's, for the log lines about it
    blocked: bool = False  # from a blocked contact: kept apart, in no conversation (ids 0)


def ingest_provider_message(db: Database, *, channel: str, provider_message_id: str, sender: str,
                            sender_name: str | None, text: str, media: Sequence[Media] = (),
                            via_channel_id: int | None, publish_with: Submit | None = None) -> Stored:
    """Store one inbound SMS/WhatsApp message (and its media, to fetch later) and commit.

    A blocked contact's message is kept apart (`blocked`, models/contacts/blocking.py), once.
    `publish_with`: where the commit's events are published (`Database.transaction`); here by default.

    A text from a known customer with a conversation open — the steady state — takes the Core path
    shared with webchat (models/conversations/webchat_ingest.py: three statements, no ORM entities),
    which inserts without looking for the provider's id first; a resend fails on the unique
    `(channel, provider_message_id)`, and the retry takes the ORM path, which looks and finds it.
    """
    for attempt in range(ATTEMPTS):
        try:
            with db.transaction(publish_with=publish_with, urgent=True) as s:  # a provider awaits the ack
                found = look(s, channel, sender) if attempt == 0 else None
                if found is not None and not media and steady(found, sender, sender_name=sender_name):
                    fast = do_store_text(s, found, channel, text, provider_message_id, via_channel_id=via_channel_id)
                    do_note_keyword(s, channel, sender, text)  # SMS STOP / START: no query for other texts
                    return Stored(fast.conversation_id, fast.message_id, created=True, public_id=fast.public_id)
                if attempt == 0 and found is None:  # a number nobody has: not looked up twice
                    known, conv = None, None
                else:
                    known, conv = contact_and_open_conversation(s, channel, sender)  # one query, not two
                contact, new = do_find_or_create_phone_contact(s, channel, sender, sender_name, known=known,
                                                               looked_up=True)
                if contact.blocked:
                    _, created = do_keep_blocked(s, contact=contact, channel=channel, text=text,
                                                 provider_message_id=provider_message_id, media_count=len(media))
                    return Stored(0, 0, created=created, blocked=True)
                # A contact created just now has no conversation and no presets; its message is looked
                # for only on a retry (a resend of a first message fails on the unique provider id).
                ingested = do_ingest_inbound(s, contact=contact, channel=channel, text=text,
                                             provider_message_id=provider_message_id,
                                             open_conversation=conv if known is not None or new else LOOK_UP,
                                             via_channel_id=via_channel_id, look_for_duplicate=not new or attempt > 0,
                                             new_contact=new,
                                             inbox=None if conv else inbox_for_number(s, channel, via_channel_id))
                if not ingested.created:
                    return Stored(ingested.conversation.id, ingested.message.id, created=False,
                                  public_id=ingested.conversation.public_id)
                do_note_keyword(s, channel, sender, text)  # SMS STOP / START: no query for other texts
                ids = tuple(do_add_pending(s, conv=ingested.conversation, msg=ingested.message, source_ref=m.ref,
                                           filename=m.filename, channel_config_id=via_channel_id).id
                            for m in media)
                return Stored(ingested.conversation.id, ingested.message.id, created=True, attachment_ids=ids,
                              public_id=ingested.conversation.public_id)
        except IntegrityError:
            if attempt == ATTEMPTS - 1:
                raise
        except OperationalError as exc:  # SQLite: "database is locked" under a burst of writers
            if "locked" not in str(exc).lower() or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
