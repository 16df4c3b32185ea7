"""Endless words: text no receipt or invoice prints is read in words of bounded length, and
the field parsers read any line in time linear in its length."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from jobs.extraction import load_document
from jobs.extraction.api import PageText, parse_pages
from jobs.extraction.document import Page
from jobs.extraction.layout import MAX_WORD_CHARS, Word
from jobs.extraction.ocr import read_page

# A payment link of about the length of Malaysia's e-invoice validation links: a word.
PAYMENT_LINK = "https://myinvois.hasil.gov.my/" + "B7XK2QZ" * 10 + "/share/ABC"


def pdf_of_lines(*lines: tuple[str, float]) -> bytes:
    """One A4 page of ``lines`` in 8-point Helvetica, each scaled across to its share of
    the letters' width (PDF's text scaling, Tz): a long run squeezed onto the page."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    text = pdf.beginText(20, 800)
    text.setFont("Helvetica", 8)
    for line, scale in lines:
        text.setHorizScale(scale)
        text.textLine(line)
    pdf.drawText(text)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def test_a_text_layer_run_longer_than_any_word_is_read_in_words_of_bounded_length():
    # A 1.6-KB PDF of 59,000 digits in long runs took 152 s to parse: the field parsers'
    # patterns are quadratic in a word's length, and each run was one word.
    run = "".join(str(n % 10) for n in range(2_000))
    page = load_document(pdf_of_lines((run, 5), ("TOTAL RM 17.90", 100))).pages[0]
    pieces = [word for word in page.words if word.text[0].isdigit() and len(word.text) > 5]
    assert all(len(word.text) <= MAX_WORD_CHARS for word in page.words)
    assert "".join(word.text for word in pieces) == run  # nothing lost, in order
    # Each piece is boxed on its own characters, left to right along the line.
    assert all(a.bbox[2] <= b.bbox[0] + 1e-3 for a, b in zip(pieces, pieces[1:], strict=False))
    assert page.text.splitlines() == [" ".join(word.text for word in pieces), "TOTAL RM 17.90"]


def test_a_word_as_long_as_a_payment_link_is_read_whole():
    assert len(PAYMENT_LINK) > 100
    page = load_document(pdf_of_lines((PAYMENT_LINK, 60), ("TOTAL RM 17.90", 100))).pages[0]
    assert [word.text for word in page.words][0] == PAYMENT_LINK


class EndlessLine:
    """An OCR engine that reads one line holding a run of ``run`` characters."""

    name, upright_confidence = "endless", 0.8

    def __init__(self, run: str) -> None:
        self.run = run

    def recognize(self, image: Image.Image) -> list[Word]:
        line = f"TOTAL {self.run} RM 17.90"
        return [Word(text=line, bbox=(0.1, 0.1, 0.9, 0.12), confidence=0.99)]


def test_an_ocr_line_holding_a_run_longer_than_any_word_is_read_in_words_of_bounded_length():
    image = Image.new("RGB", (600, 800), "white")
    ImageDraw.Draw(image).rectangle((60, 80, 540, 96), fill="black")
    page = Page(index=0, image=image)
    run = "9" * 5_000
    read_page(page, EndlessLine(run))
    [word] = page.words
    runs = word.text.split()
    assert max(len(part) for part in runs) <= MAX_WORD_CHARS
    assert "".join(runs) == f"TOTAL{run}RM17.90"  # nothing lost
    assert runs[:1] + runs[-2:] == ["TOTAL", "RM", "17.90"]


def parsing_time(words: list[Word], kind: str) -> float:
    """CPU seconds (not wall time, which a loaded machine stretches) to parse a page of
    ``words`` on one line."""
    text = " ".join(word.text for word in words)
    started = time.process_time()
    parse_pages([PageText(index=0, words=words, text=text, has_text_layer=True)], kind=kind)
    return time.process_time() - started


@pytest.mark.parametrize("kind", ["receipt", "invoice"])
@pytest.mark.parametrize("unit", ["9", "a", "A9", "9.", "9-", "a@", ".", ","])
def test_a_line_of_one_endless_word_is_parsed_in_time_linear_in_its_length(kind, unit):
    # Words are bounded where they are read; the parsers are not left to rely on it. At
    # 100,000 digits their quadratic patterns took minutes; read linearly, milliseconds.
    text = unit * (100_000 // len(unit))
    word = Word(text=text, bbox=(0.05, 0.1, 0.95, 0.12), confidence=1.0, ink=765.0)
    assert parsing_time([word], kind) < 10


@pytest.mark.parametrize("kind", ["receipt", "invoice"])
def test_a_line_of_thousands_of_amounts_is_parsed_in_time_linear_in_its_length(kind):
    # Each time-shaped amount ("1.00" as 01:00) had the whole line searched for a date
    # again: a line of 2,300 amounts took 21 s.
    text = " ".join(f"RM{n % 10}.00" for n in range(3_000))
    word = Word(text=text, bbox=(0.05, 0.1, 0.95, 0.12), confidence=1.0)
    assert parsing_time([word], kind) < 10
