"""Documents in, passages out: Markdown by section, FAQ files by entry, text and PDF by paragraph.

A passage is what retrieval returns and what an answer cites, so it should answer one thing: an
FAQ entry, or one section of a page, cut at paragraph boundaries when a section runs long.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import PurePath

import yaml

MAX_PASSAGE_CHARS = 900
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
KINDS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf", ".yml": "faq", ".yaml": "faq"}
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
HEADING_SEP = " \u203a "  # a single right-pointing angle quote: "Shipping > Costs"
_INTENT = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
# `<!-- intent: shipping_costs -->` in a Markdown section names the intent it answers (like an FAQ entry's).
_INTENT_TAG = re.compile(r"^\s*<!--\s*intent:\s*([a-z][a-z0-9_]{0,99})\s*-->\s*$")


class DocumentError(ValueError):
    """A document that cannot be read or holds nothing to index; the message is for the admin."""


@dataclass(frozen=True)
class PassageText:
    heading: str
    text: str
    intent: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    title: str
    kind: str
    passages: tuple[PassageText, ...]


def kind_of(filename: str) -> str:
    kind = KINDS.get(PurePath(filename).suffix.lower())
    if kind is None:
        raise DocumentError("Unsupported file type: upload Markdown (.md), text (.txt), PDF (.pdf) "
                            "or an FAQ file (.yml).")
    return kind


def parse_document(filename: str, data: bytes) -> ParsedDocument:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"The file is too large (limit {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB).")
    kind = kind_of(filename)
    fallback_title = _title_from_filename(filename)
    if kind == "pdf":
        title, passages = _pdf(data, fallback_title)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentError("The file is not UTF-8 text.") from exc
        if kind == "markdown":
            title, passages = _markdown(text, fallback_title)
        elif kind == "faq":
            title, passages = _faq(text, fallback_title)
        else:
            title, passages = fallback_title, _plain(text, fallback_title)
    passages = [p for p in passages if p.text.strip()]
    if not passages:
        raise DocumentError("The file has no text to index.")
    return ParsedDocument(title=title[:300], kind=kind, passages=tuple(passages))


def _title_from_filename(filename: str) -> str:
    stem = PurePath(filename).stem
    return re.sub(r"[_-]+", " ", stem).strip().capitalize() or "Untitled"


def _markdown(text: str, fallback_title: str) -> tuple[str, list[PassageText]]:
    title = fallback_title
    stack: list[tuple[int, str]] = []
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m is None:
            sections[-1][1].append(line)
            continue
        level, name = len(m.group(1)), m.group(2).strip()
        if level == 1 and title == fallback_title and not stack:
            title = name
            continue
        stack = [(lv, n) for lv, n in stack if lv < level] + [(level, name)]
        sections.append((HEADING_SEP.join(n for _, n in stack), []))
    passages: list[PassageText] = []
    for heading, lines in sections:
        tags = [m.group(1) for m in map(_INTENT_TAG.match, lines) if m]
        body = "\n".join(line for line in lines if not _INTENT_TAG.match(line)).strip()
        full = f"{title}{HEADING_SEP}{heading}" if heading else title
        passages.extend(PassageText(full[:300], chunk, tags[0] if tags else None) for chunk in _chunks(body))
    return title, passages


def _faq(text: str, fallback_title: str) -> tuple[str, list[PassageText]]:
    """`title:` and `faq:` [{q, a, intent?}] — the question is the passage's heading."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DocumentError(f"The FAQ file is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("faq"), list):
        raise DocumentError("An FAQ file needs a top-level 'faq:' list of entries with 'q' and 'a'.")
    title = str(raw.get("title") or fallback_title)
    passages = []
    for n, entry in enumerate(raw["faq"], start=1):
        if not isinstance(entry, dict) or not entry.get("q") or not entry.get("a"):
            raise DocumentError(f"FAQ entry {n} needs both 'q' (question) and 'a' (answer).")
        intent = entry.get("intent")
        if intent is not None and not (isinstance(intent, str) and _INTENT.match(intent)):
            raise DocumentError(f"FAQ entry {n}: 'intent' must be a snake_case name.")
        passages.append(PassageText(" ".join(str(entry["q"]).split())[:300], str(entry["a"]).strip(), intent))
    return title, passages


def _plain(text: str, heading: str) -> list[PassageText]:
    return [PassageText(heading, chunk) for chunk in _chunks(text)]


def _pdf(data: bytes, fallback_title: str) -> tuple[str, list[PassageText]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        title = fallback_title
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title).strip() or fallback_title
        passages: list[PassageText] = []
        for number, page in enumerate(reader.pages, start=1):
            text = page.extract_text() or ""
            passages.extend(PassageText(f"{title} · page {number}", chunk) for chunk in _chunks(text))
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"The PDF could not be read ({type(exc).__name__}).") from exc
    return title, passages


def _chunks(text: str, limit: int = MAX_PASSAGE_CHARS) -> list[str]:
    """Paragraphs packed up to `limit` characters; an overlong paragraph is cut at sentence ends."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        sentence_run = ""
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            while len(sentence) > limit:  # no sentence ends in sight: hard cut
                if sentence_run:
                    pieces.append(sentence_run)
                    sentence_run = ""
                pieces.append(sentence[:limit])
                sentence = sentence[limit:]
            if sentence_run and len(sentence_run) + 1 + len(sentence) > limit:
                pieces.append(sentence_run)
                sentence_run = sentence
            else:
                sentence_run = f"{sentence_run} {sentence}".strip()
        if sentence_run:
            pieces.append(sentence_run)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 2 + len(piece) <= limit:
            chunks[-1] = f"{chunks[-1]}\n\n{piece}"
        else:
            chunks.append(piece)
    return chunks
