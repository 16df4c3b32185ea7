"""Whether an upload can be opened at all, checked as it is stored: a file whose magic
bytes say PDF or image but that no reader can open (16 bytes after `%PDF-`, half a PDF,
a JPEG's first bytes) was stored, spent its one-use upload URL, and failed only later, in
processing, when the integrator could no longer send the right file to the same URL.
An S3 upload, which S3 stores without Steve, is checked the same at the submit.

Only what opening costs little: a PDF's structure (its cross-reference table, found or
rebuilt, and its page count), an image's header. Decoding pages is processing's work,
with its own limits and codes (FILE_TOO_LARGE, PASSWORD_INVALID, ...). What the structure
alone shows processing would refuse is refused here under processing's code: a PDF that
needs a password (a session has none to give: PASSWORD_REQUIRED), one of more pages
than processing reads (PAGE_LIMIT_EXCEEDED), and an image of more pixels than it decodes
(FILE_TOO_LARGE, answered 413 as a file of too many bytes is). An extraction job's file is checked at its
create the same, but may carry its password."""

from __future__ import annotations

import io
import logging
import warnings
from typing import NamedTuple

import pypdfium2 as pdfium
from PIL import Image

from submissions.pages import (
    MAX_DECODE_PIXELS,
    TooLargeToDecode,
    check_before_open,
    too_large_to_decode,
)

from .document import MAX_PDF_PAGES, TOO_MANY_PIXELS, password_required, too_many_pages
from .errors import ExtractionError
from .isolated import run_bounded

logger = logging.getLogger(__name__)

# pdfium opens a sound PDF in milliseconds whatever its size; a damaged one is rebuilt by
# a scan of the whole file, measured at 0.1-0.2 s a MB on the 2-core dev box (4.2 s for
# 50 MB of noise after a header). It runs in a child with these limits; past them the
# check says nothing and processing decides, in its own reading process.
PDF_CHECK_SECONDS = 5.0
PDF_CHECK_MEMORY_MB = 512
FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
OPENS, DAMAGED, NO_PAGES, LOCKED = "opens", "damaged", "no pages", "locked"


class Refusal(NamedTuple):
    """Why an upload is refused: processing's code for it, and what to tell the sender."""

    code: str
    message: str
    # The upload's answer: 413 for an image of too many pixels, as for too many bytes.
    status: int = 400


class Structure(NamedTuple):
    verdict: str  # OPENS, DAMAGED, NO_PAGES or LOCKED
    pages: int  # 0 unless it opens


# A session takes no password (only an extraction job does, seed 003), so a PDF that
# needs one can only fail in processing.
NEEDS_PASSWORD = (
    "The PDF is encrypted and needs a password to open; a session cannot take a "
    "password-protected PDF. Upload a copy without the password, or send this file as an "
    "extraction job (POST /api/v1/extraction-jobs) with its password."
)


SESSION_LOCKED = Refusal("PASSWORD_REQUIRED", NEEDS_PASSWORD)


def unreadable(
    data: bytes, mime: str, *, locked: Refusal | None = SESSION_LOCKED
) -> Refusal | None:
    """Why ``data``, sniffed as ``mime``, cannot be opened, or would be refused by
    processing for what opening shows; None when it can, or when the check could not tell
    (processing then says). ``locked`` answers a PDF that needs a password (None takes
    it)."""
    if mime == "application/pdf":
        return _pdf_unreadable(data, locked)
    return _image_unreadable(data, FORMATS.get(mime, "image"))


def job_unreadable(data: bytes, mime: str, *, password_given: bool) -> Refusal | None:
    """unreadable() for an extraction job's file. A PDF that needs a password is taken
    when the job carries one (processing opens it with it, or says PASSWORD_INVALID), and
    refused in processing's words when it does not."""
    return unreadable(
        data, mime, locked=None if password_given else _as_refusal(password_required())
    )


def _as_refusal(error: ExtractionError) -> Refusal:
    return Refusal(error.code, error.message)  # processing's own code and words


def _pdf_unreadable(data: bytes, locked: Refusal | None) -> Refusal | None:
    found = run_bounded(
        lambda: pdf_structure(data), seconds=PDF_CHECK_SECONDS, memory_mb=PDF_CHECK_MEMORY_MB
    )
    if found is None:
        logger.warning("A PDF upload of %d bytes could not be checked in time; taken", len(data))
        return None
    if found.verdict == DAMAGED:
        why = "The file cannot be opened as a PDF: it is damaged or incomplete."
        return Refusal("UNSUPPORTED_FILE", why)
    if found.verdict == NO_PAGES:
        return Refusal("UNSUPPORTED_FILE", "The file cannot be opened as a PDF: it has no pages.")
    if found.verdict == LOCKED:
        return locked
    if found.pages > MAX_PDF_PAGES:
        return _as_refusal(too_many_pages(found.pages))
    return None


def pdf_structure(data: bytes) -> Structure:
    """What pdfium makes of ``data`` opened without a password: OPENS (with its page
    count), DAMAGED, NO_PAGES or LOCKED (needs a user password; one encrypted with an
    owner password alone opens)."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        return Structure(LOCKED if "password" in str(exc).lower() else DAMAGED, 0)
    try:
        pages = len(pdf)
    except pdfium.PdfiumError:
        return Structure(DAMAGED, 0)
    finally:
        pdf.close()
    return Structure(OPENS, pages) if pages > 0 else Structure(NO_PAGES, 0)


def _image_unreadable(data: bytes, name: str) -> Refusal | None:
    """Its header, read by Pillow without decoding the pixels, once the structure checks
    every opener runs first (check_before_open) bound what reading it costs.

    What the header shows processing refuses (FILE_TOO_LARGE) is refused in its words:
    what those checks refuse, what Pillow will not open for its size, and a PNG or WebP
    over MAX_DECODE_PIXELS, which is decoded at full size or not at all. A 100-KB PNG of
    one colour declaring 30000 x 30000 pixels was stored and spent the one-use URL. A
    JPEG is decoded reduced, to a scale processing sets: processing decides."""
    try:
        check_before_open(data)
    except TooLargeToDecode as exc:
        return _too_large(str(exc))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                (width, height), reduced = image.size, image.format == "JPEG"
    except Image.DecompressionBombError:
        return _too_large(TOO_MANY_PIXELS)
    except (OSError, ValueError, SyntaxError, EOFError):
        width = height = 0
    if width <= 0 or height <= 0:
        why = f"The file cannot be opened as a {name} image: its header cannot be read."
        return Refusal("UNSUPPORTED_FILE", why)
    if not reduced and width * height > MAX_DECODE_PIXELS:
        return _too_large(str(too_large_to_decode(width, height)))
    return None


def _too_large(message: str) -> Refusal:
    return Refusal("FILE_TOO_LARGE", message, status=413)
