"""Local-feature verification of a visual candidate: the same paper, photographed again.

PDQ of a normalised page sees the page as a whole, so it moves when the paper is cut out,
cropped or deskewed differently, which a re-photograph (keystone, shadow, blur) does. This
stage does not depend on a global crop: ORB keypoints of each page (lighting flattened,
at a fixed working size) are matched between two candidate pages, and RANSAC fits one
homography, the plane of the paper seen by two cameras. Keypoints on printed characters
are everywhere alike, so only matches the plane explains count (inliers), and they must
cover the page: receipts of one shop share a header, whose keypoints fit a homography
too, but the lines below it (items, amounts, a different length) do not.

Coordinates are normalised to the page the checks were handed (0-1 on each axis), so the
review panel can draw the matched region over each page.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from fraud import hashing

MAX_FEATURES = 1500
# ORB's keypoints keep their 31-px patch (its edgeThreshold) within the page.
ORB_MIN_SIDE = 2 * 31 + 1
# Lowe's ratio test: the best match must be clearly better than the second best.
RATIO = 0.8
# RANSAC reprojection error, in working pixels of the earlier page.
RANSAC_PIXELS = 5.0
# Coverage grid: the share of the earlier page's keypoint cells that hold an inlier.
GRID = (4, 8)  # columns, rows (receipts are tall)
MIN_MATCHES = 12
# Print within this many working pixels of print on the other page agrees (alignment, blur).
TOLERANCE = 2
# About a character at the working size: the window in which changed print is looked for.
PATCH = 16
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LocalFeatures:
    """ORB keypoints (normalised x, y) and their 32-byte descriptors, of one page."""

    width: int  # working image size, to turn normalised points back into pixels
    height: int
    points: np.ndarray  # (n, 2) float32, 0-1
    descriptors: np.ndarray  # (n, 32) uint8
    # The print (ink), to compare once the pages are aligned, as np.packbits of its mask:
    # the worker holds these of every page it checks, ~110 KB an A4 page, not ~860 KB.
    packed_ink: np.ndarray

    @property
    def ink(self) -> np.ndarray:
        """The print: a (height, width) bool mask."""
        bits = np.unpackbits(self.packed_ink, count=self.width * self.height)
        return bits.reshape(self.height, self.width).view(bool)

    def to_bytes(self) -> bytes:
        header = struct.pack("<BHHI", FORMAT_VERSION, self.width, self.height, len(self.points))
        points = np.round(self.points * 65535).astype("<u2").tobytes()
        ink = zlib.compress(self.packed_ink.tobytes(), 6)
        return header + points + self.descriptors.astype(np.uint8).tobytes() + ink

    @classmethod
    def from_bytes(cls, data: bytes) -> LocalFeatures:
        version, width, height, count = struct.unpack_from("<BHHI", data)
        if version != FORMAT_VERSION:
            raise ValueError(f"unknown local feature format {version}")
        offset = struct.calcsize("<BHHI")
        points = np.frombuffer(data, "<u2", count * 2, offset).reshape(-1, 2)
        descriptors = np.frombuffer(data, np.uint8, count * 32, offset + count * 4)
        packed = np.frombuffer(zlib.decompress(data[offset + count * 36 :]), np.uint8)
        return cls(
            width,
            height,
            points.astype(np.float32) / 65535,
            descriptors.reshape(-1, 32).copy(),
            packed,
        )


@dataclass(frozen=True)
class LocalMatch:
    """What the homography between two pages found; regions normalised to each page."""

    inliers: int
    matches: int  # matches that passed the ratio test
    coverage: float  # share of the earlier page's keypoint cells with an inlier
    changed: float  # changed print once aligned (ink_disagreement): ~0 for the same paper
    unmatched: float  # print one page has and the other lacks, densest window
    outline: list[list[float]]  # the earlier page's inlier region, seen on this page
    target_outline: list[list[float]]  # that region on the earlier page
    points: list[list[float]]  # a sample of inliers on this page
    target_points: list[list[float]]  # the same inliers on the earlier page

    def details(self) -> dict[str, object]:
        return {
            "method": "orb-homography",
            "inliers": self.inliers,
            "matches": self.matches,
            "coverage": round(self.coverage, 3),
            "changedPrint": round(self.changed, 4),
            "unmatchedPrint": round(self.unmatched, 4),
            "outline": self.outline,
            "targetOutline": self.target_outline,
            "points": self.points,
            "targetPoints": self.target_points,
        }


def local_features(image: Image.Image | hashing.PageGray) -> LocalFeatures:
    """Keypoints and print of the page's flattened image (hashing.PageGray.flat), which
    the page hashes were taken from too: decoded and flattened once for both."""
    gray = hashing.page_gray(image).flat
    height, width = gray.shape
    ink = np.packbits(gray < hashing._otsu_level(gray))
    if min(height, width) < ORB_MIN_SIDE:
        # No keypoint fits (each keeps its patch on the page), and ORB's smaller scales
        # of a page a few pixels wide are 0 pixels: OpenCV raised, and the page lost its
        # hashes too.
        keypoints, descriptors = (), None
    else:
        orb = cv2.ORB_create(nfeatures=MAX_FEATURES, fastThreshold=12)
        keypoints, descriptors = orb.detectAndCompute(gray, None)
    if descriptors is None or not keypoints:
        empty = np.empty((0, 2), np.float32)
        return LocalFeatures(width, height, empty, np.empty((0, 32), np.uint8), ink)
    points = np.array([k.pt for k in keypoints], np.float32) / np.array([width, height], np.float32)
    return LocalFeatures(width, height, np.clip(points, 0, 1), descriptors, ink)


def ink_disagreement(
    own: LocalFeatures, target: LocalFeatures, matrix: np.ndarray
) -> tuple[float, float]:
    """(changed, unmatched) print once this page is warped onto the earlier one.

    Print with no print within TOLERANCE pixels on the other page is "lonely"; per
    PATCH-sized window (about a character), `changed` is the densest window lonely both
    ways (both pages print there, but not the same thing: another digit), `unmatched`
    the densest lonely one way. The same paper changes nowhere: blur erases faint print
    one way only, a shadow's edge adds ink one way only. Another receipt of the same shop
    agrees on its template and changes in every number.
    """
    size = (target.width, target.height)
    ink = own.ink
    warped = cv2.warpPerspective(ink.astype(np.uint8), matrix, size, flags=cv2.INTER_NEAREST)
    seen = cv2.warpPerspective(
        np.ones_like(ink, np.uint8), matrix, size, flags=cv2.INTER_NEAREST
    ).astype(bool)
    kernel = np.ones((2 * TOLERANCE + 1, 2 * TOLERANCE + 1), np.uint8)
    own_ink = warped.astype(bool)
    target_ink = target.ink & seen
    near_own = cv2.dilate(warped, kernel).astype(bool)
    near_target = cv2.dilate(target_ink.astype(np.uint8), kernel).astype(bool)
    own_lonely = _density(own_ink & ~near_target)
    target_lonely = _density(target_ink & ~near_own)
    # Changed print: both pages print there, but not the same thing.
    changed = np.minimum(own_lonely, target_lonely)
    return float(changed.max()), float(np.maximum(own_lonely, target_lonely).max())


def _density(lonely: np.ndarray) -> np.ndarray:
    """Per PATCH-sized window, the share of it that is print the other page lacks."""
    return cv2.boxFilter(
        lonely.astype(np.float32),
        -1,
        (PATCH, PATCH),
        normalize=True,
        borderType=cv2.BORDER_CONSTANT,
    )


def _pixels(features: LocalFeatures) -> np.ndarray:
    return features.points * np.array([features.width, features.height], np.float32)


def _coverage(points: np.ndarray, inliers: np.ndarray) -> float:
    """Share of the grid cells holding keypoints that also hold an inlier (points 0-1)."""
    columns, rows = GRID
    cells = np.minimum((points * [columns, rows]).astype(int), [columns - 1, rows - 1])
    index = cells[:, 1] * columns + cells[:, 0]
    occupied = np.bincount(index, minlength=columns * rows) >= 3
    hit = np.bincount(index[inliers], minlength=columns * rows) > 0
    return float((hit & occupied).sum()) / max(1, int(occupied.sum()))


def _outline(points: np.ndarray) -> np.ndarray:
    """Convex hull of points (n, 2), as a polygon."""
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)


def _rounded(points: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 4), round(float(y), 4)] for x, y in points]


def verify(
    own: LocalFeatures,
    target: LocalFeatures,
    *,
    min_inliers: int = 0,
    min_coverage: float = 0.0,
    sample: int = 40,
) -> LocalMatch | None:
    """Homography between two pages' keypoints; None when too few matches to fit one.

    The print is compared (ink_disagreement, the costly half) only for pages that align
    (min_inliers, min_coverage); for others `changed` and `unmatched` are 1.
    """
    if len(own.points) < MIN_MATCHES or len(target.points) < MIN_MATCHES:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(own.descriptors, target.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < MIN_MATCHES:
        return None
    source = _pixels(own)[[m.queryIdx for m in good]]
    destination = _pixels(target)[[m.trainIdx for m in good]]
    matrix, mask = cv2.findHomography(source, destination, cv2.RANSAC, RANSAC_PIXELS)
    if matrix is None or mask is None:
        return None
    keep = mask.ravel().astype(bool)
    inliers = int(keep.sum())
    if inliers < 4:
        return None
    target_index = np.array([m.trainIdx for m in good])[keep]
    own_points = own.points[[m.queryIdx for m in good]][keep]
    target_points = target.points[target_index]
    coverage = _coverage(target.points, np.isin(np.arange(len(target.points)), target_index))
    changed, unmatched = 1.0, 1.0
    if inliers >= min_inliers and coverage >= min_coverage:
        changed, unmatched = ink_disagreement(own, target, matrix)
    step = max(1, inliers // sample)
    return LocalMatch(
        inliers=inliers,
        matches=len(good),
        coverage=coverage,
        changed=changed,
        unmatched=unmatched,
        outline=_rounded(_outline(own_points)),
        target_outline=_rounded(_outline(target_points)),
        points=_rounded(own_points[::step][:sample]),
        target_points=_rounded(target_points[::step][:sample]),
    )
