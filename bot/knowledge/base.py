"""Search the knowledge base, and remember what each question found.

`KnowledgeBase.search` ranks passages with BM25 (always) and, when an embedding model is configured,
fuses that ranking with vector similarity (reciprocal rank fusion). A passage is only returned when
it is *relevant enough* to ground an answer: that threshold is what turns "no retrieved source"
into a handoff instead of a guess. The in-memory index is rebuilt when the passages change (any
process may upload), checked with one cheap query per search.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.knowledge.bm25 import BM25Index
from bot.knowledge.store import SyncReport, knowledge_dir, sync_directory
from models.db import Database
from models.schema.conversations import Conversation
from models.schema.llm import KnowledgeCitation, KnowledgeDocument, KnowledgePassage, KnowledgeQuery

log = logging.getLogger(__name__)

# Chosen on data/knowledge with the customer phrasings of data/nlu.yml (bench/llm.py): below this a
# BM25 match is a stray common word and grounds nothing. Set for recall: the agent (or the agent's
# reader of a retrieval-only draft) still judges whether a returned passage answers the question.
MIN_SCORE = 1.5
# Hits scoring under this share of the best one are noise next to it.
RELATIVE_CUTOFF = 0.35
DEFAULT_K = 4
RRF_K = 60


class Embedder(Protocol):
    """langchain's `Embeddings` interface, the part used here."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@dataclass(frozen=True)
class Hit:
    passage_id: int
    document_id: int
    document: str
    heading: str
    text: str
    score: float
    intent: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"passage_id": self.passage_id, "document_id": self.document_id, "document": self.document,
                "heading": self.heading, "text": self.text, "score": self.score, "intent": self.intent}


@dataclass(frozen=True)
class _Row:
    passage_id: int
    document_id: int
    document: str
    heading: str
    text: str
    intent: str | None


@dataclass
class _Snapshot:
    revision: tuple[Any, ...]
    rows: list[_Row]
    bm25: BM25Index
    vectors: list[list[float]] | None


