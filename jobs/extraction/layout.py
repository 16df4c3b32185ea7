"""Words and reading-order lines: the geometry every parser works on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BBox = tuple[float, float, float, float]

# No word a receipt or an invoice prints is longer (an IBAN is 34 characters, a payment
# link ~110); a longer run of text is read as words of this length. Field parsing grew
# with the square of a word's length: a 1.6-KB PDF of 59,000 digits in long runs took
# 152 s; a line of 60,000 digits in words of 128 characters parses in under a second.
MAX_WORD_CHARS = 128
_OVERLONG = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


@dataclass
class Word:
    text: str
    bbox: BBox  # normalised (x0, y0, x1, y1) on its page
    confidence: float
    # A text layer's word: how much its glyphs show on the page (document._Ink.level).
    ink: float | None = None


@dataclass
class Line:
    """Words sharing a baseline, left to right, on one page."""

    page: int
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def bbox(self) -> BBox:
        return union_bbox([w.bbox for w in self.words])

    @property
    def confidence(self) -> float:
        return min((w.confidence for w in self.words), default=0.0)

    @property
    def center_y(self) -> float:
        box = self.bbox
        return (box[1] + box[3]) / 2

    @property
    def height(self) -> float:
        box = self.bbox
        return box[3] - box[1]


def bounded_words(text: str) -> str:
    """``text`` with each run of characters longer than any word (MAX_WORD_CHARS) cut
    into words of at most that length: an OCR line is one Word, its words its runs."""
    return _OVERLONG.sub(lambda m: " ".join(_pieces(m.group(0))), text)


def _pieces(run: str) -> list[str]:
    return [run[start : start + MAX_WORD_CHARS] for start in range(0, len(run), MAX_WORD_CHARS)]


def split_segments(line: Line, gap: float = 0.08) -> list[Line]:
    """Split a line where words are far apart: side-by-side columns on one baseline."""
    segments: list[Line] = []
    for word in line.words:
        if segments and word.bbox[0] - segments[-1].words[-1].bbox[2] <= gap:
            segments[-1].words.append(word)
        else:
            segments.append(Line(page=line.page, words=[word]))
    return segments


def union_bbox(boxes: list[BBox]) -> BBox:
    if not boxes:
        return (0.0, 0.0, 0.0, 0.0)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


# Matching a word to a line looks at every word of the line, so a line of thousands of
# words (a PDF's text layer in 1-pt print) was quadratic; no receipt or invoice prints
# this many words on a line, and a fuller line takes no more.
MAX_LINE_WORDS = 150


def group_lines(words: list[Word], page: int = 0) -> list[Line]:
    """Group words into lines by vertical overlap; tolerant of a slight residual skew."""
    ordered = sorted(words, key=lambda w: ((w.bbox[1] + w.bbox[3]) / 2, w.bbox[0]))
    lines: list[Line] = []
    for word in ordered:
        open_lines = [line for line in lines[-4:] if len(line.words) < MAX_LINE_WORDS]
        target = _matching_line(open_lines, word)
        if target is None:
            lines.append(Line(page=page, words=[word]))
        else:
            target.words.append(word)
    for line in lines:
        line.words.sort(key=lambda w: w.bbox[0])
    lines.sort(key=lambda line: line.center_y)
    return lines


def _matching_line(candidates: list[Line], word: Word) -> Line | None:
    cy = (word.bbox[1] + word.bbox[3]) / 2
    height = word.bbox[3] - word.bbox[1]
    best: Line | None = None
    best_distance = float("inf")
    for line in candidates:
        # Compare with the horizontally nearest word so a skewed line still chains.
        near = min(line.words, key=lambda w: abs(w.bbox[0] - word.bbox[0]))
        ny = (near.bbox[1] + near.bbox[3]) / 2
        limit = 0.5 * min(height, near.bbox[3] - near.bbox[1])
        overlaps_x = any(_x_overlap(w.bbox, word.bbox) > 0.3 for w in line.words)
        distance = abs(cy - ny)
        if distance <= limit and not overlaps_x and distance < best_distance:
            best, best_distance = line, distance
    return best


def _x_overlap(a: BBox, b: BBox) -> float:
    """Horizontal overlap as a share of the narrower box."""
    inter = min(a[2], b[2]) - max(a[0], b[0])
    narrower = max(1e-9, min(a[2] - a[0], b[2] - b[0]))
    return max(0.0, inter) / narrower
