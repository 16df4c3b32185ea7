"""A PDF page whose text is painted too light for a reviewer to see.

Text lighter than about #E0E0E0 on white does not count as shown (document.SEEN_INK_LEVELS):
a page drawn wholly so has no text layer that counts and is read by OCR from its image,
which reads light print a reviewer's eye passes over as blank paper. Its fields go to
review, saying why. These read with the real OCR engine where OCR matters (~3 s a page)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from django.utils.html import escape
from reportlab.pdfgen.canvas import Canvas

from jobs import pipeline
from jobs.extraction import extract_document, get_engine, load_document
from jobs.extraction.api import PageText
from jobs.extraction.layout import Word
from jobs.extraction.shown import FAINT_PAGE, SHOWN_OTHERWISE_CONFIDENCE, cap_faint_pages
from jobs.models import SessionState, WorkflowSession
from submissions.models import SubmissionStatus
from tests.jobs.fixtures_docs import (
    FAMILIES,
    receipt_pdf,
    receipt_pdf_in_greys,
    receipt_pdf_set_in,
)
from tests.jobs.test_hostile_files import (
    SHOWN,
    receipt_hiding,
    scan_with_hidden_text,
    submit,
    total_under_an_image,
    white_total_on_the_blank_page,
)

# The attacker's page: every word drawn in #E0E0E0 to #E6E6E6 on white. OCR read its
# total 17.90 at 0.899 and its date at 0.97, straight through, over a page that shows a
# reviewer next to nothing.
TOO_LIGHT = (0xE0, 0xE3, 0xE6)


@pytest.fixture(scope="module")
def engine():
    return get_engine("rapidocr")


def grey(level: int) -> float:
    """A grey of ``level`` (0-255) as reportlab takes it (0 black, 1 white)."""
    return level / 255


@pytest.mark.parametrize("level", [0xE0, 0xE6], ids=["E0E0E0", "E6E6E6"])
def test_a_pdf_page_drawn_too_light_to_see_is_read_with_its_fields_in_review(engine, level):
    _, read = extract_document(receipt_pdf(grey=grey(level)), kind="receipt", engine=engine)
    assert read.fields["totalAmount"] == 17.9  # OCR reads the light print...
    assert read.fields["date"] == "2018-03-14"
    # ...which a reviewer hardly sees: every field read from the page goes to review.
    assert read.evidence and set(read.evidence) <= set(read.field_confidences)
    for name, boxes in read.evidence.items():
        assert read.field_confidences[name] <= SHOWN_OTHERWISE_CONFIDENCE, name
        assert [box.get("faintPage") for box in boxes] == [FAINT_PAGE] * len(boxes), name
    assert read.certainty <= SHOWN_OTHERWISE_CONFIDENCE
    assert "too faint to see" in read.summary and "totalAmount" in read.summary


@pytest.mark.parametrize("level", [*TOO_LIGHT, 0xF0, 0xF8])
def test_a_page_drawn_too_light_to_see_is_marked_so(level):
    page = load_document(receipt_pdf(grey=grey(level))).pages[0]
    assert not page.has_text_layer  # read from its image, by OCR
    assert page.faint


def light_print_beside(pdf: Canvas) -> None:
    """A light watermark and fine print on a receipt printed black: fewer words than it."""
    pdf.setFillGray(grey(0xF0))
    pdf.setFont("Helvetica-Bold", 30)
    pdf.drawString(30, 120, "COPY")
    pdf.setFillGray(grey(0xE4))
    pdf.setFont("Helvetica", 6)
    pdf.drawString(20, 40, "Goods sold are not returnable")


def white_receipt() -> bytes:
    return receipt_pdf(grey=1.0)  # white on white: hidden, not faint


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(receipt_pdf(), id="black"),
        # Grey a reviewer reads: #808080 (a contrast of 3.9 to 1 on white), #A0A0A0
        # (2.6), #C0C0C0 (1.8); and a receipt's labels in grey.
        *(pytest.param(receipt_pdf(grey=grey(g)), id=f"grey-{g:X}") for g in (0x80, 0xA0, 0xC0)),
        pytest.param(receipt_pdf_in_greys(labels=0.6), id="grey-labels"),
        *(
            pytest.param(receipt_pdf_set_in(family, larger=larger), id=f"{family}{larger:+d}")
            for family in FAMILIES
            for larger in (-3, 0, 2)
        ),
        pytest.param(receipt_hiding(light_print_beside), id="light-print-beside-black"),
        # Text that does not show at all is hidden, not faint: an OCR layer over a scan,
        # white on white, covered by an image.
        pytest.param(scan_with_hidden_text(SHOWN), id="invisible-layer-over-a-scan"),
        pytest.param(white_receipt(), id="white-on-white"),
        pytest.param(receipt_hiding(white_total_on_the_blank_page), id="white-total"),
        pytest.param(receipt_hiding(total_under_an_image), id="under-an-image"),
    ],
)
def test_a_page_whose_text_shows_or_is_hidden_is_not_marked_faint(data):
    assert not load_document(data).pages[0].faint


@pytest.mark.parametrize("level", [0x00, 0x80, 0xA0])
def test_an_honest_pdf_in_black_or_grey_is_read_as_sure_as_before(engine, level):
    _, read = extract_document(receipt_pdf(grey=grey(level)), kind="receipt", engine=engine)
    assert read.fields["totalAmount"] == 17.9
    assert read.field_confidences["totalAmount"] == 0.95
    assert read.field_confidences["date"] == 0.97
    assert "too faint" not in read.summary
    assert not [box for boxes in read.evidence.values() for box in boxes if "faintPage" in box]


def test_a_page_mostly_painted_too_light_is_faint_though_some_of_its_text_shows():
    # A black "KEDAI BUKU MAJU" line over a receipt of light print: its text layer holds
    # the line, the light words are most of what the page paints.
    def light_receipt(pdf: Canvas) -> None:
        pdf.setFillGray(grey(0xE0))
        pdf.setFont("Helvetica", 9)
        for row, text in enumerate(["Notebook A5 12.50", "Blue pen x2 5.40", "TOTAL RM 17.90"]):
            pdf.drawString(20, 200 - 12 * row, text)
            pdf.drawString(20, 150 - 12 * row, text)

    def receipt() -> bytes:
        buffer = io.BytesIO()
        pdf = Canvas(buffer, pagesize=(227, 312))
        pdf.setFont("Helvetica", 9)
        pdf.drawString(20, 280, "KEDAI BUKU MAJU")
        light_receipt(pdf)
        pdf.showPage()
        pdf.save()
        return buffer.getvalue()

    page = load_document(receipt()).pages[0]
    assert page.has_text_layer and page.text == "KEDAI BUKU MAJU"
    assert page.faint


def text_page(index: int, *, faint: bool) -> PageText:
    word = Word("17.90", (0.5, 0.5, 0.6, 0.52), 0.9)
    return PageText(index=index, words=[word], text=word.text, faint=faint)


def test_only_the_fields_read_from_a_faint_page_are_capped():
    confidences = {"merchantName": 0.9, "totalAmount": 0.899, "currency": 0.89}
    evidence: dict[str, list[dict]] = {
        "merchantName": [{"page": 0, "bbox": [0.1, 0.1, 0.5, 0.12]}],
        "totalAmount": [
            {"page": 0, "bbox": [0.1, 0.5, 0.6, 0.52]},
            {"page": 1, "bbox": [0.1, 0.5, 0.6, 0.52]},
        ],
    }
    found = cap_faint_pages(
        confidences, evidence, [text_page(0, faint=False), text_page(1, faint=True)]
    )
    assert found == ["totalAmount"]
    assert confidences == {
        "merchantName": 0.9,
        "totalAmount": SHOWN_OTHERWISE_CONFIDENCE,
        "currency": 0.89,
    }
    assert [box.get("faintPage") for box in evidence["totalAmount"]] == [None, FAINT_PAGE]
    assert "faintPage" not in evidence["merchantName"][0]


@pytest.mark.django_db
def test_a_receipt_drawn_too_light_to_see_is_reviewed_saying_why(api, ui, workflows):
    session_id = submit(api, receipt_pdf(grey=grey(0xE3)), "too-light", "application/pdf")
    pipeline.run(session_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=session_id)
    assert session.state == SessionState.COMPLETED
    submission = session.submission
    assert submission.status == SubmissionStatus.REVIEW
    assert submission.extracted_data["totalAmount"] == 17.9
    assert submission.field_confidences["totalAmount"] <= SHOWN_OTHERWISE_CONFIDENCE
    assert submission.evidence["totalAmount"][0]["faintPage"] == FAINT_PAGE
    page = ui.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert escape(FAINT_PAGE) in page  # beside the field, not only in the summary
