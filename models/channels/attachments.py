"""Attachments: what a file really is (sniffed from its bytes, never from its name), whether it
is allowed, and where its bytes live (the instance's storage, under a random key).

Files are stored in the shared storage (models/storage: the instance folder by default, S3 for several
hosts) under `attachments/<random key>` and served only through the console's permission-checked
route; nothing here knows of URLs or requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype
from sqlalchemy.orm import Session

from models.errors import InvalidInput, TooLong
from models.schema.channels import Attachment, AttachmentState
from models.schema.conversations import Conversation, Message
from models.storage import Storage

ALLOWED = frozenset({
    "7z", "avi", "bmp", "csv", "doc", "docx", "gif", "gz", "jpg", "jpeg", "json", "mkv", "mov", "mp3", "mp4",
    "pdf", "png", "psd", "rar", "svg", "tar", "tgz", "tif", "tiff", "txt", "wav", "webm", "wmv", "xls", "xlsx",
    "xml", "zip",
})


# Only these are ever shown inline (never SVG, never anything that a browser could run).
INLINE_SAFE = frozenset({"image/png", "image/jpeg", "image/gif", "image/bmp"})


_TYPES = {
    "jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "bmp": "image/bmp", "tif": "image/tiff",
    "psd": "image/vnd.adobe.photoshop", "mp4": "video/mp4", "mkv": "video/x-matroska", "webm": "video/webm",
    "mov": "video/quicktime", "avi": "video/x-msvideo", "wmv": "video/x-ms-wmv", "mp3": "audio/mpeg",
    "wav": "audio/wav", "zip": "application/zip", "tar": "application/x-tar", "rar": "application/vnd.rar",
    "gz": "application/gzip", "7z": "application/x-7z-compressed", "pdf": "application/pdf",
    "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "txt": "text/plain", "csv": "text/csv", "json": "application/json", "xml": "application/xml",
    "svg": "image/svg+xml",
}


# Extensions a claimed name may keep when the bytes agree with it (same sniffed family).
_ALIASES = {"jpg": ("jpg", "jpeg"), "tif": ("tif", "tiff"), "gz": ("gz", "tgz"), "txt": ("txt", "csv")}


_HTML = re.compile(rb"<\s*(!doctype\s+html|html|head|body|script|iframe|meta|object|embed)\b", re.I)


_SVG = re.compile(rb"^(\s|<\?xml[^>]*\?>|<!--.*?-->|<!doctype[^>]*>)*<svg\b", re.I | re.S)


@dataclass(frozen=True)
class Sniffed:
    extension: str  # canonical: jpg, tif, gz, txt, ...
    content_type: str


def _text(data: bytes) -> str | None:
    if b"\x00" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    controls = sum(1 for ch in text[:8192] if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f")
    return text if controls == 0 else None


def sniff(data: bytes, claimed_name: str | None = None) -> Sniffed | None:
    """The file's type from its bytes (None: unknown, or not one we allow)."""
    kind = filetype.guess(data[:8192] if len(data) > 8192 else data)
    if kind is not None:
        ext = {"jpeg": "jpg", "tiff": "tif"}.get(kind.extension, kind.extension)
        if ext == "zip":
            ext = _office_zip(data) or "zip"
        return Sniffed(ext, _TYPES[ext]) if ext in _TYPES else None
    if data[257:262] == b"ustar":
        return Sniffed("tar", _TYPES["tar"])
    text = _text(data)
    if text is None:
        return None
    head = data[:4096].lstrip()
    if _SVG.match(head):
        return Sniffed("svg", _TYPES["svg"])
    if _HTML.search(data[:4096]):
        return None  # HTML is never accepted: a browser would run it
    if head.startswith((b"{", b"[")):
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            return Sniffed("json", _TYPES["json"])
    if head.startswith(b"<?xml") or (head.startswith(b"<") and head.rstrip().endswith(b">")):
        return Sniffed("xml", _TYPES["xml"])
    if claimed_name and claimed_name.lower().endswith(".csv"):
        return Sniffed("csv", _TYPES["csv"])
    return Sniffed("txt", _TYPES["txt"])


