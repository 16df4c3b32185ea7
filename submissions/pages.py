"""A page as OCR read it: the straightening and quarter turns applied before reading,
and the page rendered that way as PNG for the review page.

Evidence boxes are fractions of that image, so the review page shows it (not the raw
upload) and the boxes land on the words. Bytes in, bytes out, no Django: the extraction
child uses the transforms too.
"""

import io
import json
import logging
import math
import signal
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import ExifTags, Image

logger = logging.getLogger(__name__)

# Straightening a scan skewed by less than this would only blur it.
SKEW_MIN = 0.3
PDF_MAX_PAGES = 50
PDF_SCALE = 1.6  # ~115 dpi: readable receipts without multi-megabyte PNGs
# A huge page (PDF allows 200 x 200 inches) is scaled down to this many pixels: rendered
# at PDF_SCALE a 9000-pt page would take gigabytes and seconds of the web process.
PDF_MAX_PIXELS = 16_000_000
# What may be decoded at all (about 300 MB as RGB), by the extraction or the review page:
# a larger image than a pixel budget is scaled down to it, not refused; only one that
# cannot be decoded within this is (a 76-KB PNG can declare 20000 x 20000 pixels).
MAX_DECODE_PIXELS = 100_000_000
# The review page's page image is drawn within this many seconds or not at all: well
# inside gunicorn's 30 s (steve.gunicorn_conf), which counts the request's own reads too.
# A 3-KB PDF page of fax images declaring 60000 x 60000 pixels each takes minutes to draw;
# given 30 s, gunicorn killed the sync worker first, at every view and turn of the page.
RENDER_SECONDS = 20.0
# The review page draws an image this large or smaller in the web process itself
# (pages._cheap_to_decode), a larger one in its capped child: a receipt scan (SROIE's
# median: 1.5 MP) costs the web process ~13 MB there, a 12-MP photo ~90 MB, a 16-MP WebP
# ~250 MB, each view and turn (bench/review_page_memory.py). The child costs ~0.5 s more.
HERE_MAX_PIXELS = 2_000_000
# A camera's or an encoder's progressive JPEG is drawn in at most a few dozen scans.
MAX_JPEG_SCANS = 100
# Its segments: tables, markers and metadata (a depth map's extended XMP: a hundred or so).
MAX_JPEG_SEGMENTS = 2_000
# A PNG's chunks: a 100-MB one in libpng's 8-KB IDAT chunks has 12,800; an animated one two
# a frame.
MAX_PNG_CHUNKS = 30_000
# An image whose content (what differs from the colour of its edges, with a margin of
# CONTENT_MARGIN of the content's longer side) covers less than this share of it is cut to
# its content before it is scaled down: a receipt pasted on a blank canvas 7 times its size
# was a few hundred pixels when read, and neither OCR nor the fraud checks knew it. The
# 413 SROIE receipt scans: median share 0.98; two small tickets alone on specked A4
# scans are cut (0.04, 0.09), the next is 0.12 (docs/fraud.md).
CONTENT_MIN_SHARE = 0.1
CONTENT_MARGIN = 0.05
BLANK_TOLERANCE = 24  # grey levels from the border's colour still blank (JPEG noise)
CONTENT_PROBE_SIDE = 1000  # the content is looked for in a copy this long, for speed
# A page longer than this is read scaled down (OCR_MAX_SIDE in jobs/extraction/ocr.py).
MAIN_MASS_MIN_SIDE = 2000
CONTENT_BORDER_BAND = 0.02  # the blank colour is the median of a band this wide
# What counts as the content (content_box), as shares of the probe's long side or of the
# content found so far: print closer than CONTENT_JOIN is one blob; a blob no longer than
# CONTENT_MAX_ASPECT times its width and inked over CONTENT_MIN_DENSITY of its box is
# compact (a receipt's print, not a line or a frame); compact blobs within CONTENT_REACH of
# the heaviest and weighing CONTENT_SPECK of it (ink pixels) join it (a logo above a
# receipt's print); one left out that weighs CONTENT_RIVAL of the content is a second
# thing on the page, and then all ink counts.
CONTENT_JOIN = 0.01
CONTENT_MAX_ASPECT = 15
CONTENT_MIN_DENSITY = 0.02
CONTENT_REACH = 0.25
CONTENT_SPECK = 0.02
CONTENT_RIVAL = 0.2


