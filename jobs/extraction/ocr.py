"""OCR engines behind a small protocol, plus orientation and deskew of page images."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import threading
import unicodedata
from collections.abc import Callable
from typing import NamedTuple, Protocol, runtime_checkable

import cv2
import numpy as np
from PIL import Image

from submissions.pages import page_transform, straighten, turn

from .document import Document, Page, words_to_text
from .errors import STEP_TEXT, ExtractionError
from .layout import Word, bounded_words

DEFAULT_ENGINE = "rapidocr"
ENGINE_ENV_VAR = "STEVE_OCR_ENGINE"
# Tesseract gets one thread so a 2-core worker can run two jobs without contention.
TESSERACT_TIMEOUT_S = 60
SINGLE_LINE_PSM = 7  # Tesseract's page segmentation mode for an image of one text line
# PP-OCR reads a page at most this many pixels on its long side anyway, so a bigger page
# (a 600-dpi A4 scan, a 12-MP phone photo) is scaled down first: deskewing and rotating
# 35 MP cost more than reading it, and held 100+ MB per copy.
OCR_MAX_SIDE = 2000


class OcrEngine(Protocol):
    name: str
    # Mean confidence an upright, legible page reaches with this engine; a page reading
    # below it is retried in other orientations. Engines calibrate confidence differently.
    upright_confidence: float

    def recognize(self, image: Image.Image) -> list[Word]:
        """Return the words (or short phrases) on ``image`` with normalised boxes."""
        ...


@runtime_checkable
class LineReader(Protocol):
    """An engine that reads one line of text cut from a page, with no search for where
    lines are: both engines are (shown.check_text_layer uses it)."""

    def read_line(self, image: Image.Image) -> tuple[str, float]:
        """The text on ``image``, a line's box, and how sure the read is (0-1)."""
        ...


class Recognized(NamedTuple):
    words: list[Word]
    # Text boxes the engine's detector found, read or not: a box read too unsure is no word.
    boxes: int


@runtime_checkable
class BoxCounter(Protocol):
    """An engine that finds a page's text boxes before reading them and says how many it
    found (RapidOCR). A page on which it finds none upright is not turned to read again:
    turning the page makes no text appear where none was found."""

    def recognize_counted(self, image: Image.Image) -> Recognized:
        """recognize()'s words, with the number of text boxes found on ``image``."""
        ...


class RapidOcrEngine:
    """RapidOCR's PP-OCRv4 detection + recognition models, run on OpenVINO (see ppocr)."""

    name = "rapidocr"
    upright_confidence = 0.80

    def __init__(self, threads: int | None = None) -> None:
        from .ppocr import PpOcr

        threads = threads or int(os.environ.get("STEVE_OCR_THREADS", "1"))
        # How many of a page's first lines the header recogniser reads instead of the line
        # recogniser (0: none, and its model is not loaded): better names and addresses.
        head_lines = int(os.environ.get("STEVE_OCR_HEAD_LINES", "12"))
        # No angle classifier: whole-page orientation is handled below, and the
        # classifier cost ~15 % of the run for no gain on upright pages.
        self._ocr = PpOcr(threads=threads, head_lines=head_lines)
        self._lock = threading.Lock()  # one inference request per model, not shareable

    def recognize(self, image: Image.Image) -> list[Word]:
        return self.recognize_counted(image).words

    def recognize_counted(self, image: Image.Image) -> Recognized:
        width, height = image.size
        pixels = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
        with self._lock:
            lines, boxes = self._ocr.find_and_read(pixels)
        words: list[Word] = []
        for quad, raw_text, score, char_boxes in lines:
            # Character boxes come from the CTC alignment at no measurable cost; they let
            # us put back the spaces PP-OCR's recogniser drops ("ABCHOTRADING").
            text = respace(raw_text, char_boxes).strip()
            if not text:
                continue
            xs = [p[0] for p in quad]
            ys = [p[1] for p in quad]
            bbox = (
                max(0.0, min(xs) / width),
                max(0.0, min(ys) / height),
                min(1.0, max(xs) / width),
                min(1.0, max(ys) / height),
            )
            words.append(Word(text=text, bbox=bbox, confidence=float(score)))
        return Recognized(words, boxes)

    def read_line(self, image: Image.Image) -> tuple[str, float]:
        pixels = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)
        with self._lock:
            [(text, score)] = self._ocr.read_lines([pixels])
        return unicodedata.normalize("NFKC", text).strip(), score


