"""Opening uploaded files: sniffing, size guards, PDF text layers and page images."""

from __future__ import annotations

import contextlib
import ctypes
import io
import math
import sys
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from steve.text import without_hidden
from submissions.pages import (
    TooLargeToDecode,
    check_before_open,
    compact,
    content_crop,
    cut,
    decode_within,
    main_mass,
    page_transform,
    to_rgb,
    turn,
    upright,
)

from .errors import STEP_TEXT, ExtractionError

# Word lives with the geometry; re-exported here.
from .layout import MAX_WORD_CHARS, BBox, Word, group_lines

# Scanned pages are rendered at this resolution for OCR; 200 dpi keeps receipt print
# legible without making detection slow.
RENDER_DPI = 200
TEXT_PAGE_DPI = 110
# A page whose text layer has fewer characters than this is treated as scanned.
MIN_TEXT_LAYER_CHARS = 8
# A receipt or an invoice holds a few thousand words at most: a dense A4 page of 6-pt
# print ~2,400. Grouping a page's words into lines is slow in Python (~0.3 ms a word, more
# on long lines), and a 148-KB PDF of 20 pages of tiny print held 82,000 words (~50 s to
# load and parse), a 1.5-KB one 49,000 on a single page (443 s). So a text layer is read
# only up to these sizes; past them the file is refused before its words are grouped.
MAX_TEXT_WORDS = 20_000
MAX_PAGE_WORDS = 3_000
MAX_TEXT_CHARS = 150_000  # each is read with its own call (~24 us)
MAX_PAGE_CHARS = 60_000
PDF_SEARCH_WINDOW = 1024  # the PDF spec tolerates junk before the %PDF- header
# Large JPEGs are decoded at a reduced scale that keeps at least this long side (OCR reads
# pages at 2000 px; the margin keeps downscaling to the filter, not to the decoder).
DECODE_MIN_SIDE = 2400
# A receipt or an invoice is a few pages (docs/api.md: PAGE_LIMIT_EXCEEDED past this).
MAX_PDF_PAGES = 20
# A PDF page is rendered, and an image decoded, at no more pixels than this.
MAX_PAGE_PIXELS = 40_000_000
# Processing's words for an image Pillow will not open for its size (past 179 MP).
TOO_MANY_PIXELS = "The image has too many pixels."
# A scanned page's drawing is rendered, not its page box, when it leaves this share of the
# box's width or height blank; a page of more objects than this is rendered whole (a scan
# is one image, and reading the bounds of thousands of objects costs more than it saves).
BLANK_MARGIN_SHARE = 0.05
MAX_CONTENT_OBJECTS = 200
# Text drawn in these render modes paints nothing (PDF 32000 9.3.6): invisible (3, an OCR
# layer over a scan) and clip only (7).
UNSEEN_TEXT_MODES = frozenset(
    {pdfium.raw.FPDF_TEXTRENDERMODE_INVISIBLE, pdfium.raw.FPDF_TEXTRENDERMODE_CLIP}
)
# The modes that fill glyphs, and those that stroke them (the rest of 0-7 do neither).
FILL_TEXT_MODES = frozenset({0, 2, 4, 6})
STROKE_TEXT_MODES = frozenset({1, 2, 5, 6})
# A character in a painting mode is still read only if the page shows it: some pixel of
# its box, rendered, comes this much nearer its own colour (levels summed over R, G and
# B) than the page is there without the text. White text on white paper, text under an
# image or a filled shape, clipped away or off the crop box moves no pixel; white text
# over black print moves them away from white. A light grey (#E0E0E0) on white is 93.
SEEN_INK_LEVELS = 96
# ...and it is at least this tall: 3 points is 1 mm on paper, past anyone's reading, yet
# rendered it leaves a smudge of ink.
MIN_SEEN_TEXT_POINTS = 3.0
# A page is faint where most of the text its PDF paints is too light to count as shown:
# it moves pixels toward its colour, but less than SEEN_INK_LEVELS (text that moves none,
# white on white or covered, is hidden, not faint), and there is as much of it as makes a
# text layer (MIN_TEXT_LAYER_CHARS). Such a page is read by OCR from its image (or from
# what little of its text shows), and OCR reads #E0E0E0 to #E6E6E6 print (93-75, a
# contrast of 1.32-1.25 to 1 on white) that a reviewer looking at the page takes for
# blank paper: its fields go to review (shown.cap_faint_pages). The cut is the one the
# text layer is read by, as it is where a reviewer stops seeing print: #C0C0C0 (189,
# 1.82 to 1), #A0A0A0 (285, 2.61 to 1) and #808080 (381, 3.95 to 1) are grey a reviewer
# reads, read from the text layer as ever (where an amount or a date is lighter than
# #AAAAAA, shown.FAINT sends it to review).
# Text is hidden for the bare render down to this depth of nested forms (XObjects);
# deeper than any real page nests them, text there shows in both renders and is not read.
MAX_FORM_DEPTH = 32


