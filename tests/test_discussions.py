"""Internal discussions and @mentions (issue 14): invite who can see the conversation, members read and
write, others get 404; view-only once the conversation is closed (409), writable again when reopened;
system entries for handoffs, transfers and bound records; @mentions in notes and entries notify only
those who may see them, and land in the Mentions list."""

from __future__ import annotations

from typing import Any

from flask import Flask

from models.db import Database
from tests.support.actors import Agent
from tests.support.routing import agent, console_events, handoff, me, notifications


def people(app: Flask, db: Database) -> dict[str, Agent]:
    return {"ada": agent(app, db, "ada@example.com"),
            "bob": agent(app, db, "bob@example.com", online=False),
            "dave": agent(app, db, "dave@example.com", online=False),
            "carl": agent(app, db, "carl@example.com", team="Sales", online=False),  # cannot see the default team
            "sue": agent(app, db, "sue@example.com", role="supervisor", online=False)}


def texts(discussion: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["kind"], e["text"]) for e in discussion["entries"]]


def start(a: Agent, conv_id: str, *invitees: Agent) -> dict[str, Any]:
    r = a.post(f"/conversations/{conv_id}/discussion", {"user_ids": [me(x) for x in invitees]})
    assert r.status_code == 200, r.get_json()
    return dict(r.get_json())


def test_invited_members_read_and_write_and_nobody_else_does(app: Flask, db: Database) -> None:
    p = people(app, db)
    _, conv_id = handoff(app)
    assert p["ada"].get(f"/conversations/{conv_id}/discussion").status_code == 404  # none yet
    d = start(p["ada"], conv_id, p["bob"])
    assert [m["name"] for m in d["members"]] == ["Ada", "Bob"] and d["writable"] and not d["view_only"]
    assert texts(d) == [("system", "Ada invited Bob.")]
    console_events(p["ada"], "discussion_entry"), console_events(p["dave"], "discussion_entry")

    r = p["bob"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "I know this <b>customer</b>"})
    assert r.status_code == 201 and r.get_json()["author"]["name"] == "Bob"
    heard = console_events(p["ada"], "discussion_entry")
    assert [(h["conversation_id"], h["entry"]["text"]) for h in heard] == [(conv_id, "I know this <b>customer</b>")]
    assert console_events(p["dave"], "discussion_entry") == []  # not a member: hears nothing
    assert texts(p["bob"].get(f"/conversations/{conv_id}/discussion").get_json())[-1] == (
        "text", "I know this <b>customer</b>")

    # a colleague of the team who was not invited, and one of another team: 404 alike
    for outsider in ("dave", "carl"):
        assert p[outsider].get(f"/conversations/{conv_id}/discussion").status_code == 404
        r = p[outsider].post(f"/conversations/{conv_id}/discussion/entries", {"text": "hi"})
        assert r.status_code == 404
    assert p["dave"].post(f"/conversations/{conv_id}/discussion", {"user_ids": []}).status_code == 409
    # only those who can see the conversation can be invited: inviting never widens who sees it
    r = p["ada"].post(f"/conversations/{conv_id}/discussion/members", {"user_ids": [me(p["carl"])]})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "cannot_see_conversation"
    assert p["carl"].get(f"/conversations/{conv_id}/discussion").status_code == 404
    # a supervisor who sees the conversation reads it, and writes only once invited
    seen = p["sue"].get(f"/conversations/{conv_id}/discussion").get_json()
    assert seen["member"] is False and seen["writable"] is False
    assert p["sue"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "hm"}).status_code == 403
    r = p["bob"].post(f"/conversations/{conv_id}/discussion/members", {"user_ids": [me(p["sue"]), me(p["dave"])]})
    assert r.status_code == 200 and len(r.get_json()["members"]) == 4
    assert p["dave"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "in"}).status_code == 201
    # bad input: a clear 400, never a 500
    assert p["ada"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "  "}).status_code == 400
    assert p["ada"].post(f"/conversations/{conv_id}/discussion/members", {"user_ids": "x"}).status_code == 400
    assert p["ada"].post(f"/conversations/{conv_id}/discussion/members", {"user_ids": [99999]}).status_code == 400


