"""On-disk cache of OCR results for the fraud benchmark: read every image once, ever.

    .venv/bin/python bench/fraud_ocr_cache.py fill [--dataset sroie-test] [--limit N]
        [--transforms a,b] [--reverse]

The pipeline reads a file with jobs.extraction (load_document → read_text → parse_fields;
extract_document runs exactly these) and hands the fraud checks the pages as OCR left them
(deskewed, turned upright), the joined page text and the parsed fields. OCR is the only
slow step (~2.5 CPU-s an image here), so this cache keeps, per image, what read_text
produced (page images as PNG, words, text) under
~/.cache/steve-bench/ocr/<engine>-v<N>/<sha256 of the file bytes>.pkl. Fields are parsed
again from the cached words on every run, so changes to the parsers count at once; bump
CACHE_VERSION when OCR itself changes what it reads. Every entry notes the hash of
jobs/extraction/ocr.py and ppocr.py it was made with; the benchmark reports entries made
with another version, and `fill --stale` reads those again.

`fill` OCRs the originals and every re-captured copy of bench/fraud_transforms.py in one
process, originals first, then each receipt's copies together. The OCR engine runs one
thread, so a fill can run in the background while other work goes on. Two fills, one
with `--reverse`, use two cores and meet in the middle: about 18 minutes for all 1,350
files here.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from PIL import Image  # noqa: E402

from jobs.extraction import (  # noqa: E402
    Document,
    ExtractionError,
    Page,
    Word,
    load_document,
    parse_fields,
    read_text,
)
from jobs.extraction.ocr import DEFAULT_ENGINE, ENGINE_ENV_VAR  # noqa: E402

CACHE_VERSION = 1
CACHE_ROOT = Path(os.environ.get("STEVE_BENCH_CACHE", Path.home() / ".cache" / "steve-bench"))
# The files whose changes can change what OCR reads (engine glue and models runtime).
OCR_SOURCES = [REPO / "jobs" / "extraction" / name for name in ("ocr.py", "ppocr.py")]


def engine_name() -> str:
    return (os.environ.get(ENGINE_ENV_VAR) or DEFAULT_ENGINE).strip().lower()


def cache_dir() -> Path:
    return CACHE_ROOT / "ocr" / f"{engine_name()}-v{CACHE_VERSION}"


def ocr_source_version() -> str:
    digest = hashlib.sha256()
    for path in OCR_SOURCES:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@dataclass
class Read:
    """What the pipeline knows of one file after extraction."""

    pages: list[Image.Image]  # page images as OCR left them: what the visual check hashes
    text: str  # "\n".join(pages_text), what the text check gets
    fields: dict[str, Any]  # parsed fields, what the data check gets
    ocr_seconds: float
    ocr_source: str  # hash of jobs/extraction/ocr.py that made the entry
    error: str | None = None  # ExtractionError code: the pipeline would fail the session
    words: list[list[Word]] | None = None  # per page: what the text view is hashed from


def _path(data: bytes) -> Path:
    return cache_dir() / f"{hashlib.sha256(data).hexdigest()}.pkl"


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def _store(data: bytes, document: Document | None, error: str | None, seconds: float) -> dict:
    entry = {
        "mime": document.mime_type if document else None,
        "pages": [
            {
                "index": p.index,
                "png": _png(p.image),
                "words": [(w.text, tuple(w.bbox), w.confidence) for w in p.words],
                "text": p.text,
                "has_text_layer": p.has_text_layer,
            }
            for p in (document.pages if document else [])
        ],
        "error": error,
        "seconds": seconds,
        "ocr_source": ocr_source_version(),
    }
    path = _path(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL))
    tmp.replace(path)  # atomic: a reader never sees half an entry
    return entry


def _document(entry: dict) -> Document:
    pages = [
        Page(
            index=p["index"],
            image=Image.open(io.BytesIO(p["png"])).convert("RGB"),
            words=[Word(text=t, bbox=b, confidence=c) for t, b, c in p["words"]],
            text=p["text"],
            has_text_layer=p["has_text_layer"],
        )
        for p in entry["pages"]
    ]
    return Document(mime_type=entry["mime"], pages=pages)


def cached(data: bytes, *, current: bool = False) -> bool:
    """Whether the file's OCR is cached (made with the current OCR code, if `current`)."""
    path = _path(data)
    if not path.exists():
        return False
    if not current:
        return True
    try:
        return pickle.loads(path.read_bytes())["ocr_source"] == ocr_source_version()
    except Exception:  # noqa: BLE001 - damaged: not usable
        return False


def read(data: bytes, *, kind: str = "receipt", refresh: bool = False) -> Read:
    """Extraction of one file as the pipeline does it, OCR from the cache when present."""
    path = _path(data)
    entry = None
    if path.exists() and not refresh:
        try:
            entry = pickle.loads(path.read_bytes())
        except Exception:  # noqa: BLE001 - a damaged entry is read again
            entry = None
    if entry is None:
        started = time.perf_counter()
        document, error = None, None
        try:
            document = load_document(data)
            read_text(document)
        except ExtractionError as exc:
            error = exc.code
        entry = _store(
            data, document if error is None else None, error, time.perf_counter() - started
        )
    if entry["error"]:
        return Read([], "", {}, entry["seconds"], entry["ocr_source"], entry["error"])
    document = _document(entry)
    try:
        extraction = parse_fields(document, kind=kind)
        fields, text = extraction.fields, "\n".join(extraction.pages_text)
    except ExtractionError as exc:
        return Read([], "", {}, entry["seconds"], entry["ocr_source"], exc.code)
    return Read(
        [p.image for p in document.pages],
        text,
        fields,
        entry["seconds"],
        entry["ocr_source"],
        words=[p.words for p in document.pages],
    )


def fill(
    limit: int | None, transforms: list[str] | None, stale: bool = False, reverse: bool = False
) -> None:
    from fraud_quality import file_bytes, receipt_ids
    from fraud_transforms import TRANSFORMS

    ids = receipt_ids(limit)
    if reverse:  # a second fill from the other end: the two meet in the middle
        ids = ids[::-1]
    names = transforms or list(TRANSFORMS)
    # Originals first (every distinct pair needs them), then each receipt's copies
    # together, so a partly filled cache already covers whole receipts.
    jobs = [(i, None) for i in ids] + [(i, t) for i in ids for t in names]
    started, done, fresh = time.perf_counter(), 0, 0
    for receipt_id, transform in jobs:
        data = file_bytes(receipt_id, transform)
        done += 1
        if cached(data, current=stale):
            continue
        read(data, refresh=True)
        fresh += 1
        if fresh % 10 == 0:
            elapsed = time.perf_counter() - started
            print(
                f"{done}/{len(jobs)} ({fresh} read, {elapsed / fresh:.1f} s each)",
                flush=True,
            )
    print(f"done: {done} files, {fresh} read in {time.perf_counter() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["fill"])
    parser.add_argument("--dataset", default="sroie-dev", help="sroie-dev, sroie-test")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--transforms", default=None, help="comma-separated; default all")
    parser.add_argument("--stale", action="store_true", help="re-read entries of older OCR")
    parser.add_argument("--reverse", action="store_true", help="last receipts first")
    args = parser.parse_args()
    transforms = args.transforms.split(",") if args.transforms else None
    from fraud_quality import use_dataset

    use_dataset(args.dataset)
    fill(args.limit, transforms, args.stale, args.reverse)


if __name__ == "__main__":
    main()
