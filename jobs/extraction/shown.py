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

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

import numpy as np
from PIL import Image, ImageOps

from fraud import normalise

from .layout import BBox, Word, union_bbox
from .ocr import LineReader
from .values import parse_amounts, parse_dates

# The fields a forger gains by: the money and the day of the receipt or invoice, the
# number a duplicate invoice is found by, and the name a duplicate receipt is found by
# (fraud's data check: a text layer naming another shop than its page shows hides an
# edited copy of an earlier receipt). Their digits are compared (see _digits), an
# amount's value and a date's day too, and a name by its likeness (see _agrees).
CHECKED_FIELDS = (
    "totalAmount",
    "date",
    "invoiceDate",
    "invoiceNumber",
    "merchantName",
    "vendorName",
)
AMOUNT_FIELDS = frozenset({"totalAmount"})
DATE_FIELDS = frozenset({"date", "invoiceDate"})
NAME_FIELDS = frozenset({"merchantName", "vendorName"})
# A name's box agrees with its page where what OCR reads there is at least this like what
# the text layer says (fraud.normalise.merchant_similarity of the two, normalised, read
# through _AS_LETTERS): the bar of fraud's data check (policy data_merchant_similarity,
# 0.5), so a text layer's name unlike enough to the page's to escape that check against
# the page's shop is sent to review. Honest names clear it: bench/shown_names.py set the
# 171 shop names of SROIE (dev and test) in Helvetica, Times and Courier bold at 8-14
# points, and all 513 read again at 1.00 (one at 0.45 without _AS_LETTERS: "MR D.1Y."
# for "MR D.I.Y."); 16 of the 13,366 pairs of those names are 0.5 alike or more.
NAME_AGREES = 0.5
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
# What a box says where its digits are drawn too small to read on the page: their ink, as
# the box read again renders it, is shorter than SMALL_POINTS, or than SMALL_SHARE of the
# page's other numbers' boxes. The box is rendered with its glyphs GLYPH_PIXELS high
# whatever their size, so OCR read a "26.80" in 3-point print as the text layer says,
# beside an image of the "17.90" in 10 points a reviewer reads: on the review page (about
# 115 dpi) those digits are 3 pixels high. Measured from the render, not from the font's
# size or the box it declares: a Type3 font of 10 points drew its digits a third as large,
# in boxes as tall as its size. Honest print of 5 points has digits of 3.0-3.6 points
# (Courier to Helvetica); a receipt's date may be printed at 0.6 of its amounts.
SMALL = "The PDF's text here is drawn too small to read on the page."
SMALL_POINTS = 2.6
SMALL_SHARE = 0.5
# What a box says where its page's text is painted too light to see (document.Page.faint):
# what was read there, by OCR from the page's image or from the little of its text layer
# that shows, is print a reviewer looking at the page does not see. Its field is capped as
# one shown otherwise is.
FAINT_PAGE = (
    "The PDF's text on this page is too faint to see: what was read here is not what a "
    "reviewer sees on the page."
)
# A box is rendered with its glyphs this many pixels high, about the height at which the
# line recogniser reads (48 pixels with the margin below).
GLYPH_PIXELS = 32
# The margin added around the rendered box, a share of its height, in its paper's colour:
# a margin rendered from the page would take in slivers of the words beside it.
MARGIN_SIDES, MARGIN_ENDS = 0.25, 0.5
# A sign a font draws but its text layer reads as a space ("-17.90" read "17.90", "(17.90)"
# read " 17.90 "), or one drawn apart from the digits, lies beside their words: the box read
# again reaches this many of their characters' widths to either side (a "-" and a space
# are about one, "CR" two), short of the next word on the line by CLEARANCE_CHARS, so no
# sliver of another word is read as a sign.
REACH_CHARS = 3.0
CLEARANCE_CHARS = 0.25
# A table's rule beside an amount, read again there, reads as "|", "l" or "1": the box is
# rendered this share of its height taller each way, and in the reach beside the digits
# a column inked down RULE_ROWS of the digits' rows and RULE_BAND of those above and below
# (no glyph of the line reaches so far) is painted as paper before it is read.
RULE_EXTENT = 0.5
RULE_ROWS, RULE_BAND = 0.95, 0.5
RULE_INK = 200  # levels summed over R, G and B off the paper's colour
# A word that only signs an amount beside it as a credit.
_SIGN = re.compile(r"[-\u2212\u2013()]+|CR", re.IGNORECASE)
# Look-alikes the recogniser reads for a letter of a name in a clean render ("MR D.1Y."
# for "MR D.I.Y.", "BOOK5" for "BOOKS"), in capitals as names are compared: both sides are
# read through them, so a forger gains nothing by them.
_AS_LETTERS = str.maketrans({"0": "O", "1": "I", "L": "I", "5": "S", "8": "B"})
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