Box = tuple[float, float, float, float]  # left, top, right, bottom


class TooLargeToDecode(Exception):
    """Even the cheapest decode of an image is over MAX_DECODE_PIXELS."""


def too_large_to_decode(width: int, height: int) -> TooLargeToDecode:
    return TooLargeToDecode(
        f"The image is {width}x{height} pixels, more than can be decoded ({MAX_DECODE_PIXELS})."
    )


class NoSuchPage(LookupError):
    """The document has no page of that number (the viewer shows at most PDF_MAX_PAGES)."""


class PageNotDrawn(NoSuchPage):
    """The page is there but is not drawn for the review page: it takes longer than
    RENDER_SECONDS or more memory than its child's cap, or its file cannot be decoded.
    The same file drawn again fails again, so the review page remembers it
    (submissions.page_cache) and offers the download instead. A timeout may have been a
    busy machine's, not the page's (``lasting`` False): it is remembered for less."""

    def __init__(self, message: str, *, lasting: bool = True) -> None:
        super().__init__(message)
        self.lasting = lasting


def straighten(image: Image.Image, skew: float) -> Image.Image:
    if abs(skew) < SKEW_MIN:
        return image
    return image.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")


def turn(image: Image.Image, angle: int) -> Image.Image:
    """A quarter turn counter-clockwise by `angle` degrees (0, 90, 180, 270)."""
    if angle % 360 == 0:
        return image
    return image.rotate(angle % 360, expand=True, fillcolor=(255, 255, 255))


def page_transform(skew: float, angle: int) -> dict[str, Any]:
    """What a SubmissionFile stores per page (skew below SKEW_MIN is no skew); a page cut
    to its content also stores "crop" (content_crop), set when it is loaded."""
    return {"skew": round(skew, 2) if abs(skew) >= SKEW_MIN else 0.0, "turn": angle % 360}


def is_identity(transform: Any) -> bool:
    return not isinstance(transform, dict) or not (
        transform.get("skew") or transform.get("turn") or transform.get("crop")
    )


def as_read(image: Image.Image, transform: Any) -> Image.Image:
    """The page image the OCR read, from the uploaded one and its stored transform."""
    if is_identity(transform):
        return image
    crop = transform.get("crop")
    if isinstance(crop, list) and len(crop) == 4:
        image = cut(image, crop)
    return turn(
        straighten(image, float(transform.get("skew") or 0)), int(transform.get("turn") or 0)
    )


def content_crop(image: Image.Image) -> list[float] | None:
    """The part of the page its content covers, with a margin, as fractions [left, top,
    right, bottom] of its width and height, when that is less than CONTENT_MIN_SHARE of
    the page (a receipt pasted on a large blank canvas); None for any other page.

    Blank is the colour of the page's border band, so a grey canvas is blank too. The
    content is the main mass of print (content_box), not every mark: a dot in a corner, a
    frame, a page number or scanner specks far from the receipt left the receipt a few
    hundred pixels of a page read whole.
    """
    probe = image.convert("L")
    probe.thumbnail((CONTENT_PROBE_SIDE, CONTENT_PROBE_SIDE))
    gray = np.asarray(probe, dtype=np.int16)
    ink = np.abs(gray - _blank_level(gray)) > BLANK_TOLERANCE
    # The main mass is looked for only on a page OCR will scale down (a canvas, a
    # rendered sheet): one read at its own size keeps its receipt's pixels whole, and is
    # cut only to all of its ink, as before. Measured: cutting two small SROIE tickets
    # scanned on speckled A4 (1080 x 1527 px) read them better, but moved the fitted
    # confidence calibration so that 98.4 % of fields at >= 0.9 were right across sets
    # (99.7 % before): bench/RESULTS.md, 2026-12-06 19:49.
    box = content_box(ink) if max(image.size) > MAIN_MASS_MIN_SIDE else ink_box(ink)
    if box is None:
        return None  # a blank page: nothing to cut to
    height, width = gray.shape
    left, top, right, bottom = box
    margin = CONTENT_MARGIN * max(right - left, bottom - top)
    left, right = max(0.0, left - margin), min(width, right + margin)
    top, bottom = max(0.0, top - margin), min(height, bottom + margin)
    if (right - left) * (bottom - top) >= CONTENT_MIN_SHARE * width * height:
        return None
    return [
        round(float(side), 4)
        for side in (left / width, top / height, right / width, bottom / height)
    ]


