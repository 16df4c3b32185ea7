"""Page rendering for the review page, bytes in and PNG out (no database, no storage)."""

import io

import numpy as np
import pytest
from PIL import Image

from submissions.pages import (
    PDF_MAX_PAGES,
    NoSuchPage,
    pdf_page_count,
    render_png,
    stored_transform,
)
from tests.submissions.test_review_support import pdf_bytes


def png(width: int, height: int, *, marker: tuple[int, int] | None = None) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    if marker:
        image.putpixel(marker, (255, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def rendered(data: bytes, **kwargs) -> Image.Image:
    options = {"pdf": False, "page": 0, "transform": {}, "rotate": 0, **kwargs}
    return Image.open(io.BytesIO(render_png(data, **options)))


def test_rotate_turns_the_page_clockwise_on_top_of_how_ocr_read_it():
    image = rendered(png(20, 10, marker=(0, 0)), rotate=90)
    assert image.size == (10, 20)
    assert image.getpixel((9, 0)) == (255, 0, 0)  # top left went to top right
    turned = rendered(png(20, 10), transform={"skew": 0.0, "turn": 90}, rotate=90)
    assert turned.size == (20, 10)  # OCR's quarter turn back, then the viewer's


def test_an_image_has_one_page():
    with pytest.raises(NoSuchPage):
        render_png(png(20, 10), pdf=False, page=1, transform={}, rotate=0)


@pytest.mark.parametrize("page", [-1, 2])
def test_a_pdf_page_outside_the_document_is_no_page(page):
    with pytest.raises(NoSuchPage):
        render_png(pdf_bytes(2), pdf=True, page=page, transform={}, rotate=0)


def test_a_pdf_renders_each_page_and_the_viewer_shows_at_most_the_page_limit():
    assert rendered(pdf_bytes(2), pdf=True, page=1).size[1] > 0
    assert pdf_page_count(pdf_bytes(2)) == 2
    assert pdf_page_count(pdf_bytes(PDF_MAX_PAGES + 3)) == PDF_MAX_PAGES


@pytest.mark.parametrize(
    ("stored", "page", "expected"),
    [
        (None, 0, {}),
        ("garbage", 0, {}),
        ([], 0, {}),
        ([{"skew": 1.5, "turn": 90}], 0, {"skew": 1.5, "turn": 90}),
        ([{"skew": 1.5, "turn": 90}], 1, {}),
    ],
)
def test_a_page_transform_is_read_from_what_the_file_stores(stored, page, expected):
    assert stored_transform(stored, page) == expected


def _encoded(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def test_a_16_bit_grey_scan_is_drawn_and_read_as_ink_on_paper_not_white():
    from jobs.extraction.document import load_document

    pixels = np.full((20, 40), 60000, dtype=np.uint16)  # paper
    pixels[5:15, 10:30] = 5000  # ink
    data = _encoded(Image.fromarray(pixels, "I;16"))
    for page in (rendered(data), load_document(data).pages[0].image):
        assert page.convert("L").getpixel((20, 10)) < 40
        assert page.convert("L").getpixel((2, 2)) > 200


def test_an_image_too_large_to_decode_is_no_page_and_a_large_one_is_drawn_smaller():
    bomb = _encoded(Image.new("1", (20_000, 20_000), 1))  # small file, 400 MP
    with pytest.raises(NoSuchPage):
        render_png(bomb, pdf=False, page=0, transform={}, rotate=0)
    photo = _encoded(Image.new("RGB", (6000, 4000), "white"), "JPEG")  # 24 MP
    assert rendered(photo).width * rendered(photo).height <= 16_000_000
