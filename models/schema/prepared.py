"""Files an agent prepares with a pre-planned session (models/outreach/files.py): kept on a private note
until the invitation goes, then shared with the customer on their chat page."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from models.schema.base import Base, utcnow


class PreparedFile(Base):
    __tablename__ = "prepared_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    # The file as uploaded, on the agent's private note.
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"))
    # The message that shared it with the customer (None: not sent yet).
    shared_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"),
                                                          default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
