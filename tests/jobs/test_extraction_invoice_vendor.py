"""An invoice's vendor: legal forms as printed, letterheads that are only a logo, and
accented letters, from a PDF's text layer and through OCR."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pytest
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from jobs.extraction import extract_document
from tests.jobs.test_extraction import _INVOICE_BODY

# A font that draws a combining accent as its own glyph, so the text layer holds "e" and
# U+0301 apart, as PDFs made by some tools do.
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

_DETAILS = [
    (50, 130, "INVOICE", 16),
    (50, 160, "Invoice No: INV-20417", 10),
    (50, 174, "Invoice Date: 04/03/2026", 10),
    *_INVOICE_BODY,
]


@pytest.mark.skipif(not DEJAVU.is_file(), reason="DejaVu Sans is not installed")
def test_a_text_layers_accented_letters_are_read_composed() -> None:
    # "e" + U+0301 came through as two characters: a name that looks the same and
    # compares unequal to the one a person types ("Société"), in a correction or a lookup.
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(DEJAVU)))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842))
    pdf.setFont("DejaVuSans", 22)
    pdf.drawString(50, 842 - 60, unicodedata.normalize("NFD", "Société Générale GmbH"))
    for x, y, text, size in _DETAILS:
        pdf.setFont("Helvetica", size)
        pdf.drawString(x, 842 - y, text)
    pdf.showPage()
    pdf.save()
    _, extraction = extract_document(out.getvalue(), kind="invoice")
    assert extraction.fields["vendorName"] == "Société Générale GmbH"  # NFC, as typed
    assert unicodedata.is_normalized("NFC", extraction.pages_text[0])
