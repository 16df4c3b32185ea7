"""Whether an upload can be opened at all, checked as it is stored: a file whose magic
bytes say PDF or image but that no reader can open (16 bytes after `%PDF-`, half a PDF,
a JPEG's first bytes) was stored, spent its one-use upload URL, and failed only later, in
processing, when the integrator could no longer send the right file to the same URL.

Only what opening costs little: a PDF's structure (its cross-reference table, found or
rebuilt, and its page count), an image's header. Decoding pages is processing's work,
with its own limits and codes (FILE_TOO_LARGE, PASSWORD_REQUIRED, ...)."""

from __future__ import annotations

import io
import logging
import warnings

import pypdfium2 as pdfium
from PIL import Image

from submissions.pages import TooLargeToDecode, check_before_open

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


def unreadable(data: bytes, mime: str) -> str | None:
    """Why ``data``, sniffed as ``mime``, cannot be opened; None when it can, or when the
    check could not tell (processing then says)."""
    if mime == "application/pdf":
        return _pdf_unreadable(data)
    return _image_unreadable(data, FORMATS.get(mime, "image"))


def _pdf_unreadable(data: bytes) -> str | None:
    verdict = run_bounded(
        lambda: pdf_structure(data), seconds=PDF_CHECK_SECONDS, memory_mb=PDF_CHECK_MEMORY_MB
    )
    if verdict is None:
        logger.warning("A PDF upload of %d bytes could not be checked in time; taken", len(data))
    if verdict == DAMAGED:
        return "The file cannot be opened as a PDF: it is damaged or incomplete."
    if verdict == NO_PAGES:
        return "The file cannot be opened as a PDF: it has no pages."
    return None  # opens; or encrypted, which its password may open (PASSWORD_REQUIRED)


def pdf_structure(data: bytes) -> str:
    """OPENS, DAMAGED, NO_PAGES or LOCKED (encrypted): what pdfium makes of ``data``."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        return LOCKED if "password" in str(exc).lower() else DAMAGED
    try:
        return OPENS if len(pdf) > 0 else NO_PAGES
    except pdfium.PdfiumError:
        return DAMAGED
    finally:
        pdf.close()


def _image_unreadable(data: bytes, name: str) -> str | None:
    """Its header, read by Pillow without decoding the pixels, once the structure checks
    every opener runs first (check_before_open) bound what reading it costs."""
    try:
        check_before_open(data)
    except TooLargeToDecode:
        return None  # a header that says too much: processing's FILE_TOO_LARGE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        return None  # readable, and too large: processing's FILE_TOO_LARGE
    except (OSError, ValueError, SyntaxError, EOFError):
        width = height = 0
    if width > 0 and height > 0:
        return None
    return f"The file cannot be opened as a {name} image: its header cannot be read."
