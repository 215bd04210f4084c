"""Teams: the default team every conversation starts in, membership, and the admins' changes (create,
rename, archive, set members). Every change is audited."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.accounts.scope import end_stale_access
from models.audit import audit
from models.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.schema.accounts import Role, Team, TeamMember, User
from models.schema.base import utcnow
from models.schema.channels import Inbox
from models.schema.conversations import Conversation, Status

DEFAULT_TEAM_NAME = "Support"
MAX_NAME = 120


def default_team(session: Session) -> Team:
    team = session.scalar(select(Team).order_by(Team.id).limit(1))
    if team is None:
        team = Team(name=DEFAULT_TEAM_NAME)
        try:
            with session.begin_nested():  # another process may be making the first team right now
                session.add(team)
        except IntegrityError:  # names are unique: it won; use its team
            winner = session.scalar(select(Team).order_by(Team.id).limit(1))
            if winner is None:
                raise
            return winner
    return team


def do_add_member(session: Session, team: Team, user: User) -> None:
    if session.get(TeamMember, (team.id, user.id)) is None:
        session.add(TeamMember(team_id=team.id, user_id=user.id))
        session.flush()


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN.value:
        raise Forbidden("Only admins manage users and teams.", code="admin_only")


def check_team_name(session: Session, name: object, *, team_id: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("A team needs a name.", code="invalid")
    clean = " ".join(name.split())
    if len(clean) > MAX_NAME:
        raise InvalidInput(f"A team's name has at most {MAX_NAME} characters.", code="invalid")
    taken = session.scalar(select(Team.id).where(func.lower(Team.name) == clean.lower()))
    if taken is not None and taken != team_id:
        raise Conflict(f"A team named {clean!r} exists already (archived teams keep their names).",
                       code="name_taken")
    return clean


def access_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound("No such team.")
    return team


def do_create_team(session: Session, actor: User, name: object) -> Team:
    _require_admin(actor)
    team = Team(name=check_team_name(session, name))
    session.add(team)
    session.flush()
    audit(session, "team.created", actor=actor, team_id=team.id, name=team.name)
    return team


def do_rename_team(session: Session, actor: User, team_id: int, name: object) -> Team:
    _require_admin(actor)
    team = access_team(session, team_id)
    clean = check_team_name(session, name, team_id=team_id)
    if clean != team.name:
        audit(session, "team.renamed", actor=actor, team_id=team.id, old=team.name, new=clean)
        team.name = clean
    return team


def open_conversations(session: Session, team_id: int) -> int:
    return int(session.scalar(select(func.count(Conversation.id)).where(
        Conversation.team_id == team_id, Conversation.status == Status.OPEN.value)) or 0)


def do_archive_team(session: Session, actor: User, team_id: int) -> Team:
    """Archive a team with no open conversation left (close or move them first). Its members stay
    listed in it (history), it leaves pickers and routing. The default team (the first) is where new
    conversations start, so it cannot be archived."""
    _require_admin(actor)
    team = session.scalar(select(Team).where(Team.id == team_id).with_for_update())
    if team is None:
        raise NotFound("No such team.")
    if team.archived_at is not None:
        raise Conflict(f"{team.name} is archived already.", code="already_archived")
    if team.id == default_team(session).id:
        raise Conflict(f"{team.name} is the default team, where new conversations start: it cannot be "
                       "archived.", code="default_team")
    inboxes = session.scalar(select(func.count(Inbox.id)).where(Inbox.team_id == team.id)) or 0
    if inboxes:
        raise Conflict(f"{team.name} owns {inboxes} inbox(es), where new conversations land: move them to another "
                       "team first.", code="owns_inboxes")
    left = open_conversations(session, team_id)
    if left:
        raise Conflict(f"{team.name} still has {left} open conversation(s): close them or move them to another "
                       "team first.", code="open_conversations")
    team.archived_at = utcnow()
    audit(session, "team.archived", actor=actor, team_id=team.id, name=team.name)
    return team


def do_set_members(session: Session, actor: User, team_id: int, user_ids: Sequence[int]) -> list[User]:
    """The team's members become exactly these users (unknown ids: 400). Each added or removed member's
    sessions end (their sockets joined rooms for the old teams): models/accounts/admin.py's rule."""
    _require_admin(actor)
    team = access_team(session, team_id)
    if team.archived_at is not None:
        raise Conflict(f"{team.name} is archived: its members cannot change.", code="archived")
    wanted = list(dict.fromkeys(user_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    missing = [i for i in wanted if i not in users]
    if missing:
        raise InvalidInput(f"No such user: {', '.join(map(str, missing))}.", code="unknown_user")
    current = {m.user_id: m for m in session.scalars(select(TeamMember).where(TeamMember.team_id == team_id))}
    added = [i for i in wanted if i not in current]
    removed = [i for i in current if i not in users]
    for uid in removed:
        session.delete(current[uid])
    for uid in added:
        session.add(TeamMember(team_id=team_id, user_id=uid))
    session.flush()
    for uid in added + removed:
        changed = users.get(uid) or session.get(User, uid)
        if changed is not None:
            session.expire(changed, ["memberships"])
            end_stale_access(session, changed)
    if added or removed:
        audit(session, "team.members_changed", actor=actor, team_id=team_id, added=added, removed=removed)
    return [users[i] for i in wanted]