def _blank_level(gray: np.ndarray) -> int:
    """The grey level of the page's border band: a frame drawn along the very edge is a
    sliver of the band, where it was all of the outermost pixels (and then the blank
    canvas inside it counted as content)."""
    band = max(1, round(CONTENT_BORDER_BAND * min(gray.shape)))
    border = np.concatenate(
        [gray[:band].ravel(), gray[-band:].ravel(), gray[:, :band].ravel(), gray[:, -band:].ravel()]
    )
    return int(np.median(border))


def content_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom, in pixels, exclusive) of the page's content in
    the mask `ink`; None when it holds no ink.

    The content is main_mass of the compact blobs of print (print joined across
    CONTENT_JOIN of the page, weighed by its ink): the marks left out are strays (a dot, a
    page number, specks) or lines (a frame, a rule, a fold), which are not compact. When
    there is no such main mass (two receipts on one canvas, print spread over the page,
    only lines) it is the box of all ink, as a page with one receipt and nothing else.
    """
    every = ink_box(ink)
    if every is None:
        return None
    join = max(3, round(CONTENT_JOIN * max(ink.shape)))
    joined = cv2.dilate(ink.astype(np.uint8), np.ones((join, join), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    mass = np.bincount(labels[ink], minlength=count)
    blobs: list[tuple[float, Box]] = []
    for label in range(1, count):
        x, y, w, h = (int(v) for v in stats[label, :4])
        # A line's box is long and thin, a frame's is the page with little ink in it.
        if compact(w, h) and mass[label] >= CONTENT_MIN_DENSITY * w * h:
            blobs.append((float(mass[label]), (x, y, x + w, y + h)))
    box = main_mass(blobs)
    if box is None:
        return every
    # The dilation widened each blob by half the join on every side.
    half = join // 2
    return (
        max(every[0], int(box[0]) + half),
        max(every[1], int(box[1]) + half),
        min(every[2], int(box[2]) - half),
        min(every[3], int(box[3]) - half),
    )


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box (left, top, right, bottom, in pixels, exclusive) of all ink in the mask
    `ink`, every mark counted; None when it holds none."""
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def compact(width: float, height: float) -> bool:
    """Whether a box could hold a receipt's print: not a line's long thin box."""
    return max(width, height) <= CONTENT_MAX_ASPECT * min(width, height)


def main_mass(blobs: list[tuple[float, Box]]) -> Box | None:
    """The box of the heaviest of `blobs` (weight, box: left, top, right, bottom, or in
    PDF points left, bottom, right, top) and of every blob joined to it, through blobs CONTENT_REACH of the box apart or closer,
    weighing CONTENT_SPECK of the heaviest or more; None when there are none, or when a
    blob left out weighs CONTENT_RIVAL of the joined ones (a second thing on the page)."""
    if not blobs:
        return None
    blobs = sorted(blobs, key=lambda blob: blob[0], reverse=True)
    weight, box = blobs[0]
    # Specks never join: grown through them, a trail of scanner specks carried the box
    # across the page.
    rest = [blob for blob in blobs[1:] if blob[0] < CONTENT_SPECK * weight]
    near = [blob for blob in blobs[1:] if blob[0] >= CONTENT_SPECK * weight]
    grown = True
    while grown:
        grown = False
        reach = CONTENT_REACH * max(box[2] - box[0], box[3] - box[1])
        for blob in list(near):
            if _gap(box, blob[1]) <= reach:
                box, weight, grown = _union(box, blob[1]), weight + blob[0], True
                near.remove(blob)
    if any(other >= CONTENT_RIVAL * weight for other, _ in rest + near):
        return None
    return box