def test_a_discussion_turns_view_only_at_close(app: Flask, db: Database) -> None:
    p = people(app, db)
    _, conv_id = handoff(app)
    start(p["ada"], conv_id, p["bob"])
    assert p["ada"].post(f"/conversations/{conv_id}/close").status_code == 200
    d = p["bob"].get(f"/conversations/{conv_id}/discussion").get_json()
    assert d["view_only"] is True and d["writable"] is False
    assert texts(d)[-1] == ("system", "The conversation was closed: this discussion is now view-only.")
    r = p["bob"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "one more thing"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "discussion_closed"
    r = p["ada"].post(f"/conversations/{conv_id}/discussion/members", {"user_ids": [me(p["dave"])]})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "discussion_closed"
    assert "one more thing" not in [e["text"] for e in d["entries"]]
    # reopening makes it writable again
    assert p["ada"].post(f"/conversations/{conv_id}/reopen").status_code == 200
    assert p["bob"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "one more thing"}).status_code == 201
    assert p["bob"].get(f"/conversations/{conv_id}/discussion").get_json()["writable"] is True


def test_handoffs_transfers_and_bound_records_are_posted_as_system_entries(app: Flask, db: Database) -> None:
    p = people(app, db)
    customer, conv_id = handoff(app, "hello")  # the bot answers: nobody owns it yet
    start(p["ada"], conv_id, p["bob"])
    customer.say("a person please")
    d = p["ada"].get(f"/conversations/{conv_id}/discussion").get_json()
    assert d["entries"][-1]["kind"] == "system" and d["entries"][-1]["author"] is None
    assert d["entries"][-1]["text"].startswith("The bot handed the conversation to people")

    p["bob"].post("/me/availability", {"status": "away"})
    assert p["ada"].post(f"/conversations/{conv_id}/assign", {"user_ids": [me(p["ada"])]}).status_code == 200
    t = p["ada"].post(f"/conversations/{conv_id}/transfer", {"to_user_id": me(p["bob"])}).get_json()["transfer"]
    assert p["bob"].post(f"/transfers/{t['id']}/accept").status_code == 200
    d = p["ada"].get(f"/conversations/{conv_id}/discussion").get_json()
    assert texts(d)[-2:] == [("system", "Ada asked Bob to take over the conversation."),
                             ("system", "Bob accepted the transfer from Ada.")]

    from models.conversations.access import access_conversation
    from models.integrations.actions import do_bind_record
    from models.schema.accounts import User
    from models.schema.integrations import ConversationAction

    with db.transaction() as s:
        ada = s.get(User, me(p["ada"]))
        assert ada is not None
        conv = access_conversation(s, ada, conv_id)
        action = ConversationAction(name="create_ticket", label="Create ticket", url="http://127.0.0.1:9/t",
                                    secret="s" * 32, conversation_fields=["id"], contact_fields=["name"])
        s.add(action)
        s.flush()
        do_bind_record(s, ada, conv, action, {"id": "T-7", "title": "Refund", "url": None})
    d = p["bob"].get(f"/conversations/{conv_id}/discussion").get_json()
    assert texts(d)[-1] == ("system", "Ada linked Create ticket: Refund (T-7).")