class MarkedPage(Protocol):
    """A page once loaded or read (document.Page, api.PageText): whether it is faint."""

    @property
    def index(self) -> int: ...
    @property
    def faint(self) -> bool: ...


def cap_faint_pages(
    confidences: dict[str, float], evidence: dict[str, list[dict]], pages: Sequence[MarkedPage]
) -> list[str]:
    """Cap each field read on a page whose text is painted too light to see (``faint``)
    as one whose page shows otherwise, its boxes there saying so (``faintPage``): OCR read
    a total of 17.90 at 0.899 and a date at 0.97 on a page of #E0E0E0 print, straight
    through, while the reviewer saw a blank page. Returns the fields so capped, in order."""
    faint = {page.index for page in pages if page.faint}
    found = []
    for name, boxes in evidence.items():
        on = [box for box in boxes if isinstance(box, dict) and box.get("page") in faint]
        if not on or name not in confidences:
            continue
        for box in on:
            box["faintPage"] = FAINT_PAGE
        confidences[name] = min(confidences[name], SHOWN_OTHERWISE_CONFIDENCE)
        found.append(name)
    return found


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
            words = _checked_words(name, page.words, box["bbox"]) if page else []
            if page is None or not words:
                continue
            # Only the words that hold digits, of a number: a total's box spans its
            # label and the gap to its amount ("RM ... 17.90"), four times the pixels.
            cut = union_bbox([word.bbox for word in words])
            # ...and what the text layer says there, words between them too ("15 January
            # 2024"): the part of the page OCR reads, with the blank beside it.
            wide = _widened(cut, _words_in(page.words, cut), page.words)
            said = " ".join(word.text for word in _words_in(page.words, wide))
            # Not a name's: a letterhead is often printed lighter than the amounts, in
            # its brand's colour (sky blue #87CEEB is 189), and print too light to see
            # is not read from the text layer at all (document.SEEN_INK_LEVELS).
            if name not in NAME_FIELDS and _faint(words, page.words):
                box["faint"] = FAINT
            read = _read_again(name, page, cut, wide, render, reader)
            if read is None:
                box["unchecked"] = UNCHECKED
                read = ("", None)
            shown, inked = read
            if inked is not None and _small(inked * (cut[3] - cut[1]), page, name):
                box["small"] = SMALL
            if "unchecked" not in box and not _agrees(name, said, shown, fields[name]):
                box["shown"] = shown
            if not box.keys() & {"faint", "unchecked", "shown", "small"}:
                continue
            confidences[name] = min(confidences.get(name, 0.0), SHOWN_OTHERWISE_CONFIDENCE)
            found.append(name)
    return list(dict.fromkeys(found))


def shown_fields(
    fields: Mapping[str, object], evidence: Mapping[str, list[dict]]
) -> dict[str, object]:
    """The checked fields whose page shows otherwise than their text layer says, as the
    page shows them (each field's first box with a ``shown`` it parses as): for fraud's
    data check, which compares them beside what was read. An amount is read as the
    extraction reads one (a Decimal), a date as an ISO date, a name or a number as shown.
    A box showing no value, or two amounts, leaves its field as read."""
    found: dict[str, object] = {}
    for name in CHECKED_FIELDS:
        if name not in fields:
            continue
        for box in evidence.get(name, []):
            shown = box.get("shown") if isinstance(box, dict) else None
            value = _shown_value(name, shown) if isinstance(shown, str) else None
            if value is not None:
                found[name] = value
                break
    return found


def _shown_value(name: str, shown: str) -> object | None:
    """What ``shown`` (OCR of field ``name``'s box) reads as, parsed as the field was;
    None where it reads as no single value."""
    if name in AMOUNT_FIELDS:
        amounts = parse_amounts(shown.translate(_AS_DIGITS))
        return amounts[0].value if len(amounts) == 1 else None
    if name in DATE_FIELDS:
        days = {m.value for m in parse_dates(shown) if isinstance(m.value, dt.date)}
        return days.pop().isoformat() if len(days) == 1 else None
    return shown.strip() or None


