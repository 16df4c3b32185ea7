"""A PDF's text layer checked against what its page shows, where a value matters.

A font's /ToUnicode map says what its glyphs are: one that reads the glyph "1" as "2"
shows a reviewer the receipt's 17.90 while Steve reads 26.80 from its text layer. These
read with the real OCR engine (loaded once, ~2 s): what is tested is what it reads on the
rendered page."""

import pytest
from django.urls import reverse
from PIL import Image

from jobs import pipeline
from jobs.extraction import extract_document, get_engine
from jobs.extraction.layout import Word
from jobs.models import SessionState, WorkflowSession
from submissions.models import SubmissionStatus
from tests.jobs.fixtures_docs import invoice_pdf, receipt_pdf, receipt_pdf_whose_font_lies
from tests.jobs.test_hostile_files import UPRIGHT, pdf_of_text, submit

# Each changed digit keeps cash - change = total in the text layer (30.00 - 3.20 = 26.80,
# as 20.00 - 2.10 = 17.90 on the page): a lie that adds up is read at 0.94 unchecked.
ADDS_UP = {"1": "2", "2": "3", "7": "6", "9": "8"}
PAID_ROWS = ("TOTAL RM", "CASH", "CHANGE")


class Unchecked:
    """An engine that reads no line on its own: the text layer goes unchecked, as it
    went before, so what a check changes shows against it."""

    name, upright_confidence = "unchecked", 0.8

    def recognize(self, image: Image.Image) -> list[Word]:
        return []


@pytest.fixture(scope="module")
def engine():
    return get_engine("rapidocr")


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_a_total_whose_font_reads_other_digits_than_the_page_shows_goes_to_review(engine, rotate):
    data = receipt_pdf_whose_font_lies(ADDS_UP, rows=PAID_ROWS, rotate=rotate)
    _, unchecked = extract_document(data, kind="receipt", engine=Unchecked())
    assert unchecked.fields["totalAmount"] == 26.8  # the lie, read from the text layer
    assert unchecked.field_confidences["totalAmount"] >= 0.9

    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.field_confidences["totalAmount"] < 0.5
    [box] = read.evidence["totalAmount"]
    assert box["shown"] == "17.90"  # where it was read, on the page turned as it shows
    assert read.certainty < 0.5
    assert "totalAmount read 26.80, the page shows '17.90'" in read.summary


def test_a_date_whose_font_reads_other_digits_than_the_page_shows_goes_to_review(engine):
    data = receipt_pdf_whose_font_lies({"4": "7"}, rows=("Date",))
    _, read = extract_document(data, kind="receipt", engine=engine)
    assert read.fields["date"] == "2018-03-17"
    assert read.field_confidences["date"] < 0.5
    assert [box["shown"] for box in read.evidence["date"]] == ["14/03/2018"]
    assert read.field_confidences["totalAmount"] == 0.95  # its own digits are the page's


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        pytest.param(receipt_pdf(), "receipt", id="receipt"),
        pytest.param(receipt_pdf_whose_font_lies({}, rotate=90), "receipt", id="shown-sideways"),
        pytest.param(pdf_of_text(UPRIGHT, rotate=270), "receipt", id="rotate-270"),
        pytest.param(invoice_pdf(), "invoice", id="invoice"),
    ],
)
def test_an_honest_pdf_is_read_as_sure_as_without_the_check(engine, data, kind):
    _, unchecked = extract_document(data, kind=kind, engine=Unchecked())
    _, read = extract_document(data, kind=kind, engine=engine)
    assert read.fields == unchecked.fields
    assert read.field_confidences == unchecked.field_confidences
    assert read.summary == unchecked.summary
    assert not [box for boxes in read.evidence.values() for box in boxes if "shown" in box]


@pytest.mark.django_db
def test_a_receipt_whose_text_layer_lies_about_its_total_is_reviewed(api, ui, workflows):
    # The real engine reads the total's box (FixedEngine reads a whole scan): unchecked,
    # this receipt was approved at 0.94 with the text layer's 26.80.
    data = receipt_pdf_whose_font_lies(ADDS_UP, rows=PAID_ROWS)
    session_id = submit(api, data, "lying-font", "application/pdf")
    pipeline.run(session_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=session_id)
    assert session.state == SessionState.COMPLETED
    submission = session.submission
    assert submission.status == SubmissionStatus.REVIEW
    assert submission.field_confidences["totalAmount"] < 0.5
    assert submission.evidence["totalAmount"][0]["shown"] == "17.90"
    page = ui.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert "The page shows 17.90; the PDF&#x27;s text says other digits" in page