# A gap between character centres this many times the line's typical pitch is a space.
SPACE_PITCH_RATIO = 1.45
# Two or more letters each followed by a point: a legal form or initials ("S.p.A.").
_DOTTED_LETTERS = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]\.){2,}")


def respace(text: str, char_boxes: object) -> str:
    """Insert spaces where characters of a monospaced line sit a whole cell apart.

    Only upper-case letter/digit boundaries are split (receipt printers are monospaced
    capitals): numbers ("1,234.50"), punctuation and "8:13PM" keep their OCR form so the
    value parsers see them intact.
    """
    if not isinstance(char_boxes, list) or len(char_boxes) != len(text) or len(text) < 3:
        return text
    centres = [(min(p[0] for p in box) + max(p[0] for p in box)) / 2 for box in char_boxes]
    pitches = [
        centres[i + 1] - centres[i]
        for i in range(len(text) - 1)
        if text[i] != " " and text[i + 1] != " "
    ]
    if len(pitches) < 2:
        return text
    pitch = sorted(pitches)[len(pitches) // 2]
    # On a line with letters written with points ("S.A.R.L.", "B.V.", "SP. Z O.O."), the
    # pitch of the pairs that may be split (capitals and digits) when it is the wider:
    # the points are narrow in a proportional font, and took the median under every gap
    # between the capitals of the name beside them ("A CM E S.A.R.L."). Never the
    # narrower, which splits more: on a receipt's "LOT P.T. 2811, JALAN ANGSA," it read
    # "JAL AN" (the only line of both SROIE sets it changed). Only on such lines: on
    # others, where points run between words ("THANK YOU......"), it changed what was read.
    capitals = [
        centres[i + 1] - centres[i]
        for i in range(len(text) - 1)
        if _splittable(text[i]) and _splittable(text[i + 1])
    ]
    if len(capitals) >= 2 and _DOTTED_LETTERS.search(text):
        pitch = max(pitch, sorted(capitals)[len(capitals) // 2])
    out = [text[0]]
    for i in range(1, len(text)):
        prev, char = text[i - 1], text[i]
        split = (
            prev.isalnum()
            and char.isalnum()
            and not (prev.isdigit() and char.isdigit())
            # Lower case comes from proportional fonts, whose pitch says nothing.
            and not (prev.islower() or char.islower())
            and not _is_meridiem(text, i)
            and centres[i] - centres[i - 1] > SPACE_PITCH_RATIO * pitch
        )
        if split:
            out.append(" ")
        out.append(char)
    return "".join(out)


def _splittable(char: str) -> bool:
    return char.isalnum() and not char.islower()


def _is_meridiem(text: str, i: int) -> bool:
    """Whether position ``i`` sits inside or just before "AM"/"PM" after a time."""
    window = text[max(0, i - 2) : i + 2].upper()
    return "AM" in window or "PM" in window


class TesseractEngine:
    """Debian's tesseract binary, driven through its TSV output."""

    name = "tesseract"
    upright_confidence = 0.55

    def __init__(self, psm: int = 4, binary: str = "tesseract") -> None:
        path = shutil.which(binary)
        if path is None:
            raise ExtractionError(
                "OCR_FAILED", "The tesseract binary is not installed.", step=STEP_TEXT
            )
        self._binary = path
        self._psm = psm

    def recognize(self, image: Image.Image) -> list[Word]:
        return _parse_tsv(self._tsv(image, self._psm), image.size)

    def read_line(self, image: Image.Image) -> tuple[str, float]:
        words = _parse_tsv(self._tsv(image, SINGLE_LINE_PSM), image.size)
        text = " ".join(word.text for word in words)
        return text, min((word.confidence for word in words), default=0.0)

    def _tsv(self, image: Image.Image, psm: int) -> str:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        try:
            proc = subprocess.run(
                [self._binary, "stdin", "stdout", "--psm", str(psm), "-l", "eng", "tsv"],
                input=buffer.getvalue(),
                capture_output=True,
                timeout=TESSERACT_TIMEOUT_S,
                env=env,
                check=True,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            raise ExtractionError(
                "OCR_FAILED", "Tesseract failed on a page.", retryable=True, step=STEP_TEXT
            ) from exc
        return proc.stdout.decode("utf-8", "replace")


def _parse_tsv(tsv: str, size: tuple[int, int]) -> list[Word]:
    width, height = size
    words: list[Word] = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        left, top = int(row["left"]), int(row["top"])
        right, bottom = left + int(row["width"]), top + int(row["height"])
        conf = max(0.0, float(row["conf"])) / 100
        bbox = (left / width, top / height, right / width, bottom / height)
        words.append(Word(text=text, bbox=bbox, confidence=conf))
    return words


_ENGINES: dict[str, OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(name: str | None = None) -> OcrEngine:
    """The named engine (or $STEVE_OCR_ENGINE, or the default), loaded once per process."""
    name = (name or os.environ.get(ENGINE_ENV_VAR) or DEFAULT_ENGINE).strip().lower()
    with _ENGINES_LOCK:
        if name not in _ENGINES:
            _ENGINES[name] = _build_engine(name)
        return _ENGINES[name]


def _build_engine(name: str) -> OcrEngine:
    if name == "rapidocr":
        return RapidOcrEngine()
    if name == "tesseract":
        return TesseractEngine()
    raise ValueError(f"unknown OCR engine {name!r}; use 'rapidocr' or 'tesseract'")


def read_text(
    document: Document,
    *,
    engine: OcrEngine | None = None,
    on_page: Callable[[], object] | None = None,
) -> None:
    """OCR every page that has no text layer, filling ``words`` and ``text`` in place;
    ``on_page`` is called after each page read."""
    pending = [page for page in document.pages if not page.has_text_layer]
    if not pending:
        return
    engine = engine or get_engine()
    for page in pending:
        read_page(page, engine)
        if on_page is not None:
            on_page()
    if not any(page.words for page in document.pages):
        raise no_text_found()


def read_page(page: Page, engine: OcrEngine) -> None:
    """OCR one page that has no text layer, filling its ``words`` and ``text`` in place."""
    try:
        _ocr_page(page, engine)
    except (ExtractionError, MemoryError):
        raise  # out of memory is not a bad scan: let the isolated runner see it
    except Exception as exc:  # an engine crash on one page fails the document cleanly
        if _out_of_memory(exc):
            raise MemoryError(str(exc)) from exc
        raise ExtractionError(
            "OCR_FAILED",
            "Unable to extract text from the document. The image may be corrupted or "
            "too low quality.",
            retryable=True,
            step=STEP_TEXT,
        ) from exc


def no_text_found() -> ExtractionError:
    return ExtractionError(
        "OCR_FAILED",
        "No text was found in the document. The image may be blank or too low quality.",
        retryable=False,
        step=STEP_TEXT,
    )


def fit_for_ocr(image: Image.Image, max_side: int = OCR_MAX_SIDE) -> Image.Image:
    """``image`` scaled down so its long side is at most ``max_side`` pixels."""
    scale = max_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap box-filters by an integer factor first: fast and alias-free.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)


_ALLOCATION_FAILED = ("insufficient memory", "failed to allocate", "bad_alloc", "out of memory")


def _out_of_memory(exc: Exception) -> bool:
    """OpenCV and OpenVINO report a failed allocation as their own error, not MemoryError."""
    return any(words in str(exc).lower() for words in _ALLOCATION_FAILED)


def _ocr_page(page: Page, engine: OcrEngine) -> None:
    fitted = fit_for_ocr(page.image)
    if is_blank(fitted):
        # Nothing to read; OCR would look for text in all four orientations (~3 s).
        page.transform, page.words, page.text = {**page.transform, **page_transform(0.0, 0)}, [], ""
        return
    skew = estimate_skew(fitted)
    image = straighten(fitted, skew)
    if isinstance(engine, BoxCounter):
        words, boxes = engine.recognize_counted(image)
    else:
        words, boxes = engine.recognize(image), None
    if boxes == 0:
        # The detector found no text at all (a speck on a blank scan, which the page is
        # cut to): turned, it found none either, for ~0.1-0.9 CPU-s a turn. Not one
        # SROIE receipt (413 pages) has fewer than 15 boxes upright.
        angle = 0
    else:
        image, words, angle = _fix_orientation(image, words, engine)
    # The review page redraws the page as read, so the word boxes fall on the words.
    page.transform = {**page.transform, **page_transform(skew, angle)}  # keeps a crop
    # NFKC folds the full-width brackets and commas PP-OCR emits into plain ASCII. A line
    # read from a long, thin box can hold a run of thousands of characters.
    for word in words:
        word.text = bounded_words(unicodedata.normalize("NFKC", word.text))
    page.image = image
    page.words = words
    page.text = words_to_text(words)


def _quality(words: list[Word], image: Image.Image) -> float:
    """Confidence-weighted amount of text read along horizontal lines: higher means a
    better orientation (text read out of vertical boxes does not count)."""
    width, height = image.size
    return sum(
        w.confidence * len(w.text)
        for w in words
        if w.confidence >= 0.5 and not _is_tall(w, width, height)
    )


def _is_tall(word: Word, width: int, height: int) -> bool:
    box_w = (word.bbox[2] - word.bbox[0]) * width
    box_h = (word.bbox[3] - word.bbox[1]) * height
    return box_h > 1.5 * box_w and len(word.text) > 1


def _mean_confidence(words: list[Word]) -> float:
    chars = sum(len(w.text) for w in words)
    if chars == 0:
        return 0.0
    return sum(w.confidence * len(w.text) for w in words) / chars


def _looks_sideways(words: list[Word], image: Image.Image) -> bool:
    width, height = image.size
    tall = sum(_is_tall(w, width, height) for w in words)
    return tall >= 2 and tall > len(words) // 2


def _fix_orientation(
    image: Image.Image, words: list[Word], engine: OcrEngine
) -> tuple[Image.Image, list[Word], int]:
    """Re-read a page that is sideways or reads badly in the other three orientations and
    keep the best read (and the turn that made it); upright pages pay nothing."""
    sideways = _looks_sideways(words, image)
    if words and not sideways and _mean_confidence(words) >= engine.upright_confidence:
        return image, words, 0
    best = (_quality(words, image), image, words, 0)
    for angle in (90, 270, 180):
        rotated = turn(image, angle)
        candidate = engine.recognize(rotated)
        quality = _quality(candidate, rotated)
        # A clear margin keeps an upright but faint page from flipping on noise.
        if quality > best[0] * 1.25:
            best = (quality, rotated, candidate, angle)
    return best[1], best[2], best[3]


# A page whose darkest and lightest pixels (0.1 % of each left out, for dust) differ by
# less than this many grey levels holds no text a reader could see: a blank PDF page, an
# empty sheet.
BLANK_CONTRAST = 16


def is_blank(image: Image.Image) -> bool:
    darkest, lightest = np.percentile(np.asarray(_small_grey(image)), (0.1, 99.9))
    return bool(lightest - darkest < BLANK_CONTRAST)


def _small_grey(image: Image.Image, side: int = 800) -> Image.Image:
    """The page in grey, its long side at most ``side`` px: 800 px resolves 0.2 degrees
    of skew over a receipt while keeping these looks well under 0.1 s."""
    small = image.convert("L")
    scale = side / max(small.size)
    if scale < 1:
        small = small.resize((max(1, int(small.width * scale)), max(1, int(small.height * scale))))
    return small


def deskew(image: Image.Image, max_angle: float = 10.0) -> Image.Image:
    """Straighten a slightly rotated scan using the projection profile of its ink."""
    return straighten(image, estimate_skew(image, max_angle))


def estimate_skew(image: Image.Image, max_angle: float = 10.0) -> float:
    """Angle (degrees, counter-clockwise) that makes text rows most horizontal."""
    pixels = np.asarray(_small_grey(image), dtype=np.uint8)
    ink = pixels < _otsu_threshold(pixels)
    if ink.mean() < 0.002:  # blank page: nothing to align
        return 0.0
    ink_image = Image.fromarray((ink * 255).astype(np.uint8))
    best = _best_angle(ink_image, np.arange(-max_angle, max_angle + 0.01, 1.0))
    return _best_angle(ink_image, np.arange(best - 1.0, best + 1.01, 0.2))


def _best_angle(ink: Image.Image, angles: np.ndarray) -> float:
    scores = []
    for angle in angles:
        rows = np.asarray(ink.rotate(float(angle), expand=False), dtype=np.float32).sum(axis=1)
        scores.append(float(np.var(np.diff(rows))))
    return float(angles[int(np.argmax(scores))])


def _otsu_threshold(pixels: np.ndarray) -> int:
    hist = np.bincount(pixels.ravel(), minlength=256).astype(np.float64)
    total = hist.sum()
    weights = np.cumsum(hist)
    means = np.cumsum(hist * np.arange(256))
    between = (means[-1] * weights / total - means) ** 2 / (weights * (total - weights) + 1e-9)
    return int(np.argmax(between))
