"""The reading child renders, reads and digests a file one page at a time: its memory no
longer grows with the page count, and what it reads is what it read when it rendered
every page before reading the first."""

from __future__ import annotations

import gc
import hashlib
import io
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from jobs.extraction import ExtractionError, Page, extract_document_isolated, isolated
from jobs.extraction.layout import Word
from tests.jobs.fixtures_docs import InvoiceSpec, invoice_pdf, receipt_pdf, render_png

# What the reading child made of mixed_pdf(), recorded at 20716d8, whose child rendered
# every page of a file before OCR read the first. Re-recorded when a document naming two
# currencies came to read as the most named at 0.6 (its GBP invoice and RM receipt were
# MYR at 0.89, the first of Steve's list), and again when a number with a point, neither
# labelled TIME nor beside a date, came to be no time (its time 12:50 was the price
# "£12.50"), and again when a total beside which another page shows a grand total that
# nothing printed explains came to be reviewed (its invoice's 246.00 was 0.941 beside its
# receipt's "TOTAL RM 17.90"); every other value stayed.
RECORDED = Path(__file__).parent / "data" / "extraction_pages_recorded.json"
# An image this large is a page's: the looks OCR takes for blankness and skew are < 0.5 MP.
PAGE_PIXELS = 1_000_000

LINES = [
    ("KEDAI BUKU MAJU", 0.30, 0.05, 0.80, 0.08),
    ("Date: 14/03/2018", 0.10, 0.20, 0.50, 0.23),
    ("Notebook 12.50", 0.10, 0.40, 0.90, 0.43),
    ("TOTAL RM 17.90", 0.10, 0.60, 0.90, 0.63),
]


class SizeEngine:
    """OCR that reads the same receipt on every page, and the size of the image it was
    handed: quick and the same on any machine, and it tells which image OCR saw."""

    name, upright_confidence = "size", 0.8

    def recognize(self, image: Image.Image) -> list[Word]:
        words = [
            Word(text=t, bbox=(x0, y0, x1, y1), confidence=0.97) for t, x0, y0, x1, y1 in LINES
        ]
        size = Word(
            text=f"{image.width}x{image.height}", bbox=(0.1, 0.8, 0.4, 0.83), confidence=0.9
        )
        return [*words, size]


def scan_page(pdf: canvas.Canvas, image: Image.Image) -> None:
    pdf.drawImage(ImageReader(image), 0, 0, width=A4[0], height=A4[1])
    pdf.showPage()


def scanned_pdf(pages: int) -> bytes:
    """``pages`` A4 scans (no text layer), each rendered at 1654 x 2339 px for OCR."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for index in range(pages):
        image = Image.new("RGB", (827, 1170), "white")
        ImageDraw.Draw(image).rectangle((80, 80 + 40 * index, 700, 110 + 40 * index), fill="black")
        scan_page(pdf, image)
    pdf.save()
    return out.getvalue()


def mixed_pdf() -> bytes:
    """Two pages with a text layer (an invoice), a tilted scan of a receipt and a blank
    scanned page."""
    receipt = Image.open(io.BytesIO(render_png(receipt_pdf(), dpi=150))).convert("RGB")
    tilted = receipt.rotate(1.5, resample=Image.Resampling.BICUBIC, fillcolor="white")
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    scan_page(pdf, tilted)
    scan_page(pdf, Image.new("RGB", (827, 1170), "white"))
    pdf.save()
    merged = pdfium.PdfDocument(invoice_pdf(InvoiceSpec(), extra_pages=1))
    merged.import_pages(pdfium.PdfDocument(out.getvalue()))
    saved = io.BytesIO()
    merged.save(saved)
    return saved.getvalue()


def what_was_read(page: Page) -> dict:
    """Everything of a page the reading child hands on, its image as a hash."""
    return {
        "index": page.index,
        "textLayer": page.has_text_layer,
        "transform": page.transform,
        "size": list(page.image.size),
        "image": hashlib.sha256(page.image.tobytes()).hexdigest(),
        "words": [[w.text, list(w.bbox), w.confidence] for w in page.words],
        "text": page.text,
    }


def read_mixed_pdf() -> dict:
    pages, extraction = extract_document_isolated(mixed_pdf(), digest=what_was_read, kind="receipt")
    result = {
        "pages": pages,
        "fields": extraction.fields,
        "confidences": extraction.field_confidences,
        "evidence": extraction.evidence,
        "pagesText": extraction.pages_text,
        "confidence": extraction.confidence,
        "certainty": extraction.certainty,
        "summary": extraction.summary,
        "cues": extraction.cues,
    }
    return json.loads(json.dumps(result))  # tuples become lists, as recorded


def test_a_multi_page_pdf_reads_as_it_did_when_every_page_was_rendered_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(isolated, "get_engine", lambda name: SizeEngine())
    read = read_mixed_pdf()
    assert [page["textLayer"] for page in read["pages"]] == [True, True, False, False]
    assert read == json.loads(RECORDED.read_text())


def big_images() -> set[int]:
    gc.collect()  # only images something still holds
    return {
        id(o)
        for o in gc.get_objects()
        # type(), not isinstance(): isinstance asks a lazy object (a request's companies,
        # left by another test in this process) its __class__, which reads the database.
        if issubclass(type(o), Image.Image) and o.width * o.height >= PAGE_PIXELS
    }


def test_the_reading_child_holds_no_other_page_image_while_it_renders_a_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """20 scanned A4 pages took 711-737 MB in the reading child when every page was
    rendered before OCR read the first; one at a time, a page's image is let go (read,
    digested) before the next is rendered."""
    monkeypatch.setattr(isolated, "get_engine", lambda name: SizeEngine())
    before = big_images()
    alive: list[int] = []  # at each render, the page images alive besides the test's own
    render = pdfium.PdfPage.render

    def counting_render(page: pdfium.PdfPage, *args: object, **kwargs: object) -> object:
        alive.append(len(big_images() - before))
        return render(page, *args, **kwargs)

    monkeypatch.setattr(pdfium.PdfPage, "render", counting_render)
    # The counts live in the child: each page's digest hands back those made so far.
    counts, extraction = extract_document_isolated(
        scanned_pdf(6), digest=lambda page: list(alive), kind="receipt"
    )
    # Each page is rendered once, and again cut to its print (a bar on a blank sheet).
    assert counts[-1] == [0] * 12
    assert extraction.pages_text[0].startswith("KEDAI BUKU MAJU")


def test_a_pdf_over_the_page_limit_is_refused_before_any_page_is_rendered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 300-page PDF fails PAGE_LIMIT_EXCEEDED, not out of memory or time."""
    monkeypatch.setattr(isolated, "get_engine", lambda name: SizeEngine())
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for index in range(300):
        pdf.drawString(72, 700, f"Statement page {index + 1}")
        pdf.showPage()
    pdf.save()

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a page was rendered")

    monkeypatch.setattr(pdfium.PdfPage, "render", never)
    with pytest.raises(ExtractionError) as refused:
        extract_document_isolated(out.getvalue(), digest=lambda page: None, kind="receipt")
    assert (refused.value.code, refused.value.retryable) == ("PAGE_LIMIT_EXCEEDED", False)
    assert "300 pages; at most 20" in refused.value.message
