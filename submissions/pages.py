"""A page as OCR read it: the straightening and quarter turns applied before reading.

Evidence boxes are fractions of that image, so the review page shows it (not the raw
upload) and the boxes land on the words. Pure Pillow: the extraction child uses it too.
"""

from typing import Any

from PIL import Image

# Straightening a scan skewed by less than this would only blur it.
SKEW_MIN = 0.3


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
    """What a SubmissionFile stores per page (skew below SKEW_MIN is no skew)."""
    return {"skew": round(skew, 2) if abs(skew) >= SKEW_MIN else 0.0, "turn": angle % 360}


def is_identity(transform: Any) -> bool:
    return not isinstance(transform, dict) or not (transform.get("skew") or transform.get("turn"))


def as_read(image: Image.Image, transform: Any) -> Image.Image:
    """The page image the OCR read, from the uploaded one and its stored transform."""
    if is_identity(transform):
        return image
    return turn(
        straighten(image, float(transform.get("skew") or 0)), int(transform.get("turn") or 0)
    )
