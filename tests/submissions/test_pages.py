"""Page rendering for the review page, bytes in and PNG out (no database, no storage)."""

import io
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from jobs.extraction import load_document
from submissions.pages import (
    PDF_MAX_PAGES,
    NoSuchPage,
    PageNotDrawn,
    check_jpeg_scans,
    content_crop,
    is_identity,
    pdf_page_count,
    render_png,
    render_png_apart,
    stored_transform,
)
from tests.fraud.test_file_formats import jpeg, pdf_page, pdf_with_image
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


def content_bomb_pdf(megabytes: int) -> bytes:
    """One letter-size page whose drawing operators are ``megabytes`` MB of spaces and a
    line of text, compressed to a small fraction of that."""
    content = b" " * (megabytes << 20) + b"BT /F1 12 Tf 72 720 Td (Total 9.99) Tj ET"
    stream = zlib.compress(content, 1)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_of_objects(objects)


def pdf_of_objects(objects: list[bytes]) -> bytes:
    """A PDF of these object bodies (numbered from 1, the first the catalog), with its
    cross-reference table."""
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )


def test_a_pdf_page_drawn_apart_is_the_page_drawn_here():
    options = {"pdf": True, "page": 1, "transform": {"skew": 0.0, "turn": 90}, "rotate": 90}
    assert render_png_apart(pdf_bytes(2), **options) == render_png(pdf_bytes(2), **options)
    with pytest.raises(NoSuchPage, match="No such page"):
        render_png_apart(pdf_bytes(2), pdf=True, page=5, transform={}, rotate=0)


def test_a_pdf_whose_content_costs_more_than_the_cap_is_refused_not_drawn_here():
    """Its parse would take the web process's memory; the child's cap stops it."""
    bomb = content_bomb_pdf(256)
    assert len(bomb) < 2_000_000
    with pytest.raises(NoSuchPage, match="within the limits"):
        render_png_apart(bomb, pdf=True, page=0, transform={}, rotate=0, memory_mb=128)


def test_an_image_whose_decode_costs_more_than_the_cap_is_refused_not_drawn_here():
    """A 400-KB PNG of 100 MP, within what extraction decodes, took ~1 GB and 16 s of the
    web process each time a reviewer turned it; the child's cap stops it as it stops a
    PDF's (here 17.6 MP, over what is drawn here, ~70 MB decoded against a 16-MB cap)."""
    from tests.jobs.fixtures_docs import _png_chunk

    side = 4200
    rows = (b"\x00" + b"\xff" * side * 4) * side  # filter 0, white RGBA
    header = side.to_bytes(4, "big") * 2 + bytes([8, 6, 0, 0, 0])
    data = b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(rows, 1)),
            _png_chunk(b"IEND", b""),
        ]
    )
    with pytest.raises(NoSuchPage, match="within the limits"):
        render_png_apart(data, pdf=False, page=0, transform={}, rotate=90, memory_mb=16)


def test_a_progressive_jpeg_over_what_is_drawn_here_is_drawn_in_the_capped_child():
    """A baseline JPEG is decoded reduced, a fraction of its size; a progressive one
    keeps every scan's coefficients at full size whatever the reduction: a 1-MB
    progressive JPEG of 13300 x 13300 pixels took ~680 MB of the web process, uncapped.
    Here 17.6 MP (over what is drawn here) against a 16-MB cap."""
    buffer = io.BytesIO()
    Image.new("RGB", (4200, 4200), "white").save(buffer, "JPEG", progressive=True)
    with pytest.raises(NoSuchPage, match="within the limits"):
        render_png_apart(buffer.getvalue(), pdf=False, page=0, transform={}, rotate=0, memory_mb=16)


def jpeg_of_scans(copies: int) -> bytes:
    """A progressive JPEG of 1000 x 1000 white pixels whose last scan is sent ``copies``
    times more: ~12 bytes each (a run of empty blocks), each one more pass over every
    block of the image for the decoder."""
    buffer = io.BytesIO()
    Image.new("L", (1000, 1000), "white").save(buffer, "JPEG", progressive=True)
    data = buffer.getvalue()
    last = data.rindex(b"\xff\xda")
    return data[:-2] + data[last:-2] * copies + data[-2:]


def test_a_jpeg_of_thousands_of_scans_is_refused_not_drawn_here():
    """A 240-KB progressive JPEG of one megapixel and 20,000 scans took ~18 s of the web
    process's CPU, with no timeout (10 MB of scans: minutes), each time its page was
    asked for: a progressive JPEG of any size is drawn in the child, as a PDF is, and
    one of more scans than an encoder makes is refused before it is decoded."""
    data = jpeg_of_scans(20_000)
    assert len(data) < 300_000
    started = time.monotonic()
    with pytest.raises(NoSuchPage, match="within the limits|too large"):
        render_png_apart(data, pdf=False, page=0, transform={}, rotate=0, timeout_s=8)
    assert time.monotonic() - started < 8