def _gap(a: Box, b: Box) -> float:
    """The distance between two boxes along the axis they are furthest apart on."""
    return max(a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3], 0)


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def cut(image: Image.Image, crop: list[float]) -> Image.Image:
    """The part of `image` that content_crop's fractions name, at its own resolution."""
    left, top, right, bottom = (float(side) for side in crop)
    width, height = image.size
    return image.crop(
        (
            math.floor(left * width),
            math.floor(top * height),
            max(math.floor(left * width) + 1, math.ceil(right * width)),
            max(math.floor(top * height) + 1, math.ceil(bottom * height)),
        )
    )


def stored_transform(transforms: Any, page: int) -> Any:
    """One page's transform from what a SubmissionFile stores (a list, one per page)."""
    transforms = transforms if isinstance(transforms, list) else []
    return transforms[page] if page < len(transforms) else {}


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF the viewer shows (at most PDF_MAX_PAGES); none when it cannot be
    opened. A PDF whose extraction failed (encrypted, damaged) is counted here, and its
    PdfiumError was a 500 on the review page: the reviewer can still download it.

    Counted in a capped child (submissions.capped), not in the web process: a catalog
    kept in a compressed object stream is inflated whole to open the file, and a 2-MB
    PDF's (whose extraction failed past its own cap) took 2.2 GB of the web process."""
    from submissions.capped import CappedReadFailed, run_capped

    try:
        return run_capped(lambda: _pdf_page_count(data))
    except CappedReadFailed as error:
        logger.warning("A PDF's pages were not counted within the limits: %s", error)
        return 0


def _pdf_page_count(data: bytes) -> int:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        return 0
    try:
        return min(len(document), PDF_MAX_PAGES)
    finally:
        document.close()


def pdf_page_scale(width_pt: float, height_pt: float) -> float:
    """PDF_SCALE, or less so the page renders to at most PDF_MAX_PIXELS."""
    area = max(width_pt * height_pt, 1.0)
    return min(PDF_SCALE, (PDF_MAX_PIXELS / area) ** 0.5)