@dataclass
class Page:
    index: int
    image: Image.Image
    words: list[Word] = field(default_factory=list)
    text: str = ""
    has_text_layer: bool = False
    # How OCR straightened and turned the image before reading (submissions.pages).
    transform: dict[str, Any] = field(default_factory=dict)
    # A PDF page most of whose text is painted too light to see (see SEEN_INK_LEVELS).
    faint: bool = False
    # A text page's height in points, up its words as they are boxed (turned upright): how
    # large its print is on paper, where its boxes are fractions of it (0 for the rest).
    height_pt: float = 0.0


@dataclass
class Document:
    mime_type: str
    pages: list[Page]


def sniff_mime(head: bytes) -> str | None:
    """Identify the file type from its magic bytes, never from a name or a client header."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if b"%PDF-" in head[:PDF_SEARCH_WINDOW]:
        return "application/pdf"
    return None


@dataclass
class PageSource:
    """An opened file whose pages are loaded one at a time, as ``pages`` is iterated: a
    page's image is rendered only when its turn comes (see ``open_document``)."""

    mime_type: str
    page_count: int
    pages: Iterator[Page]
    # A PDF's: a box of one of its pages rendered anew (see ``render_box``).
    render_box: Callable[[int, BBox, int, int], Image.Image] | None = None


@contextlib.contextmanager
def open_document(
    data: bytes,
    *,
    password: str | None = None,
    max_pages: int = MAX_PDF_PAGES,
    max_pixels: int = MAX_PAGE_PIXELS,
) -> Iterator[PageSource]:
    """Open ``data``, refusing anything hostile with an ExtractionError, and load its pages
    lazily. Rendering them all up front held every page image of a 20-page scan at once
    (711-737 MB in the reading process); a caller that lets go of each page before taking
    the next holds one."""
    mime = sniff_mime(data[:PDF_SEARCH_WINDOW])
    if mime is None:
        raise ExtractionError(
            "UNSUPPORTED_FILE", "The file is not a PDF, JPEG, PNG or WebP document."
        )
    if mime != "application/pdf":
        yield PageSource(mime, 1, _image_pages(data, max_pixels))
        return
    pdf = _open_pdf(data, password)
    opened = _OpenPage(pdf)
    try:
        count = _pdf_page_count(pdf, max_pages)
        yield PageSource(
            mime,
            count,
            _pdf_pages(pdf, count, max_pixels),
            lambda index, box, turn, height: render_box(opened.get(index), box, turn, height),
        )
    finally:
        opened.close()
        pdf.close()


class _OpenPage:
    """The page of ``pdf`` the boxes re-read last lie on, kept open for the next: a page's
    boxes (a total, a date, a number) loaded it once each. At most one page is held."""

    def __init__(self, pdf: pdfium.PdfDocument) -> None:
        self._pdf = pdf
        self._index = -1
        self._page: pdfium.PdfPage | None = None

    def get(self, index: int) -> pdfium.PdfPage:
        if self._page is None or index != self._index:
            self.close()
            self._page, self._index = self._pdf[index], index
        return self._page

    def close(self) -> None:
        if self._page is not None:
            self._page.close()
            self._page = None


def load_document(
    data: bytes,
    *,
    password: str | None = None,
    max_pages: int = MAX_PDF_PAGES,
    max_pixels: int = MAX_PAGE_PIXELS,
    on_page: Callable[[Page, int], object] | None = None,
) -> Document:
    """Open ``data`` as a Document holding all its pages, refusing anything hostile with an
    ExtractionError; ``on_page`` is called with each page of a PDF as it is loaded, and
    the page count."""
    with open_document(
        data, password=password, max_pages=max_pages, max_pixels=max_pixels
    ) as source:
        pages: list[Page] = []
        for page in source.pages:
            pages.append(page)
            if on_page is not None and source.mime_type == "application/pdf":
                on_page(page, source.page_count)
        return Document(mime_type=source.mime_type, pages=pages)


def _image_pages(data: bytes, max_pixels: int) -> Iterator[Page]:
    image, reduced = _load_image(data, max_pixels=max_pixels, longest_side=DECODE_MIN_SIDE)
    crop = content_crop(image)
    if crop is None:
        page = Page(index=0, image=image)
        # OCR replaces the page's image with the one it read: the decode held here stayed
        # alive until the page was done (140 MB for a 35-MP scan).
        del image
        yield page
        return
    # A receipt on a large blank canvas is cut from the image decoded at full size, not
    # from the scaled-down one, so it keeps its own resolution; the review page cuts the
    # upload the same way (submissions.pages.as_read), so evidence boxes fall on the words.
    # Only a JPEG has a reduced decode: any other image already is at full size (within
    # the pixel budget), and decoding it again doubled the time of a 99-MP PNG canvas.
    if reduced:
        del image  # one decode held at a time, not two
        image, _ = _load_image(data, max_pixels=max_pixels, longest_side=None)
    page = Page(index=0, image=cut(image, crop), transform={"crop": crop})
    del image  # not held by this generator while OCR reads the page: 160 MB at 40 MP
    yield page