class KnowledgeBase:
    def __init__(self, db: Database, data_dir: Path | None, *, embedder: Embedder | None = None,
                 embedding_model: str | None = None, min_score: float = MIN_SCORE,
                 min_similarity: float = 0.35) -> None:
        self.db = db
        self.directory = knowledge_dir(data_dir) if data_dir is not None else None
        self.embedder = embedder
        self.embedding_model = embedding_model if embedder is not None else None
        self.min_score = min_score
        self.min_similarity = min_similarity
        self._lock = threading.Lock()
        self._synced = False
        self._snapshot: _Snapshot | None = None

    # ------------------------------------------------------------------------------------------ sync
    def ensure_synced(self) -> None:
        """Bring `data/knowledge/` into the database once per process (lazily: tests and workers that
        never search pay nothing)."""
        if self._synced:
            return
        with self._lock:
            if not self._synced:
                self._sync()
                self._synced = True

    def resync(self) -> SyncReport:
        with self._lock:
            report = self._sync()
            self._synced = True
            return report

    def _sync(self) -> SyncReport:
        if self.directory is None:
            return SyncReport(0, 0, 0, ())
        try:
            with self.db.transaction() as session:
                report = sync_directory(session, self.directory)
        except (IntegrityError, OperationalError) as exc:  # another process synced at the same moment
            log.info("knowledge sync raced with another process (%s); using its result", type(exc).__name__)
            return SyncReport(0, 0, 0, ())
        for error in report.errors:
            log.error("knowledge base: %s", error)
        if report.added or report.updated or report.removed:
            log.info("knowledge base synced from %s: %d added, %d updated, %d removed", self.directory,
                     report.added, report.updated, report.removed)
        return report

    # ---------------------------------------------------------------------------------------- search
    def search(self, query: str, k: int = DEFAULT_K) -> list[Hit]:
        """The passages relevant enough to answer `query` from, best first; [] when none is."""
        self.ensure_synced()
        snap = self._current()
        if not snap.rows or not query.strip():
            return []
        bm25 = [s for s in snap.bm25.search(query, k=max(k * 3, 10)) if s.score >= self.min_score]
        if bm25:
            floor = bm25[0].score * RELATIVE_CUTOFF
            bm25 = [s for s in bm25 if s.score >= floor]
        scores = {s.index: s.score for s in bm25}
        if snap.vectors is None or self.embedder is None:
            order = [s.index for s in bm25]
        else:
            sims = _cosines(self.embedder.embed_query(query), snap.vectors)
            dense = [i for i in sorted(range(len(sims)), key=lambda i: -sims[i])[: max(k * 3, 10)]
                     if sims[i] >= self.min_similarity]
            fused: dict[int, float] = {}
            for ranking in ([s.index for s in bm25], dense):
                for rank, i in enumerate(ranking):
                    fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
            order = sorted(fused, key=lambda i: -fused[i])
            scores = {i: round(fused[i] * 100, 4) for i in order}
        hits = []
        for i in order[:k]:
            row = snap.rows[i]
            hits.append(Hit(row.passage_id, row.document_id, row.document, row.heading, row.text, scores[i],
                            row.intent))
        return hits

    def passages(self, ids: Sequence[int]) -> list[Hit]:
        self.ensure_synced()
        snap = self._current()
        by_id = {r.passage_id: r for r in snap.rows}
        return [Hit(r.passage_id, r.document_id, r.document, r.heading, r.text, 0.0, r.intent)
                for r in (by_id.get(i) for i in ids) if r is not None]

    def _revision(self) -> tuple[Any, ...]:
        with self.db.session() as s:
            p = s.execute(select(func.count(KnowledgePassage.id), func.max(KnowledgePassage.id))).one()
            d = s.execute(select(func.count(KnowledgeDocument.id), func.max(KnowledgeDocument.updated_at))).one()
        updated: datetime | None = d[1]
        return (p[0], p[1], d[0], updated.isoformat() if updated else None, self.embedding_model)

    def _current(self) -> _Snapshot:
        revision = self._revision()
        snap = self._snapshot
        if snap is not None and snap.revision == revision:
            return snap
        with self._lock:
            if self._snapshot is None or self._snapshot.revision != revision:
                self._snapshot = self._build(revision)
            return self._snapshot

    def _build(self, revision: tuple[Any, ...]) -> _Snapshot:
        with self.db.session() as s:
            result = s.execute(
                select(KnowledgePassage.id, KnowledgePassage.document_id, KnowledgeDocument.title,
                       KnowledgePassage.heading, KnowledgePassage.text, KnowledgePassage.intent,
                       KnowledgePassage.embedding, KnowledgePassage.embedding_model)
                .join(KnowledgeDocument, KnowledgeDocument.id == KnowledgePassage.document_id)
                .order_by(KnowledgePassage.id)).all()
        rows = [_Row(r[0], r[1], r[2], r[3], r[4], r[5]) for r in result]
        vectors = None
        if self.embedder is not None:
            vectors = self._vectors(rows, [(r[6], r[7]) for r in result])
        return _Snapshot(revision, rows, BM25Index([(r.heading, r.text) for r in rows]), vectors)

    def _vectors(self, rows: list[_Row], stored: list[tuple[Any, str | None]]) -> list[list[float]]:
        """Stored embeddings of the configured model; missing ones are computed once and kept."""
        assert self.embedder is not None
        missing = [i for i, (vec, model) in enumerate(stored) if vec is None or model != self.embedding_model]
        vectors: list[list[float]] = [list(vec) if vec is not None else [] for vec, _ in stored]
        if missing:
            fresh = self.embedder.embed_documents([f"{rows[i].heading}\n{rows[i].text}" for i in missing])
            with self.db.transaction() as s:
                for i, vec in zip(missing, fresh, strict=True):
                    vectors[i] = list(vec)
                    passage = s.get(KnowledgePassage, rows[i].passage_id)
                    if passage is not None:
                        passage.embedding = list(vec)
                        passage.embedding_model = self.embedding_model
        return vectors

    # -------------------------------------------------------------------------------------- records
    def record_query(self, *, purpose: str, conversation: str | int | None, question: str,
                     searches: Sequence[dict[str, Any]], outcome: str, cited: Sequence[int] = ()) -> int:
        """Keep what a question found and which passages the answer cited (the admin's view)."""
        with self.db.transaction() as s:
            conv_id = conversation_pk(s, conversation)
            query = KnowledgeQuery(purpose=purpose, conversation_id=conv_id, question=question[:2000],
                                   searches=list(searches), outcome=outcome)
            s.add(query)
            s.flush()
            known = set(s.scalars(select(KnowledgePassage.id).where(KnowledgePassage.id.in_(list(cited)))))
            for passage_id in dict.fromkeys(cited):
                if passage_id in known:
                    s.add(KnowledgeCitation(query_id=query.id, passage_id=passage_id))
            return query.id


def conversation_pk(session: Any, conversation: str | int | None) -> int | None:
    """A conversation's row id from its public id (engines only know the public one)."""
    if conversation is None or isinstance(conversation, int):
        return conversation
    pk: int | None = session.scalar(select(Conversation.id).where(Conversation.public_id == conversation))
    return pk


def _cosines(query: list[float], vectors: list[list[float]]) -> list[float]:
    qn = math.sqrt(sum(x * x for x in query)) or 1.0
    out = []
    for vec in vectors:
        vn = math.sqrt(sum(x * x for x in vec)) or 1.0
        out.append(sum(a * b for a, b in zip(query, vec, strict=False)) / (qn * vn))
    return out
