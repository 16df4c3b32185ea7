"""Why a field was missed: where the points of a wrong field could come from.

Each miss of the benchmark falls in one of four causes, checked in this order:

- ``ranked lower``: a right option was among those the field model ranked (features or
  ranker);
- ``OCR misread``: an option is the true value with a character or two wrong (an edit
  distance of one per 12 characters, at least one): the right span, misread;
- ``not an option``: the OCR text holds the true value (exactly or that close) but no
  option spans it (candidate generation);
- ``not in OCR``: nothing close enough was read (OCR lost it, or the ground truth is
  written differently from the print, e.g. an address in another order).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from fraud.normalise import edit_distance
from jobs.extraction.layout import Line, split_segments
from jobs.extraction.ranker import Option

CAUSES = ("ranked lower", "not an option", "OCR misread", "not in OCR")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


def miss_cause(
    name: str,
    options: list[Option],
    lines: list[Line],
    truth: object,
    is_correct: Callable[[str, object, object], bool],
    canonical: Callable[[str, object], str],
) -> str:
    """``canonical(name, truth)``: the truth as the benchmark compares it (an ISO date,
    a name without punctuation, ...)."""
    if any(is_correct(name, o.value, truth) for o in options):
        return CAUSES[0]
    wants = _wanted(name, truth, canonical)
    allowed = max(1, max((len(w) for w in wants), default=0) // 12)
    values = [_as_read(name, o.value, canonical) for o in options]
    closest = (edit_distance(w, v, limit=allowed) for w in wants for v in values)
    if min(closest, default=99) <= allowed:
        return CAUSES[2]  # the right span is an option, with a character misread
    if _distance_in_text(name, wants, lines, canonical, allowed) <= allowed:
        return CAUSES[1]
    return CAUSES[3]


def _wanted(name: str, truth: object, canonical: Callable[[str, object], str]) -> list[str]:
    if name == "totalAmount":
        return [_total_digits(truth)]
    if name == "date":
        return _date_forms(canonical(name, truth))
    return [canonical(name, truth)]


def _as_read(name: str, value: object, canonical: Callable[[str, object], str]) -> str:
    if name == "totalAmount":
        return _total_digits(value)
    if name == "date":
        return _date_forms(str(value))[0]
    return canonical(name, value)


def _distance_in_text(
    name: str,
    wants: list[str],
    lines: list[Line],
    canonical: Callable[[str, object], str],
    allowed: int,
) -> int:
    """How close the OCR text comes to the truth (0: printed exactly as the truth); an
    amount's distance is exact up to ``allowed``, and only known to be larger beyond."""
    if name == "totalAmount":
        haystacks = [_digits(token) for line in lines for token in _numbers(line.text)]
        distances = (edit_distance(w, h, limit=allowed) for w in wants for h in haystacks if w)
        return min(distances, default=99)
    if name == "date":
        haystacks = [_digits(_months_as_numbers(line.text)) for line in lines]
    else:
        haystacks = [
            canonical(name, " ".join(line.text for line in lines)),
            canonical(name, " ".join(s.text for line in lines for s in split_segments(line))),
        ]
    return min((_substring_distance(w, h) for w in wants for h in haystacks if w), default=99)


def _numbers(text: str) -> Iterable[str]:
    return re.findall(r"\d[\d.,\s]*\d|\d", text)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _total_digits(truth: object) -> str:
    text = re.sub(r"[^0-9.]", "", str(truth))
    if not text:
        return ""
    whole, _, cents = text.partition(".")
    return f"{int(whole or 0)}{(cents + '00')[:2]}"


def _date_forms(iso: str) -> list[str]:
    """The truth date as printed digit runs: dd mm yyyy / dd mm yy / yyyy mm dd."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", iso):
        return [_digits(iso)]
    year, month, day = iso.split("-")
    return [f"{day}{month}{year}", f"{day}{month}{year[2:]}", f"{year}{month}{day}"]


def _months_as_numbers(text: str) -> str:
    upper = text.upper()
    for number, month in enumerate(_MONTHS, start=1):
        upper = re.sub(rf"{month}[A-Z]*", f"{number:02d}", upper)
    return upper


def _substring_distance(needle: str, haystack: str) -> int:
    """Fewest edits turning ``needle`` into some substring of ``haystack`` (Sellers)."""
    if not needle:
        return 0
    previous = [0] * (len(haystack) + 1)
    for i, c in enumerate(needle, start=1):
        current = [i]
        for j, h in enumerate(haystack, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (c != h)))
        previous = current
    return min(previous)
