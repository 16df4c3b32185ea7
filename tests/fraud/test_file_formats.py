"""A receipt the company already has, sent again in another container or format: the
same pixels in a PDF, in another file type, on a larger page."""

import io
import random

import pytest
from PIL import Image, ImageDraw, ImageFont
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


def stray_mark(page: Image.Image, mark: str) -> Image.Image:
    """`page` with a mark far from the receipt on it, as scans and canvases carry."""
    page = page.copy()
    draw = ImageDraw.Draw(page)
    width, height = page.size
    if mark == "dot":  # a pen dot in a corner
        draw.ellipse((width - 90, height - 90, width - 60, height - 60), fill=0)
    elif mark == "frame":  # a thin border along the very edge of the canvas
        draw.rectangle((0, 0, width - 1, height - 1), outline=0, width=4)
    elif mark == "page-number":
        draw.text((width // 2, height - 160), "1 / 1", font=ImageFont.load_default(size=48))
    elif mark == "specks":  # scanner dust all over the sheet
        rng = random.Random(7)
        for _ in range(80):
            x, y = rng.randrange(width - 8), rng.randrange(height - 8)
            draw.rectangle((x, y, x + rng.randrange(3, 8), y + rng.randrange(3, 8)), fill=0)
    return page


MARKS = ["dot", "frame", "page-number", "specks"]


def on_marked_canvas(receipt: Image.Image, mark: str, at: tuple[int, int]) -> bytes:
    page = Image.new("L", (receipt.width * 7, receipt.height * 7), 255)
    page.paste(receipt, at)
    return jpeg(stray_mark(page, mark))


@pytest.mark.parametrize("mark", MARKS)
def test_a_receipt_on_a_large_canvas_with_a_stray_mark_is_a_visual_match(company, mark):
    """The receipt is cut out by its mass of print, not by every mark on the canvas: a dot
    in a corner, a frame, a page number or specks stretched the cut over the whole canvas,
    the receipt was read as a few hundred pixels, and the JPEG sent before went unseen."""
    receipt = till_receipt(40512, "42.50")
    original = checked(company, jpeg(receipt))
    copy = checked(company, on_marked_canvas(receipt, mark, at=(2900, 4100)))
    match = FraudMatch.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("visual", original.pk)
    assert refetch(copy).fraud_status == "flagged"


@pytest.mark.parametrize("mark", ["dot", "specks"])
def test_another_receipt_of_the_shop_on_a_marked_canvas_is_no_match(company, mark):
    """Cut to its print, another receipt of the shop is a look-alike of another date, as
    a JPEG of it is, not the same paper."""
    checked(company, jpeg(till_receipt(40512, "42.50")))
    other = on_marked_canvas(till_receipt(40977, "38.15"), mark, at=(600, 900))
    copy = checked(company, other, day="2024-05-22")
    assert not FraudMatch.objects.filter(submission=copy).exists()
    assert refetch(copy).fraud_status == "clean"


def pdf_page(
    image: bytes,
    *,
    page: tuple[float, float],
    at: tuple[float, float],
    width: float,
    rotate: int = 0,
    page_number: bool = False,
) -> bytes:
    """A one-page PDF showing `image` `width` points wide at `at` on a `page`-point page,
    turned `rotate` degrees clockwise by the page's /Rotate (the image is stored turned
    the other way, so the page shows it upright), with a page number drawn as a path
    (no text layer) far from it when `page_number`."""
    picture = Image.open(io.BytesIO(image))
    if rotate:
        picture = picture.rotate(rotate, expand=True)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=page)
    pdf.setPageRotation(rotate)
    if page_number:  # a folio drawn as strokes, as a scanner stamps it: not a text layer
        pdf.setLineWidth(2)
        pdf.line(page[0] - 60, 40, page[0] - 60, 70)
        pdf.line(page[0] - 66, 64, page[0] - 60, 70)
    pdf.drawImage(
        ImageReader(picture), *at, width=width, height=width * picture.height / picture.width
    )
    pdf.showPage()
    pdf.save()
    return out.getvalue()


@pytest.mark.parametrize(
    ("page", "at", "rotate", "page_number"),
    [
        ((2880, 2160), (900, 300), 90, False),  # a 40 x 30 inch page shown turned
        ((2160, 2880), (1500, 200), 270, False),
        ((2160, 2880), (1500, 200), 0, True),  # a 30 x 40 inch page with a folio
        ((595, 842), (40, 200), 0, True),  # A4 with a folio
    ],
    ids=["huge-page-rotate-90", "huge-page-rotate-270", "huge-page-folio", "a4-folio"],
)
def test_a_receipt_on_a_turned_or_numbered_pdf_page_is_a_visual_match(
    company, page, at, rotate, page_number
):
    """The rendered page is cut to its content like an image: the drawing's bounds were
    not used on a page turned by /Rotate, and a folio in a corner made them the whole
    page, so the receipt was read as a few hundred pixels of a 30-inch page."""
    receipt = jpeg(till_receipt(40512, "42.50"))
    original = checked(company, receipt)
    data = pdf_page(receipt, page=page, at=at, width=310, rotate=rotate, page_number=page_number)
    copy = checked(company, data)
    match = FraudMatch.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("visual", original.pk)
    assert refetch(copy).fraud_status == "flagged"


def test_a_receipt_scanned_small_on_a_full_pdf_sheet_is_a_visual_match(company):
    """A scanner's PDF is one image filling the page; when the receipt is a small part of
    that image, the rendered page is cut to it, as the same scan sent as a JPEG is."""
    receipt = till_receipt(40512, "42.50")
    original = checked(company, jpeg(receipt))
    sheet = Image.new("L", (receipt.width * 6, receipt.height * 6), 255)
    sheet.paste(receipt, (2300, 700))
    data = pdf_with_image(jpeg(stray_mark(sheet, "dot")), page=(612, 1086), at=(0, 0), width=612)
    copy = checked(company, data)
    match = FraudMatch.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("visual", original.pk)
    assert refetch(copy).fraud_status == "flagged"
