"""The worst files an integrator can upload: each ends in a clear state with a stable
code, quickly, without harming the worker or what is already stored.

Every file is built here from bytes (Pillow for real images, hand-written PDF objects);
none is larger than a few MB, and none is read past its first pages.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import time
import zlib
from collections.abc import Callable

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from fraud import hashing, tampering
from fraud.services import PageImage, hash_page
from jobs import pipeline, services
from jobs.extraction import ExtractionError, isolated, load_document
from jobs.extraction.document import DECODE_MIN_SIDE
from jobs.models import SessionState, WorkflowSession
from submissions.models import SubmissionFile, SubmissionStatus
from submissions.pages import pdf_page_count, render_png
from tests.jobs.fixtures_docs import InvoiceSpec, _png_chunk, invoice_pdf, receipt_pdf
from tests.jobs.test_pipeline_pages import FixedEngine
from tests.jobs.test_sessions_api import create
from tests.submissions.test_pages import jpeg_of_scans

# --- builders ---------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A 60-byte PNG whose header declares ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"x\x9c\x03\x00\x00\x00\x00\x01")
        + _png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) says ``width`` x ``height``."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), "white"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """An extended WebP (VP8X) whose canvas is ``width`` x ``height``."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), "white"), "WEBP", exif=b"Exif"))
    assert data[12:16] == b"VP8X"
    data[24:27] = (width - 1).to_bytes(3, "little")
    data[27:30] = (height - 1).to_bytes(3, "little")
    return bytes(data)


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (object 1 the catalog) with a correct cross-reference table."""
    out, offsets = b"%PDF-1.7\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    return out + trailer % (len(objects) + 1, xref)


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
LETTER = b"/MediaBox [0 0 612 792]"


def pdf_of_pages(count: int) -> bytes:
    kids = b" ".join(b"%d 0 R" % (n + 3) for n in range(count))
    pages = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count)
    return raw_pdf([CATALOG, pages, *[b"<< /Type /Page /Parent 2 0 R %s >>" % LETTER] * count])


def pdf_nested_objects(depth: int) -> bytes:
    """One page carrying an array and a dictionary nested ``depth`` levels deep."""
    nested = b"/Deep " + b"[" * depth + b"]" * depth + b" /Deeper " + b"<< /A " * depth
    page = b"<< /Type /Page /Parent 2 0 R %s %s%s >>" % (LETTER, nested, b">>" * depth)
    return raw_pdf([CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page])


def pdf_nested_page_tree(depth: int) -> bytes:
    """A page tree ``depth`` levels of /Pages deep before its one page."""
    levels = [b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 3) for n in range(depth)]
    return raw_pdf([CATALOG, *levels, b"<< /Type /Page %s >>" % LETTER])


def pdf_with_jpeg(jpeg: bytes, width: int, height: int) -> bytes:
    """One letter page filled by ``jpeg``, declared ``width`` x ``height``."""
    draw = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    image = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n%s\nendstream"
    ) % (width, height, len(jpeg), jpeg)
    return raw_pdf(
        [
            CATALOG,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R %s /Resources << /XObject << /Im0 5 0 R >> >> "
            b"/Contents 4 0 R >>" % LETTER,
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(draw), draw),
            image,
        ]
    )


def load_error(data: bytes, **kwargs: object) -> ExtractionError:
    with pytest.raises(ExtractionError) as refused:
        load_document(data, **kwargs)  # type: ignore[arg-type]
    return refused.value


# --- decompression bombs ------------------------------------------------------------------


@pytest.mark.parametrize("declaring", [png_declaring, jpeg_declaring, webp_declaring])
def test_an_image_declaring_50000_by_50000_pixels_is_refused_before_it_is_decoded(declaring):
    data = declaring(50_000, 50_000)
    assert len(data) < 1_000
    started = time.monotonic()
    error = load_error(data)
    assert (error.code, error.retryable) == ("FILE_TOO_LARGE", False)
    assert time.monotonic() - started < 1


def test_a_jpeg_of_thousands_of_scans_is_refused_before_it_is_decoded():
    # Each scan is a pass over the whole image: 20,000 dozen-byte scans of one megapixel
    # took ~18 s of the reading process (10 MB of them past its 120 s for a page, failed
    # PROCESSING_ERROR "retryable" however often it was sent again).
    data = jpeg_of_scans(20_000)
    started = time.monotonic()
    error = load_error(data)
    assert (error.code, error.retryable) == ("FILE_TOO_LARGE", False)
    assert "more than 100 scans" in error.message
    assert time.monotonic() - started < 2
    # A progressive JPEG as encoders make it (a handful of scans) is read as before.
    assert load_document(jpeg_of_scans(0)).pages[0].image.size == (1000, 1000)


def test_a_jpeg_of_a_million_empty_segments_is_refused_before_it_is_opened():
    # Pillow keeps every segment before the first scan as it opens the file: 2.5 million
    # empty comments (10 MB) took ~5 s and ~180-300 MB of whichever process opened it,
    # the web's and the worker's own too (the review page, the fraud check's metadata).
    plain = encoded(Image.new("RGB", (64, 64), "white"), "JPEG")
    data = plain[:2] + b"\xff\xfe\x00\x02" * 1_000_000 + plain[2:]
    started = time.monotonic()
    error = load_error(data)
    assert (error.code, error.retryable) == ("FILE_TOO_LARGE", False)
    assert time.monotonic() - started < 1


def png_of_chunks(count: int, kind: bytes = b"abCd") -> bytes:
    """A 64 x 64 white PNG with ``count`` empty chunks of ``kind`` after its header."""
    plain = encoded(Image.new("RGB", (64, 64), "white"), "PNG")
    return plain[:33] + _png_chunk(kind, b"") * count + plain[33:]


@pytest.mark.parametrize("kind", [b"abCd", b"tEXt", b"IDAT"])
def test_a_png_of_hundreds_of_thousands_of_chunks_is_refused_before_it_is_opened(kind):
    # Pillow reads a PNG chunk by chunk in Python: 800,000 empty ones (10 MB) took ~4 s
    # of whichever process opened it, ~9 s of the web for each view of its page, and
    # ~9 s of the worker's fraud check (which looks for metadata past the pixels).
    data = png_of_chunks(200_000, kind)
    started = time.monotonic()
    error = load_error(data)
    assert (error.code, error.retryable) == ("FILE_TOO_LARGE", False)
    assert time.monotonic() - started < 1
    # An animated PNG of thousands of frames (two chunks each) is read, its first frame.
    frames = [Image.new("RGB", (8, 8), (n % 256, 0, 0)) for n in range(5_000)]
    animated = encoded(frames[0], "PNG", save_all=True, append_images=frames[1:])
    assert load_document(animated).pages[0].image.getpixel((4, 4)) == (0, 0, 0)


def test_a_pdf_of_10000_pages_is_refused_before_any_page_is_read():
    data = pdf_of_pages(10_000)
    started = time.monotonic()
    error = load_error(data)
    assert error.code == "PAGE_LIMIT_EXCEEDED"
    assert "10000 pages" in error.message
    assert time.monotonic() - started < 2


def test_a_pdf_embedding_a_40_megapixel_jpeg_renders_its_page_at_the_usual_size():
    # Low quality keeps it ~0.6 MB to build and ~0.5 s for PDFium to decode.
    photo = encoded(Image.new("RGB", (8_000, 5_000), "white"), "JPEG", quality=10)
    document = load_document(pdf_with_jpeg(photo, 8_000, 5_000))
    assert document.pages[0].image.size == (1700, 2200)  # letter at 200 dpi


def test_a_pdf_whose_jpeg_declares_50000_by_50000_pixels_is_rendered_from_what_it_holds():
    document = load_document(pdf_with_jpeg(jpeg_declaring(50_000, 50_000), 50_000, 50_000))
    assert max(document.pages[0].image.size) <= DECODE_MIN_SIDE


# --- damaged, nested and misnamed files -------------------------------------------------


def test_deeply_nested_pdf_objects_are_read_as_the_page_they_are():
    document = load_document(pdf_nested_objects(5_000))
    assert len(document.pages) == 1


def test_a_page_tree_nested_thousands_deep_is_a_damaged_pdf():
    error = load_error(pdf_nested_page_tree(3_000))
    assert error.code == "UNSUPPORTED_FILE"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encoded(Image.new("RGB", (64, 64)), "PNG")[:60], id="truncated-png"),
        pytest.param(encoded(Image.new("RGB", (64, 64)), "WEBP")[:40], id="truncated-webp"),
        pytest.param(invoice_pdf(InvoiceSpec())[:900], id="truncated-pdf"),
        pytest.param(b"", id="zero-bytes"),
        pytest.param(b"<html><script>alert(1)</script></html>", id="html"),
        pytest.param(
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', id="svg"
        ),
        pytest.param(
            encoded(
                Image.new("L", (64, 64)),
                "TIFF",
                save_all=True,
                append_images=[Image.new("L", (64, 64))],
            ),
            id="multi-page-tiff",
        ),
        pytest.param(
            encoded(
                Image.new("P", (64, 64)),
                "GIF",
                save_all=True,
                append_images=[Image.new("P", (64, 64))],
            ),
            id="animated-gif",
        ),
        # Steve does not claim HEIC: an iPhone photo's ISO-BMFF header is not sniffed.
        pytest.param(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", id="heic"),
    ],
)
def test_damaged_empty_and_unsupported_files_are_unsupported_file(data):
    error = load_error(data)
    assert (error.code, error.retryable) == ("UNSUPPORTED_FILE", False)


def test_a_pdf_locked_only_against_editing_opens_without_a_password():
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=_owner_only())
    pdf.drawString(72, 720, "INVOICE INV-1 TOTAL 10.00")
    pdf.showPage()
    pdf.save()
    assert load_document(buffer.getvalue()).pages[0].has_text_layer


def _owner_only():  # type: ignore[no-untyped-def]
    from reportlab.lib.pdfencrypt import StandardEncryption

    return StandardEncryption("", ownerPassword="owner", canPrint=1, canModify=0)


def pdf_of_text(matrix: bytes, *, rotate: int, media_box: bytes = b"0 0 595 842") -> bytes:
    """One page of receipt lines in Helvetica, laid out from the text matrix ``matrix``
    (its lines advance along the matrix's second axis), the page turned ``/Rotate``."""
    lines = [b"KEDAI BUKU MAJU SDN BHD", b"Date: 14/03/2018 10:25", b"TOTAL RM 17.90"]
    a, b, c, d, x, y = (float(n) for n in matrix.split())
    shows = b" ".join(
        b"%g %g %g %g %g %g Tm (%s) Tj" % (a, b, c, d, x - 24 * n * c, y - 24 * n * d, line)
        for n, line in enumerate(lines)
    )
    content = b"BT /F1 14 Tf %s ET" % shows
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Rotate %d /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>"
    ) % (media_box, rotate)
    return raw_pdf(
        [
            CATALOG,
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            page,
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )


def ink_share(image: Image.Image, bbox: tuple[float, float, float, float]) -> float:
    """How much of ``bbox`` (fractions of ``image``) is dark: a word's box on its word."""
    width, height = image.size
    box = image.convert("L").crop(
        (
            int(bbox[0] * width),
            int(bbox[1] * height),
            int(bbox[2] * width) + 1,
            int(bbox[3] * height) + 1,
        )
    )
    return sum(1 for level in box.getdata() if level < 128) / (box.width * box.height)


UPRIGHT = b"1 0 0 1 72 760"  # text along the page's x axis
TURNED = b"0 1 -1 0 72 72"  # text going up the page (a landscape layout on portrait paper)


@pytest.mark.parametrize(
    ("matrix", "rotate", "media_box"),
    [
        pytest.param(UPRIGHT, 0, b"0 0 595 842", id="upright"),
        pytest.param(UPRIGHT, 90, b"0 0 595 842", id="rotate-90"),
        pytest.param(UPRIGHT, 180, b"0 0 595 842", id="rotate-180"),
        pytest.param(UPRIGHT, 270, b"0 0 595 842", id="rotate-270"),
        # A scanner's landscape page: drawn turned, /Rotate shows it upright.
        pytest.param(TURNED, 90, b"0 0 595 842", id="drawn-turned-shown-upright"),
        pytest.param(TURNED, 0, b"0 0 595 842", id="drawn-turned"),
        pytest.param(b"1 0 0 1 272 960", 0, b"200 200 795 1042", id="media-box-off-origin"),
    ],
)
def test_a_text_layer_is_read_in_its_lines_and_its_words_boxed_on_the_page_as_read(
    matrix, rotate, media_box
):
    # /Rotate turned the page's display, not its text: the words' boxes were taken along
    # the unturned page and divided by the turned one's size, so a page shown sideways
    # read "TOTAL 14/03/2018 SDN BHD" and every evidence box missed its word.
    page = load_document(pdf_of_text(matrix, rotate=rotate, media_box=media_box)).pages[0]
    assert page.text.splitlines() == [
        "KEDAI BUKU MAJU SDN BHD",
        "Date: 14/03/2018 10:25",
        "TOTAL RM 17.90",
    ]
    # The page image is the page as read (upright), and the review page draws it so.
    drawn = Image.open(
        io.BytesIO(
            render_png(
                pdf_of_text(matrix, rotate=rotate, media_box=media_box),
                pdf=True,
                page=0,
                transform=page.transform,
                rotate=0,
            )
        )
    )
    for word in page.words:
        assert ink_share(page.image, word.bbox) > 0.1, word
        assert ink_share(drawn, word.bbox) > 0.1, word


# --- images Steve reads -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "pixel"),
    [
        pytest.param(encoded(Image.new("CMYK", (64, 64), (0, 0, 0, 0)), "JPEG"), 255, id="cmyk"),
        pytest.param(encoded(Image.new("I;16", (64, 64), 0x8000), "PNG"), 128, id="16-bit-grey"),
    ],
)
def test_cmyk_and_16_bit_images_are_read_as_8_bit_rgb_with_their_tones(data, pixel):
    image = load_document(data).pages[0].image
    assert image.mode == "RGB"
    assert all(abs(channel - pixel) <= 2 for channel in image.getpixel((10, 10)))


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_an_animated_image_is_read_from_its_first_frame(fmt):
    frames = [Image.new("RGB", (50, 50), colour) for colour in ("white", "black", "red")]
    data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:])
    document = load_document(data)
    assert len(document.pages) == 1
    assert document.pages[0].image.getpixel((25, 25)) == (255, 255, 255)


