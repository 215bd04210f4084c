"""The knowledge base: documents split into passages, kept in step with data/knowledge/, searched
with BM25 offline (no model at all), grounded-or-nothing thresholds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.knowledge.base import KnowledgeBase
from bot.knowledge.bm25 import BM25Index, tokenize
from bot.knowledge.passages import HEADING_SEP, DocumentError, parse_document
from bot.knowledge.store import do_delete_document, do_upload_document, sync_directory
from models.db import Database
from models.schema.llm import DocumentSource, KnowledgeDocument
from models.settings import Settings
from tests.support.documents import make_pdf


@pytest.fixture
def kdb(settings: Settings) -> Iterator[Database]:
    db = Database(settings.database_url)
    yield db
    db.dispose()


def test_markdown_is_split_by_section_with_heading_paths_and_intent_tags() -> None:
    doc = parse_document("shipping.md", b"# Shipping\n\nIntro line.\n\n## Costs\n<!-- intent: shipping_costs -->\n"
                                        b"Standard costs $4.95.\n\n### Express\nExpress costs $12.95.\n")
    assert doc.title == "Shipping" and doc.kind == "markdown"
    assert [(p.heading, p.text, p.intent) for p in doc.passages] == [
        ("Shipping", "Intro line.", None),
        (f"Shipping{HEADING_SEP}Costs", "Standard costs $4.95.", "shipping_costs"),
        (f"Shipping{HEADING_SEP}Costs{HEADING_SEP}Express", "Express costs $12.95.", None),
    ]


def test_long_sections_are_cut_at_paragraphs_and_sentences() -> None:
    body = "\n\n".join(f"Paragraph {i}. " + "Words go on here. " * 30 for i in range(4))
    doc = parse_document("long.txt", body.encode())
    assert len(doc.passages) > 1 and all(len(p.text) <= 900 for p in doc.passages)
    assert doc.passages[0].text.startswith("Paragraph 0.")


def test_faq_entries_are_passages_and_bad_files_say_why() -> None:
    doc = parse_document("faq.yml", b"title: FAQ\nfaq:\n  - q: Do you ship abroad?\n    a: Yes, to 30 countries.\n"
                                    b"    intent: shipping_times\n")
    assert [(p.heading, p.text, p.intent) for p in doc.passages] == [
        ("Do you ship abroad?", "Yes, to 30 countries.", "shipping_times")]
    for name, data, message in [("faq.yml", b"faq:\n  - q: only a question\n", "needs both"),
                                ("faq.yml", b"faq: [", "not valid YAML"),
                                ("notes.docx", b"x", "Unsupported file type"),
                                ("empty.md", b"   \n", "no text"),
                                ("bad.txt", b"\xff\xfe\xfa", "not UTF-8"),
                                ("broken.pdf", b"%PDF-1.4 nonsense", "could not be read")]:
        with pytest.raises(DocumentError, match=message):
            parse_document(name, data)


def test_pdf_text_is_extracted_page_by_page() -> None:
    doc = parse_document("care.pdf", make_pdf(["Wash wool at 30 degrees.", "Dry flat, away from heat."]))
    assert doc.kind == "pdf" and doc.title == "Care guide"
    assert doc.passages[0].heading == "Care guide · page 1"
    assert "Wash wool at 30 degrees." in doc.passages[0].text


def test_bm25_ranks_by_rare_matching_terms_and_folds_common_variants() -> None:
    index = BM25Index([("Delivery costs", "Standard delivery costs $4.95."),
                       ("Returns", "Return unused items within 30 days."),
                       ("Gift wrap", "We wrap gifts for $3.50.")])
    assert [s.index for s in index.search("what is the delivery fee")][:1] == [0]
    assert index.search("returning an item")[0].index == 1
    assert index.search("the of and") == []
    assert tokenize("Deliveries delivered") == tokenize("delivery deliver")


def test_the_data_folder_is_synced_added_updated_and_removed(kdb: Database, tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nAlpha facts.\n")
    (folder / "b.txt").write_text("Beta facts.\n")
    (folder / "broken.yml").write_text("faq: [")
    with kdb.transaction() as s:
        report = sync_directory(s, folder)
    assert (report.added, report.updated, report.removed) == (2, 0, 0)
    assert len(report.errors) == 1 and report.errors[0].startswith("broken.yml")
    (folder / "a.md").write_text("# A\n\nAlpha facts, revised.\n")
    (folder / "b.txt").unlink()
    with kdb.transaction() as s:
        report = sync_directory(s, folder)
        docs = s.scalars(select(KnowledgeDocument)).all()
        assert (report.added, report.updated, report.removed) == (0, 1, 1)
        assert [(d.path, d.passages[0].text) for d in docs] == [("a.md", "Alpha facts, revised.")]
    with kdb.transaction() as s:
        assert sync_directory(s, folder).updated == 0  # unchanged bytes: nothing rewritten


def test_search_finds_the_demo_answers_and_nothing_for_unrelated_questions(kdb: Database, settings: Settings) -> None:
    kb = KnowledgeBase(kdb, settings.data_dir)
    top = kb.search("how much is the delivery fee")[0]
    assert top.intent == "shipping_costs" and "$4.95" in top.text
    assert kb.search("can I pay with paypal")[0].intent == "payment_methods"
    assert kb.search("what is the capital of peru") == []
    assert kb.search("   ") == []


def test_uploads_are_searchable_at_once_replace_by_name_and_can_be_deleted(kdb: Database,
                                                                           settings: Settings) -> None:
    kb = KnowledgeBase(kdb, settings.data_dir)
    assert kb.search("alpaca wool care") == []
    with kdb.transaction() as s:
        pdf = make_pdf(["Alpaca wool: hand wash cold."], title="Fabrics")
        doc = do_upload_document(s, "../../Care guide.pdf", pdf, user_id=None)
        doc_id = doc.id
        assert (doc.source, doc.path) == (DocumentSource.UPLOAD.value, "Care guide.pdf")
    assert kb.search("alpaca wool care")[0].document_id == doc_id
    with kdb.transaction() as s:
        pdf = make_pdf(["Cashmere: dry clean only."], title="Fabrics")
        again = do_upload_document(s, "Care guide.pdf", pdf, user_id=None)
        assert again.id == doc_id
    assert kb.search("alpaca wool care") == [] and kb.search("cashmere")[0].document_id == doc_id
    with kdb.transaction() as s:
        assert do_delete_document(s, doc_id)
    assert kb.search("cashmere") == []