def _widened(cut: BBox, inside: list[Word], words: list[Word]) -> BBox:
    """``cut`` reaching REACH_CHARS of its ``inside`` words' characters to either side,
    short of the nearest other of the page's ``words`` on its line by CLEARANCE_CHARS.
    A word that is only a sign ("-", "(", "CR") is reached, not stopped at: the page
    shows a credit by it however the text layer spaces it ("- 17.90")."""
    x0, y0, x1, y1 = cut
    chars = sum(len(word.text) for word in inside)
    pitch = sum(word.bbox[2] - word.bbox[0] for word in inside) / max(chars, 1)
    left, right = x0 - REACH_CHARS * pitch, x1 + REACH_CHARS * pitch
    clearance = CLEARANCE_CHARS * pitch
    held = {id(word) for word in inside}
    for word in words:
        wx0, wy0, wx1, wy1 = word.bbox
        if (
            id(word) in held
            or _SIGN.fullmatch(word.text)
            or min(y1, wy1) - max(y0, wy0) < min(y1 - y0, wy1 - wy0) / 2
        ):
            continue  # one of the field's, a sign, or on another line
        if wx1 <= x0:
            left = max(left, wx1 + clearance)
        elif wx0 >= x1:
            right = min(right, wx0 - clearance)
    return (max(0.0, min(left, x0)), y0, min(1.0, max(right, x1)), y1)


def _faint(numbered: list[Word], words: list[Word]) -> bool:
    """Whether the faintest of a field's ``numbered`` words shows markedly less than the
    page's ``words`` do (the median of their ink), or little on its own."""
    inks = [word.ink for word in words if word.ink is not None]
    faintest = min((word.ink for word in numbered if word.ink is not None), default=None)
    if faintest is None:
        return False  # a page read before inks were measured, or by OCR
    return faintest < max(FAINT_LEVELS, FAINT_SHARE * float(np.median(inks)))


def _small(height: float, page: PageOfText, name: str) -> bool:
    """Whether field ``name``'s ink, ``height`` high (a fraction of the page), is too small
    to read on the page: under SMALL_POINTS, or for digits SMALL_SHARE of the median height
    of the boxes of the page's words holding digits. Not a name's share: its lower-case
    letters are half as tall as digits ("Kedai Buku" at 6 points beside 9-point amounts
    was found too small, "KEDAI BUKU" was not)."""
    numbers = [word.bbox[3] - word.bbox[1] for word in page.words if _digits(word.text)]
    if name not in NAME_FIELDS and numbers and height < SMALL_SHARE * float(np.median(numbers)):
        return True
    return page.height_pt > 0 and height * page.height_pt < SMALL_POINTS


def _read_again(
    name: str, page: PageOfText, cut: BBox, wide: BBox, render: RenderBox, reader: LineReader
) -> tuple[str, float | None] | None:
    """What OCR reads on ``wide`` (``cut`` and the blank beside it) of the rendered page,
    rules beside ``cut`` left out, and how tall the ink of ``cut`` is (``_inked``); None
    where rendering or reading it failed (a damaged object, a recogniser error): the rest
    of the file stands."""
    x0, y0, x1, y1 = cut
    extent = (y1 - y0) * RULE_EXTENT
    tall = (wide[0], max(0.0, y0 - extent), wide[2], min(1.0, y1 + extent))
    try:
        pixels = round(GLYPH_PIXELS * (tall[3] - tall[1]) / max(y1 - y0, 1e-9))
        image = render(page.index, tall, page.turn, pixels)
        # The cut's place on the image: its columns and rows.
        width, height = image.size
        span_x, span_y = max(tall[2] - tall[0], 1e-9), max(tall[3] - tall[1], 1e-9)
        columns = (round(width * (x0 - tall[0]) / span_x), round(width * (x1 - tall[0]) / span_x))
        rows = (round(height * (y0 - tall[1]) / span_y), round(height * (y1 - tall[1]) / span_y))
        text = reader.read_line(_with_margin(_without_rules(image, columns, rows)))[0]
        return text, _inked(image, columns, rows)
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


def _inked(image: Image.Image, columns: tuple[int, int], rows: tuple[int, int]) -> float | None:
    """How tall the ink of ``image``'s ``columns`` and ``rows`` (the digits' words) is, as
    a share of those rows: the median, over the columns holding ink, of the rows from its
    first inked one to its last. A glyph's columns span most of its height (a "0"'s
    middle ones from its top to its bottom); a frame's sides drawn round a speck are a
    few columns among many, and a row inked across RULE_ROWS of them (a line over or
    under it, a frame's top or bottom), which no line of glyphs is, is left out. None
    where none is inked."""
    pixels = np.asarray(image).astype(np.int16)
    paper = np.median(pixels.reshape(-1, pixels.shape[-1]), axis=0).astype(np.int16)
    top, bottom = max(0, rows[0]), min(len(pixels), max(rows[1], rows[0] + 1))
    left, right = max(0, columns[0]), max(0, columns[1])
    inked = np.abs(pixels[top:bottom, left:right] - paper).sum(axis=-1) > RULE_INK
    inked[inked.mean(axis=1) >= RULE_ROWS] = False
    held = inked.any(axis=0)
    if not held.any():
        return None
    first = inked.argmax(axis=0)
    last = len(inked) - 1 - inked[::-1].argmax(axis=0)
    return float(np.median((last - first + 1)[held])) / max(bottom - top, 1)