def test_a_photo_turned_by_its_exif_orientation_is_read_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was held turned: view it turned 90 degrees clockwise
    data = encoded(Image.new("RGB", (40, 20), "white"), "JPEG", exif=exif.tobytes())
    page = load_document(data).pages[0].image
    assert page.size == (20, 40)
    assert hashing.to_gray(page).shape == (40, 20)  # the fraud hashes do not turn it again


def jpeg_with_text_in_a_numeric_exif_tag() -> bytes:
    """A 40 x 20 photo to be viewed turned (EXIF orientation 6) whose Software tag was
    renumbered StripByteCounts, a tag of numbers: Pillow reads it, and fails to write it
    back (struct.error) when it drops the orientation from the EXIF it keeps."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x0131] = "Camera 1.0"
    tag = b"\x01\x31\x00\x02"  # Software, ASCII (big-endian, as Pillow writes EXIF)
    renumbered = exif.tobytes().replace(tag, b"\x01\x17\x00\x02")
    return encoded(Image.new("RGB", (40, 20), "white"), "JPEG", exif=renumbered)


def test_a_photo_whose_exif_has_text_in_a_tag_of_numbers_is_still_read_upright():
    # It was a crash in the extraction's child: PROCESSING_ERROR for a readable photo.
    page = load_document(jpeg_with_text_in_a_numeric_exif_tag()).pages[0].image
    assert page.size == (20, 40)
    assert hashing.to_gray(page).shape == (40, 20)


def striped(width: int, height: int) -> Image.Image:
    """A ``width`` x ``height`` page of black and white bands 7 px apart."""
    image = Image.new("RGB", (width, height), "white")
    for y in range(0, height, 14):
        image.paste((0, 0, 0), (0, y, width, min(height, y + 7)))
    return image


@pytest.mark.parametrize("size", [(1, 20_000), (20, 20_000), (100, 20_000)])
def test_a_page_hundreds_of_times_taller_than_wide_is_fingerprinted_in_little_memory(
    size, monkeypatch
):
    # The fraud hashes scaled a page to their working width (640 px) whatever its height:
    # a 20 x 20,000 strip (a 1-KB PNG that OCR finds blank, so does not turn) became
    # 640 x 896,000 pixels, 2-9 GB and ~30 s; under the reading process's memory cap it
    # lost its fingerprints, and a 100 x 20,000 one kept them at 1.2 GB and 25 s. Hashed
    # where the pipeline hashes it: in the reading process, under a cap.
    monkeypatch.setattr(isolated, "get_engine", lambda name: FixedEngine())
    page = PageImage(file_id="file", page=0, image=striped(*size), words=[])
    started = time.monotonic()
    fingerprinted, _ = isolated.extract_document_isolated(
        receipt_pdf(), digest=lambda _: hash_page(page) is not None, kind="receipt", memory_mb=768
    )
    assert fingerprinted == [True]
    assert time.monotonic() - started < 10


# --- at the upload -----------------------------------------------------------------------

# Images whose header alone says processing refuses them (FILE_TOO_LARGE): a PNG or WebP
# is decoded at full size, so more than 100 MP is never read; Pillow refuses any past
# 179 MP as it opens it. (A JPEG under that is decoded reduced: processing decides.)
PIXEL_BOMBS = {
    "a PNG of 12000 x 12000": (lambda: png_declaring(12_000, 12_000), "image/png"),
    "a PNG of 50000 x 50000": (lambda: png_declaring(50_000, 50_000), "image/png"),
    "a WebP of 50000 x 50000": (lambda: webp_declaring(50_000, 50_000), "image/webp"),
    "a JPEG of 50000 x 50000": (lambda: jpeg_declaring(50_000, 50_000), "image/jpeg"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(PIXEL_BOMBS))
def test_an_image_of_too_many_pixels_is_refused_at_upload_and_the_url_stays_usable(
    api, workflows, name
):
    """A 100-KB PNG of one colour declaring 30000 x 30000 pixels was stored (200), spent
    the one-use URL and failed only in processing, as a PDF of too many pages no longer
    does: its header says as much."""
    build, content_type = PIXEL_BOMBS[name]
    data = build()
    _, body, _ = create(api, contentTypes=[content_type])
    url = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    refused = api.generic("PUT", url, data, content_type=content_type)
    assert refused.status_code == 413, refused.content
    assert refused.json()["code"] == "FILE_TOO_LARGE"
    assert "pixels" in refused.json()["detail"]
    assert "This upload URL can still be used." in refused.json()["detail"]
    assert SubmissionFile.objects.get(submission_id=body["submissionId"]).uploaded_at is None
    good = encoded(Image.new("RGB", (60, 80), "white"), "PNG")
    assert api.generic("PUT", url, good, content_type="image/png").status_code == 200


@pytest.mark.django_db
def test_an_extraction_job_of_too_many_pixels_is_refused_at_its_create(api, workflows):
    file = SimpleUploadedFile("receipt.png", png_declaring(30_000, 30_000))
    response = api.post(
        "/api/v1/extraction-jobs", {"templateName": "receipt-ocr", "file": file}, format="multipart"
    )
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert response.json()["errors"] == [
        {"field": "file", "message": response.json()["detail"], "code": "too_large"}
    ]
    assert not WorkflowSession.objects.exists()


# --- through the worker -------------------------------------------------------------------


def submit(api, data: bytes, client_id: str, content_type: str = "image/jpeg") -> str:
    _, body, _ = create(api, contentTypes=[content_type], clientSubmissionId=client_id)
    path = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    put = api.generic("PUT", path, data, content_type=content_type)
    assert put.status_code == 200, put.content
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200, submitted.content
    return body["sessionId"]


def submit_stored(api, data: bytes, client_id: str) -> str:
    """A session whose file reached storage past the upload view's checks, as an S3
    pre-signed PUT stores it (the view refuses some of these files at once)."""
    _, body, _ = create(api, contentTypes=["image/jpeg"], clientSubmissionId=client_id)
    file = SubmissionFile.objects.get(submission_id=body["submissionId"])
    services.session_store_upload(file_id=file.pk, data=data)
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200, submitted.content
    return body["sessionId"]


HOSTILE = {
    "FILE_TOO_LARGE": lambda: png_declaring(50_000, 50_000),
    "PAGE_LIMIT_EXCEEDED": lambda: pdf_of_pages(10_000),
    "PASSWORD_REQUIRED": lambda: invoice_pdf(InvoiceSpec(), password="s3cret"),
    "UNSUPPORTED_FILE": lambda: pdf_nested_page_tree(3_000),
}


def stored_bytes(session_id: str) -> bytes:
    file = WorkflowSession.objects.get(pk=session_id).submission.files.get()
    with default_storage.open(file.storage_key, "rb") as handle:
        return handle.read()


@pytest.mark.django_db
def test_hostile_files_fail_their_sessions_with_their_codes_and_the_worker_goes_on(
    api, workflows, monkeypatch
):
    """One worker, one after the other (~1 s each with the fixed OCR): a processed
    submission before them, and a good file read after them."""
    monkeypatch.setattr(isolated, "get_engine", lambda name: FixedEngine())
    earlier = submit(api, receipt_pdf(), "before", "application/pdf")
    pipeline.run(earlier)
    before = WorkflowSession.objects.select_related("submission").get(pk=earlier)
    kept = hashlib.sha256(stored_bytes(earlier)).hexdigest()

    for code, build in HOSTILE.items():
        data = build()
        hostile = submit_stored(api, data, f"hostile-{code}")
        pipeline.run(hostile)
        session = WorkflowSession.objects.select_related("submission").get(pk=hostile)
        assert (session.state, session.error_code) == (SessionState.FAILED, code)
        assert session.submission.status == SubmissionStatus.FAILED
        # The upload stays as it came, for the reviewer to open.
        assert stored_bytes(hostile) == data

    # What was stored before is untouched, and the next file is read as usual.
    after = WorkflowSession.objects.select_related("submission").get(pk=earlier)
    assert (after.state, after.submission.status) == (before.state, before.submission.status)
    assert hashlib.sha256(stored_bytes(earlier)).hexdigest() == kept
    good = submit(api, receipt_pdf(), "after", "application/pdf")
    pipeline.run(good)
    assert WorkflowSession.objects.get(pk=good).state == SessionState.COMPLETED


@pytest.mark.django_db
def test_a_receipt_pdf_shown_sideways_is_read_and_stored_with_its_turn(api, workflows):
    # Its text layer was read in columns: the shop was "KEDAI BUKU 17.90 SDN", and every
    # evidence box a line of no height along the page's top edge.
    session_id = submit(api, pdf_of_text(UPRIGHT, rotate=90), "sideways", "application/pdf")
    pipeline.run(session_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=session_id)
    assert session.state == SessionState.COMPLETED
    read = session.submission.extracted_data
    assert (read["merchantName"], read["totalAmount"]) == ("KEDAI BUKU MAJU SDN BHD", 17.9)
    (box,) = [e["bbox"] for e in session.submission.evidence["totalAmount"] if "bbox" in e]
    assert box[3] - box[1] > 0.005
    assert session.submission.files.get().page_transforms == [{"skew": 0.0, "turn": 90}]


# --- uploads whose name or declared type lies ---------------------------------------------


@pytest.mark.django_db
def test_an_upload_is_typed_by_its_bytes_not_by_the_type_it_was_declared_as(api, workflows):
    _, body, _ = create(api, contentTypes=["image/jpeg"], clientSubmissionId="lies")
    path = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    script = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    refused = api.generic("PUT", path, script, content_type="image/png")
    assert (refused.status_code, refused.json()["code"]) == (400, "UNSUPPORTED_FILE")
    empty = api.generic("PUT", path, b"", content_type="image/jpeg")
    assert (empty.status_code, empty.json()["code"]) == (400, "EMPTY_FILE")
    # A PDF named receipt.jpg is stored, and later served, as the PDF it is.
    stored = api.generic("PUT", path, receipt_pdf(), content_type="image/jpeg")
    assert stored.json()["contentType"] == "application/pdf"
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200
    assert SubmissionFile.objects.get().mime_type == "application/pdf"


@pytest.mark.django_db
def test_a_pdf_after_a_few_hundred_bytes_of_junk_is_taken_as_the_extraction_reads_it(
    api, workflows, monkeypatch
):
    # PDF readers, and the extraction, find %PDF- within the first KB (a mail's headers
    # or a generator's banner before it): the upload looked at 64 bytes and refused it.
    monkeypatch.setattr(isolated, "get_engine", lambda name: FixedEngine())
    data = b"%" + b"=" * 300 + b"\r\n" + receipt_pdf()
    assert load_document(data).mime_type == "application/pdf"
    session_id = submit(api, data, "banner", "application/pdf")
    pipeline.run(session_id)
    assert WorkflowSession.objects.get(pk=session_id).state == SessionState.COMPLETED
    assert SubmissionFile.objects.get().mime_type == "application/pdf"
    job = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": "invoice", "file": base64.b64encode(data).decode()},
        format="json",
    )
    assert job.status_code == 202, job.content


# --- reads beside the extraction ------------------------------------------------------------


def pdf_inflating_to(megabytes: int, *, catalog_inside: bool = False) -> bytes:
    """One blank letter page, its document information (and its catalog, if
    ``catalog_inside``) kept in a compressed object stream padded to ``megabytes`` MB
    inflated: the file is ~1 KB a MB. Cross-referenced by an xref stream, as PDF 1.5 has
    to for objects kept in a stream."""
    info, catalog = b"<< /Producer (Adobe Photoshop 25.0) >>", CATALOG
    inside = [(1, catalog), (6, info)] if catalog_inside else [(6, info)]
    header, body = b"", b""
    for number, text in inside:
        header += b"%d %d " % (number, len(body))
        body += text + b" "
    packer = zlib.compressobj(9)
    padding = b" " * (1 << 20)
    packed = packer.compress(header + body)
    packed += b"".join(packer.compress(padding) for _ in range(megabytes)) + packer.flush()
    out, offsets = b"%PDF-1.7\n", {}
    loose = {
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R %s >>" % LETTER,
        4: b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\n"
        b"stream\n%s\nendstream" % (len(inside), len(header), len(packed), packed),
    }
    if not catalog_inside:
        loose[1] = catalog
    for number, text in sorted(loose.items()):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, text)
    xref = len(out)
    in_stream = {number: index for index, (number, _) in enumerate(inside)}
    rows = b"\x00" + struct.pack(">IH", 0, 0xFFFF)
    for number in range(1, 6 + 1):
        if number in in_stream:
            rows += b"\x02" + struct.pack(">IH", 4, in_stream[number])
        else:
            rows += b"\x01" + struct.pack(">IH", offsets.get(number, xref), 0)
    out += (
        b"5 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Info 6 0 R /Length %d >>\n"
        b"stream\n%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (len(rows), rows, xref)
    )
    return out


def test_a_pdf_whose_information_inflates_past_the_cap_is_not_read_by_the_worker():
    # The fraud check reads a PDF's producer in the worker itself, after the extraction,
    # which never opens the document information: a 2-MB PDF whose information sat in a
    # stream inflating to 2 GB took 2.2 GB of the worker (a 10-MB one, 10 GB: the kernel
    # killed the worker, the job was re-queued and killed it again).
    assert tampering.pdf_metadata(pdf_inflating_to(0)) == {"pdf.Producer": "Adobe Photoshop 25.0"}
    assert tampering.pdf_metadata(pdf_inflating_to(384)) == {}


def test_a_pdf_whose_catalog_inflates_past_the_cap_is_counted_as_no_pages_by_the_review():
    # Its extraction fails (PROCESSING_ERROR, its reading process past its cap), so the
    # review page counts its pages itself, in the web process: 2.2 GB for a 2-MB file.
    assert pdf_page_count(pdf_inflating_to(0, catalog_inside=True)) == 1
    assert pdf_page_count(pdf_inflating_to(384, catalog_inside=True)) == 0


# --- text a reader of the PDF cannot see ----------------------------------------------------


def scan_with_hidden_text(hidden: list[str], shown: list[str] = ()) -> bytes:
    """A page drawing a scanned receipt showing TOTAL RM 17.90, with ``hidden`` written
    over it in invisible text (render mode 3, as an OCR layer is) and ``shown`` in
    ordinary, visible text."""
    from PIL import ImageDraw
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    scan = Image.new("RGB", (300, 400), "white")
    ImageDraw.Draw(scan).multiline_text(
        (20, 20), "KEDAI BUKU MAJU\nDate: 14/03/2018\nTOTAL RM 17.90", fill="black"
    )
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(227, 312))
    pdf.drawImage(ImageReader(scan), 10, 10, 207, 292)
    for mode, rows, top in ((3, hidden, 280), (0, shown, 120)):
        pdf.saveState()  # the render mode outlives its text object: keep it to this one
        text = pdf.beginText(20, top)
        text.setTextRenderMode(mode)
        text.setFont("Helvetica", 9)
        for row in rows:
            text.textLine(row)
        pdf.drawText(text)
        pdf.restoreState()
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def test_a_scan_whose_invisible_text_layer_says_another_total_is_read_from_its_image():
    # The invisible layer over a scan (render mode 3) was taken as the page's text: a
    # receipt showing TOTAL RM 17.90 was read as its hidden "TOTAL RM 999.00" at 0.94,
    # while the reviewer saw 17.90 on the scan. What no reader sees is not read.
    hidden = ["KEDAI BUKU MAJU SDN BHD", "Date: 14/03/2018", "TOTAL RM 999.00"]
    page = load_document(scan_with_hidden_text(hidden)).pages[0]
    assert not page.has_text_layer  # so OCR reads the scan, as a reviewer reads it
    assert page.words == [] and page.text == ""


def test_visible_text_is_read_and_invisible_text_beside_it_is_not():
    page = load_document(
        scan_with_hidden_text(["TOTAL RM 999.00"], shown=["KEDAI BUKU MAJU", "TOTAL RM 17.90"])
    ).pages[0]
    assert page.has_text_layer
    assert page.text.splitlines() == ["KEDAI BUKU MAJU", "TOTAL RM 17.90"]


@pytest.mark.django_db
def test_a_scan_with_a_lying_text_layer_gets_the_total_ocr_reads_on_its_image(
    api, workflows, monkeypatch
):
    monkeypatch.setattr(isolated, "get_engine", lambda name: FixedEngine())  # reads 17.90
    data = scan_with_hidden_text(["KEDAI BUKU MAJU", "Date: 14/03/2018", "TOTAL RM 999.00"])
    session_id = submit(api, data, "hidden-total", "application/pdf")
    pipeline.run(session_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=session_id)
    assert session.state == SessionState.COMPLETED
    assert session.submission.extracted_data["totalAmount"] == 17.9


# --- text drawn where it does not show ------------------------------------------------------

SHOWN = ["KEDAI BUKU MAJU", "Date: 14/03/2018", "TOTAL RM 1000.00"]


def receipt_hiding(hide: Callable[[Canvas], None], *, crop: bool = False) -> bytes:
    """A receipt printing ``SHOWN`` in black, on which ``hide`` then draws; with ``crop``,
    only its top half (down to y=150) is its crop box, the part a viewer shows."""
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=(227, 312))
    if crop:
        pdf.setCropBox((0, 150, 227, 312))
    text = pdf.beginText(20, 280)
    text.setFont("Helvetica", 9)
    for row in SHOWN:
        text.textLine(row)
    pdf.drawText(text)
    pdf.saveState()  # what ``hide`` sets (colour, font, clip) stays with it
    hide(pdf)
    pdf.restoreState()
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def white_total_over_the_printed_one(pdf: Canvas) -> None:
    pdf.setFillColorRGB(1, 1, 1)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20, 280 - 2 * 10.8, "TOTAL RM 10.00")  # on the third line, over 1000.00


def white_total_on_the_blank_page(pdf: Canvas) -> None:
    pdf.setFillColorRGB(1, 1, 1)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20, 200, "TOTAL RM 10.00")


def total_under_an_image(pdf: Canvas) -> None:
    from reportlab.lib.utils import ImageReader

    pdf.setFont("Helvetica", 9)
    pdf.drawString(20, 200, "TOTAL RM 10.00")
    pdf.drawImage(ImageReader(Image.new("RGB", (40, 10), "white")), 10, 190, 200, 30)


def total_under_a_black_bar(pdf: Canvas) -> None:
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20, 200, "TOTAL RM 10.00")
    pdf.rect(10, 190, 200, 24, stroke=0, fill=1)  # black, drawn after the text


def black_total_on_a_black_bar(pdf: Canvas) -> None:
    pdf.rect(10, 190, 200, 24, stroke=0, fill=1)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20, 200, "TOTAL RM 10.00")  # black on the black drawn before it


def total_below_the_crop_box(pdf: Canvas) -> None:
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20, 100, "TOTAL RM 10.00")  # on the page's media box, off its crop box


def total_clipped_away(pdf: Canvas) -> None:
    path = pdf.beginPath()
    path.rect(0, 0, 5, 5)
    pdf.clipPath(path, stroke=0, fill=0)
    pdf.setFont("Helvetica", 9)
    pdf.drawString(20, 200, "TOTAL RM 10.00")


def total_in_specks(pdf: Canvas) -> None:
    pdf.setFont("Helvetica", 0.5)  # a smudge of black no reader can read
    pdf.drawString(20, 200, "TOTAL RM 10.00")


@pytest.mark.parametrize(
    ("hide", "crop"),
    [
        pytest.param(white_total_over_the_printed_one, False, id="white-over-the-total"),
        pytest.param(white_total_on_the_blank_page, False, id="white-on-white"),
        pytest.param(total_under_an_image, False, id="under-an-image"),
        pytest.param(total_under_a_black_bar, False, id="under-a-black-bar"),
        pytest.param(black_total_on_a_black_bar, False, id="black-on-black"),
        pytest.param(total_below_the_crop_box, True, id="off-the-crop-box"),
        pytest.param(total_clipped_away, False, id="clipped-away"),
        pytest.param(total_in_specks, False, id="half-a-point-high"),
    ],
)
def test_text_that_does_not_show_on_the_page_is_not_read_and_the_printed_text_is(hide, crop):
    # Only render mode 3 was left out: a total in white over the printed one, or drawn
    # and covered, clipped, cropped off or shrunk to a speck, was read beside the 1000.00
    # the reviewer sees, and could be taken as the receipt's total.
    page = load_document(receipt_hiding(hide, crop=crop)).pages[0]
    assert page.has_text_layer
    assert page.text.splitlines() == SHOWN


def test_light_text_on_a_dark_band_is_read():
    def white_on_black(pdf: Canvas) -> None:
        pdf.setFillColorRGB(0.1, 0.1, 0.1)
        pdf.rect(10, 190, 200, 24, stroke=0, fill=1)
        pdf.setFillColorRGB(1, 1, 1)
        pdf.setFont("Helvetica-Bold", 10)
        pdf.drawString(20, 198, "PAID IN FULL")

    page = load_document(receipt_hiding(white_on_black)).pages[0]
    assert page.text.splitlines() == [*SHOWN, "PAID IN FULL"]


def test_a_page_whose_only_text_does_not_show_is_read_from_its_image():
    def hidden_receipt(pdf: Canvas) -> None:
        pdf.setFillColorRGB(1, 1, 1)
        pdf.rect(0, 0, 227, 312, stroke=0, fill=1)  # the printed lines painted over
        pdf.setFont("Helvetica", 9)
        pdf.drawString(20, 200, "TOTAL RM 10.00")  # white on the white paint

    page = load_document(receipt_hiding(hidden_receipt)).pages[0]
    assert not page.has_text_layer
    assert page.words == [] and page.text == ""


@pytest.mark.django_db
def test_a_receipt_with_a_white_total_over_its_printed_total_gets_the_printed_total(
    api, workflows, monkeypatch
):
    monkeypatch.setattr(isolated, "get_engine", lambda name: FixedEngine())  # reads 17.90
    data = receipt_hiding(white_total_over_the_printed_one)
    session_id = submit(api, data, "white-total", "application/pdf")
    pipeline.run(session_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=session_id)
    assert session.state == SessionState.COMPLETED
    assert session.submission.extracted_data["totalAmount"] == 1000.0
