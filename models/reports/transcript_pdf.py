"""A conversation's transcript as PDF, made here (fpdf2: pure Python, no browser, no network), with the
same lines as the text transcript (models/reports/export.py) and the same rules for notes.

The font is DejaVu Sans, shipped beside this module (fonts/, with its licence), so that customer text in
Latin, Greek, Cyrillic, Armenian or Georgian script renders on any host. Arabic and Hebrew letters render
but are laid out left to right, unshaped (fpdf2 shapes text only with the optional uharfbuzz); characters
the font has no glyph for (CJK, emoji) are left out of the PDF. The text transcript and the exports keep
every character.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fpdf import FPDF
from sqlalchemy.orm import Session

from models.reports.export import transcript
from models.schema.conversations import Conversation

FONT = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # keeps tabs and newlines

# fpdf2 (through fontTools) reports every missing glyph; the module's docstring says what happens then.
logging.getLogger("fpdf").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


def transcript_pdf(session: Session, conv: Conversation, *, notes: bool = False) -> bytes:
    """The transcript as a PDF document (A4); the caller checked that the user may see it."""
    pdf = FPDF(format="A4")
    pdf.set_title(f"Conversation {conv.public_id}")
    pdf.set_creator("Parley")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=10)
    pdf.add_page()
    for line in transcript(session, conv, notes=notes):
        text = _CONTROL.sub(" ", line.rstrip("\n")).replace("\t", "    ")
        if text:
            pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(3)
    return bytes(pdf.output())
