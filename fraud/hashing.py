"""Document normalisation and perceptual hashes for the visual fraud check.

Plain PDQ on a whole receipt photo is not robust enough: a re-capture rotates, crops and
re-lights the page. We therefore normalise the page first (cut the paper out of a desk
background, strip scanner edges, flatten the lighting, deskew on the text lines) and hash
three views of it with PDQ (IMAGE_VIEWS): the upright paper and two boxes of its print
found in different ways (see normalise_page; two more ways, MEASURED_VIEWS, are kept for
measurement only); and, when the pipeline knows the words OCR read on the page, a fourth:
the box of those words (text_view), which no wedge, edge, shadow or faded print moves.
PDQ moves a lot when a view's box moves a little, and each way of finding the box fails
on some re-captures, but rarely all at once, so a pair's distance is the smallest over
the views.

The input is the page as the pipeline hands it over: after OCR, which has already deskewed
it and may have turned it upright, filling the new corners with white. Bright areas that
are not the paper (that fill, a second sheet) and dark strips (scanner lid, desk, a rotated
copy's fill wedge) are therefore expected and ignored.

PDQ sees the layout of a receipt, not its digits: two receipts of the same shop come as
close as 18 bits in some view (sroie-dev), which is why fraud.policy scores a mid-range
visual distance as weak evidence that needs text or data agreement on the same pair
before it flags. Measured with OCR'd pages of every re-capture (bench/fraud_quality.py),
the smallest view distance stays within 16 bits for 73-100 % of the copies depending on
the re-capture (87-100 % but for re-photographs), and 2 of 11,173 pairs of distinct
receipts (both of one shop) come within 16 bits; with the text and data checks,
99.3-100 % of the copies are caught per re-capture.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
import pdqhash
from PIL import Image, ImageOps

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
# Working resolution: large enough to see text lines, small enough to stay fast.
WORK_MAX_SIDE = 1400
NORMALISED_WIDTH = 384
WORK_WIDTH = 640
# A page at most this many times taller than wide is scaled to the working widths; a
# taller one (a 20 x 20,000-px strip: 640 x 896,000 pixels, 2-9 GB for the lighting's
# float copy) is scaled narrower. The longest till receipt is a twentieth as wide as long.
MAX_ASPECT = 40
# Long side of the flattened page the text view and fraud.local's keypoints are taken from:
# receipt print stays legible, ORB stays fast.
FLAT_LONG_SIDE = 1100
HASH_INPUT_SIDE = 256
HASH_BLUR_SIGMA = 1.5
INK_LEVEL = 160
STRONG_INK_LEVEL = 100
# The "dark" view's ink is the darkest DARK_SHARE of the page's pixels, whatever their level.
DARK_SHARE_PERCENT = 2.0
# Deskew search range and step in degrees: re-captures are tilted by a few degrees.
DESKEW_MAX_DEG = 6.0
DESKEW_STEP_DEG = 0.25
DESKEW_FINE_STEP_DEG = 0.05
# flatten_lighting blurs the paper's brightness at 1/BACKGROUND_FACTOR of the page's size.
BACKGROUND_FACTOR = 4
# cut_paper's edge outline (_edge_sheet) must hold this share of the bright paper region
# and be at most this many times its size (a shadow hides part of the paper, not most).
SHEET_HOLDS = 0.95
SHEET_GROWTH = 4.0
# ... and be this much brighter (median level) in a band of SHEET_BAND pixels just inside
# its outline than just outside it: a sheet on a desk, not a desk on a white fill.
SHEET_BAND = 15
SHEET_CONTRAST = 20


# The views hashed per page (names are stored in PageFingerprint.variant, prefixed "v2-"):
# those found in the image itself, and "text", the box of the words OCR read (text_view).
IMAGE_VIEWS = ("paper", "print", "strong")
# Views whose boxes are known but not computed: with the text view, the keypoint stage and
# the text and data checks, leaving them out cost no catch and no false match on either
# data set (bench/fraud_quality.py --ablate --all-views, bench/RESULTS.md), and their boxes
# took ~25 ms CPU a page. Rows stored under their names are simply no longer searched.
MEASURED_VIEWS = ("ink", "dark")
VIEWS = (*IMAGE_VIEWS, "text")
# Words that set the text view's box: read with this confidence, less outliers per side.
TEXT_BOX_MIN_CONFIDENCE = 0.8
TEXT_BOX_TRIM_PERCENT = 2.0
TEXT_BOX_MIN_WORDS = 5

# A page sent mirrored (a selfie camera, a scanner lid, "flip" in an editor), as the
# checks see it: mirrored print is unreadable, so OCR neither turns it upright nor reads
# it, and it may have turned it by a quarter or half turn looking for text. Each of these
# is one of the four mirror images of the page; each view's hash square is mirrored back
# by it and hashed again (an exact PDQ of the mirrored square: pdqhash's dihedral hashes
# come 20-50 bits off for flips, its downsampling is not symmetric). Only for pages OCR
# read poorly (read_poorly): a page it read is not mirrored.
MIRRORS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "left-right": np.fliplr,
    "top-bottom": np.flipud,
    "diagonal": np.transpose,
    "anti-diagonal": lambda square: np.rot90(square, 2).T,
}
# Read poorly: the words' confidence, weighted by their characters, below this. OCR reads
# mirrored print as junk with a few symmetric letters and digits read confidently: 0.67-
# 0.75 on mirrored SROIE receipts (bench/fraud_mirrored.py), against 0.89 at least over
# 163 reads of upright ones (0.96 typically).
MIRROR_READ_CONFIDENCE = 0.82


class OcrWord(Protocol):
    """What the text view needs of a word OCR read (jobs.extraction.Word has it)."""

    text: str
    bbox: tuple[float, float, float, float]  # normalised (x0, y0, x1, y1) on the page
    confidence: float


@dataclass(frozen=True)
class PageHashes:
    """Perceptual fingerprint of one page (an image, or one rendered PDF page).

    One 256-bit PDQ hash per view (IMAGE_VIEWS, see normalise_page, and "text" when the
    page's words are known); PDQ `quality` (of the print view) is low for nearly blank
    pages, which all look alike. `mirrored`: per mirror image (MIRRORS), the image views
    hashed mirrored back, for a page that may have been sent mirrored; never stored, only
    looked up.
    """

    views: dict[str, bytes]
    quality: int
    mirrored: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "quality": self.quality,
            "views": {k: v.hex() for k, v in self.views.items()},
        }
        if self.mirrored:
            data["mirrored"] = {
                mirror: {k: v.hex() for k, v in views.items()}
                for mirror, views in self.mirrored.items()
            }
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PageHashes:
        views = data.get("views") or {}
        mirrored = data.get("mirrored") or {}
        assert isinstance(views, dict) and isinstance(mirrored, dict)
        return cls(
            views={str(k): bytes.fromhex(str(v)) for k, v in views.items()},
            quality=int(str(data.get("quality", 0))),
            mirrored={
                str(mirror): {str(k): bytes.fromhex(str(v)) for k, v in found.items()}
                for mirror, found in mirrored.items()
            },
        )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hamming(a: bytes, b: bytes) -> int:
    """Bit distance between two equally long hashes."""
    if len(a) != len(b):
        raise ValueError("hashes differ in length")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def min_distance(a: PageHashes, b: PageHashes) -> int:
    """Distance of the closest view: each view survives re-captures the others may not."""
    shared = [name for name in a.views if name in b.views]
    if not shared:
        return HASH_BITS
    return min(hamming(a.views[name], b.views[name]) for name in shared)


def mirrored_distance(page: PageHashes, stored: PageHashes) -> tuple[int, str | None]:
    """Distance of the closest view between `page` mirrored back and `stored` as it is,
    and which mirror image that was (None: the page has no mirrored hashes)."""
    best: tuple[int, str | None] = (HASH_BITS, None)
    for mirror, views in page.mirrored.items():
        distance = min_distance(PageHashes(views=views, quality=page.quality), stored)
        if distance < best[0]:
            best = (distance, mirror)
    return best


def to_gray(image: Image.Image) -> np.ndarray:
    """Upright (EXIF orientation applied) 8-bit grayscale, downscaled to the work size."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "P"):
        # Transparent areas become white paper, not black.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    scale = WORK_MAX_SIDE / max(gray.shape)
    if scale < 1.0:
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return gray


def _order_corners(points: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    pts = points.reshape(4, 2).astype(np.float32)
    by_sum = pts.sum(axis=1)
    by_diff = np.diff(pts, axis=1).ravel()
    return np.array(
        [pts[by_sum.argmin()], pts[by_diff.argmin()], pts[by_sum.argmax()], pts[by_diff.argmax()]],
        dtype=np.float32,
    )


def cut_paper(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Cut the bright paper out of a darker background (a photo of a receipt on a desk):
    (the paper, whether a sheet's outline was found and its perspective undone).

    The paper is the largest bright connected region (text closed into it); bright areas
    elsewhere (white fill from an earlier rotation, a second sheet) are not part of it.
    Pixels outside the paper become white, so no background is ever read as print.
    A shadow over part of the paper darkens it to the desk's level, and the bright region
    stops at the shadow's edge, often as straight as a sheet's; the paper's own edge does
    not, so its outline is looked for among the edges first (_edge_sheet).
    """
    small = cv2.GaussianBlur(gray, (7, 7), 0)
    _, mask = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = np.ones((25, 25), np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    count, labels = cv2.connectedComponents(mask, connectivity=4)
    if count < 2:
        return gray, False
    # Areas by counting labels: OpenCV's full statistics cost several times more.
    label = 1 + int(np.argmax(np.bincount(labels.ravel(), minlength=count)[1:]))
    paper = (labels == label).astype(np.uint8) * 255
    contours, _ = cv2.findContours(paper, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    filled = np.zeros_like(paper)
    cv2.drawContours(filled, [contour], -1, 255, thickness=-1)
    area_share = float(np.count_nonzero(filled)) / float(gray.size)
    if not 0.15 <= area_share <= 0.97:
        return gray, False
    # The paper must stand out from what lies right around it (the desk), whatever lies
    # further out (white fill from an earlier rotation).
    ring = cv2.dilate(filled, np.ones((15, 15), np.uint8)) & ~filled
    if not ring.any():
        return gray, False
    paper_level = float(np.median(gray[filled > 0]))
    background_level = float(np.median(gray[ring > 0]))
    if paper_level - background_level < 40:
        return gray, False
    sheet = _edge_sheet(small, filled)
    if sheet is not None:
        approx, filled = sheet
    else:
        approx = _sheet_outline(contour, gray.shape)
    cleaned = gray.copy()
    cleaned[filled == 0] = 255
    if approx is None:
        # Not a clean sheet outline (torn edge, dark scanner strips): no perspective to
        # undo, just the paper's box with the background whited out.
        x, y, w, h = cv2.boundingRect(contour)
        return cleaned[y : y + h, x : x + w], False
    corners = _order_corners(approx)
    width = int(
        max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3]))
    )
    height = int(
        max(np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1]))
    )
    if width < 32 or height < 32:
        return gray, False
    target = np.array(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32
    )
    matrix = cv2.getPerspectiveTransform(corners, target)
    paper = cv2.warpPerspective(
        cleaned, matrix, (width, height), borderMode=cv2.BORDER_CONSTANT, borderValue=(255,)
    )
    return paper, True


def _sheet_outline(contour: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """The contour's four corners when it is a clean sheet (convex, four-cornered, filling
    its polygon, inside the frame), else None."""
    approx = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
    x, y, w, h = cv2.boundingRect(contour)
    inside_frame = x > 0 and y > 0 and x + w < shape[1] and y + h < shape[0]
    clean = (
        inside_frame
        and len(approx) == 4
        and cv2.isContourConvex(approx)
        and abs(cv2.contourArea(approx) / max(cv2.contourArea(contour), 1.0) - 1.0) < 0.05
    )
    return approx if clean else None


def _edge_sheet(small: np.ndarray, bright: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The smallest convex four-cornered outline among the page's edges that holds the
    bright paper region (SHEET_HOLDS of it), is at most SHEET_GROWTH times its size and is
    brighter just inside than just outside: (its corners, its filled mask), or None.

    Canny on the blurred page sees the paper's sharp edge against the desk, not the soft
    edge of a shadow. The outline must hold the bright region, so a box printed on the
    receipt is never taken for the paper; it must be a bright sheet on a darker ground, so
    neither the hull of the print (paper on both sides) nor the desk's edge against a white
    fill around it is; and the smallest is the inner side of the paper's edge line, not
    the outer side that takes in a rim of desk.
    """
    edges = cv2.dilate(cv2.Canny(small, 20, 60), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    bright_area = float(np.count_nonzero(bright))
    outlines = []
    for contour in contours:
        hull = cv2.convexHull(contour)
        area = cv2.contourArea(hull)
        too_small = area < SHEET_HOLDS * bright_area
        if too_small or area > SHEET_GROWTH * bright_area or area > 0.97 * small.size:
            continue
        approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
        if len(approx) == 4:
            outlines.append((area, approx))
    band = np.ones((SHEET_BAND, SHEET_BAND), np.uint8)
    for _, approx in sorted(outlines, key=lambda outline: outline[0]):
        filled = np.zeros_like(bright)
        cv2.fillConvexPoly(filled, approx.reshape(-1, 2), 255)
        if np.count_nonzero(filled & bright) < SHEET_HOLDS * bright_area:
            continue
        inside = filled & ~cv2.erode(filled, band)
        outside = cv2.dilate(filled, band) & ~filled
        if not outside.any():
            continue
        if np.median(small[inside > 0]) - np.median(small[outside > 0]) >= SHEET_CONTRAST:
            return approx, filled
    return None


def flatten_lighting(gray: np.ndarray) -> np.ndarray:
    """Divide by the paper's own brightness so shading, brightness and contrast drop out.

    The paper's brightness is the print closed away, then blurred over about an eighth of
    the page. That blur is smooth, so it is taken at a quarter of the size and scaled back:
    the same background to a level or two, at a tenth of the CPU of a full-size blur.
    """
    size = max(31, (min(gray.shape) // 8) | 1)
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    height, width = gray.shape
    small_size = (max(1, width // BACKGROUND_FACTOR), max(1, height // BACKGROUND_FACTOR))
    small = cv2.resize(background, small_size, interpolation=cv2.INTER_AREA).astype(np.float32)
    kernel = max(3, (size // BACKGROUND_FACTOR) | 1)
    small = cv2.GaussianBlur(small, (kernel, kernel), 0)
    background = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR) + 1.0
    flat = np.clip(gray.astype(np.float32) / background * 255.0, 0, 255)
    return flat.astype(np.uint8)


def ink_mask(gray: np.ndarray) -> np.ndarray:
    """Printed pixels: clearly darker than the flattened paper."""
    return gray < INK_LEVEL


def estimate_skew(ink: np.ndarray) -> float:
    """Angle (degrees) that makes the text lines horizontal, by projection-profile sharpness.

    A coarse scan over the whole range, then a fine one around the best angle: PDQ of a
    receipt already moves ~10 bits for a quarter of a degree.
    """
    ys, xs = np.nonzero(ink)
    if len(ys) < 200:
        return 0.0
    if len(ys) > 60_000:
        pick = np.random.default_rng(0).choice(len(ys), 60_000, replace=False)
        ys, xs = ys[pick], xs[pick]
    ys = ys.astype(np.float32) - ink.shape[0] / 2
    xs = xs.astype(np.float32) - ink.shape[1] / 2
    coarse = np.arange(-DESKEW_MAX_DEG, DESKEW_MAX_DEG + 1e-6, DESKEW_STEP_DEG)
    # The coarse scan only has to land within a step of the best angle, for which every
    # fourth ink point is plenty; the fine scan uses them all.
    best = _sharpest(ys[::4], xs[::4], coarse)
    fine = np.arange(best - DESKEW_STEP_DEG, best + DESKEW_STEP_DEG + 1e-6, DESKEW_FINE_STEP_DEG)
    return round(_sharpest(ys, xs, fine), 3)


def _sharpest(ys: np.ndarray, xs: np.ndarray, angles: np.ndarray) -> float:
    """The angle whose row histogram of ink is the most peaked (sum of squares)."""
    best_angle, best_score = 0.0, -1.0
    for angle in angles:
        theta = np.deg2rad(angle)
        rows = ys * np.cos(theta) + xs * np.sin(theta)
        profile = np.bincount((rows - rows.min()).astype(np.int64))
        score = float(np.dot(profile, profile))
        if score > best_score:
            best_angle, best_score = float(angle), score
    return best_angle


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    if abs(angle) < 1e-3:
        return gray
    height, width = gray.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -angle, 1.0)
    return cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(255,))


def _edge_cut(dark_share: np.ndarray) -> int:
    """How many leading lines to drop: up to the last mostly-dark line near the edge."""
    reach = max(1, len(dark_share) // 12)
    dark = np.flatnonzero(dark_share[:reach] > 0.5)
    return int(dark[-1]) + 1 if len(dark) else 0


def strip_dark_edges(gray: np.ndarray) -> np.ndarray:
    """Remove scanner-lid shadows, edge lines and desk strips near the page border.

    A row or column through printed text is still mostly paper, so only real borders go.
    """
    dark = gray < 0.6 * float(np.percentile(gray, 90))
    rows, cols = dark.mean(axis=1), dark.mean(axis=0)
    top, bottom = _edge_cut(rows), len(rows) - _edge_cut(rows[::-1])
    left, right = _edge_cut(cols), len(cols) - _edge_cut(cols[::-1])
    if bottom - top < 32 or right - left < 32:
        return gray
    return gray[top:bottom, left:right]


def _drop_border_lines(ink: np.ndarray) -> np.ndarray:
    """Drop long ink structures touching the border: scan edges rotated into the page."""
    # Only structures touching the border can go, so only theirs are measured: OpenCV's
    # statistics of every glyph on the page cost more than the labelling itself.
    count, labels = cv2.connectedComponents(ink.astype(np.uint8), connectivity=8)
    height, width = ink.shape
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    edge = edge[edge > 0]  # label 0 is the background, not a structure
    if not len(edge):
        return ink
    on_edge = np.zeros(count, dtype=bool)
    on_edge[edge] = True
    ys, xs = np.nonzero(on_edge[labels])
    owner = labels[ys, xs]
    order = np.argsort(owner, kind="stable")
    owner, ys, xs = owner[order], ys[order], xs[order]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    w = np.maximum.reduceat(xs, starts) - np.minimum.reduceat(xs, starts) + 1
    h = np.maximum.reduceat(ys, starts) - np.minimum.reduceat(ys, starts) + 1
    drop = np.zeros(count, dtype=bool)
    drop[owner[starts]] = (w > 0.3 * width) | (h > 0.3 * height)
    if not drop.any():
        return ink
    return ink & ~drop[labels]


def _otsu_level(gray: np.ndarray) -> float:
    """Where Otsu separates print from the flattened paper, kept within 100-200."""
    level, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return min(max(float(level), 100.0), 200.0)


def print_box(gray: np.ndarray) -> tuple[int, int, int, int] | None:
    """Box (left, top, right, bottom) of the blobs that look like print, or None.

    Ink is what Otsu separates from the flattened paper, so faint thermal print counts as
    much as a dark scan. Glyphs are merged into word blobs, and only blobs shaped like print
    count: not specks, not anything touching the page border (paper edges, scanner lines,
    desk), not tall narrow strips or solid shapes (fill wedges, a curled corner's shadow),
    nothing taller than wide (ticks, pieces of an edge), and no blob standing alone far
    from all others (a pen tick in the margin).
    """
    ink = (gray < _otsu_level(gray)).astype(np.uint8)
    height, width = ink.shape
    words = cv2.dilate(ink, np.ones((3, 9), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(words, 8)
    inked = np.bincount(labels[ink > 0], minlength=count)
    x, y, w, h, area = (stats[:, i] for i in range(5))
    inside = (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
    keep = inside & (area >= 60) & ((w > 12) | (h > 12))
    keep[0] = False
    if not keep.any():
        return None
    line_height = float(np.median(h[keep]))
    tall = h > 4 * line_height
    keep &= ~(tall & ((w < 0.15 * width) | (inked > 0.6 * w * h)))
    keep &= (h <= 1.5 * w) & (inked >= 0.1 * line_height**2)
    keep &= ~((inked > 0.45 * w * h) & (w * h > 3 * line_height**2))
    kept = np.flatnonzero(keep)
    if len(kept) > 1:
        x0, y0, x1, y1 = x[kept], y[kept], (x + w)[kept], (y + h)[kept]
        gap_x = np.maximum(0, np.maximum(x0[:, None] - x1[None, :], x0[None, :] - x1[:, None]))
        gap_y = np.maximum(0, np.maximum(y0[:, None] - y1[None, :], y0[None, :] - y1[:, None]))
        gap = np.maximum(gap_x, gap_y).astype(np.float64)
        np.fill_diagonal(gap, np.inf)
        keep[kept[gap.min(axis=1) > 2.5 * line_height]] = False
    if not keep.any():
        return None
    box = (
        int(x[keep].min()),
        int(y[keep].min()),
        int((x + w)[keep].max()),
        int((y + h)[keep].max()),
    )
    if box[3] - box[1] < 32 or box[2] - box[0] < 32:
        return None
    return box


def ink_box(gray: np.ndarray, level: float) -> tuple[int, int, int, int] | None:
    """Box of the ink darker than `level`, less 0.5 % outliers per side.

    Border lines are dropped first (scanner edges rotated into the page); the percentiles
    ignore specks.
    """
    ink = _drop_border_lines(gray < level)
    ys, xs = np.nonzero(ink)
    if len(ys) < 100:
        return None
    top, bottom = (int(v) for v in np.percentile(ys, [0.5, 99.5]))
    left, right = (int(v) for v in np.percentile(xs, [0.5, 99.5]))
    if bottom - top < 32 or right - left < 32:
        return None
    return left, top, right, bottom


def dark_level(gray: np.ndarray) -> float:
    """The level below which the darkest DARK_SHARE_PERCENT of the pixels lie.

    A brighter or darker copy moves every pixel the same way, so the same pixels stay the
    darkest: a faded copy's faint print falls under any fixed or Otsu level (Otsu then
    separates only a pen annotation from the rest), but not under this one.
    """
    level = float(np.percentile(gray, DARK_SHARE_PERCENT))
    return min(max(level, 60.0), 245.0) + 1.0  # + 1: pixels at the level count as ink


def _crop(gray: np.ndarray, box: tuple[int, int, int, int] | None) -> np.ndarray:
    if box is None:
        return gray
    left, top, right, bottom = box
    return gray[top:bottom, left:right]


@dataclass(frozen=True)
class PageGray:
    """A page decoded once, for every view and for the local features (fraud.local).

    `gray` is the upright 8-bit page, long side at most WORK_MAX_SIDE, that the paper is
    cut from; `flat` is it at FLAT_LONG_SIDE with the lighting flattened: the text view
    and the keypoints are taken from it.
    """

    gray: np.ndarray
    flat: np.ndarray


def page_gray(image: Image.Image | PageGray) -> PageGray:
    """The page decoded (grayscale, upright, downscaled) once; a PageGray is kept as is."""
    if isinstance(image, PageGray):
        return image
    gray = to_gray(image)
    return PageGray(gray=gray, flat=flatten_lighting(_to_long_side(gray, FLAT_LONG_SIDE)))


def _to_long_side(gray: np.ndarray, side: int) -> np.ndarray:
    """Scaled so its long side is `side` pixels, the aspect ratio kept."""
    scale = side / max(gray.shape)
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(gray, size, interpolation=interpolation)


def upright_page(image: Image.Image | PageGray) -> np.ndarray:
    """The page as flattened, upright paper at the working width.

    Cut the paper out of any background, strip scanner edges, scale to WORK_WIDTH (so the
    morphology sees one text size), divide out the lighting, deskew on the text lines.
    """
    gray = image.gray if isinstance(image, PageGray) else to_gray(image)
    paper, cut = cut_paper(gray)
    # A sheet cut out along its outline has no scanner strips: dark edges are shadow on it.
    gray = _to_width(paper if cut else strip_dark_edges(paper), WORK_WIDTH)
    gray = flatten_lighting(gray)
    return rotate(gray, estimate_skew(ink_mask(gray)))


def normalise_page(
    image: Image.Image | PageGray, views: Sequence[str] = IMAGE_VIEWS
) -> dict[str, np.ndarray]:
    """The canonical grayscale views of a page (`views`, of IMAGE_VIEWS and
    MEASURED_VIEWS), each at NORMALISED_WIDTH.

    - paper: the whole upright paper;
    - print: the box of the blobs that look like print (print_box);
    - strong: the box of strong ink (darker than STRONG_INK_LEVEL) less outliers;
    - ink: the box of all ink (Otsu level) less outliers;
    - dark: the box of the darkest pixels (dark_level) less outliers.

    PDQ moves by dozens of bits when a view's box moves by 2-3 %, and every way of finding
    the box fails on some re-captures (a crop that cuts into the print moves the paper; a
    fill wedge, a pen tick or a faint line moves one of the print boxes), but rarely all of
    them at once. Distinct receipts are far apart in every view, so the smallest distance
    over the views keeps re-captures close without bringing other receipts closer (measured
    on sroie-dev, bench/fraud_quality.py).
    """
    page = upright_page(image)
    return {name: _fixed_width(_crop(page, _BOXES[name](page))) for name in views}


# How each image view's box is found on the upright page (None: the whole paper).
_BOXES: dict[str, Callable[[np.ndarray], tuple[int, int, int, int] | None]] = {
    "paper": lambda page: None,
    "print": print_box,
    "strong": lambda page: ink_box(page, STRONG_INK_LEVEL),
    "ink": lambda page: ink_box(page, _otsu_level(page)),
    "dark": lambda page: ink_box(page, dark_level(page)),
}


def _fixed_width(gray: np.ndarray) -> np.ndarray:
    return _to_width(gray, NORMALISED_WIDTH)


def _to_width(gray: np.ndarray, width: int) -> np.ndarray:
    """Scaled to `width` pixels across, the aspect ratio kept; a page more than
    MAX_ASPECT times taller than wide only to MAX_ASPECT times `width` down."""
    scale = min(width / max(1, gray.shape[1]), width * MAX_ASPECT / max(1, gray.shape[0]))
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def pdq(gray: np.ndarray) -> tuple[bytes, int]:
    """PDQ hash (32 bytes, big-endian bit order) and its quality (0-100).

    The view is squared and softly blurred first: PDQ keeps the 16x16 lowest frequencies
    and thresholds them at their median, and on printed text many of them sit near the
    median; the blur takes glyph detail out so those bits flip less on a re-capture.
    """
    return _pdq_square(_hash_square(gray))


def _hash_square(gray: np.ndarray) -> np.ndarray:
    square = cv2.resize(gray, (HASH_INPUT_SIDE, HASH_INPUT_SIDE), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(square, (0, 0), HASH_BLUR_SIGMA)


def _pdq_square(square: np.ndarray) -> tuple[bytes, int]:
    rgb = np.ascontiguousarray(np.repeat(square[:, :, None], 3, axis=2))
    bits, quality = pdqhash.compute(rgb)
    return np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)


def page_hashes(
    image: Image.Image | PageGray,
    words: Sequence[OcrWord] = (),
    views: Sequence[str] = IMAGE_VIEWS,
    *,
    mirrored: bool | None = None,
) -> PageHashes:
    """The page's hashes (the image `views`, "print" always among them for `quality`);
    with the words OCR read on `image`, also the text view's. With `mirrored` (by default
    when OCR read the page poorly, as it reads mirrored print: read_poorly), also the
    image views mirrored back (MIRRORS), four more PDQ a view."""
    page = page_gray(image)
    squares = {name: _hash_square(view) for name, view in normalise_page(page, views).items()}
    hashed = {name: _pdq_square(square) for name, square in squares.items()}
    digests = {name: digest for name, (digest, _) in hashed.items()}
    box = text_box(words)
    if box is not None:
        digests["text"] = pdq(text_view(page, box))[0]
    if mirrored is None:
        mirrored = read_poorly(words)
    flipped = {
        mirror: {
            name: _pdq_square(np.ascontiguousarray(flip(square)))[0]
            for name, square in squares.items()
        }
        for mirror, flip in (MIRRORS.items() if mirrored else ())
    }
    return PageHashes(views=digests, quality=hashed["print"][1], mirrored=flipped)


def read_poorly(words: Sequence[OcrWord]) -> bool:
    """Whether OCR read the page with little confidence (MIRROR_READ_CONFIDENCE), or
    read nothing on it."""
    characters = sum(len(w.text) for w in words)
    confidence = sum(w.confidence * len(w.text) for w in words)
    return characters == 0 or confidence < MIRROR_READ_CONFIDENCE * characters


def text_box(words: Sequence[OcrWord]) -> tuple[float, float, float, float] | None:
    """Box (normalised) of the words OCR read confidently, less outliers per side.

    OCR finds the print however faint, and never reads a desk, a fill wedge, a scanner
    edge or a shadow, all of which move the image-based boxes; a stray word (a pen
    note in the margin) is trimmed as an outlier: TEXT_BOX_TRIM_PERCENT of the words per
    side, and at least one.
    """
    boxes = np.array(
        [w.bbox for w in words if w.confidence >= TEXT_BOX_MIN_CONFIDENCE and len(w.text) >= 2],
        dtype=np.float64,
    )
    if len(boxes) < TEXT_BOX_MIN_WORDS or not np.isfinite(boxes).all():
        return None
    boxes = np.clip(boxes, 0.0, 1.0)  # a PDF's text layer may place words off the page
    # "higher"/"lower": whole words, and at least the outermost one per side is dropped.
    low, high = TEXT_BOX_TRIM_PERCENT, 100 - TEXT_BOX_TRIM_PERCENT
    left, top = (np.percentile(boxes[:, i], low, method="higher") for i in (0, 1))
    right, bottom = (np.percentile(boxes[:, i], high, method="lower") for i in (2, 3))
    if right - left < 0.05 or bottom - top < 0.05:
        return None
    return float(left), float(top), float(right), float(bottom)


def text_view(page: PageGray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The flattened page cropped to `box`, at NORMALISED_WIDTH.

    The image is the one OCR read (already deskewed and upright), so no deskew here.
    """
    height, width = page.flat.shape
    left, top, right, bottom = box
    crop = page.flat[
        int(top * height) : math.ceil(bottom * height), int(left * width) : math.ceil(right * width)
    ]
    return _fixed_width(crop)