def _load_image(
    data: bytes, *, max_pixels: int, longest_side: int | None
) -> tuple[Image.Image, bool]:
    """The image decoded within ``max_pixels`` (and ``longest_side``, where a reduced
    decode allows), and whether it was decoded reduced: smaller than at full size."""
    try:
        with warnings.catch_warnings():
            # Our own limit below is the guard; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            check_before_open(data)
            opened = Image.open(io.BytesIO(data))
            opened.seek(0)  # first frame of an animated PNG/WebP
            size = opened.size
            # OCR and the fraud hashes see the same page at any upload resolution, so a
            # copy of a receipt at another size is still checked against the original.
            image = decode_within(opened, max_pixels, longest_side=longest_side)
            reduced = opened.size != size  # draft set a reduced scale
            del opened  # the full decode, once scaled down to the budget
            image = upright(image)
    except TooLargeToDecode as exc:
        raise ExtractionError("FILE_TOO_LARGE", str(exc)) from exc
    except Image.DecompressionBombError as exc:
        raise ExtractionError("FILE_TOO_LARGE", TOO_MANY_PIXELS) from exc
    except (OSError, ValueError, SyntaxError, Image.UnidentifiedImageError) as exc:
        raise ExtractionError(
            "UNSUPPORTED_FILE", "The image is damaged or cannot be decoded."
        ) from exc
    return to_rgb(image), reduced


def _open_pdf(data: bytes, password: str | None) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            if password is None:
                raise password_required() from exc
            raise ExtractionError(
                "PASSWORD_INVALID", "The password does not open this PDF."
            ) from exc
        raise ExtractionError("UNSUPPORTED_FILE", "The PDF is damaged or invalid.") from exc


def _pdf_page_count(pdf: pdfium.PdfDocument, max_pages: int) -> int:
    try:
        count = len(pdf)
    except pdfium.PdfiumError as exc:
        raise _damaged_page() from exc
    if count == 0:
        raise ExtractionError("UNSUPPORTED_FILE", "The PDF has no pages.")
    if count > max_pages:
        raise too_many_pages(count, max_pages)
    return count


def password_required() -> ExtractionError:
    """Processing's refusal of a PDF that needs a password it was not given; an extraction
    job's create refuses it the same."""
    return ExtractionError("PASSWORD_REQUIRED", "The PDF is encrypted; a password is required.")


def too_many_pages(count: int, max_pages: int = MAX_PDF_PAGES) -> ExtractionError:
    """Processing's refusal of a PDF of `count` pages; the upload check refuses it the same."""
    return ExtractionError(
        "PAGE_LIMIT_EXCEEDED", f"The PDF has {count} pages; at most {max_pages} allowed."
    )


def _pdf_pages(pdf: pdfium.PdfDocument, count: int, max_pixels: int) -> Iterator[Page]:
    """Each page of ``pdf`` as it is loaded; the text read so far counts against the
    whole file's limits."""
    words = chars = 0
    for index in range(count):
        room = min(MAX_PAGE_WORDS, MAX_TEXT_WORDS - words)
        chars_room = min(MAX_PAGE_CHARS, MAX_TEXT_CHARS - chars)
        try:
            page = _load_pdf_page(pdf, index, max_pixels, room, chars_room)
        except pdfium.PdfiumError as exc:
            raise _damaged_page() from exc
        words += len(page.words)
        chars += sum(len(word.text) for word in page.words)
        yield page
        # Let go of this page before the next is rendered: the caller keeps it as long as
        # it needs it, and holding it here would keep two page images alive, not one.
        del page


def _damaged_page() -> ExtractionError:
    return ExtractionError("UNSUPPORTED_FILE", "A page of the PDF is damaged.", step=STEP_TEXT)


