"""Re-capture transforms for the fraud benchmarks: what a fraudster does to re-use a receipt.

Every transform takes a PIL image and a seeded numpy Generator and returns the bytes of a
new JPEG file, because a re-used receipt always arrives as a freshly encoded file.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageEnhance

Transform = Callable[[Image.Image, np.random.Generator], bytes]


def encode_jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=quality)
    return out.getvalue()


def _border_colour(image: Image.Image) -> tuple[int, int, int]:
    """Median colour of the outermost pixels, so rotated corners look like the scan."""
    rgb = np.asarray(image.convert("RGB"))
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    r, g, b = np.median(edge, axis=0).astype(int)
    return int(r), int(g), int(b)


def rotate(image: Image.Image, rng: np.random.Generator, max_deg: float = 3.0) -> Image.Image:
    angle = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5 * max_deg, max_deg))
    return image.convert("RGB").rotate(
        angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=_border_colour(image)
    )


def crop(image: Image.Image, rng: np.random.Generator, max_share: float = 0.05) -> Image.Image:
    """Cut up to max_share of the width and of the height, split at random between sides."""
    width, height = image.size
    cut_x = rng.uniform(0.5 * max_share, max_share) * width
    cut_y = rng.uniform(0.5 * max_share, max_share) * height
    left = cut_x * rng.uniform()
    top = cut_y * rng.uniform()
    box = (round(left), round(top), round(width - (cut_x - left)), round(height - (cut_y - top)))
    return image.crop(box)


def scale(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def brightness(image: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(image.convert("RGB")).enhance(factor)


def rephotograph(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Phone photo of the printed receipt on a desk: perspective, shading, blur and noise."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    height, width = rgb.shape[:2]
    pad_x, pad_y = int(width * 0.15), int(height * 0.08)
    canvas_w, canvas_h = width + 2 * pad_x, height + 2 * pad_y
    desk = np.array(rng.uniform(40, 110, size=3), dtype=np.float32)
    corners = np.array(
        [
            [pad_x, pad_y],
            [pad_x + width, pad_y],
            [pad_x + width, pad_y + height],
            [pad_x, pad_y + height],
        ],
        dtype=np.float32,
    )
    jitter = rng.uniform(-0.04, 0.04, size=(4, 2)) * np.array([width, height])
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(source, (corners + jitter).astype(np.float32))
    photo = cv2.warpPerspective(
        rgb, matrix, (canvas_w, canvas_h), borderMode=cv2.BORDER_CONSTANT, borderValue=desk.tolist()
    )
    # Uneven light: a linear gradient from one side of the frame to the other.
    gx, gy = rng.uniform(-1, 1, size=2)
    xs = np.linspace(-1, 1, canvas_w)[None, :]
    ys = np.linspace(-1, 1, canvas_h)[:, None]
    light = 1.0 + 0.15 * (gx * xs + gy * ys) / max(abs(gx) + abs(gy), 1e-6)
    photo = photo * light[:, :, None]
    photo = cv2.GaussianBlur(photo, (3, 3), 0.8)
    photo = photo + rng.normal(0, 6.0, size=photo.shape)
    out = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))
    return scale(out, rng.uniform(0.6, 0.9))


# A phone's main camera: 12 MP, 4:3, held upright over the receipt.
PHONE_FRAME = (3024, 4032)


def _camera_tilt(width: int, height: int, rng: np.random.Generator, tilt: tuple[float, float]):
    """Homography of a camera tilted by `tilt` degrees (keystone) about the page's horizontal
    axis, a few degrees about the vertical one and in the image plane: K R K^-1 with a
    phone's focal length (about the frame's diagonal)."""
    pitch = np.deg2rad(float(rng.choice([-1.0, 1.0]) * rng.uniform(*tilt)))
    yaw = np.deg2rad(rng.uniform(-3.0, 3.0))
    roll = np.deg2rad(rng.uniform(-3.0, 3.0))
    focal = float(np.hypot(width, height))
    k = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]])
    rx = np.array(
        [[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]]
    )
    ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    rz = np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]])
    return k @ rz @ ry @ rx @ np.linalg.inv(k)


def _shadow(canvas_w: int, canvas_h: int, rng: np.random.Generator) -> np.ndarray:
    """A soft-edged shadow (a hand or the phone) over part of the frame: 35-55 % darker."""
    angle = rng.uniform(0, 2 * np.pi)
    xs = np.linspace(-1, 1, canvas_w, dtype=np.float32)[None, :]
    ys = np.linspace(-1, 1, canvas_h, dtype=np.float32)[:, None]
    side = np.cos(angle) * xs + np.sin(angle) * ys - rng.uniform(-0.3, 0.5)
    softness = rng.uniform(0.05, 0.2)
    inside = 1.0 / (1.0 + np.exp(-side / np.float32(softness)))
    return 1.0 - np.float32(rng.uniform(0.35, 0.55)) * inside


def rephotograph_hard(
    image: Image.Image,
    rng: np.random.Generator,
    *,
    tilt: tuple[float, float] = (5.0, 10.0),
    shadow: bool = True,
    blur: float = 1.5,
    white_balance: bool = True,
    phone: bool = True,
) -> Image.Image:
    """A careless phone photo of the printed receipt: keystone of 5-10 degrees, a shadow
    across it, defocus blur, another white balance, at a phone camera's 12 MP."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    if blur > 0:  # defocus, on the paper (cheaper than on the 12 MP frame, and the same)
        rgb = cv2.GaussianBlur(rgb, (0, 0), blur)
    height, width = rgb.shape[:2]
    matrix = _camera_tilt(width, height, rng, tilt)
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    warped = cv2.perspectiveTransform(source[None], matrix)[0]
    # Frame the tilted page with a margin of desk around it, as a phone photo does.
    low, high = warped.min(axis=0), warped.max(axis=0)
    span = high - low
    margin = span * rng.uniform(0.06, 0.15, size=2)
    frame = span + 2 * margin
    # At a phone's resolution the page is drawn straight into the 12 MP frame (one warp,
    # not a warp and a resize).
    fit = min(PHONE_FRAME[0] / frame[0], PHONE_FRAME[1] / frame[1]) if phone else 1.0
    canvas_w, canvas_h = (int(v) for v in np.ceil(frame * fit))
    place = np.array(
        [[fit, 0, fit * (margin[0] - low[0])], [0, fit, fit * (margin[1] - low[1])], [0, 0, 1]]
    )
    desk = rng.uniform(40, 110, size=3)
    photo = cv2.warpPerspective(
        rgb,
        place @ matrix,
        (canvas_w, canvas_h),
        flags=cv2.INTER_CUBIC if phone else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=desk.tolist(),
    )
    gx, gy = rng.uniform(-1, 1, size=2)
    xs = np.linspace(-1, 1, canvas_w, dtype=np.float32)[None, :]
    ys = np.linspace(-1, 1, canvas_h, dtype=np.float32)[:, None]
    light = 1.0 + 0.15 * (gx * xs + gy * ys) / max(abs(gx) + abs(gy), 1e-6)
    if shadow:
        light = light * _shadow(canvas_w, canvas_h, rng)
    photo *= light.astype(np.float32)[:, :, None]
    if white_balance:  # warm indoor light or cool daylight
        warm = rng.uniform() < 0.5
        gains = np.array((1.12, 1.0, 0.8) if warm else (0.85, 1.0, 1.15))
        photo *= (gains * rng.uniform(0.95, 1.05, size=3)).astype(np.float32)[None, None, :]
    photo += rng.standard_normal(size=photo.shape, dtype=np.float32) * 5.0
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))


