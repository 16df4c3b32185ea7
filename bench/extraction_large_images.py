"""Peak memory and time of the reading child on very large images: a 99-MP PNG canvas,
blank but for a receipt in its middle, and a 35-MP A4 page scanned at 600 dpi (PNG).

    SECRET_KEY=x .venv/bin/python bench/extraction_large_images.py [--dir DIR]

The images are generated (deterministic, DejaVu fonts) into DIR once. Each is read by
``extract_document_isolated`` as the worker reads an upload (the forked, capped child;
its digest hashes the page for the fraud checks as jobs.pipeline does), in a fresh
interpreter for each run, so one run's heap does not carry into the next. The child's
peak is its own VmHWM, taken after the page is read and hashed (the model it shares with
the worker counts, as in its resident size).

Each image is read twice in the same run: by the current loader ("new") and by the one
before 2026-12-06 ("old", kept here only: it decoded an image with blank margins twice,
once to find its content, once to cut it, and scaled it down in one call to Pillow,
holding the decode and the result at once). The OCR text of both must be the same.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")

FONTS = "/usr/share/fonts/truetype/dejavu/"
# 11,520 x 8,600: 99.1 MP, just under what may be decoded at all (MAX_DECODE_PIXELS).
CANVAS = (11_520, 8_600)
A4_600_DPI = (4_960, 7_016)  # 34.8 MP
IMAGES = {"canvas-99mp.png": "canvas", "a4-scan-35mp.png": "a4"}
RECEIPT = [
    "SUPERMARKET KEDAI JAYA SDN BHD",
    "NO. 12, JALAN MERANTI 3/2",
    "43000 KAJANG, SELANGOR",
    "TEL: 03-8736 1122",
    "DATE: 14/03/2018  TIME: 18:42",
    "INVOICE NO: CS00012345",
    "",
    "MILO 1KG              1 x 32.90",
    "GARDENIA BREAD        2 x  3.80",
    "EGGS GRADE A 30       1 x 14.50",
    "SUGAR 2KG             1 x  5.70",
    "",
    "TOTAL                      60.70",
    "CASH                      100.00",
    "CHANGE                     39.30",
    "",
    "THANK YOU PLEASE COME AGAIN",
]


def _draw_lines(size: tuple[int, int], lines: list[str], at: tuple[int, int], font_px: int):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONTS + "DejaVuSansMono.ttf", font_px)
    x, y = at
    for line in lines:
        draw.text((x, y), line, fill=(20, 20, 20), font=font)
        y += round(font_px * 1.5)
    return image


def generate(directory: Path) -> None:
    """The two images, written once; a receipt at 300 dpi (~30-px print) on the canvas,
    an invoice's lines over the whole A4 page on off-white paper."""
    directory.mkdir(parents=True, exist_ok=True)
    canvas = directory / "canvas-99mp.png"
    if not canvas.exists():
        width, height = CANVAS
        image = _draw_lines(CANVAS, RECEIPT, (width // 2 - 450, height // 2 - 600), 32)
        image.save(canvas, optimize=False)
    a4 = directory / "a4-scan-35mp.png"
    if not a4.exists():
        lines = ["ACME TRADING SDN BHD", "INVOICE 2018-0042   DATE 14/03/2018", ""]
        lines += [
            f"ITEM {n:03d} OFFICE SUPPLIES   {n} x 12.50   {n * 12.5:9.2f}" for n in range(1, 31)
        ]
        lines += ["", "TOTAL DUE" + " " * 30 + "5,812.50"]
        image = _draw_lines(A4_600_DPI, lines, (400, 500), 90)
        # Scanned paper is off-white, not white: the blank is its own level.
        image = image.point(lambda v: min(v, 246))
        image.save(a4, optimize=False)


def old_image_pages(data: bytes, max_pixels: int) -> Iterator:
    """jobs.extraction.document._image_pages before 2026-12-06: decoded twice."""
    from jobs.extraction import document
    from submissions.pages import content_crop, cut

    image, _ = document._load_image(
        data, max_pixels=max_pixels, longest_side=document.DECODE_MIN_SIDE
    )
    crop = content_crop(image)
    if crop is None:
        yield document.Page(index=0, image=image)
        return
    del image
    whole, _ = document._load_image(data, max_pixels=max_pixels, longest_side=None)
    yield document.Page(index=0, image=cut(whole, crop), transform={"crop": crop})


def one(path: Path, loader: str) -> dict:
    """Read ``path`` in the reading child with the ``loader`` ("old" or "new")."""
    import django

    django.setup()
    from PIL import Image

    from fraud.services import PageImage, hash_page
    from jobs.extraction import document
    from jobs.extraction.isolated import extract_document_isolated
    from jobs.extraction.ocr import get_engine
    from submissions import pages

    if loader == "old":
        # The child forked below inherits both: the old loader, and Pillow's one call to
        # scale down (which held the decode, its narrowed rows and the result at once).
        document._image_pages = old_image_pages
        pages._scaled_down = lambda image, size: image.resize(
            size, Image.Resampling.LANCZOS, reducing_gap=2.0
        )
    get_engine()
    worker = _status_mb("VmRSS")

    def digest(page: document.Page) -> dict:
        hash_page(PageImage(file_id="bench", page=page.index, image=page.image, words=page.words))
        return {"peak": _status_mb("VmHWM"), "text": page.text, "transform": page.transform}

    data = path.read_bytes()
    start = time.monotonic()
    pages, _ = extract_document_isolated(data, digest=digest, kind="receipt")
    return {"seconds": time.monotonic() - start, "worker": worker, **pages[0]}


def _status_mb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) >> 10
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path.home() / ".cache/steve-bench/large")
    parser.add_argument("--one", nargs=2, metavar=("IMAGE", "LOADER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(Path(args.one[0]), args.one[1])))
        return
    generate(args.dir)
    print(f"{'image':18} {'loader':6} {'peak MB':>8} {'worker MB':>9} {'seconds':>8}")
    print("(peak: the reading child's VmHWM; worker: the process forking it, model loaded)")
    for name in IMAGES:
        runs = {}
        for loader in ("old", "new"):
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(args.dir / name), loader],
                capture_output=True,
                text=True,
                check=True,
            )
            run = runs[loader] = json.loads(done.stdout.splitlines()[-1])
            print(
                f"{name:18} {loader:6} {run['peak']:8} {run['worker']:9} {run['seconds']:8.1f}",
                flush=True,
            )
        old, new = runs["old"], runs["new"]
        same = old["text"] == new["text"] and old["transform"] == new["transform"]
        print(
            f"{name:18} new/old: peak {new['peak'] / old['peak']:.2f}x, "
            f"time {new['seconds'] / old['seconds']:.2f}x, "
            f"text and transform {'identical' if same else 'DIFFERENT'}",
            flush=True,
        )
        print(f"{'':18} read: {' | '.join(new['text'].splitlines()[:3])}", flush=True)


if __name__ == "__main__":
    main()