def test_a_mention_in_a_note_notifies_only_who_can_see_the_conversation(app: Flask, db: Database) -> None:
    p = people(app, db)
    _, conv_id = handoff(app)
    for a in p.values():
        notifications(a)
    r = p["ada"].post(f"/conversations/{conv_id}/messages",
                      {"text": "@bob, @carl and @Dave.: see the refund", "private": True})
    assert r.status_code == 201
    for name in ("bob", "dave"):
        cards = notifications(p[name], "mention")
        assert len(cards) == 1 and cards[0]["conversation"]["id"] == conv_id
        assert cards[0]["mention"]["text"].endswith("see the refund") and cards[0]["mention"]["author"]["name"] == "Ada"
    assert notifications(p["carl"], "mention") == []  # cannot see the conversation: ignored
    assert p["carl"].get("/mentions").get_json() == {"mentions": [], "unread": 0}
    assert notifications(p["ada"], "mention") == []  # no mention of yourself
    listed = p["bob"].get("/mentions").get_json()
    assert listed["unread"] == 1 and listed["mentions"][0]["source"] == "note"
    assert listed["mentions"][0]["conversation_id"] == conv_id and listed["mentions"][0]["read_at"] is None
    # a reply to the customer mentions nobody: only notes do
    p["ada"].post(f"/conversations/{conv_id}/messages", {"text": "Our @bob will help"})
    assert p["bob"].get("/mentions").get_json()["unread"] == 1

    # a restricted conversation: only its named users can be mentioned
    r = p["sue"].client.put(f"/api/v1/conversations/{conv_id}/visibility",
                            json={"user_ids": [me(p["ada"]), me(p["bob"])]}, headers={"X-CSRF-Token": p["sue"].csrf})
    assert r.status_code == 200, r.get_json()
    p["ada"].post(f"/conversations/{conv_id}/messages", {"text": "@bob @dave again", "private": True})
    assert len(notifications(p["bob"], "mention")) == 1 and notifications(p["dave"], "mention") == []
    # dave's earlier mention is gone from his list with the conversation out of his sight
    assert p["dave"].get("/mentions").get_json() == {"mentions": [], "unread": 0}

    listed = p["bob"].get("/mentions").get_json()
    assert listed["unread"] == 2
    first, second = listed["mentions"]
    assert first["id"] > second["id"]  # newest first among the unread
    r = p["bob"].post(f"/mentions/{second['id']}/read")
    assert r.status_code == 200 and r.get_json()["read_at"]
    listed = p["bob"].get("/mentions").get_json()
    assert listed["unread"] == 1 and [m["id"] for m in listed["mentions"]] == [first["id"], second["id"]]
    assert p["ada"].post(f"/mentions/{first['id']}/read").status_code == 404  # not hers
    assert p["bob"].post("/mentions/99999999/read").status_code == 404


def test_a_mention_in_a_discussion_notifies_its_members_only(app: Flask, db: Database) -> None:
    p = people(app, db)
    _, conv_id = handoff(app)
    start(p["ada"], conv_id, p["bob"])
    notifications(p["bob"]), notifications(p["dave"])
    r = p["ada"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "@bob @dave thoughts?"})
    assert r.status_code == 201
    cards = notifications(p["bob"], "mention")
    assert len(cards) == 1 and cards[0]["mention"]["source"] == "discussion"
    assert notifications(p["dave"], "mention") == []  # sees the conversation but is no member
    cands = p["ada"].get(f"/conversations/{conv_id}/discussion/candidates").get_json()["users"]
    assert {c["handle"]: c["member"] for c in cands} == {"ada": True, "bob": True, "dave": False, "sue": False}