def _load_pdf_page(
    pdf: pdfium.PdfDocument, index: int, max_pixels: int, max_words: int, max_chars: int
) -> Page:
    page = pdf[index]
    try:
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            raise ExtractionError("UNSUPPORTED_FILE", f"Page {index + 1} has no area.")
        words, text_turn, shown, faint_chars = _text_layer_words(
            page, max_words, max_chars, max_pixels
        )
        text_chars = sum(len(w.text) for w in words)
        has_text = text_chars >= MIN_TEXT_LAYER_CHARS
        faint = faint_chars >= MIN_TEXT_LAYER_CHARS and faint_chars > text_chars
        if has_text:
            # For hashing and display, so a lower DPI does: the page as the ink check
            # rendered it, which is how _render renders it (rendered again, a text page
            # was rendered three times, twice the same).
            image = shown if shown is not None else _render_whole(page, max_pixels)
            del shown
            transform = {}
            if text_turn:
                # The words are boxed on the page turned so its text reads upright; the
                # image and the review page (its stored turn) show it so too.
                image, transform = turn(image, text_turn), page_transform(0.0, text_turn)
            return Page(
                index=index,
                image=image,
                words=words,
                text=words_to_text(words),
                has_text_layer=True,
                transform=transform,
                faint=faint,
                # Its size as displayed (after /Rotate), turned as its words are (as
                # render_box turns it to render their boxes).
                height_pt=width if text_turn % 180 else height,
            )
        crop, scale = (0.0, 0.0, 0.0, 0.0), RENDER_DPI / 72
        drawn = _drawn_content(page)
        if drawn is not None:
            crop, native = drawn
            scale = max(scale, native)
        image = _render(page, crop, scale, max_pixels)
        # What the drawing's bounds cannot tell, the rendered page can: a receipt with a
        # page number or a dot far from it, a page turned by /Rotate, a receipt scanned
        # small on a full sheet. Read whole, the receipt was a few hundred pixels.
        inner = content_crop(image)
        if inner is not None:
            crop = _narrowed(crop, inner, width, height)
            scale = max(scale, _image_scale(page))
            del image  # one page image at a time in the reading child, not two
            image = _render(page, crop, scale, max_pixels)
        if not any(crop):
            return Page(index=index, image=image, faint=faint)
        # The review page draws the whole page and cuts it the same way, so the evidence
        # boxes (fractions of the page OCR read) fall on the words.
        return Page(
            index=index,
            image=image,
            transform={"crop": _crop_fractions(crop, width, height)},
            faint=faint,
        )
    finally:
        page.close()


def _render(
    page: pdfium.PdfPage, crop: tuple[float, float, float, float], scale: float, max_pixels: int
) -> Image.Image:
    """The page, less `crop` (points off its left, bottom, right and top as shown, after
    /Rotate), at `scale` or less.

    Huge media boxes are legal PDF (up to 200 x 200 inches); the render is shrunk instead
    of the file refused. No longer side than an image keeps when decoded: OCR reads pages
    at 2,000 px, and a 1-KB PDF of 200-inch pages rendered at 40 MP each held gigabytes in
    the worker.
    """
    width, height = page.get_size()
    width, height = width - crop[0] - crop[2], height - crop[1] - crop[3]
    scale = _render_scale(width, height, scale, max_pixels)
    return page.render(scale=scale, crop=crop).to_pil().convert("RGB")


def _render_whole(page: pdfium.PdfPage, max_pixels: int) -> Image.Image:
    """The text page's image: the whole page as shown, at TEXT_PAGE_DPI or less."""
    return _render(page, (0.0, 0.0, 0.0, 0.0), TEXT_PAGE_DPI / 72, max_pixels)


def render_box(page: pdfium.PdfPage, box: BBox, turn: int, height: int) -> Image.Image:
    """The part ``box`` of ``page`` (fractions of the page as its words are boxed, from
    its top left: turned ``turn`` degrees counter-clockwise from its display, as the
    page's stored turn says), rendered ``height`` pixels high, within the limits of any
    render.

    Only the box is rendered, at the scale its glyphs are read at (shown.GLYPH_PIXELS,
    2-4 times the page image's): cut from the page image, OCR would read other pixels,
    and the whole page rendered at that scale (300-600 dpi) to cut a few boxes from it
    would cost more than the boxes."""
    width, tall = page.get_size()  # as displayed, after /Rotate
    if turn % 180:
        width, tall = tall, width
    x0, y0, x1, y1 = box
    scale = height / max((y1 - y0) * tall, 1e-6)
    scale = _render_scale((x1 - x0) * width, (y1 - y0) * tall, scale, MAX_PAGE_PIXELS)
    # The crop is cut off the rendered page, in points of its sides as turned.
    crop = (x0 * width, (1 - y1) * tall, (1 - x1) * width, y0 * tall)
    rendered = page.render(scale=scale, rotation=(360 - turn) % 360, crop=crop)
    return rendered.to_pil().convert("RGB")


def _render_scale(width: float, height: float, scale: float, max_pixels: int) -> float:
    """``scale``, or less so a ``width`` x ``height`` box renders within the limits."""
    scale = min(scale, DECODE_MIN_SIDE / max(width, height))
    if width * height * scale * scale > max_pixels:
        scale = (max_pixels / (width * height)) ** 0.5
    return scale