def _without_rules(
    image: Image.Image, columns: tuple[int, int], rows: tuple[int, int]
) -> Image.Image:
    """The ``rows`` of ``image`` (the digits' line), its rules outside ``columns`` (the
    digits' own) painted as paper: a column inked down the line and on through the rows
    above and below it, which no glyph of the line reaches."""
    pixels = np.asarray(image).astype(np.int16)
    paper = np.median(pixels.reshape(-1, pixels.shape[-1]), axis=0).astype(np.int16)
    inked = np.abs(pixels - paper).sum(axis=-1) > RULE_INK
    top, bottom = max(0, rows[0]), min(len(pixels), max(rows[1], rows[0] + 1))
    above, line, below = inked[:top], inked[top:bottom], inked[bottom:]
    rule = line.mean(axis=0) >= RULE_ROWS
    for band in (above, below):
        rule &= band.mean(axis=0) >= RULE_BAND if len(band) else False
    rule[max(0, columns[0]) : max(0, columns[1])] = False
    # ...and the columns beside one, its smoothed edges.
    rule[1:] |= rule[:-1].copy()
    rule[:-1] |= rule[1:].copy()
    rule[max(0, columns[0]) : max(0, columns[1])] = False
    out = pixels[top:bottom].copy()
    out[:, rule] = paper
    return Image.fromarray(out.astype(np.uint8))


def _checked_words(name: str, words: list[Word], box: Sequence[float]) -> list[Word]:
    """The words of field ``name``'s ``box`` a forger gains by changing: all of a name's,
    the ones holding a digit of any other field's."""
    if name in NAME_FIELDS:
        return _words_in(words, box)
    return _numbered_words(words, box)


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


def _agrees(name: str, said: str, shown: str, value: object) -> bool:
    """Whether OCR's ``shown`` reads as the text layer's ``said`` for field ``name``: the
    same digits, and for an amount the same value, for a date the same day. Each side is
    parsed by the parser that read the field (values), so what the reader took from the
    text layer is held against what it would take from the page. An amount the field was
    read as a charge (its ``value``) where the page shows a credit does not agree either:
    a sign set apart ("- 17.90") the field's parser may not have taken. A name agrees
    where it reads alike (_names_agree)."""
    if name in NAME_FIELDS:
        return _names_agree(said, shown)
    if _digits(shown) != _digits(said):
        return False
    shown = shown.translate(_AS_DIGITS)
    if name in AMOUNT_FIELDS:
        credit = any(match.value < 0 for match in parse_amounts(shown))
        charge = isinstance(value, int | float | Decimal) and value > 0
        return not (credit and charge) and _same_amount(said, shown)
    if name in DATE_FIELDS:
        # Where both read as dates: OCR may misread a month's name ("Januarv") or drop
        # a separator, and then its digits alone are held against the text layer's.
        read = {match.value for match in parse_dates(shown)}
        meant = {match.value for match in parse_dates(said)}
        return not (read and meant) or read == meant
    return True


def _names_agree(said: str, shown: str) -> bool:
    """Whether the page shows the name the text layer says: at least NAME_AGREES alike,
    both normalised as the data check compares names (fraud.normalise.merchant). A box
    holding only a legal form ("SDN BHD", dropped by both) agrees with one showing one."""
    meant, read = (normalise.merchant(text).translate(_AS_LETTERS) for text in (said, shown))
    if not meant and not read:
        return True
    return normalise.merchant_similarity(meant, read) >= NAME_AGREES


def _same_amount(said: str, shown: str) -> bool:
    """The same amounts, by value and sign: a font reading a credit note's "-" as "+"
    turns a refund into a charge in the same digits, and one reading a mark the page
    shows as "-" a charge into a refund. (Read again with the blank beside its digits,
    OCR read the "-" of 42 honest credit notes in 3 fonts, 5-14 points, ruled or not.) What
    OCR reads that parses as no amount ("1.790.00", a point read for the comma) agrees
    when its cents are as many digits as the text layer's: "1,790" (one thousand seven
    hundred and ninety) shows no cents, where "17.90" has two."""
    read = [match.value for match in parse_amounts(shown)]
    if not read:
        return _cents_digits(shown) == _cents_digits(said)
    return sorted(read) == sorted(match.value for match in parse_amounts(said))


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