def test_a_jpeg_of_a_million_empty_segments_is_refused_without_opening_it_here(monkeypatch):
    opened = []
    monkeypatch.setattr("submissions.pages.Image.open", lambda *a, **k: opened.append(a))
    plain = _encoded(Image.new("RGB", (64, 64), "white"), "JPEG")
    data = plain[:2] + b"\xff\xfe\x00\x02" * 1_000_000 + plain[2:]
    with pytest.raises(NoSuchPage, match="within the limits|too large"):
        render_png_apart(data, pdf=False, page=0, transform={}, rotate=0)
    assert opened == []


def test_a_png_of_hundreds_of_thousands_of_chunks_is_refused_without_opening_it_here(
    monkeypatch,
):
    from tests.jobs.test_hostile_files import png_of_chunks

    opened = []
    monkeypatch.setattr("submissions.pages.Image.open", lambda *a, **k: opened.append(a))
    with pytest.raises(NoSuchPage, match="within the limits|too large"):
        render_png_apart(png_of_chunks(200_000), pdf=False, page=0, transform={}, rotate=0)
    assert opened == []


def test_a_jpegs_scans_are_counted_in_its_image_only():
    assert check_jpeg_scans(_encoded(Image.new("RGB", (64, 64), "white"), "JPEG")) == 1
    assert check_jpeg_scans(jpeg_of_scans(0)) == 6  # libjpeg's progression for grey
    assert check_jpeg_scans(jpeg_of_scans(50)) == 56
    # Bytes like a scan's header in its EXIF, or after its end (a polyglot's), are not one.
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x927C] = b"\xff\xd8\xff\xda" + bytes(40)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buffer, "JPEG", exif=exif)
    assert check_jpeg_scans(buffer.getvalue() + b"\xff\xda" * 200) == 1


def test_an_image_drawn_apart_is_the_image_drawn_here(monkeypatch):
    monkeypatch.setattr("submissions.pages._cheap_to_decode", lambda data: False)
    options = {"pdf": False, "page": 0, "transform": {"skew": 0.0, "turn": 90}, "rotate": 90}
    data = png(40, 30, marker=(3, 4))
    assert render_png_apart(data, **options) == render_png(data, **options)
    with pytest.raises(NoSuchPage, match="one page"):
        render_png_apart(data, pdf=False, page=1, transform={}, rotate=0)


def test_an_image_cheap_to_decode_is_drawn_without_starting_a_child(monkeypatch):
    def no_child(*args, **kwargs):
        raise AssertionError("a child process was started")

    monkeypatch.setattr("submissions.pages.subprocess.run", no_child)
    options = {"pdf": False, "page": 0, "transform": {}, "rotate": 0}
    assert render_png_apart(png(40, 30), **options) == render_png(png(40, 30), **options)
    receipt = _encoded(Image.new("RGB", (1000, 2000), "white"), "JPEG")  # HERE_MAX_PIXELS
    assert render_png_apart(receipt, **options) == render_png(receipt, **options)
    # Bytes like a scan's header in its EXIF (a thumbnail's, a maker note's) are not one.
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x927C] = b"\xff\xd8\xff\xda" + bytes(40)
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 2000), "white").save(buffer, "JPEG", exif=exif)
    tagged = buffer.getvalue()
    assert tagged.count(b"\xff\xda") == 2
    assert render_png_apart(tagged, **options) == render_png(tagged, **options)


def _animated_webp(width: int, height: int, frames: int) -> bytes:
    shots = [Image.new("RGB", (width, height), (40 * n, 0, 0)) for n in range(frames)]
    buffer = io.BytesIO()
    shots[0].save(buffer, "WEBP", save_all=True, append_images=shots[1:], lossless=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(lambda: _encoded(Image.new("RGB", (1500, 1500), "white"), "PNG"), id="png"),
        pytest.param(lambda: _encoded(Image.new("RGB", (2000, 1500), "white"), "JPEG"), id="jpeg"),
        pytest.param(lambda: _encoded(Image.new("RGB", (800, 600), "white"), "WEBP"), id="webp"),
        pytest.param(lambda: _animated_webp(800, 600, 3), id="animated-webp"),
    ],
)
def test_an_image_over_a_receipts_size_or_a_webp_is_drawn_in_the_capped_child(monkeypatch, image):
    """Drawn in the web process, an image cost it ~8 MB per megapixel at each view and
    turn, past any cap: a 16-MP PNG or JPEG ~120 MB, a 16-MP WebP ~250 MB (Pillow decodes
    it whole, as RGBA, when it opens it), a 26-KB animated one ~270 MB; in the child ~1 MB
    per megapixel (bench/review_page_memory.py). Over HERE_MAX_PIXELS (2 MP), or a WebP,
    or animated, it is the child's, and drawn the same."""
    import subprocess

    data = image()
    started = []
    run = subprocess.run

    def child(command, **options):
        started.append(command[2])
        return run(command, **options)

    monkeypatch.setattr("submissions.pages.subprocess.run", child)
    options = {"pdf": False, "page": 0, "transform": {}, "rotate": 90}
    assert render_png_apart(data, **options) == render_png(data, **options)
    assert started == ["submissions.render_child"]