def test_a_mention_in_a_note_with_a_file_notifies_too(app: Flask, db: Database) -> None:
    import io

    p = people(app, db)
    _, conv_id = handoff(app)
    notifications(p["bob"])
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    r = p["ada"].client.post(f"/api/v1/conversations/{conv_id}/attachments", headers={"X-CSRF-Token": p["ada"].csrf},
                             data={"file": (io.BytesIO(png), "receipt.png"), "text": "@bob the receipt",
                                   "private": "true"}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    [card] = notifications(p["bob"], "mention")
    assert card["mention"]["text"] == "@bob the receipt" and card["mention"]["source"] == "note"


def test_deleting_the_conversation_deletes_its_discussion_and_mentions(app: Flask, db: Database) -> None:
    from sqlalchemy import func, select

    from models.schema.discussions import Discussion, DiscussionEntry, DiscussionMember, Mention
    from tests.support.actors import make_user

    p = people(app, db)
    make_user(db, "root@example.com", role="admin")
    root = Agent(app, "root@example.com")
    _, conv_id = handoff(app)
    start(p["ada"], conv_id, p["bob"])
    p["ada"].post(f"/conversations/{conv_id}/discussion/entries", {"text": "@bob look"})
    assert p["bob"].get("/mentions").get_json()["unread"] == 1
    r = root.client.delete(f"/api/v1/conversations/{conv_id}", headers={"X-CSRF-Token": root.csrf})
    assert r.status_code in (200, 204), r.data
    with db.session() as s:
        for model in (Discussion, DiscussionMember, DiscussionEntry, Mention):
            assert s.scalar(select(func.count()).select_from(model)) == 0, model
    assert p["bob"].get("/mentions").get_json() == {"mentions": [], "unread": 0}


def watch(a: Agent, conv_id: str | None) -> dict[str, Any]:
    """The console's panel says which discussion it shows (`discussion_watch`), answered by its ack."""
    return dict(a.socket.emit("discussion_watch", {"conversation_id": conv_id}, namespace="/console", callback=True))


def test_supervisors_reading_a_discussion_hear_its_entries_while_they_have_it_open(app: Flask, db: Database) -> None:
    p = people(app, db)
    sam = agent(app, db, "sam@example.com", role="supervisor", online=False)
    _, conv_id = handoff(app)
    start(p["ada"], conv_id, p["bob"])

    def say(text: str) -> None:
        for a in (*p.values(), sam):
            console_events(a, "discussion_entry")  # what each heard so far
        assert p["bob"].post(f"/conversations/{conv_id}/discussion/entries", {"text": text}).status_code == 201

    def heard(a: Agent) -> list[str]:
        return [h["entry"]["text"] for h in console_events(a, "discussion_entry") if h["conversation_id"] == conv_id]

    say("before anyone opened it")
    assert heard(p["sue"]) == [] and heard(p["ada"]) == ["before anyone opened it"]

    # Sue (supervisor, no member) opens the discussion: she hears new entries, once; Sam, who has it closed, not
    assert watch(p["sue"], conv_id) == {"ok": True}
    assert watch(p["ada"], conv_id) == {"ok": True}  # a member with it open still hears each entry once
    say("the refund is approved")
    assert heard(p["sue"]) == ["the refund is approved"] and heard(p["ada"]) == ["the refund is approved"]
    assert heard(sam) == [] and heard(p["dave"]) == [] and heard(p["carl"]) == []

    # who may not read it cannot watch it: the API's 404, whatever they send; bad input is refused clearly
    for outsider in ("dave", "carl"):
        answer = watch(p[outsider], conv_id)
        assert answer["ok"] is False and answer["error"]["code"] in ("no_discussion", "not_found"), answer
    assert watch(sam, "nope")["ok"] is False
    answer = dict(sam.socket.emit("discussion_watch", {"conversation_id": 5}, namespace="/console", callback=True))
    assert answer["ok"] is False and answer["error"]["code"] == "invalid_input"
    say("still private")
    assert heard(p["dave"]) == [] and heard(p["carl"]) == [] and heard(sam) == []

    # closing the panel stops it; watching another conversation's discussion leaves this one
    assert watch(p["sue"], None) == {"ok": True}
    say("after she closed it")
    assert heard(p["sue"]) == []
    _, other_id = handoff(app, "another person please")
    start(p["dave"], other_id)
    assert watch(p["sue"], conv_id) == {"ok": True} and watch(p["sue"], other_id) == {"ok": True}
    say("she is elsewhere")
    assert heard(p["sue"]) == []

    # visibility is never widened: restricted to Ada and Bob, the conversation is out of Sue's sight, and
    # although her panel still shows it she hears nothing more
    assert watch(p["sue"], conv_id) == {"ok": True}
    r = p["sue"].client.put(f"/api/v1/conversations/{conv_id}/visibility",
                            json={"user_ids": [me(p["ada"]), me(p["bob"])]}, headers={"X-CSRF-Token": p["sue"].csrf})
    assert r.status_code == 200, r.get_json()
    say("only for the two of us")
    assert heard(p["sue"]) == [] and heard(p["ada"]) == ["only for the two of us"]