def render_png(data: bytes, *, pdf: bool, page: int, transform: Any, rotate: int) -> bytes:
    """One page of a PDF or image as OCR read it, as PNG, turned `rotate` degrees
    clockwise on top (the viewer's rotate button). NoSuchPage when there is none."""
    image = _pdf_page_image(data, page) if pdf else _image(data, page)
    image = as_read(image, transform)
    if rotate:
        image = image.rotate(-rotate, expand=True)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def mapped_bytes() -> int:
    """This process's virtual memory size (VmSize), in bytes: what a child capped with
    RLIMIT_AS already maps before its own work (submissions.render_child, the
    extraction's jobs.extraction.isolated)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def render_png_apart(
    data: bytes,
    *,
    pdf: bool,
    page: int,
    transform: Any,
    rotate: int,
    timeout_s: float = RENDER_SECONDS,
    memory_mb: int | None = None,
) -> bytes:
    """render_png, drawn in a child process under a memory cap and a timeout
    (submissions.render_child). An image too, but a small one (_cheap_to_decode): drawn
    here, it costs the web process ~8 MB per megapixel (bench/review_page_memory.py); a
    small one is drawn here, sparing the child's start (~0.5 s)."""
    from submissions import render_child

    if not pdf and _cheap_to_decode(data):
        return render_png(data, pdf=False, page=page, transform=transform, rotate=rotate)

    memory = memory_mb or render_child.MEMORY_MB
    command = [sys.executable, "-m", "submissions.render_child", str(page), str(rotate)]
    kind = "pdf" if pdf else "image"
    try:
        done = subprocess.run(
            [*command, str(memory), json.dumps(transform), kind, str(math.ceil(timeout_s))],
            input=data,
            capture_output=True,
            timeout=timeout_s,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.TimeoutExpired as error:
        raise PageNotDrawn("The page takes too long to draw.", lasting=False) from error
    if done.returncode == render_child.NO_SUCH_PAGE:
        raise NoSuchPage(done.stderr.decode(errors="replace") or "No such page.")
    if done.returncode == render_child.NOT_DRAWN:
        raise PageNotDrawn(done.stderr.decode(errors="replace") or "The page cannot be drawn.")
    if done.returncode == -signal.SIGXCPU:
        # Its CPU seconds spent (render_child's RLIMIT_CPU): the page's own cost, which a
        # busy machine does not inflate, so remembered as long as any failure.
        raise PageNotDrawn("The page takes too long to draw.")
    if done.returncode != 0:
        raise PageNotDrawn("The page could not be drawn within the limits.")
    return done.stdout


def _cheap_to_decode(data: bytes) -> bool:
    """Whether the image's header promises a drawing that costs the web process little:
    at most HERE_MAX_PIXELS, one frame, and not a WebP (which Pillow decodes whole, as
    RGBA, when it is opened), and for a JPEG one scan. A larger one took ~8 MB of it per
    megapixel, each view and turn (16 MP: ~120 MB; a 16-MP WebP ~250 MB; a 26-KB animated
    WebP up to ~390 MB), where its child's cost it ~1 MB per megapixel, the PNG read back
    (bench/RESULTS.md, review page images)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            scans = check_before_open(data)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > HERE_MAX_PIXELS or image.format == "WEBP":
                    return False
                # is_animated, not n_frames: a GIF's frames are counted by seeking them all.
                if getattr(image, "is_animated", False):
                    return False
                return image.format != "JPEG" or _one_scan(image, scans)
    except (Image.DecompressionBombError, TooLargeToDecode, OSError, ValueError, SyntaxError):
        return False  # the child refuses it, as _image would here


def _one_scan(image: Image.Image, scans: int) -> bool:
    """Whether a JPEG's pixels are one sequential scan, which libjpeg decodes reduced row
    by row, in one pass. A progressive JPEG, or one whose components come in scans of
    their own, keeps every coefficient of the whole image at full size until its last
    scan, whatever the reduction (a 1-MB progressive JPEG of 13300 x 13300 took ~680 MB
    of the web process), and each scan is a pass over all of them: a scan can be a dozen
    bytes, so a 240-KB JPEG of one megapixel and 20,000 scans took ~18 s of its CPU."""
    return not image.info.get("progressive") and scans == 1


def check_before_open(data: bytes) -> int:
    """Refuse an upload whose structure alone would cost the process that opens it too
    much (a WebP's declared size, a JPEG's scans and segments, a PNG's chunks); every
    place that opens an upload's image calls this first. Returns the JPEG's scan count
    (0 for other formats), which decides how it can be decoded (_one_scan)."""
    check_webp_size(data)
    check_png_chunks(data)
    return check_jpeg_scans(data)


def _jpeg_layout(data: bytes, limit: int | None = None) -> tuple[int, int]:
    """How many segments (but scans) and scans a JPEG's image holds, found by stepping
    over its segments by their lengths (an EXIF thumbnail in an APP1 segment is a JPEG
    with scans of its own) and over each scan's entropy-coded bytes (in which an FF is
    followed by 00 or a restart marker), up to the image's end (EOI; bytes after it are
    not the image's), or until either count is over `limit`."""
    position, segments, scans = 2, 0, 0  # past SOI
    while position + 2 <= len(data):
        if data[position] != 0xFF:
            break  # damaged: Pillow says so when it decodes
        marker = data[position + 1]
        if marker == 0xFF:  # fill bytes may pad before a marker
            position += 1
            continue
        if marker == 0xD9:
            break
        if limit is not None and max(segments, scans) > limit:
            break
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
        if marker != 0xDA:
            segments += 1
            continue
        scans += 1
        while (position := data.find(b"\xff", position)) != -1 and position + 1 < len(data):
            follower = data[position + 1]
            if follower != 0x00 and not 0xD0 <= follower <= 0xD7:
                break
            position += 2
        if position == -1:
            break
    return segments, scans


def check_jpeg_scans(data: bytes) -> int:
    """Refuse, before it is opened, a JPEG of more than MAX_JPEG_SCANS scans, each a pass
    over the whole image (see _one_scan: a 240-KB file of 20,000 took ~18 s of CPU, ten
    MB of them minutes), or of more than MAX_JPEG_SEGMENTS segments, which Pillow keeps
    as it opens the file (2.5 million empty comments, 10 MB, took ~5 s and ~180-300 MB),
    in whichever process would read it. Returns how many scans the JPEG's image holds
    (see _jpeg_layout), 0 when it is no JPEG."""
    if not data.startswith(b"\xff\xd8\xff"):
        return 0
    segments, scans = _jpeg_layout(data, MAX_JPEG_SEGMENTS)
    if segments > MAX_JPEG_SEGMENTS:
        raise TooLargeToDecode(
            f"The JPEG holds more than {MAX_JPEG_SEGMENTS} segments, more than can be read."
        )
    if scans > MAX_JPEG_SCANS:
        raise TooLargeToDecode(
            f"The JPEG is drawn in more than {MAX_JPEG_SCANS} scans, more than can be decoded."
        )
    return scans


def check_png_chunks(data: bytes) -> None:
    """Refuse, before it is opened, a PNG of more than MAX_PNG_CHUNKS chunks: Pillow reads
    one chunk at a time in Python, and 800,000 empty ones (10 MB) took ~4 s of whichever
    process opened it. Its chunks are stepped over by their lengths, stopping at the
    limit."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return
    position, chunks = 8, 0
    while position + 8 <= len(data) and data[position + 4 : position + 8] != b"IEND":
        chunks += 1
        if chunks > MAX_PNG_CHUNKS:
            raise TooLargeToDecode(
                f"The PNG holds more than {MAX_PNG_CHUNKS} chunks, more than can be read."
            )
        position += 12 + int.from_bytes(data[position : position + 4], "big")


def _image(data: bytes, page: int) -> Image.Image:
    if page != 0:
        raise NoSuchPage("An image has one page.")
    with warnings.catch_warnings():
        # MAX_DECODE_PIXELS is the guard; Pillow's warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            check_before_open(data)
            # Shown at screen size, drawn from at most PDF_MAX_PIXELS. Evidence boxes are
            # fractions of the page, so a smaller copy shows them in the same places.
            image = decode_within(Image.open(io.BytesIO(data)), PDF_MAX_PIXELS)
            # As the extraction loaded it: EXIF orientation applied, on white.
            image = upright(image)
            return to_rgb(image)
        except (Image.DecompressionBombError, TooLargeToDecode) as error:
            raise PageNotDrawn("The image is too large to show.") from error
        except (OSError, ValueError, SyntaxError) as error:
            # Bytes that only start like an image (a damaged or polyglot upload: its
            # submission failed extraction for the same reason) were a 500 here.
            raise PageNotDrawn("The image is damaged or cannot be decoded.") from error


def check_webp_size(data: bytes) -> None:
    """Refuse a WebP declaring more than MAX_DECODE_PIXELS, from its header.

    Pillow's WebP decoder allocates the whole frame when the file is opened, before
    decode_within can look at its size: a 10-KB lossless WebP of 16383 x 16383 pixels
    then failed as "damaged" under the extraction's memory cap, or took 1 GB without it.
    """
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif chunk == b"VP8 ":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
    else:
        return
    if width * height > MAX_DECODE_PIXELS:
        raise too_large_to_decode(width, height)


def decode_within(
    image: Image.Image, max_pixels: int, *, longest_side: int | None = None
) -> Image.Image:
    """Decode an opened image at most ``max_pixels`` large: scaled down, never refused,
    unless even its cheapest decode exceeds MAX_DECODE_PIXELS (TooLargeToDecode).

    The header is read before any pixel is decoded, so bombs stop here cheaply. A JPEG
    over the budget, or with a side over ``longest_side``, is decoded reduced (draft: 1/2,
    1/4, 1/8) to no less than that, then resized to the budget. An image resized is
    closed: its full decode is let go.
    """
    width, height = image.size
    scale = min(1.0, (max_pixels / max(1, width * height)) ** 0.5)
    if longest_side is not None:
        scale = min(scale, longest_side / max(1, width, height))
    if scale < 1.0 and image.format == "JPEG":
        image.draft(image.mode, (math.ceil(width * scale), math.ceil(height * scale)))
    decoded = image.size[0] * image.size[1]  # draft has set the reduced size, if any
    if decoded > MAX_DECODE_PIXELS:
        raise too_large_to_decode(width, height)
    image.load()
    if decoded <= max_pixels:
        return image
    fit = (max_pixels / decoded) ** 0.5
    size = (max(1, int(image.size[0] * fit)), max(1, int(image.size[1] * fit)))
    return _scaled_down(image, size)


def _scaled_down(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image.resize(size, LANCZOS, reducing_gap=2.0)``, pixel for pixel, and ``image``
    closed (its pixels let go) as soon as it is no longer needed.

    Pillow's one call holds the decode, its rows narrowed and the result at once: a 99-MP
    PNG (396 MB as RGB) scaled to 40 MP took ~800 MB. It narrows the rows first, then
    shortens the columns, rounding to 8 bits in between; doing the same in two calls lets
    the decode go after the first, saving the result's size (160 MB). Where Pillow would
    reduce first (a factor of 2 or more past the gap) or works on premultiplied alpha, the
    one call stays."""
    gap = 2.0
    reduces = image.width / size[0] / gap >= 2 or image.height / size[1] / gap >= 2
    if reduces or image.mode not in ("RGB", "L"):
        scaled = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap)
    else:
        narrowed = image.resize((size[0], image.height), Image.Resampling.LANCZOS)
        image.close()
        scaled = narrowed.resize(size, Image.Resampling.LANCZOS)
    image.close()
    return scaled