def test_a_page_that_cannot_be_drawn_is_told_from_one_that_is_not_there():
    """The desk shows a page that is there but not drawn (PageNotDrawn) with the file's
    download, and remembers it; a page number the file does not have is none (404)."""
    damaged = png(2000, 1500)[:5000]
    with pytest.raises(PageNotDrawn, match="damaged"):
        render_png_apart(damaged, pdf=False, page=0, transform={}, rotate=0)
    with pytest.raises(NoSuchPage) as no_page:
        render_png_apart(png(2000, 1500), pdf=False, page=1, transform={}, rotate=0)
    assert not isinstance(no_page.value, PageNotDrawn)
    with pytest.raises(PageNotDrawn, match="damaged"):
        render_png_apart(b"%PDF-1.4 damaged", pdf=True, page=0, transform={}, rotate=0)


def test_a_receipt_cut_from_a_large_canvas_is_drawn_as_ocr_read_it():
    """The extraction cuts a receipt pasted on a large blank canvas to its content; the
    page stores the cut, and the review page draws the upload cut the same way (not as
    uploaded), so the evidence boxes, fractions of the page OCR read, fall on the words."""
    canvas = Image.new("RGB", (4200, 7000), "white")
    canvas.paste(Image.new("RGB", (600, 1000), "black"), (3000, 1200))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    (page,) = load_document(buffer.getvalue()).pages
    assert 600 < page.image.width < 750 and 1000 < page.image.height < 1200
    assert not is_identity(page.transform)
    drawn = rendered(buffer.getvalue(), transform=page.transform)
    assert abs(drawn.width / drawn.height - page.image.width / page.image.height) < 0.01
    assert drawn.getpixel((drawn.width // 2, drawn.height // 2)) == (0, 0, 0)


def test_a_scanned_pdf_page_rendered_to_its_drawing_is_drawn_as_ocr_read_it():
    """The extraction renders a receipt's image placed on an A4 page to the image, not to
    the page box; the review page drew the whole A4 page, so the evidence boxes, fractions
    of the page OCR read, landed on blank paper far from the words."""
    receipt = Image.new("RGB", (600, 1000), "black")
    data = pdf_with_image(jpeg(receipt), page=(595, 842), at=(40, 400), width=155)
    (page,) = load_document(data).pages
    assert abs(page.image.width / page.image.height - 0.6) < 0.01
    drawn = rendered(data, pdf=True, transform=page.transform)
    assert abs(drawn.width / drawn.height - 0.6) < 0.01
    assert drawn.getpixel((drawn.width // 2, drawn.height // 2))[:3] == (0, 0, 0)


def test_a_receipt_on_a_huge_pdf_page_turned_by_rotate_is_drawn_as_ocr_read_it():
    """The extraction cuts the page as shown (after /Rotate) to its content; the review
    page draws the shown page cut by the same fractions, so the boxes fall on the words."""
    receipt = Image.new("RGB", (600, 1000), "black")
    data = pdf_page(jpeg(receipt), page=(2880, 2160), at=(900, 300), width=500, rotate=90)
    (page,) = load_document(data).pages
    assert abs(page.image.width / page.image.height - 0.6) < 0.05
    drawn = rendered(data, pdf=True, transform=page.transform)
    assert abs(drawn.width / drawn.height - page.image.width / page.image.height) < 0.02
    assert drawn.getpixel((drawn.width // 2, drawn.height // 2))[:3] == (0, 0, 0)


def canvas_with(
    *blocks: tuple[int, int, int, int], size: tuple[int, int] = (4000, 6000)
) -> Image.Image:
    """A white canvas (4,000 x 6,000) with black boxes (left, top, right, bottom) on it."""
    canvas = Image.new("L", size, 255)
    for block in blocks:
        canvas.paste(0, block)
    return canvas


def test_two_receipts_far_apart_on_a_canvas_are_both_kept():
    """A second receipt is no stray mark: cut to the heavier one, the other would be read
    by nobody."""
    crop = content_crop(canvas_with((400, 400, 700, 900), (1100, 1300, 1400, 1800)))
    assert crop is not None
    left, top, right, bottom = crop
    assert left < 0.1 and top < 0.066 and right > 0.35 and bottom > 0.3


def test_a_receipt_and_a_stray_dot_are_cut_to_the_receipt():
    crop = content_crop(canvas_with((2000, 3000, 2500, 3800), (3950, 5950, 3970, 5970)))
    assert crop is not None
    left, top, right, bottom = crop
    assert 0.48 < left < 0.5 and 0.49 < top < 0.5 and 0.62 < right < 0.64
    assert 0.63 < bottom < 0.65


def test_a_page_of_only_a_frame_is_not_cut():
    canvas = Image.new("L", (4000, 6000), 255)
    ImageDraw.Draw(canvas).rectangle((300, 300, 3700, 5700), outline=0, width=6)
    assert content_crop(canvas) is None


def test_a_page_read_at_its_own_size_is_cut_only_to_all_of_its_ink():
    # A small ticket scanned on speckled A4 at 1080 x 1527 px (as two SROIE receipts are):
    # OCR reads it unscaled, so the dot far from the ticket still counts and nothing is
    # cut; the same page at four times the size is cut to the ticket.
    small = canvas_with((300, 400, 560, 640), (1040, 1480, 1046, 1486), size=(1080, 1527))
    assert content_crop(small) is None
    large = canvas_with((1200, 1600, 2240, 2560), (4160, 5920, 4184, 5944), size=(4320, 6108))
    assert content_crop(large) is not None


def pdf_of_fax_images(count: int, side: int = 60_000) -> bytes:
    """One letter page drawing ``count`` fax-coded (CCITT G4) images of 64 bytes, each
    declaring ``side`` x ``side`` pixels: pdfium decodes a fax image row by row to its
    declared size, whatever its bytes hold (~20 s each on the 2-core dev box)."""
    data = b"\x00" * 64
    image = (
        (
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns %d "
            b"/Rows %d >> /Length %d >>\nstream\n" % (side, side, side, side, len(data))
        )
        + data
        + b"\nendstream"
    )
    draw = b" ".join(b"q 612 0 0 792 0 0 cm /Im%d Do Q" % n for n in range(count))
    names = b" ".join(b"/Im%d %d 0 R" % (n, 5 + n) for n in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /XObject << %s >> >> /Contents 4 0 R >>" % names,
        b"<< /Length %d >>\nstream\n" % len(draw) + draw + b"\nendstream",
        *[image] * count,
    ]
    return pdf_of_objects(objects)


def test_a_page_that_takes_minutes_to_draw_is_given_up_before_gunicorn_kills_the_web_worker():
    """A 3-KB PDF page of eight fax images takes minutes to draw. Its child was given 30 s,
    gunicorn's own timeout: the sync worker serving the page image was killed first (the
    reviewer got a 502, the worker restarted), at every view and turn of the page. The
    give-up is shown at 2 s (the default's 20 s would cost the suite as much)."""
    import inspect

    from steve import gunicorn_conf
    from submissions.pages import RENDER_SECONDS

    # What is left of gunicorn's timeout is for the request's own reads (session, file).
    assert gunicorn_conf.timeout - 5 >= RENDER_SECONDS
    default = inspect.signature(render_png_apart).parameters["timeout_s"].default
    assert default == RENDER_SECONDS
    hostile = pdf_of_fax_images(8)
    assert len(hostile) < 4_000
    started = time.monotonic()
    with pytest.raises(NoSuchPage, match="too long"):
        render_png_apart(hostile, pdf=True, page=0, transform={}, rotate=0, timeout_s=2)
    assert time.monotonic() - started < 10


def test_the_drawing_child_stops_itself_when_no_one_waits_for_it():
    """A web worker killed anyway (SIGKILL once gunicorn's grace is over) cannot kill its
    child: the child kept drawing, for minutes of a core the web needs. It stops itself at
    the CPU seconds it is given (here 2; render_png_apart gives it its own timeout)."""
    import resource
    import signal
    import subprocess
    import sys

    from submissions import render_child

    command = [sys.executable, "-m", "submissions.render_child", "0", "0"]
    spent = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    done = subprocess.run(
        [*command, str(render_child.MEMORY_MB), "{}", "pdf", "2"],
        input=pdf_of_fax_images(8),
        capture_output=True,
        timeout=120,  # wall time, for a loaded machine: minutes of CPU before
        check=False,
    )
    assert done.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and not done.stdout
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - spent < 4
