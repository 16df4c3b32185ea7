"""Shared building blocks for field parsers: candidates, evidence and labelled values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from .layout import BBox, Line, union_bbox
from .values import Match, parse_amounts, parse_dates

# Labels of dates that are not the purchase: expiry (Malay "tarikh luput", "tamat"),
# validity ("sah sehingga", "valid until"), due, best before, birth, return or exchange by;
# matched in the last NOT_ISSUE_REACH letters before the date, so that a shop's name
# further left ("KFC EXPRESS", "TAMAN BESTARI") is no label.
NOT_ISSUE_DATE = re.compile(
    r"EXP(?!RESS)|VALID|DUE|BEST(?!ARI)|USEBY|BIRTH|UNTIL|RETURN|EXCHANGE|SEHINGGA|LUPUT|TAMAT"
)
NOT_ISSUE_REACH = 14


@dataclass
class Candidate:
    """One field's chosen value, how sure we are, and where on the page it came from."""

    value: object
    confidence: float
    evidence: list[dict] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)


def squash(text: str) -> str:
    """Upper-case letters only: OCR drops and invents spaces, so labels match on this."""
    return re.sub(r"[^A-Z]", "", text.upper())


def span_words_bbox(line: Line, start: int, end: int) -> BBox:
    """Bounding box of the words of ``line`` that overlap characters [start, end)."""
    boxes = []
    offset = 0
    for word in line.words:
        w_start, w_end = offset, offset + len(word.text)
        if w_start < end and start < w_end:
            boxes.append(word.bbox)
        offset = w_end + 1
    return union_bbox(boxes) if boxes else line.bbox


def span_confidence(line: Line, start: int, end: int) -> float:
    confs = []
    offset = 0
    for word in line.words:
        w_start, w_end = offset, offset + len(word.text)
        if w_start < end and start < w_end:
            confs.append(word.confidence)
        offset = w_end + 1
    return min(confs) if confs else line.confidence


def evidence_for(line: Line, start: int | None = None, end: int | None = None) -> dict:
    box = line.bbox if start is None or end is None else span_words_bbox(line, start, end)
    return {"page": line.page, "bbox": [round(v, 4) for v in box]}


def ocr_factor(confidence: float) -> float:
    """Map an OCR confidence to a multiplier: clean reads keep the parser's confidence."""
    return max(0.3, min(1.0, 0.4 + 0.6 * (confidence - 0.5) / 0.45))


@dataclass
class AmountRef:
    value: Decimal
    line_index: int
    line: Line
    start: int
    end: int

    @property
    def ocr_confidence(self) -> float:
        return span_confidence(self.line, self.start, self.end)

    @property
    def evidence(self) -> dict:
        return evidence_for(self.line, self.start, self.end)


def label_and_amount(lines: list[Line], index: int) -> tuple[str, AmountRef | None]:
    """The label text of line ``index`` and the amount it labels.

    The amount is the rightmost one on the line; a label alone on its line takes the
    bare amount printed on its row (the line above or below), else the next line's bare
    amount (label above value).
    """
    line = lines[index]
    amounts = parse_amounts(line.text)
    if amounts:
        last = amounts[-1]
        label = line.text[: amounts[0].start]
        if not squash(label) and len(amounts) > 1:
            # "80.90 Change: 19.10": the label sits between the amounts, beside its own.
            label = line.text[amounts[-2].end : last.start]
        return label, AmountRef(last.value, index, line, last.start, last.end)
    beside = [j for j in (index - 1, index + 1) if 0 <= j < len(lines) and _bare(lines[j])]
    # The bare amount printed on the label's own row (a larger font split them into two
    # lines: "78.50" / "NET TOTAL" / "100.00" / "CASH"), else the one below the label.
    same_row = [j for j in beside if _row_overlap(line, lines[j]) > 0.5]
    chosen = max(same_row, key=lambda j: _row_overlap(line, lines[j]), default=None)
    if chosen is None and index + 1 in beside:
        chosen = index + 1
    if chosen is not None:
        last = parse_amounts(lines[chosen].text)[-1]
        return line.text, AmountRef(last.value, chosen, lines[chosen], last.start, last.end)
    return line.text, None


def _bare(line: Line) -> bool:
    """A line that is an amount with at most a currency or a letter or two before it."""
    amounts = parse_amounts(line.text)
    return bool(amounts) and len(squash(line.text[: amounts[0].start])) <= 3


def _row_overlap(label: Line, other: Line) -> float:
    """How much of the label's height the other line shares (1: the same row)."""
    shared = min(label.bbox[3], other.bbox[3]) - max(label.bbox[1], other.bbox[1])
    return max(0.0, shared) / max(label.height, 1e-6)


# A line printing more dates is a table of them, never where a document's own date is
# (receipts print at most three on a line); each date's score reads its whole line again,
# so a 16-KB PDF of lines of 150 dates took 90 s to parse.
MAX_DATES_ON_A_LINE = 8


def find_dates(lines: list[Line], *, day_first: bool) -> list[tuple[Match, Line, int]]:
    found = []
    for index, line in enumerate(lines):
        dates = parse_dates(line.text, day_first=day_first)
        if len(dates) <= MAX_DATES_ON_A_LINE:
            found += [(match, line, index) for match in dates]
    return found


def labelled_token(
    lines: list[Line], label: re.Pattern[str], value: re.Pattern[str]
) -> tuple[str, Line, int, int] | None:
    """First ``value`` following a ``label`` on the same line, or at the start of the next."""
    for index, line in enumerate(lines):
        m = label.search(line.text)
        if not m:
            continue
        rest = line.text[m.end() :]
        v = value.search(rest)
        if v:
            return v.group(1), line, m.end() + v.start(1), m.end() + v.end(1)
        if index + 1 < len(lines) and not rest.strip(" :#.-"):
            nxt = lines[index + 1]
            v = value.match(nxt.text.strip())
            if v:
                offset = len(nxt.text) - len(nxt.text.lstrip())
                return v.group(1), nxt, offset + v.start(1), offset + v.end(1)
    return None
