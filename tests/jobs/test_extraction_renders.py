"""How often a PDF page is rendered in one extraction: a text page once as shown (its
image, and the ink check's picture of it) and once without its text (the ink check), and
each box the text-layer check reads again on its own, at the glyph size it reads at."""

from __future__ import annotations

from collections import Counter

import pypdfium2 as pdfium
import pytest

from jobs.extraction import document, extract_document, get_engine, load_document
from jobs.extraction.shown import CHECKED_FIELDS
from submissions.pages import turn
from tests.jobs.fixtures_docs import invoice_pdf, receipt_pdf, receipt_pdf_whose_font_lies

WHOLE = (0.0, 0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def engine():
    return get_engine("rapidocr")


@pytest.fixture
def renders(monkeypatch) -> Counter[str]:
    """Every render of a page, whole or of a box, and every page loaded from a PDF."""
    counted: Counter[str] = Counter()
    render, load = pdfium.PdfPage.render, pdfium.PdfDocument.__getitem__

    def counting_render(page: pdfium.PdfPage, **kwargs: object) -> pdfium.PdfBitmap:
        counted["box" if any(kwargs.get("crop") or WHOLE) else "whole"] += 1
        return render(page, **kwargs)

    def counting_load(pdf: pdfium.PdfDocument, index: int) -> pdfium.PdfPage:
        counted["load"] += 1
        return load(pdf, index)

    monkeypatch.setattr(pdfium.PdfPage, "render", counting_render)
    monkeypatch.setattr(pdfium.PdfDocument, "__getitem__", counting_load)
    return counted


def test_a_text_page_is_rendered_whole_once_as_shown_and_once_without_its_text(engine, renders):
    # Its image was rendered a third time, the same page at the same scale as the ink
    # check's shown render; and each box read again loaded the page again.
    _, extraction = extract_document(receipt_pdf(), kind="receipt", engine=engine)
    # Each checked field's box (total, date, shop name) is rendered once to be read again.
    boxes = sum(
        1
        for name in CHECKED_FIELDS
        for box in extraction.evidence.get(name, [])
        if box.get("page") == 0
    )
    assert boxes == 3
    assert renders == {"whole": 2, "box": boxes, "load": 2}


def test_each_page_of_a_text_pdf_is_rendered_whole_twice_and_loaded_once_more_for_its_boxes(
    engine, renders
):
    _, extraction = extract_document(invoice_pdf(extra_pages=2), kind="invoice", engine=engine)
    checked = {box["page"] for boxes in extraction.evidence.values() for box in boxes}
    pages_read_again = len(checked & {0, 1, 2})
    assert renders["whole"] == 2 * 3
    assert renders["load"] == 3 + pages_read_again


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_a_text_pages_image_is_the_page_rendered_as_shown(rotate):
    # The image the fraud checks hash and the desk shows is the render it was before it
    # was shared with the ink check: a hash stored before matches the same page now.
    data = receipt_pdf_whose_font_lies({}, rotate=rotate)
    [page] = load_document(data).pages
    pdf = pdfium.PdfDocument(data)
    try:
        alone = document._render(pdf[0], WHOLE, document.TEXT_PAGE_DPI / 72, 40_000_000)
    finally:
        pdf.close()
    if page.transform:  # turned so its text reads upright, as it was before
        alone = turn(alone, page.transform["turn"])
    assert page.has_text_layer
    assert page.image.size == alone.size
    assert page.image.tobytes() == alone.tobytes()