# How to turn a photo upright for each EXIF orientation (Pillow's ImageOps.exif_transpose).
EXIF_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(image: Image.Image) -> Image.Image:
    """The photo turned as its EXIF orientation says. Not exif_transpose: it also writes
    back the EXIF it keeps, and a tag holding text where numbers belong made that a
    struct.error (a 500 on the review page, a crash of the extraction)."""
    turn = EXIF_TURNS.get(image.getexif().get(ExifTags.Base.Orientation, 1))
    if turn is None:
        return image
    turned = image.transpose(turn)
    # Turned once: no orientation left for a later reader (fraud.hashing) to apply again.
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "Raw profile type exif"):
        turned.info.pop(key, None)
    return turned


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB on white: transparency is flattened onto the colour of paper, and 16-bit
    grey is scaled down (Pillow's convert clips it at 255, so a 16-bit scan turns white)."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I"):
        pixels = np.asarray(image)
        shift = 8 if pixels.max(initial=0) > 255 else 0
        image = Image.fromarray(np.clip(pixels >> shift, 0, 255).astype(np.uint8))  # 2-D uint8: "L"
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _pdf_page_image(data: bytes, page: int) -> Image.Image:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        # An encrypted or damaged PDF (its extraction failed for the same reason).
        raise PageNotDrawn("The PDF is damaged or cannot be opened.") from error
    try:
        if not 0 <= page < min(len(document), PDF_MAX_PAGES):
            raise NoSuchPage("No such page.")
        pdf_page = document[page]
        return pdf_page.render(scale=pdf_page_scale(*pdf_page.get_size())).to_pil()
    finally:
        document.close()
