"""Checking a PDF's text layer against what its page shows, where a value matters.

A PDF's text layer is what its fonts say their glyphs are (a /ToUnicode map, an
encoding), not what the glyphs draw: a font whose map reads the glyph "1" as "7" shows a
reviewer "TOTAL RM 1700.00" and gives Steve "7100.00", at the confidence of a text layer.
So the boxes a date, an amount or a number was read in are cut from the page, rendered,
and read again by OCR; where what OCR reads there is not what the text layer says, the
field is sent to review and its box says what the page shows. Digits alone do not say
it: a font reading the "," of "1,790" as "7" and its "7" as "." says 17.90 in the same
digits, so an amount is compared by its value, a date by its day.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from .layout import BBox, Word, union_bbox
from .ocr import LineReader
from .values import parse_amounts, parse_dates

# The fields a forger gains by: the money and the day of the receipt or invoice, and the
# number a duplicate invoice is found by. Their digits are compared (see _digits), and
# an amount's value and a date's day too (see _agrees).
CHECKED_FIELDS = ("totalAmount", "date", "invoiceDate", "invoiceNumber")
AMOUNT_FIELDS = frozenset({"totalAmount"})
DATE_FIELDS = frozenset({"date", "invoiceDate"})
# A field whose page shows otherwise than its text layer says, or whose box could not be
# read again to tell, is read with no more
# confidence than this: under any review threshold a workflow sets in earnest.
SHOWN_OTHERWISE_CONFIDENCE = 0.3
# What a box says where its page could not be rendered or read again there: its field is
# capped as one shown otherwise is, or a forger who makes the check fail skips it.
UNCHECKED = "The page could not be read again here to check the PDF's text."
# What a box says where its digits are drawn faint: markedly lighter than the page's other
# text (a share of the median of its words' ink, document._Ink.level), or light on any
# page (#AAAAAA on white is 255). OCR reads a faint "26.80" as the text layer says it,
# while the eye reads the black "17.90" a forger placed beside it as an image. An honest
# page prints its amounts as dark as its text; #808080 (381) on a black page is kept.
FAINT = "The PDF's text here is drawn fainter than the page's other text."
FAINT_SHARE = 0.4
FAINT_LEVELS = 255.0
# A box is rendered with its glyphs this many pixels high, about the height at which the
# line recogniser reads (48 pixels with the margin below).
GLYPH_PIXELS = 32
# The margin added around the rendered box, a share of its height, in its paper's colour:
# a margin rendered from the page would take in slivers of the words beside it.
MARGIN_SIDES, MARGIN_ENDS = 0.25, 0.5
# Look-alikes the recogniser may read for a digit in a clean render.
_AS_DIGITS = str.maketrans({"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "|": "1"})
# The digits after a point or comma that follows a digit: the last such run is the cents.
_SEPARATED = re.compile(r"(?<=\d)\s?[.,]\s?(\d+)")

logger = logging.getLogger(__name__)


class PageOfText(Protocol):
    """A page once read (api.PageText): its words, and how its boxes are turned."""

    @property
    def index(self) -> int: ...
    @property
    def words(self) -> list[Word]: ...
    @property
    def has_text_layer(self) -> bool: ...
    @property
    def turn(self) -> int: ...


RenderBox = Callable[[int, BBox, int, int], Image.Image]


def check_text_layer(
    fields: dict[str, object],
    confidences: dict[str, float],
    evidence: dict[str, list[dict]],
    pages: Sequence[PageOfText],
    *,
    render: RenderBox,
    reader: LineReader,
) -> list[str]:
    """Read again, by OCR of the rendered page, each box of a checked field that was read
    from a text layer; where they differ, lower the field's confidence and record what
    the page shows in the box (``shown``); where the box could not be rendered or read
    again, or its digits are drawn faint (``_faint``), lower it as much and say so
    (``unchecked``, ``faint``). Returns the fields so found, in order."""
    layers = {page.index: page for page in pages if page.has_text_layer}
    found = []
    for name in CHECKED_FIELDS:
        if name not in fields:
            continue
        for box in evidence.get(name, []):
            page = layers.get(box.get("page", -1))
            words = _numbered_words(page.words, box["bbox"]) if page else []
            if page is None or not words:
                continue
            # Only the words that hold digits: a total's box spans its label and the gap
            # to its amount ("RM ... 17.90"), four times the pixels to read.
            cut = union_bbox([word.bbox for word in words])
            # ...and what the text layer says there, words between them too ("15 January
            # 2024"): the part of the page OCR reads.
            said = " ".join(word.text for word in _words_in(page.words, cut))
            if _faint(words, page.words):
                box["faint"] = FAINT
            shown = _read_again(name, page, cut, render, reader)
            if shown is None:
                box["unchecked"] = UNCHECKED
            elif not _agrees(name, said, shown):
                box["shown"] = shown
            if not box.keys() & {"faint", "unchecked", "shown"}:
                continue
            confidences[name] = min(confidences.get(name, 0.0), SHOWN_OTHERWISE_CONFIDENCE)
            found.append(name)
    return list(dict.fromkeys(found))


def _faint(numbered: list[Word], words: list[Word]) -> bool:
    """Whether the faintest of a field's ``numbered`` words shows markedly less than the
    page's ``words`` do (the median of their ink), or little on its own."""
    inks = [word.ink for word in words if word.ink is not None]
    faintest = min((word.ink for word in numbered if word.ink is not None), default=None)
    if faintest is None:
        return False  # a page read before inks were measured, or by OCR
    return faintest < max(FAINT_LEVELS, FAINT_SHARE * float(np.median(inks)))