def _jpeg_via(image: Image.Image, quality: int = 90) -> bytes:
    return encode_jpeg(image, quality)


TRANSFORMS: dict[str, Transform] = {
    "rotate_3deg": lambda im, rng: _jpeg_via(rotate(im, rng)),
    "crop_5pct": lambda im, rng: _jpeg_via(crop(im, rng)),
    "scale_50pct": lambda im, rng: _jpeg_via(scale(im, 0.5)),
    "brightness_+20": lambda im, rng: _jpeg_via(brightness(im, 1.2)),
    "brightness_-20": lambda im, rng: _jpeg_via(brightness(im, 0.8)),
    "jpeg_q40": lambda im, rng: encode_jpeg(im, 40),
    "combined": lambda im, rng: encode_jpeg(
        brightness(scale(crop(rotate(im, rng, 2.0), rng, 0.03), 0.6), 1.1), 60
    ),
    "rephotograph": lambda im, rng: encode_jpeg(rephotograph(im, rng), 75),
    # Harder re-photographs, one difficulty at a time and all at once.
    "rephoto_keystone": lambda im, rng: encode_jpeg(
        rephotograph_hard(im, rng, shadow=False, blur=0.8, phone=False), 80
    ),
    "rephoto_shadow_wb": lambda im, rng: encode_jpeg(
        rephotograph_hard(im, rng, tilt=(1.0, 4.0), blur=0.8, phone=False), 80
    ),
    "rephoto_phone": lambda im, rng: encode_jpeg(rephotograph_hard(im, rng), 85),
}


# An edited copy is not a re-capture: kept out of TRANSFORMS, whose benches measure those.
DIGIT_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
Box = tuple[float, float, float, float]  # left, top, right, bottom, 0-1 of the page


def edit_fields(image: Image.Image, edits: list[tuple[Box, str]]) -> bytes:
    """A forger's edit of an earlier receipt: each box (e.g. where the date and the total
    were read) painted over in the paper's colour and `text` typed in its place, in a
    monospaced font as tall as the box, then saved as a JPEG. Everything else keeps the
    original's pixels."""
    from PIL import ImageDraw, ImageFont

    edited = image.convert("RGB")
    gray = np.asarray(edited.convert("L"))
    paper = np.asarray(edited)[gray > np.percentile(gray, 75)]
    colour = tuple(int(v) for v in np.median(paper, axis=0)) if len(paper) else (255, 255, 255)
    draw = ImageDraw.Draw(edited)
    for (left, top, right, bottom), text in edits:
        x0, y0 = left * edited.width, top * edited.height
        x1, y1 = right * edited.width, bottom * edited.height
        size = max(8.0, y1 - y0)
        font = ImageFont.truetype(DIGIT_FONT, round(size * 0.9))
        width = max(x1 - x0, draw.textlength(text, font=font))
        draw.rectangle([x0 - 1, y0 - 1, x0 + width + 1, y1 + 1], fill=colour)
        draw.text((x0, y0), text, fill=(30, 30, 30), font=font)
    return encode_jpeg(edited, 92)
