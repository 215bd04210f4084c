"""The knowledge base in the database: documents from `data/knowledge/` and admin uploads.

Both live in the same tables so every process searches the same passages. The `data/` folder is the
source of truth for its own documents: `sync_directory` adds, replaces (when the bytes changed) and
removes them; uploads are kept until an admin deletes them. Each `do_*` writes in the caller's
transaction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePath

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.knowledge.passages import KINDS, DocumentError, ParsedDocument, parse_document
from models.schema.base import utcnow
from models.schema.llm import DocumentSource, KnowledgeDocument, KnowledgePassage

KNOWLEDGE_DIR = "knowledge"


@dataclass(frozen=True)
class SyncReport:
    added: int
    updated: int
    removed: int
    errors: tuple[str, ...]


def knowledge_dir(data_dir: Path) -> Path:
    return data_dir / KNOWLEDGE_DIR


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_filename(name: str) -> str:
    """The uploaded file's name, reduced to something safe to show and to key on."""
    base = PurePath(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^\w.\- ]+", "_", base).strip(" ._")
    if not cleaned:
        raise DocumentError("The file needs a name.")
    return cleaned[:200]


def _fill(doc: KnowledgeDocument, parsed: ParsedDocument, data: bytes) -> None:
    doc.title = parsed.title
    doc.kind = parsed.kind
    doc.content_hash = sha256(data)
    doc.size_bytes = len(data)
    doc.updated_at = utcnow()
    doc.passages = [KnowledgePassage(position=i, heading=p.heading, text=p.text, intent=p.intent)
                    for i, p in enumerate(parsed.passages)]


def do_upload_document(session: Session, filename: str, data: bytes, *, user_id: int | None) -> KnowledgeDocument:
    """Add an admin's document, or replace the upload of the same name. Raises `DocumentError`."""
    name = safe_filename(filename)
    parsed = parse_document(name, data)
    doc = session.scalar(select(KnowledgeDocument).where(
        KnowledgeDocument.source == DocumentSource.UPLOAD.value, KnowledgeDocument.path == name))
    if doc is None:
        doc = KnowledgeDocument(source=DocumentSource.UPLOAD.value, path=name, created_at=utcnow())
        session.add(doc)
    doc.uploaded_by_id = user_id
    _fill(doc, parsed, data)
    session.flush()
    return doc


def do_delete_document(session: Session, document_id: int) -> bool:
    doc = session.get(KnowledgeDocument, document_id)
    if doc is None:
        return False
    session.delete(doc)
    return True


def sync_directory(session: Session, directory: Path) -> SyncReport:
    """Make the `data` documents match the folder. A broken file is reported and skipped (its old
    passages, if any, stay), so one typo does not empty the knowledge base."""
    existing = {d.path: d for d in session.scalars(
        select(KnowledgeDocument).where(KnowledgeDocument.source == DocumentSource.DATA.value))}
    seen: set[str] = set()
    added = updated = 0
    errors: list[str] = []
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in KINDS
                   and not any(part.startswith(".") for part in p.relative_to(directory).parts)) \
        if directory.is_dir() else []
    for path in files:
        rel = path.relative_to(directory).as_posix()
        seen.add(rel)
        data = path.read_bytes()
        doc = existing.get(rel)
        if doc is not None and doc.content_hash == sha256(data):
            continue
        try:
            parsed = parse_document(path.name, data)
        except DocumentError as exc:
            errors.append(f"{rel}: {exc}")
            continue
        if doc is None:
            doc = KnowledgeDocument(source=DocumentSource.DATA.value, path=rel, created_at=utcnow())
            session.add(doc)
            added += 1
        else:
            updated += 1
        _fill(doc, parsed, data)
    removed = 0
    for rel, doc in existing.items():
        if rel not in seen:
            session.delete(doc)
            removed += 1
    session.flush()
    return SyncReport(added, updated, removed, tuple(errors))