def _read_again(
    name: str, page: PageOfText, cut: BBox, render: RenderBox, reader: LineReader
) -> str | None:
    """What OCR reads on ``cut`` of the rendered page; None where rendering or reading it
    failed (a damaged object, a recogniser error): the rest of the file stands."""
    try:
        image = render(page.index, cut, page.turn, GLYPH_PIXELS)
        return reader.read_line(_with_margin(image))[0]
    except MemoryError:
        raise  # the reading process's limit: the file is too large, as anywhere else
    except Exception:
        logger.warning(
            "The box of %s on page %d could not be read again to check its PDF text",
            name,
            page.index + 1,
            exc_info=True,
        )
        return None


def _numbered_words(words: list[Word], box: Sequence[float]) -> list[Word]:
    """The words holding a digit whose middle lies in ``box``: of those the box was made
    of, the ones a forger gains by changing."""
    return [word for word in _words_in(words, box) if _digits(word.text)]


def _words_in(words: list[Word], box: Sequence[float]) -> list[Word]:
    """The words whose middle lies in ``box``."""
    x0, y0, x1, y1 = box
    return [
        word
        for word in words
        if x0 <= (word.bbox[0] + word.bbox[2]) / 2 <= x1
        and y0 <= (word.bbox[1] + word.bbox[3]) / 2 <= y1
    ]


def _agrees(name: str, said: str, shown: str) -> bool:
    """Whether OCR's ``shown`` reads as the text layer's ``said`` for field ``name``: the
    same digits, and for an amount the same value, for a date the same day. Each side is
    parsed by the parser that read the field (values), so what the reader took from the
    text layer is held against what it would take from the page."""
    if _digits(shown) != _digits(said):
        return False
    shown = shown.translate(_AS_DIGITS)
    if name in AMOUNT_FIELDS:
        return _same_amount(said, shown)
    if name in DATE_FIELDS:
        # Where both read as dates: OCR may misread a month's name ("Januarv") or drop
        # a separator, and then its digits alone are held against the text layer's.
        read = {match.value for match in parse_dates(shown)}
        meant = {match.value for match in parse_dates(said)}
        return not (read and meant) or read == meant
    return True


def _same_amount(said: str, shown: str) -> bool:
    """The same amounts, by value. Their signs count only where OCR read one ("-17.90",
    "(17.90)", "17.90CR"): a font reading a credit note's "-" as "+" turns a refund into
    a charge in the same digits. OCR drops a thin minus, so an unsigned reading cannot
    tell that a sign the text layer says was not there. What OCR reads that parses as no
    amount ("1.790.00", a point read for the comma) agrees when its cents are as many
    digits as the text layer's: "1,790" (one thousand seven hundred and ninety) shows no
    cents, where "17.90" has two."""
    read = [match.value for match in parse_amounts(shown)]
    if not read:
        return _cents_digits(shown) == _cents_digits(said)
    meant = [match.value for match in parse_amounts(said)]
    if not any(value < 0 for value in read):
        read, meant = [abs(value) for value in read], [abs(value) for value in meant]
    return sorted(read) == sorted(meant)


def _cents_digits(text: str) -> int | None:
    """How many digits follow the last point or comma after a digit; None without one."""
    runs = _SEPARATED.findall(text)
    return len(runs[-1]) if runs else None


def _digits(text: str) -> str:
    """The digits of ``text`` in order, look-alike letters read as the digits they look
    like on either side ("INV" is "1NV" in both). Punctuation and spacing are left out,
    which OCR reads unlike a text layer on honest pages ("RM17.90" for "RM 17.90")."""
    return "".join(char for char in text.translate(_AS_DIGITS) if char.isdigit())


def _with_margin(image: Image.Image) -> Image.Image:
    """``image`` with a margin of its own paper's colour (the median of its edge)."""
    pixels = np.asarray(image)
    edge = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    paper = tuple(int(v) for v in np.median(edge, axis=0))
    sides = max(1, round(image.height * MARGIN_SIDES))
    ends = max(1, round(image.height * MARGIN_ENDS))
    return ImageOps.expand(image, border=(ends, sides, ends, sides), fill=paper)
