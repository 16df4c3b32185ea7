"""Edited copies of earlier receipts, and the data check's receipt-number rule.

    DATABASE_URL=postgres://... .venv/bin/python bench/fraud_numbers.py \\
        --ocr-cache DIR [--edit-cache DIR] [--edits N] [--cached-only] [--dataset NAME]

An edited copy is an earlier receipt with its date and total typed again
(bench/fraud_transforms.edit_fields, where the pipeline read them; the first evidence box
of each field), saved as a new JPEG: a fraudster claiming one purchase twice. Every file
is read as the pipeline reads it (jobs.extraction load_document, read_text, parse_fields;
OCR through bench/extraction.CachingEngine), then:

1. the rule alone: the receipt number the pipeline reads, kept when
   fraud.normalise.distinctive_number says it names one receipt (five digits or more);
   **false matches** are pairs of distinct receipts (the same receipt twice in a set is
   left out, as in bench/fraud_quality.py) with merchant names alike enough for the data
   check and the same number: each would flag an honest receipt.
2. the decision: the originals are submitted one after the other to a throw-away company
   (fraud_run_checks against PostgreSQL, rolled back at the end, as bench/fraud_quality.py
   does), then each edited copy on its own; it is **caught** when it gets a match with its
   original. Run twice: the default policy, and the same with `data_same_number_score`
   0 (the rule off: the checks before it). Pairs of originals that got a match are
   reported too (false matches of the whole decision).

Nothing here is fitted: the five-digit floor and the score were set before the first run.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("SECRET_KEY", "bench")

import fraud_quality as fq  # noqa: E402
from extraction import CachingEngine, dataset_path  # noqa: E402
from fraud_transforms import edit_fields  # noqa: E402

from fraud import hashing, local, normalise  # noqa: E402
from fraud.policy import DEFAULTS  # noqa: E402
from jobs.extraction import get_engine, load_document, parse_fields, read_text  # noqa: E402
from jobs.extraction.errors import ExtractionError  # noqa: E402

SIMILAR = float(DEFAULTS["data_merchant_similarity"])


def read(data: bytes, engine) -> dict | None:
    """What the fraud checks get from one file (fraud_quality's item); None when its OCR
    is not cached (with --cached-only) or extraction failed."""
    document = load_document(data)
    try:
        read_text(document, engine=engine)
        extraction = parse_fields(document, kind="receipt")
    except ExtractionError:  # not cached (NotCached inside), or a file the pipeline fails
        return None
    grays = [hashing.page_gray(page.image) for page in document.pages]
    return {
        "sha256": hashlib.sha256(data).hexdigest(),
        "fields": extraction.fields,
        "evidence": extraction.evidence,
        "text": "\n".join(extraction.pages_text),
        "pages": [
            hashing.page_hashes(gray, page.words)
            for gray, page in zip(grays, document.pages, strict=True)
        ],
        "features": [local.local_features(gray) for gray in grays],
    }


def data_fields(item: dict) -> tuple[str, str]:
    """(merchant, receipt number) as the data check normalises them."""
    fields = item["fields"]
    return (
        normalise.merchant(fields.get("merchantName")),
        normalise.receipt_number(fields.get("receiptNumber")),
    )


def same_number(a: dict, b: dict) -> bool:
    (merchant_a, number_a), (merchant_b, number_b) = data_fields(a), data_fields(b)
    return (
        normalise.distinctive_number(number_a)
        and number_a == number_b
        and normalise.merchant_similarity(merchant_a, merchant_b) >= SIMILAR
    )


def forged(item: dict, rng: np.random.Generator) -> list[tuple[tuple, str]]:
    """Where the date and the total were read, another date and total (nothing when the
    reader found neither)."""
    edits = []
    for name, text in (
        ("date", f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}/2019"),
        ("totalAmount", f"{int(rng.integers(10, 999))}.{int(rng.integers(0, 100)):02d}"),
    ):
        boxes = item["evidence"].get(name)
        if boxes:
            edits.append((tuple(boxes[0]["bbox"]), text))
    return edits


def run(name: str, engine, edit_engine, edits: int) -> None:
    fq.use_dataset(name)
    ids = fq.receipt_ids(None)
    folder = dataset_path(name) / "img"
    items = {}
    for receipt_id in ids:
        item = read((folder / f"{receipt_id}.jpg").read_bytes(), engine)
        if item is not None:
            items[receipt_id] = item
    numbered = [
        i for i, item in items.items() if normalise.distinctive_number(data_fields(item)[1])
    ]
    pairs = [(a, b) for a, b in itertools.combinations(sorted(items), 2) if not fq.same_key(a, b)]
    same_shop = [(a, b) for a, b in pairs if fq._same_merchant(a, b)]
    false = [(a, b) for a, b in pairs if same_number(items[a], items[b])]
    print(f"\n{name}: {len(items)} of {len(ids)} receipts read")
    print(
        f"  a distinctive receipt number read: {len(numbered)} ({_pct(len(numbered), len(items))})"
    )
    print(f"  distinct pairs: {len(pairs)}, of one shop: {len(same_shop)}")
    print(f"  false matches of the number rule alone: {len(false)} {false[:10]}")
    copies = {}
    for receipt_id in list(items)[:edits]:
        changes = forged(items[receipt_id], np.random.default_rng(int(receipt_id)))
        if not changes:
            continue
        with Image.open(folder / f"{receipt_id}.jpg") as image:
            copy = read(edit_fields(image, changes), edit_engine)
        if copy is not None:
            copies[receipt_id] = copy
    other_date = sum(
        normalise.date(c["fields"].get("date")) != normalise.date(items[i]["fields"].get("date"))
        for i, c in copies.items()
    )
    by_number = [i for i, c in copies.items() if same_number(c, items[i])]
    print(
        f"  edited copies: {len(copies)}, read with another date {other_date}, with the "
        f"original's distinctive number {len(by_number)}"
    )
    for label, policy in (("rule off", {"data_same_number_score": 0}), ("default", {})):
        decide(label, policy, items, copies)


def decide(label: str, policy: dict, items: dict, copies: dict) -> None:
    os.environ["STEVE_BENCH_POLICY"] = json.dumps(policy)
    checks = fq.Run()
    checks.start()
    try:
        submission_of = {i: checks.submit(item) for i, item in items.items()}
        receipt_of = {v: k for k, v in submission_of.items()}
        flagged_pairs = set()
        for i in items:
            for other, _check, _score in checks.matches(submission_of[i]):
                a, b = sorted((i, receipt_of[other]))
                if not fq.same_key(a, b):
                    flagged_pairs.add((a, b))
        caught, how = [], {}
        for i, copy in copies.items():
            found = [(receipt_of.get(o), c, s) for o, c, s in checks.copy_matches(copy)]
            with_original = [(c, s) for o, c, s in found if o == i and c != "local"]
            if with_original:
                caught.append(i)
                how[i] = sorted({c for c, _ in with_original})
    finally:
        checks.stop()
    kinds: dict[str, int] = {}
    for found in how.values():
        key = "+".join(found)
        kinds[key] = kinds.get(key, 0) + 1
    print(
        f"  decision, {label}: edited copies caught {len(caught)} of {len(copies)} "
        f"({_pct(len(caught), len(copies))}) by {kinds}; pairs of distinct originals "
        f"matched {len(flagged_pairs)}"
    )


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append")
    parser.add_argument("--ocr-cache", type=Path, required=True)
    parser.add_argument("--edit-cache", type=Path, default=None, help="default: --ocr-cache")
    parser.add_argument("--edits", type=int, default=60)
    parser.add_argument("--cached-only", action="store_true", help="originals only from cache")
    args = parser.parse_args()
    engine = get_engine(None)
    originals = CachingEngine(engine, args.ocr_cache, only_cached=args.cached_only)
    edited = CachingEngine(engine, args.edit_cache or args.ocr_cache)
    for name in args.dataset or ["sroie-dev", "sroie-test"]:
        run(name, originals, edited, args.edits)


if __name__ == "__main__":
    main()