def _office_zip(data: bytes) -> str | None:
    if b"word/" in data[:65536]:
        return "docx"
    if b"xl/" in data[:65536]:
        return "xlsx"
    return None


def check_allowed(data: bytes, claimed_name: str | None, max_bytes: int) -> Sniffed:
    if len(data) > max_bytes:
        raise TooLong(f"The file is too large ({len(data)} bytes; the limit is {max_bytes}).", code="file_too_large")
    if not data:
        raise InvalidInput("The file is empty.", code="empty_file")
    sniffed = sniff(data, claimed_name)
    if sniffed is None or sniffed.extension not in ALLOWED:
        raise InvalidInput("This type of file is not allowed. Allowed: " + ", ".join(sorted(ALLOWED)) + ".",
                           code="file_type")
    return sniffed


def safe_filename(name: str | None, sniffed: Sniffed) -> str:
    """A display/download name: no paths or control characters, and an extension that tells the truth."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C" and ch not in '"<>:|?*').strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    if ext.lower() not in _ALIASES.get(sniffed.extension, (sniffed.extension,)):
        stem = base or "file"
        ext = sniffed.extension
    return f"{(stem or 'file')[:200]}.{ext.lower()}"


class AttachmentStore:
    """Attachments' bytes in the shared storage under `attachments/<random key>`; the database keeps
    only the key, so any process on any host that shares the storage can serve any file."""

    PREFIX = "attachments"

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def _key(self, key: str) -> str:
        if not re.fullmatch(r"[0-9a-f]{40}", key):
            raise ValueError("bad storage key")
        return f"{self.PREFIX}/{key}"

    def put(self, data: bytes) -> str:
        key = secrets.token_hex(20)
        self.storage.put(self._key(key), data)
        return key

    def open(self, key: str) -> BinaryIO:
        """The file's bytes as a stream (raises NotStored when they are gone)."""
        return self.storage.open(self._key(key))

    def local_path(self, key: str) -> Path | None:
        return self.storage.local_path(self._key(key))

    def delete(self, key: str) -> None:
        self.storage.delete(self._key(key))


def do_attach(session: Session, store: AttachmentStore, *, conv: Conversation, msg: Message, data: bytes,
              filename: str | None, max_bytes: int) -> Attachment:
    """Check and store an uploaded file on `msg` (refused files are never written)."""
    sniffed = check_allowed(data, filename, max_bytes)
    att = Attachment(message_id=msg.id, conversation_id=conv.id, filename=safe_filename(filename, sniffed),
                     content_type=sniffed.content_type, extension=sniffed.extension, size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), storage_key=store.put(data),
                     state=AttachmentState.READY.value)
    session.add(att)
    session.flush()
    return att


def do_add_pending(session: Session, *, conv: Conversation, msg: Message, source_ref: str,
                   filename: str | None, channel_config_id: int | None) -> Attachment:
    """An inbound media to fetch after the webhook is acknowledged."""
    att = Attachment(message_id=msg.id, conversation_id=conv.id, filename=(filename or "file")[:255],
                     state=AttachmentState.PENDING.value, source_ref=source_ref,
                     channel_config_id=channel_config_id)
    session.add(att)
    session.flush()
    return att


def do_store_fetched(session: Session, store: AttachmentStore, att: Attachment, data: bytes, *,
                     max_bytes: int) -> None:
    """The fetched bytes of a pending inbound media: stored if allowed, else refused with the reason."""
    try:
        sniffed = check_allowed(data, att.filename, max_bytes)
    except (InvalidInput, TooLong) as exc:
        do_refuse(att, exc.message)
        return
    att.filename = safe_filename(att.filename if att.filename != "file" else None, sniffed)
    att.content_type = sniffed.content_type
    att.extension = sniffed.extension
    att.size = len(data)
    att.sha256 = hashlib.sha256(data).hexdigest()
    att.storage_key = store.put(data)
    att.state = AttachmentState.READY.value
    att.error = None


def do_refuse(att: Attachment, reason: str, *, state: str = AttachmentState.REFUSED.value) -> None:
    att.state = state
    att.error = reason[:300]
