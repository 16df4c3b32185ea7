"""A receipt the company already has, sent again in another container or format: the
same pixels in a PDF, in another file type, on a larger page."""

import io

import pytest
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from fraud.models import FraudMatch
from fraud.services import fraud_run_checks
from jobs.extraction import load_document
from tests.fraud.helpers import make_submission, pages_for, refetch
from tests.fraud.test_repeated_pages import till_receipt

pytestmark = pytest.mark.django_db


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def pdf_with_image(
    image: bytes, *, page: tuple[float, float], at: tuple[float, float], width: float
) -> bytes:
    """A one-page PDF whose only content is `image`, `width` points wide at `at` (its
    lower-left corner) on a page of `page` points: a scan placed on a page, not filling it.
    """
    picture = ImageReader(io.BytesIO(image))
    size = picture.getSize()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=page)
    pdf.rect(0, 0, 0, 0, stroke=0, fill=1)  # an empty path at the origin draws nothing
    pdf.drawImage(picture, *at, width=width, height=width * size[1] / size[0])
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def checked(company, data: bytes, day: str = "2024-05-03"):
    """A submission of the file `data` (a receipt of `day`), checked with its pages as the
    pipeline reads them."""
    submission, file = make_submission(company)
    submission.extracted_data = {"date": day}  # as the pipeline stores them
    submission.save(update_fields=["extracted_data"])
    (page,) = load_document(data).pages
    pages = pages_for(file, page.image)
    fraud_run_checks(submission_id=submission.pk, pages=pages, fields={"date": day}, text="")
    return submission


@pytest.mark.parametrize(
    ("page", "at", "width"),
    [
        ((595, 842), (40, 400), 155),  # on A4, at 288 dpi: a small part of the page
        ((2160, 2880), (1500, 200), 310),  # on a 30 x 40 inch page, at 144 dpi
    ],
    ids=["a4", "huge-page"],
)
def test_a_receipt_placed_on_a_larger_pdf_page_is_a_visual_match(company, page, at, width):
    """The page is rendered to its drawing, not to its page box, at the image's own
    resolution: rendered whole, the receipt was a few hundred pixels in a blank page, and
    neither its hashes nor its keypoints found the JPEG sent before."""
    receipt = jpeg(till_receipt(40512, "42.50"))
    original = checked(company, receipt)
    copy = checked(company, pdf_with_image(receipt, page=page, at=at, width=width))
    match = FraudMatch.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("visual", original.pk)
    assert refetch(copy).fraud_status == "flagged"


def test_another_receipt_of_the_shop_on_a_pdf_page_is_no_match(company):
    """Rendered to the drawing, it looks like the shop's other receipts as much as a JPEG
    of it does (one template): a look-alike of another date, not the same paper."""
    checked(company, jpeg(till_receipt(40512, "42.50")))
    other = pdf_with_image(
        jpeg(till_receipt(40977, "38.15")), page=(595, 842), at=(40, 400), width=155
    )
    copy = checked(company, other, day="2024-05-22")
    assert not FraudMatch.objects.filter(submission=copy).exists()
    assert refetch(copy).fraud_status == "clean"


def on_canvas(receipt: Image.Image, times: int, at: tuple[int, int]) -> bytes:
    """`receipt` pasted at `at` on a white canvas `times` its width and height, as JPEG."""
    page = Image.new("L", (receipt.width * times, receipt.height * times), 255)
    page.paste(receipt, at)
    return jpeg(page)


def test_a_receipt_pasted_on_a_canvas_seven_times_its_size_is_a_visual_match(company):
    """The page is cut to its content before it is scaled down: scaled whole to the
    2,400-pixel limit, the receipt was a few hundred pixels in a blank page, OCR read
    nothing of it and the fraud checks did not recognise the JPEG sent before."""
    receipt = till_receipt(40512, "42.50")
    original = checked(company, jpeg(receipt))
    copy = checked(company, on_canvas(receipt, 7, at=(2900, 4100)))
    match = FraudMatch.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("visual", original.pk)
    assert refetch(copy).fraud_status == "flagged"


def test_another_receipt_of_the_shop_on_a_large_canvas_is_no_match(company):
    """Cut to its content it looks like the shop's other receipts as much as a JPEG of it
    does: a look-alike of another date, not the same paper."""
    checked(company, jpeg(till_receipt(40512, "42.50")))
    other = on_canvas(till_receipt(40977, "38.15"), 7, at=(600, 900))
    copy = checked(company, other, day="2024-05-22")
    assert not FraudMatch.objects.filter(submission=copy).exists()
    assert refetch(copy).fraud_status == "clean"
