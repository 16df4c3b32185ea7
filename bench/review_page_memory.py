"""Peak memory of the web process drawing one review page image (render_png_apart):
each case in a fresh interpreter, its peak RSS (VmHWM) measured after the imports
and after the drawing, so the difference is what the drawing cost the web worker.

    SECRET_KEY=x .venv/bin/python bench/review_page_memory.py [--rotate 90]

An image drawn in the capped child (submissions.render_child) costs the web process only
its bytes and the PNG it reads back; one drawn here costs its decode, its conversion,
the turn and the PNG encoder's buffers.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "jpeg 1.5 MP receipt": ("jpeg", 1000, 1500, 1),
    "jpeg 12 MP photo": ("jpeg", 4000, 3000, 1),
    "jpeg 16 MP": ("jpeg", 4000, 4000, 1),
    "png 4 MP": ("png", 2000, 2000, 1),
    "png 8 MP": ("png", 2800, 2800, 1),
    "png 16 MP": ("png", 4000, 4000, 1),
    "webp 16 MP": ("webp", 4000, 4000, 1),
    "animated webp 16 MP x 3": ("webp", 4000, 4000, 3),
}


def encoded(kind: str, width: int, height: int, frames: int) -> bytes:
    """A page with some texture (a white page compresses to nothing, and so does its
    drawing's PNG), in `frames` frames."""
    from PIL import Image, ImageDraw

    noise = Image.effect_noise((width // 8, height // 8), 40).convert("RGB")
    frame = noise.resize((width, height), Image.Resampling.BILINEAR)
    ImageDraw.Draw(frame).text((10, 10), "TOTAL 12.50", fill="black")
    buffer = io.BytesIO()
    options = {"lossless": True} if kind == "webp" else {}
    if frames > 1:
        shots = [frame.point(lambda v, i=i: (v + 40 * i) % 256) for i in range(1, frames)]
        frame.save(buffer, "WEBP", save_all=True, append_images=shots, **options)
    else:
        frame.save(buffer, kind.upper(), **options)
    return buffer.getvalue()


# Run in a fresh interpreter: the bytes are read from a file, so the baseline is the
# imports' alone (making the image here would raise the peak before the drawing).
ONE = """
import json, sys, time
from submissions import pages
path, rotate, child = json.loads(sys.argv[1])
data = open(path, "rb").read()
if child is not None:
    pages._cheap_to_decode = (lambda data: False) if child else (lambda data: True)
def peak():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, from the bench's own peak.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
before = peak()
started = time.monotonic()
png = pages.render_png_apart(data, pdf=False, page=0, transform={}, rotate=rotate)
print(json.dumps({"before": before, "after": peak(), "seconds": time.monotonic() - started}))
"""


def measure(path: Path, rotate: int, child: bool | None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", ONE, json.dumps([str(path), rotate, child])],
        capture_output=True,
        check=True,
        cwd=ROOT,
        env={"SECRET_KEY": "x", "PATH": "/usr/bin:/bin"},
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rotate", type=int, default=90)
    parser.add_argument("--case", action="append", help="only these cases (by name)")
    args = parser.parse_args()
    print(f"rotate={args.rotate}; web process peak RSS added by one drawing (MB), wall s")
    print("| case | file KB | as shipped | all drawn here | all drawn in the child |")
    print("|---|---|---|---|---|")
    folder = Path(tempfile.mkdtemp(prefix="review-page-memory-"))
    for name, case in CASES.items():
        if args.case and name not in args.case:
            continue
        path = folder / "page"
        path.write_bytes(encoded(*case))
        cells = []
        for child in (None, False, True):
            result = measure(path, args.rotate, child)
            cells.append(f"{result['after'] - result['before']:.0f} MB, {result['seconds']:.2f} s")
        kb = path.stat().st_size / 1024
        path.unlink()
        print(f"| {name} | {kb:.0f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
