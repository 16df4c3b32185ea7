"""Mirrored re-submissions: what OCR reads of them, how close their mirrored hashes come
to the original, how close to other receipts, and what the mirrored hashes cost.

    .venv/bin/python bench/fraud_mirrored.py [sroie-dev|sroie-test] [--ocr N] [--pairs N]

1. OCR (--ocr N, the first N receipts; cached like bench/fraud_ocr_cache.py, ~10 CPU-s a
   mirrored file, as OCR retries it in three more orientations): of each receipt and of
   its copies mirrored left-right, top-bottom and across the diagonal, the words read with
   the confidence the text view needs (fraud.hashing.text_box), their mean confidence,
   whether a text view was found, whether the page is hashed mirrored (read poorly:
   fraud.hashing.read_poorly), which of total, date and merchant were parsed, and the
   page's distance to the original's (as OCR left both pages, with their words: what the
   pipeline hashes) as it is and mirrored back. Then what a mirrored reading would give: the
   mirrored file mirrored back and read.
2. Hashes (--pairs N receipts, no OCR, as a page without words): each receipt's mirrored
   copies against the original by the mirrored hashes (the catch: distance within 16
   bits), and every receipt's mirrored hashes against every other receipt's upright
   ones (false pairs within 16 and within 48 bits, and the nearest).
3. CPU: page_hashes with and without the mirrored hashes, per page.
"""

from __future__ import annotations

import argparse
import io
import itertools
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from PIL import Image  # noqa: E402

from fraud import hashing  # noqa: E402

FLIPS = {
    "left-right": Image.Transpose.FLIP_LEFT_RIGHT,
    "top-bottom": Image.Transpose.FLIP_TOP_BOTTOM,
    "diagonal": Image.Transpose.TRANSPOSE,
}


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def read_summary(data: bytes) -> dict:
    import fraud_ocr_cache

    read = fraud_ocr_cache.read(data)
    # The page hashes as the pipeline takes them: of the page as OCR left it (turned, if
    # it turned it), with its words; mirrored too if it was read poorly.
    hashes = [
        hashing.page_hashes(page, words)
        for page, words in zip(read.pages, read.words or [], strict=True)
    ]
    words = [w for page in read.words or [] for w in page]
    confident = [w for w in words if w.confidence >= hashing.TEXT_BOX_MIN_CONFIDENCE]
    text_view = any(hashing.text_box(page) is not None for page in read.words or [])
    fields = read.fields or {}
    parsed = [k for k in ("totalAmount", "date", "merchantName") if fields.get(k)]
    characters = sum(len(w.text) for w in words)
    return {
        "confidence": sum(w.confidence * len(w.text) for w in words) / max(1, characters),
        "poorly": any(hashing.read_poorly(page) for page in read.words or []),
        "words": len(words),
        "confident": len([w for w in confident if len(w.text) >= 2]),
        "text_view": text_view,
        "parsed": parsed,
        "error": read.error,
        "seconds": read.ocr_seconds,
        "hashes": hashes,
    }


def ocr_table(ids: list[str], data_dir: Path) -> None:
    print("\n## What OCR reads (words; confident words; mean confidence; text view;")
    print("hashed mirrored, i.e. read poorly; fields parsed; distance to the original")
    print("as the page is / mirrored back, bits, and which mirror)\n")
    print(
        "| receipt | file | words | confident | confidence | text view | mirrored | parsed ", end=""
    )
    print("| distance | OCR s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for receipt_id in ids:
        image = Image.open(data_dir / "img" / f"{receipt_id}.jpg")
        files = {"original": (data_dir / "img" / f"{receipt_id}.jpg").read_bytes()}
        for name, flip in FLIPS.items():
            files[name] = jpeg(image.transpose(flip))
        # A mirrored reading: the left-right copy mirrored back before OCR.
        back = Image.open(io.BytesIO(files["left-right"])).transpose(FLIPS["left-right"])
        files["left-right, read mirrored back"] = jpeg(back)
        original = None
        for name, data in files.items():
            s = read_summary(data)
            parsed = ",".join(s["parsed"]) or "-"
            found = "-"
            if original is None:
                original = s["hashes"]
            elif s["hashes"] and original:
                distance, mirror = hashing.mirrored_distance(s["hashes"][0], original[0])
                upright = hashing.min_distance(s["hashes"][0], original[0])
                found = f"{upright} / {distance} {mirror or ''}"
            print(
                f"| {receipt_id} | {name} | {s['words']} | {s['confident']} | "
                f"{s['confidence']:.3f} | {'yes' if s['text_view'] else 'no'} | "
                f"{'yes' if s['poorly'] else 'no'} | {s['error'] or parsed} | {found} | "
                f"{s['seconds']:.1f} |",
                flush=True,
            )


def hash_tables(ids: list[str], data_dir: Path) -> None:
    upright: dict[str, hashing.PageHashes] = {}
    copies: dict[tuple[str, str], hashing.PageHashes] = {}
    plain_cpu, mirrored_cpu = [], []
    for receipt_id in ids:
        image = Image.open(data_dir / "img" / f"{receipt_id}.jpg")
        page = hashing.page_gray(image)
        started = time.process_time()
        hashing.page_hashes(page, mirrored=False)
        plain_cpu.append(time.process_time() - started)
        started = time.process_time()
        upright[receipt_id] = hashing.page_hashes(page, mirrored=True)
        mirrored_cpu.append(time.process_time() - started)
        for name, flip in FLIPS.items():
            copy = Image.open(io.BytesIO(jpeg(image.transpose(flip))))
            copies[receipt_id, name] = hashing.page_hashes(copy, mirrored=True)
    print("\n## Mirrored copies against their original (smallest view distance, bits)\n")
    print("| mirrored | copies | within 16 | median | max |")
    print("| --- | --- | --- | --- | --- |")
    for name in FLIPS:
        found = [hashing.mirrored_distance(copies[i, name], upright[i])[0] for i in ids]
        print(
            f"| {name} | {len(found)} | {sum(d <= 16 for d in found)} | "
            f"{statistics.median(found):.0f} | {max(found)} |"
        )
    near16 = near48 = 0
    nearest = hashing.HASH_BITS
    pairs = 0
    for a, b in itertools.permutations(ids, 2):
        distance, _ = hashing.mirrored_distance(upright[a], upright[b])
        pairs += 1
        near16 += distance <= 16
        near48 += distance <= 48
        nearest = min(nearest, distance)
    print("\n## Mirrored hashes of a receipt against other receipts (false pairs)\n")
    print(f"ordered pairs {pairs}: within 16 bits {near16}, within 48 bits {near48}, ", end="")
    print(f"nearest {nearest}")
    print("\n## CPU per page (page_hashes, image views, no words)\n")
    print(f"upright only: {1000 * statistics.median(plain_cpu):.1f} ms median; ", end="")
    print(f"with mirrored hashes: {1000 * statistics.median(mirrored_cpu):.1f} ms median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", nargs="?", default="sroie-dev")
    parser.add_argument("--ocr", type=int, default=0, help="receipts to OCR mirrored")
    parser.add_argument("--pairs", type=int, default=0, help="receipts for the hash tables")
    args = parser.parse_args()
    from fraud_quality import data_dir, receipt_ids, use_dataset

    use_dataset(args.dataset)
    print(f"# {args.dataset}")
    if args.ocr:
        ocr_table(receipt_ids(args.ocr), data_dir())
    if args.pairs:
        hash_tables(receipt_ids(args.pairs), data_dir())


if __name__ == "__main__":
    main()
