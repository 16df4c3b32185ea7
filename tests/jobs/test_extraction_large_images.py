"""Loading a large image with blank margins: decoded once unless its first decode was
reduced, and the page handed to OCR the same as when it was decoded twice."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from jobs.extraction import document
from jobs.extraction.document import open_document
from submissions.pages import content_crop, cut, decode_within


def encoded(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def canvas(size: tuple[int, int]) -> Image.Image:
    """A white canvas with a receipt-sized block of grey stripes (print) in its middle."""
    image = Image.new("RGB", size, "white")
    width, height = size
    left, top = width // 2 - 300, height // 2 - 500
    for row in range(0, 1000, 40):
        image.paste((30, 30, 30), (left, top + row, left + 600, top + row + 18))
    return image


def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The longest side each decode of the upload was asked for, as they happen."""
    calls: list[int | None] = []
    real = document.decode_within

    def counted(image: Image.Image, max_pixels: int, *, longest_side: int | None = None):
        calls.append(longest_side)
        return real(image, max_pixels, longest_side=longest_side)

    monkeypatch.setattr(document, "decode_within", counted)
    return calls


def page_of(data: bytes, **limits: int) -> document.Page:
    with open_document(data, **limits) as source:
        (page,) = source.pages
        return page


def test_a_png_cut_to_its_content_is_decoded_once(monkeypatch):
    """A PNG has no reduced decode, so its first decode is the one the receipt is cut from:
    decoding it again to cut it doubled the time of a 99-MP canvas (~5 s a decode)."""
    calls = decodes(monkeypatch)
    page = page_of(encoded(canvas((6000, 4000)), "PNG"))
    assert page.transform.get("crop")
    assert len(calls) == 1


def test_a_jpeg_decoded_reduced_is_cut_from_its_full_decode(monkeypatch):
    """A large JPEG is first decoded reduced (draft) to find its content; the receipt is
    then cut from its full decode, so it keeps its own resolution."""
    calls = decodes(monkeypatch)
    page = page_of(encoded(canvas((6000, 4000)), "JPEG"))
    assert calls == [document.DECODE_MIN_SIDE, None]
    assert page.image.width > 600  # the 600-px block and its margin, not half of it


def test_the_page_of_a_png_scaled_down_to_the_pixel_budget_is_the_image_read_before():
    """The page OCR reads is the upload scaled down to the pixel budget (Lanczos) and
    cut to its content, pixel for pixel as when it was decoded a second time to be cut."""
    data = encoded(canvas((6000, 4000)), "PNG")
    page = page_of(data, max_pixels=6_000_000)
    whole = Image.open(io.BytesIO(data))
    fit = (6_000_000 / (6000 * 4000)) ** 0.5
    whole = whole.resize(
        (int(6000 * fit), int(4000 * fit)), Image.Resampling.LANCZOS, reducing_gap=2.0
    )
    crop = content_crop(whole)
    assert page.transform == {"crop": crop}
    assert np.array_equal(np.asarray(page.image), np.asarray(cut(whole, crop)))


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_an_image_scaled_down_to_the_budget_is_pillows_lanczos_pixel_for_pixel(mode):
    """decode_within scales down in two passes, letting go of the full decode between
    them (a 99-MP PNG held it, Pillow's intermediate and the result at once: ~800 MB);
    the pixels are those of Pillow's one call."""
    noise = np.random.default_rng(13).integers(0, 256, (1500, 2100, len(mode)), np.uint8)
    image = Image.fromarray(noise.squeeze(), mode)
    expected = image.resize((1300, 928), Image.Resampling.LANCZOS, reducing_gap=2.0)
    scaled = decode_within(Image.open(io.BytesIO(encoded(image, "PNG"))), 1300 * 929)
    assert scaled.size == expected.size and scaled.mode == mode
    assert np.array_equal(np.asarray(scaled), np.asarray(expected))


def test_scaling_down_closes_the_full_decode_and_keeps_an_image_within_budget_as_is():
    small = Image.open(io.BytesIO(encoded(canvas((1000, 800)), "PNG")))
    assert decode_within(small, 800_000) is small
    large = Image.open(io.BytesIO(encoded(canvas((2000, 1600)), "PNG")))
    assert decode_within(large, 800_000).size == (1000, 800)
    with pytest.raises(ValueError, match="closed image"):
        np.asarray(large)