def _narrowed(
    crop: tuple[float, float, float, float], inner: list[float], width: float, height: float
) -> tuple[float, float, float, float]:
    """`crop` (points off each side of a `width` x `height` page: left, bottom, right,
    top) narrowed to `inner`, fractions [left, top, right, bottom] of what it kept."""
    kept_w, kept_h = width - crop[0] - crop[2], height - crop[1] - crop[3]
    left, top, right, bottom = inner
    return (
        crop[0] + left * kept_w,
        crop[1] + (1 - bottom) * kept_h,
        crop[2] + (1 - right) * kept_w,
        crop[3] + top * kept_h,
    )


def _image_scale(page: pdfium.PdfPage) -> float:
    """The scale (pixels a point) at which the page's largest-resolution image keeps its
    own pixels; 0 when it holds none or more objects than are worth reading."""
    if pdfium.raw.FPDFPage_CountObjects(page) > MAX_CONTENT_OBJECTS:
        return 0.0
    native = 0.0
    try:
        for obj in page.get_objects(max_depth=1):
            if not isinstance(obj, pdfium.PdfImage):
                continue
            x0, y0, x1, y1 = obj.get_pos()
            if x1 > x0 and y1 > y0:
                native = max(native, max(obj.get_size()) / max(x1 - x0, y1 - y0))
    except pdfium.PdfiumError:
        return 0.0
    return native


