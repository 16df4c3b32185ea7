"""Document normalisation and perceptual hashes for the visual fraud check.

Plain PDQ on a whole receipt photo is not robust enough: a re-capture rotates, crops and
re-lights the page. We therefore normalise the page first (cut the paper out of a desk
background, strip scanner edges, flatten the lighting, deskew on the text lines) and hash
two views of it with PDQ: the upright paper, and the printed block cropped out of it.
Neither view survives every re-capture alone, so a pair's distance is the smaller of the
two. PDQ sees the layout of a receipt, not its digits: two receipts of the same shop can be
as close as ~25 bits, which is why fraud.policy scores a mid-range visual distance as weak
evidence that needs text or data agreement on the same pair before it flags.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
HASH_INPUT_SIDE = 256
HASH_BLUR_SIGMA = 1.5
INK_LEVEL = 160
STRONG_INK_LEVEL = 100
# Deskew search range and step in degrees: re-captures are tilted by a few degrees.
DESKEW_MAX_DEG = 6.0
DESKEW_STEP_DEG = 0.25
DESKEW_FINE_STEP_DEG = 0.05


@dataclass(frozen=True)
class PageHashes:
    """Perceptual fingerprint of one page (an image, or one rendered PDF page).

    `pdq` hashes the printed block, `paper` the whole upright paper; PDQ `quality` is low
    for nearly blank pages, which all look alike.
    """

    pdq: bytes
    quality: int
    paper: bytes

    def to_json(self) -> dict[str, object]:
        return {"pdq": self.pdq.hex(), "paper": self.paper.hex(), "quality": self.quality}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PageHashes:
        return cls(
            pdq=bytes.fromhex(str(data["pdq"])),
            quality=int(str(data.get("quality", 0))),
            paper=bytes.fromhex(str(data["paper"])),
        )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hamming(a: bytes, b: bytes) -> int:
    """Bit distance between two equally long hashes."""
    if len(a) != len(b):
        raise ValueError("hashes differ in length")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def min_distance(a: PageHashes, b: PageHashes) -> int:
    """Distance of the closer view: each view survives re-captures the other may not."""
    return min(hamming(a.pdq, b.pdq), hamming(a.paper, b.paper))


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


def find_paper(gray: np.ndarray) -> np.ndarray:
    """Cut the bright paper out of a darker background (a photo of a receipt on a desk).

    Scans already cropped to the paper have no such background and come back unchanged.
    """
    small = cv2.GaussianBlur(gray, (7, 7), 0)
    _, mask = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Close the text inside the paper so the paper is one solid blob.
    kernel = np.ones((25, 25), np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return gray
    contour = max(contours, key=cv2.contourArea)
    area_share = cv2.contourArea(contour) / float(gray.shape[0] * gray.shape[1])
    # Too small: not a paper; almost everything: there is no background to remove.
    if not 0.15 <= area_share <= 0.9:
        return gray
    paper_level = float(np.median(gray[mask > 0]))
    background_level = float(np.median(gray[mask == 0]))
    if paper_level - background_level < 40:
        return gray
    approx = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
    if len(approx) == 4 and cv2.isContourConvex(approx):
        corners = _order_corners(approx)
    else:
        corners = _order_corners(cv2.boxPoints(cv2.minAreaRect(contour)))
    width = int(
        max(np.linalg.norm(corners[1] - corners[0]), np.linalg.norm(corners[2] - corners[3]))
    )
    height = int(
        max(np.linalg.norm(corners[3] - corners[0]), np.linalg.norm(corners[2] - corners[1]))
    )
    if width < 32 or height < 32:
        return gray
    target = np.array(
        [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], np.float32
    )
    matrix = cv2.getPerspectiveTransform(corners, target)
    return cv2.warpPerspective(gray, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)


def flatten_lighting(gray: np.ndarray) -> np.ndarray:
    """Divide by the paper's own brightness so shading, brightness and contrast drop out."""
    size = max(31, (min(gray.shape) // 8) | 1)
    background = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    background = cv2.GaussianBlur(background, (size, size), 0).astype(np.float32) + 1.0
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
    best = _sharpest(ys, xs, coarse)
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
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), 8)
    height, width = ink.shape
    drop = np.zeros(count, dtype=bool)
    for label in range(1, count):
        x, y, w, h, _area = stats[label]
        touches = x == 0 or y == 0 or x + w >= width or y + h >= height
        drop[label] = touches and (w > 0.3 * width or h > 0.3 * height)
    return ink & ~drop[labels]


def crop_to_content(gray: np.ndarray) -> np.ndarray:
    """Crop to the printed area: the box of strong print, less 0.5 % outliers per side.

    Only strong print counts (faint pen marks and show-through come and go with
    brightness and compression), and border lines are dropped first (scanner edges rotated
    into the page); the percentiles ignore specks. Measured against a density-profile crop
    on sroie-dev, this one moved less under crops and re-photographs.
    """
    ink = _drop_border_lines(gray < STRONG_INK_LEVEL)
    ys, xs = np.nonzero(ink)
    if len(ys) < 100:
        return gray
    top, bottom = (int(v) for v in np.percentile(ys, [0.5, 99.5]))
    left, right = (int(v) for v in np.percentile(xs, [0.5, 99.5]))
    if bottom - top < 32 or right - left < 32:
        return gray
    return gray[top:bottom, left:right]


def normalise_page(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Two canonical grayscale views of a page: the upright paper, and its printed block.

    Neither view alone survives every re-capture (a crop that cuts into the print moves the
    printed block; a wide desk border moves the paper), so both are hashed.
    """
    gray = strip_dark_edges(find_paper(to_gray(image)))
    # One working scale for every page, so the morphology below sees the same text size.
    height = max(1, round(gray.shape[0] * WORK_WIDTH / gray.shape[1]))
    gray = cv2.resize(gray, (WORK_WIDTH, height), interpolation=cv2.INTER_AREA)
    gray = flatten_lighting(gray)
    gray = rotate(gray, estimate_skew(ink_mask(gray)))
    return _fixed_width(gray), _fixed_width(crop_to_content(gray))


def _fixed_width(gray: np.ndarray) -> np.ndarray:
    height = max(1, round(gray.shape[0] * NORMALISED_WIDTH / gray.shape[1]))
    return cv2.resize(gray, (NORMALISED_WIDTH, height), interpolation=cv2.INTER_AREA)


def pdq(gray: np.ndarray) -> tuple[bytes, int]:
    """PDQ hash (32 bytes, big-endian bit order) and its quality (0-100).

    The view is squared and softly blurred first: PDQ keeps the 16x16 lowest frequencies
    and thresholds them at their median, and on printed text many of them sit near the
    median; the blur takes glyph detail out so those bits flip less on a re-capture.
    """
    square = cv2.resize(gray, (HASH_INPUT_SIDE, HASH_INPUT_SIDE), interpolation=cv2.INTER_AREA)
    square = cv2.GaussianBlur(square, (0, 0), HASH_BLUR_SIGMA)
    rgb = np.ascontiguousarray(np.repeat(square[:, :, None], 3, axis=2))
    bits, quality = pdqhash.compute(rgb)
    return np.packbits(bits.astype(np.uint8)).tobytes(), int(quality)


def page_hashes(image: Image.Image) -> PageHashes:
    paper, content = normalise_page(image)
    digest, quality = pdq(content)
    return PageHashes(pdq=digest, quality=quality, paper=pdq(paper)[0])
