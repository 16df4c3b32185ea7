"""A document that shows two grand totals that disagree, which nothing printed explains.

A two-page PDF showing "TOTAL RM 17.90" on its first page and "TOTAL RM 26.80" on its
second was read as 17.90 at 0.94 and went straight through: nobody can vouch for either.
Its total is now read below the review threshold, and the summary says why. A second
page that repeats the total, or whose arithmetic explains its own (a tax added, a
rounding), leaves the total as sure as it was."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest

from jobs import pipeline
from jobs.extraction import extract_document, get_engine
from jobs.extraction.ranker import DISAGREEMENT_CAP
from jobs.models import SessionState, WorkflowSession
from submissions.models import SubmissionStatus
from tests.jobs.fixtures_docs import receipt_pdf_with_pages
from tests.jobs.test_extraction_shown import Unchecked
from tests.jobs.test_hostile_files import submit

ANOTHER_TOTAL = (("KEDAI BUKU MAJU SDN BHD", None), ("Eraser", "8.90"), ("TOTAL RM", "26.80"))
RIVAL_SAID = "The document also shows a total of 26.80 on page 2, which nothing printed explains."


def scanned(data: bytes, dpi: int = 200) -> bytes:
    """``data``'s pages as images in a PDF of no text layer, as a scanner makes it."""
    document = pdfium.PdfDocument(data)
    try:
        images = [page.render(scale=dpi / 72).to_pil().convert("RGB") for page in document]
    finally:
        document.close()
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return out.getvalue()


@pytest.fixture(scope="module")
def engine():
    return get_engine("rapidocr")


def test_a_pdf_whose_second_page_shows_another_total_sends_its_total_to_review():
    _, read = extract_document(
        receipt_pdf_with_pages(ANOTHER_TOTAL), kind="receipt", engine=Unchecked()
    )
    assert read.fields["totalAmount"] == 17.9
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:26.80@2" in read.cues["totalAmount"]
    assert RIVAL_SAID in read.summary
    assert "total read under 2 cues" in read.summary  # the doubt is no cue for 17.90


def test_a_scan_whose_second_page_shows_another_total_sends_its_total_to_review(engine):
    _, read = extract_document(
        scanned(receipt_pdf_with_pages(ANOTHER_TOTAL)), kind="receipt", engine=engine
    )
    assert read.fields["totalAmount"] == 17.9
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert RIVAL_SAID in read.summary


@pytest.mark.parametrize(
    "second",
    [
        (("COPY", None), ("TOTAL RM", "17.90")),
        # Its own arithmetic: the total before tax, the tax, the total after it.
        (("TOTAL RM", "16.89"), ("GST 6%", "1.01")),
        # The tax included in it, under a total's label (SROIE prints such lines).
        (("TOTAL INCLUDES 6% GST", "1.01"),),
        # Before cash rounding.
        (("TOTAL RM", "17.92"), ("ROUNDING ADJ", "-0.02")),
        # A running total carried over, no grand total.
        (("TOTAL CARRIED FORWARD", "26.80"),),
    ],
    ids=["copy", "tax", "tax-included", "rounding", "carried"],
)
def test_a_second_page_that_repeats_or_explains_its_total_leaves_it_sure(second):
    _, alone = extract_document(receipt_pdf_with_pages(), kind="receipt", engine=Unchecked())
    _, read = extract_document(receipt_pdf_with_pages(second), kind="receipt", engine=Unchecked())
    assert alone.field_confidences["totalAmount"] >= 0.9
    assert read.fields["totalAmount"] == 17.9
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
    assert "also shows a total" not in read.summary


@pytest.mark.django_db
def test_a_receipt_showing_two_totals_is_reviewed_saying_why(api, workflows):
    data = receipt_pdf_with_pages(ANOTHER_TOTAL)
    session_id = submit(api, data, "two-totals", "application/pdf")
    pipeline.run(session_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=session_id)
    assert session.state == SessionState.COMPLETED
    submission = session.submission
    assert submission.status == SubmissionStatus.REVIEW
    assert submission.extracted_data["totalAmount"] == 17.9
    assert submission.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert RIVAL_SAID in submission.ai_summary