def _drawn_content(
    page: pdfium.PdfPage,
) -> tuple[tuple[float, float, float, float], float] | None:
    """For a scanned page whose drawing leaves wide blank margins (a receipt's image
    placed on an A4 or a 30-inch page): what to crop off each side (left, bottom, right,
    top, in points) to render only the drawing, and the scale at which its images keep
    their own resolution; None when the drawing fills the page (a scanner's PDF).

    Rendered whole, such a page shows the image as a small part of the page, at whatever
    resolution the page box leaves it: OCR cannot read it, and the fraud checks hash the
    blank page around it, so the receipt already sent as a JPEG is not recognised.
    """
    if page.get_rotation() or pdfium.raw.FPDFPage_CountObjects(page) > MAX_CONTENT_OBJECTS:
        return None
    left, bottom, right, top = page.get_bbox()
    boxes = []
    try:
        for obj in page.get_objects(max_depth=1):
            x0, y0, x1, y1 = obj.get_pos()
            if x1 <= x0 and y1 <= y0:
                continue  # draws nothing (an empty path at the origin)
            boxes.append((max(x0, left), max(y0, bottom), min(x1, right), min(y1, top)))
    except pdfium.PdfiumError:
        return None  # an object without bounds: the page is rendered whole, as it was
    if not boxes:
        return None
    # The drawing is its main mass, as on a rendered page (content_box): a folio, a dot or
    # a rule far from the receipt's image stretched the bounds over the page.
    x0, y0, x1, y1 = main_mass(
        [
            ((x1 - x0) * (y1 - y0), (x0, y0, x1, y1))
            for x0, y0, x1, y1 in boxes
            if compact(x1 - x0, y1 - y0)
        ]
    ) or (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    if x1 - x0 < 1 or y1 - y0 < 1:
        return None
    blank_x = 1 - (x1 - x0) / (right - left)
    blank_y = 1 - (y1 - y0) / (top - bottom)
    if max(blank_x, blank_y) < BLANK_MARGIN_SHARE:
        return None
    return (x0 - left, y0 - bottom, right - x1, top - y1), _image_scale(page)


def _crop_fractions(
    crop: tuple[float, float, float, float], width: float, height: float
) -> list[float]:
    """What _drawn_content crops off each side (left, bottom, right, top, in points from
    the page's edges), as the part kept: fractions [left, top, right, bottom] of the page
    from its top left, as submissions.pages.cut takes them."""
    left, bottom, right, top = crop
    kept = (left / width, top / height, 1 - right / width, 1 - bottom / height)
    return [round(side, 4) for side in kept]


def _text_layer_words(
    page: pdfium.PdfPage, max_words: int, max_chars: int, max_pixels: int
) -> tuple[list[Word], int, Image.Image | None, int]:
    """Split the page's text layer into whitespace-separated words, boxed on the page as
    read: turned so its text runs upright, whatever /Rotate shows it as and however it was
    drawn. Also that turn, counter-clockwise from the page as displayed (0, 90, 180, 270),
    the page as the ink check rendered it (as displayed, _render_whole), None where it
    holds no character, and how many of its characters are painted too light to count as
    shown (faint, see SEEN_INK_LEVELS). More than ``max_words`` words or ``max_chars``
    characters is too much text.

    Text that paints nothing (invisible or clip-only) is left out: it is not what a
    reviewer sees on the page. An invisible layer over a scan said "TOTAL RM 999.00" and
    was read at 0.94 over the 17.90 printed on the image; without it, such a page has no
    text layer and is read from its image, by OCR, as a JPEG of it would be. So is text
    that paints but does not show (see ``_Ink``): a "TOTAL RM 10.00" in white over a
    printed 1000.00 was read as the receipt's total.

    Characters are boxed in the PDF's own space, which neither /Rotate nor the media box's
    origin moves: divided by the displayed page's size, a page shown sideways read its
    words in columns ("TOTAL 14/03/2018 SDN BHD") and every evidence box missed its word.
    """
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count > max_chars:
            raise _too_much_text(f"{MAX_PAGE_CHARS:,} characters a page")
        ink = _page_ink(page, max_pixels) if count else None
        words: list[tuple[str, tuple[float, float, float, float], float]] = []
        chars: list[str] = []
        boxes: list[tuple[float, float, float, float]] = []
        levels: list[float] = []
        faint = 0
        # Each character's direction, in quarter turns clockwise in the PDF's space.
        quarters: Counter[int] = Counter()
        for i in range(count):
            if i > 0 and _surrogates_at(textpage, i - 1, count):
                continue  # the second half of the character read at i - 1
            char = _char_at(textpage, i, count)
            # A control character (NUL, the rest of C0 and C1, DEL) is no text any page
            # prints: where a text layer holds one, its font could not say what the glyph
            # there is, and the word is broken there as at a space. Skipped as a hidden
            # character is, "12" U+0001 "50" was read as 1250 where the page shows 12.50.
            # So is half a surrogate pair, which no text can hold.
            control = bool(char) and unicodedata.category(char) in ("Cc", "Cs")
            if char and not char.isspace() and not control and not without_hidden(char):
                # A zero-width or bidi character draws nothing, so it never "shows"; it is
                # no word break either (_flush_word drops what is left of such marks).
                continue
            if _noncharacter(char):
                # Nor is a noncharacter (U+FFFE, U+FDD0...), which Unicode keeps out of any
                # text, a word or a break: pdfium counts U+FFFE among the marks it leaves
                # out of a page's text, and a font naming a glyph so kept it in the word
                # ("SUB" U+FFFE "TOTAL"). Dropped as a zero-width one is; an amount whose
                # point it names reads as other digits ("17" U+FFFE "90" as 1790), which
                # the text-layer check (shown) holds against the page's 17.90.
                continue
            blank = not char or char.isspace() or control
            level = 0.0 if blank or ink is None else ink.level(textpage, i)
            if level < SEEN_INK_LEVELS:
                faint += level > 0  # painted, but too light to see; 0 is hidden
                _flush_word(chars, boxes, levels, words)
                if len(words) > max_words:
                    raise _too_much_text(f"{MAX_PAGE_WORDS:,} words a page")
                continue
            chars.append(char)
            boxes.append(textpage.get_charbox(i))
            levels.append(level)
            angle = pdfium.raw.FPDFText_GetCharAngle(textpage, i)
            quarters[round(math.degrees(max(angle, 0.0)) / 90) % 4] += 1
        _flush_word(chars, boxes, levels, words)
        if len(words) > max_words:
            raise _too_much_text(f"{MAX_PAGE_WORDS:,} words a page")
    finally:
        textpage.close()
    displayed = ink.displayed if ink is not None else None
    del ink  # its render without text, before the page's image is made of the other
    shown = Image.fromarray(displayed) if displayed is not None else None
    del displayed
    # Text running a quarter turn clockwise (downwards) is read turned back by as much.
    text_quarter = quarters.most_common(1)[0][0] if quarters else 0
    left, bottom, right, top = page.get_bbox()  # the displayed box (crop box), PDF space
    width, height = max(right - left, 1e-6), max(top - bottom, 1e-6)
    read = [
        Word(
            text=text,
            # PDF space has its origin bottom-left; our boxes are top-left like images.
            bbox=_turn_box(
                (
                    _clamp((x0 - left) / width),
                    _clamp(1 - (y1 - bottom) / height),
                    _clamp((x1 - left) / width),
                    _clamp(1 - (y0 - bottom) / height),
                ),
                90 * text_quarter,
            ),
            confidence=1.0,
            ink=level,
        )
        for text, (x0, y0, x1, y1), level in words
    ]
    # /Rotate turns the display clockwise: the turn from it to the upright text.
    return read, (page.get_rotation() + 90 * text_quarter) % 360, shown, faint


def _char_at(textpage: pdfium.PdfTextPage, index: int, count: int) -> str:
    """The character at ``index``, as the text page holds it (``_surrogates_at``: one
    beyond the Basic Multilingual Plane from the two halves there). Read one by one, not
    as text (FPDFText_GetText): the text leaves a NUL out, and every character after it
    on the page was read one place late ("12" NUL "50" as "12", U+FFFE, "5")."""
    code = pdfium.raw.FPDFText_GetUnicode(textpage, index)
    if _surrogates_at(textpage, index, count):
        low = pdfium.raw.FPDFText_GetUnicode(textpage, index + 1)
        return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
    return chr(code) if code <= sys.maxunicode else ""  # no character: a word break


def _noncharacter(char: str) -> bool:
    """Whether ``char`` is one of Unicode's 66 noncharacters: U+FDD0 to U+FDEF, and the
    last two code points of each plane (U+FFFE, U+FFFF, U+1FFFE, ... U+10FFFF)."""
    code = ord(char) if char else 0
    return 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE


def _surrogates_at(textpage: pdfium.PdfTextPage, index: int, count: int) -> bool:
    """Whether ``index`` and the next are the two UTF-16 halves of one character beyond
    the Basic Multilingual Plane (an emoji, a CJK extension B ideograph, a mathematical
    letter): pdfium counts them as two characters, each with the whole one's box, and
    each read alone decodes to nothing. The character was dropped and split its word
    ("Burger\U0001f600Bar" read as "Burger Bar")."""
    if index + 1 >= count:
        return False
    high = pdfium.raw.FPDFText_GetUnicode(textpage, index)
    low = pdfium.raw.FPDFText_GetUnicode(textpage, index + 1)
    return 0xD800 <= high <= 0xDBFF and 0xDC00 <= low <= 0xDFFF


@dataclass
class _Ink:
    """A page rendered with its text (``shown``) and without it (``bare``), upright in the
    PDF's own space, ``scale`` pixels a point from the crop box's ``left`` and ``top``: a
    character shows where drawing it changed the page toward its own colour.

    Rendering decides, not the character's colour or place read on their own: what covers
    text, clips it or lies under it is any mix of images, shapes, soft masks and blend
    modes, and only drawing them tells what is left to see.
    """

    shown: np.ndarray
    bare: np.ndarray
    scale: float
    left: float
    top: float
    # ``shown`` as displayed (/Rotate applied): the text page's image (_render_whole).
    displayed: np.ndarray

    def level(self, textpage: pdfium.PdfTextPage, index: int) -> float:
        """How far drawing the character moved the page toward its own colour, at the
        pixel it moved most (levels summed over R, G and B: 765 for black on white, 165
        for #C8C8C8); 0 for a character no viewer shows. It shows from SEEN_INK_LEVELS."""
        mode = pdfium.raw.FPDFText_GetTextRenderMode(textpage, index)
        if mode in UNSEEN_TEXT_MODES or _text_height(textpage, index) < MIN_SEEN_TEXT_POINTS:
            return 0.0
        shown, bare = self._box(textpage.get_charbox(index))
        if shown.size == 0:
            return 0.0  # off the crop box: no viewer shows it
        colours = _text_colours(textpage, index, mode)
        if not colours:  # painted with a pattern: any change it makes shows
            return float(np.abs(shown - bare).sum(axis=-1).max())
        return max(
            float((np.abs(bare - c).sum(axis=-1) - np.abs(shown - c).sum(axis=-1)).max())
            for c in colours
        )

    def _box(self, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """The pixels of a character's box (left, bottom, right, top in PDF space) in
        both renders, a pixel wider each side for the glyph's smoothed edge."""
        x0, y0, x1, y1 = box
        height, width = self.shown.shape[:2]
        left = max(0, math.floor((x0 - self.left) * self.scale) - 1)
        right = min(width, math.ceil((x1 - self.left) * self.scale) + 1)
        top = max(0, math.floor((self.top - y1) * self.scale) - 1)
        bottom = min(height, math.ceil((self.top - y0) * self.scale) + 1)
        if left >= right or top >= bottom:
            return np.empty((0, 0, 3)), np.empty((0, 0, 3))
        cut = (slice(top, bottom), slice(left, right))
        return self.shown[cut].astype(np.int16), self.bare[cut].astype(np.int16)


def _page_ink(page: pdfium.PdfPage, max_pixels: int) -> _Ink:
    """The page rendered as the reviewer sees it (at the text page's resolution, as the
    text page's image is) and again with its text hidden, both turned back from /Rotate
    so PDF space maps onto them."""
    left, bottom, right, top = page.get_bbox()
    width, height = page.get_size()
    scale = _render_scale(width, height, TEXT_PAGE_DPI / 72, max_pixels)

    def render() -> np.ndarray:
        # The bitmap's own buffer, in RGB order: no copy through an image. As displayed,
        # the render _render makes (the page image is this one); /Rotate turns it
        # clockwise, so as many quarter turns back are counter-clockwise (a view).
        bitmap = page.render(scale=scale, rev_byteorder=True)
        return bitmap.to_numpy()

    quarters = page.get_rotation() // 90
    displayed = render()
    shown = np.rot90(displayed, quarters)
    texts = list(page.get_objects([pdfium.raw.FPDF_PAGEOBJ_TEXT], max_depth=MAX_FORM_DEPTH))
    modes = [pdfium.raw.FPDFTextObj_GetTextRenderMode(text) for text in texts]
    try:
        for text in texts:
            pdfium.raw.FPDFTextObj_SetTextRenderMode(text, pdfium.raw.FPDF_TEXTRENDERMODE_INVISIBLE)
        bare = np.rot90(render(), quarters)
    finally:
        # The text page reads each character's mode from its object, as it is now.
        for text, mode in zip(texts, modes, strict=True):
            pdfium.raw.FPDFTextObj_SetTextRenderMode(text, mode)
    return _Ink(shown=shown, bare=bare, scale=scale, left=left, top=top, displayed=displayed)


def _text_height(textpage: pdfium.PdfTextPage, index: int) -> float:
    """The character's font size on the page, in points: its font's size scaled by the
    text and page matrices (a 1-point font scaled 12 times is 12-point print)."""
    matrix = pdfium.raw.FS_MATRIX()
    if not pdfium.raw.FPDFText_GetMatrix(textpage, index, matrix):
        return 0.0
    return pdfium.raw.FPDFText_GetFontSize(textpage, index) * math.hypot(matrix.c, matrix.d)


def _text_colours(textpage: pdfium.PdfTextPage, index: int, mode: int) -> list[np.ndarray]:
    """The RGB colours the character's render mode paints it in (fill, stroke or both);
    none where pdfium cannot tell one (a pattern)."""
    colours = []
    for modes, read in (
        (FILL_TEXT_MODES, pdfium.raw.FPDFText_GetFillColor),
        (STROKE_TEXT_MODES, pdfium.raw.FPDFText_GetStrokeColor),
    ):
        rgba = [ctypes.c_uint() for _ in range(4)]
        if mode in modes and read(textpage, index, *rgba):
            colours.append(np.array([c.value for c in rgba[:3]], dtype=np.int16))
    return colours


def _turn_box(
    box: tuple[float, float, float, float], angle: int
) -> tuple[float, float, float, float]:
    """``box`` (fractions of a page, from its top left) on the page turned ``angle``
    degrees counter-clockwise, as submissions.pages.turn turns an image."""
    x0, y0, x1, y1 = box
    for _ in range(angle // 90 % 4):
        x0, y0, x1, y1 = y0, 1 - x1, y1, 1 - x0
    return x0, y0, x1, y1


def _too_much_text(page_limit: str) -> ExtractionError:
    return ExtractionError(
        "FILE_TOO_LARGE",
        "The PDF holds more text than any receipt or invoice (at most "
        f"{page_limit}, {MAX_TEXT_WORDS:,} words and {MAX_TEXT_CHARS:,} characters in all "
        "are read).",
    )


def _flush_word(
    chars: list[str],
    boxes: list[tuple[float, float, float, float]],
    levels: list[float],
    out: list[tuple[str, tuple[float, float, float, float], float]],
) -> None:
    """The characters so far as a word, the box around them (left, bottom, right, top,
    in the PDF's space) and how much they show (the median of their _Ink levels). A run
    longer than any word (MAX_WORD_CHARS) is read as several, each boxed on its own
    characters: one run of thousands of digits took the field parsers minutes."""
    for start in range(0, len(chars), MAX_WORD_CHARS):
        end = start + MAX_WORD_CHARS
        _add_word(chars[start:end], boxes[start:end], levels[start:end], out)
    chars.clear()
    boxes.clear()
    levels.clear()


def _add_word(
    chars: list[str],
    boxes: list[tuple[float, float, float, float]],
    levels: list[float],
    out: list[tuple[str, tuple[float, float, float, float], float]],
) -> None:
    box = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    # Composed (NFC): a PDF may draw "e" and U+0301 as two glyphs, a name that looks like
    # the "é" a person types and compares unequal to it (corrections, the vendor memory).
    # Without the invisible and bidi characters a reviewer may not type (steve.text): the
    # page shows nothing for them, but a zero-width space made a vendor unequal to itself,
    # and an override reversed the rest of the desk's line that named the vendor.
    text = without_hidden(unicodedata.normalize("NFC", "".join(chars)))
    if text:
        out.append((text, box, float(np.median(levels))))


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, value))


def words_to_text(words: list[Word]) -> str:
    """Plain reading-order text of a page: words grouped into lines, top to bottom."""
    return "\n".join(line.text for line in group_lines(words))
