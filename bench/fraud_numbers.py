"""The data check's receipt-number rule on real receipts: false matches and edited copies.

    .venv/bin/python bench/fraud_numbers.py --ocr-cache DIR [--edits N] [--cached-only]

For each set, every receipt is read as the pipeline reads it (OCR, then the field rules
and the shipped model: bench/extraction.read_receipts), and its receipt number kept when
fraud.normalise.distinctive_number says it names one receipt (five digits or more). Then:

- false matches: pairs of distinct receipts (the same receipt twice in a set is left
  out, as in bench/fraud_quality.py) whose merchant names are alike enough for the data
  check (data_merchant_similarity) and whose numbers are the same. Each one would be a
  flag on an honest receipt. Same-shop pairs (same ground-truth company or address) are
  where they could happen.
- edited copies: the first N receipts edited by bench/fraud_transforms.edit_digits (the
  lowest right-hand amount and one run of print in the upper half typed again with other
  digits), read afresh; caught when the copy's number is distinctive and equal to the
  original's, at a merchant name alike enough. An edit that hits the number itself, or OCR
  reading the number differently on the two files, is a miss.

Nothing here is fitted: the five-digit floor was set before this was first run.
"""

from __future__ import annotations

import argparse
import itertools
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
from extraction import CachingEngine, NotCached, _shipped_model, dataset_path  # noqa: E402
from fraud_transforms import edit_fields  # noqa: E402

from fraud import normalise  # noqa: E402
from fraud.policy import DEFAULTS  # noqa: E402
from jobs.extraction import get_engine, load_document, read_text  # noqa: E402
from jobs.extraction.api import document_lines  # noqa: E402
from jobs.extraction.errors import ExtractionError  # noqa: E402
from jobs.extraction.receipt import choose_fields, read_receipt  # noqa: E402

SIMILAR = float(DEFAULTS["data_merchant_similarity"])


def read(data: bytes, engine) -> dict | None:
    """The fields as the pipeline chooses them (Candidates); None when not cached."""
    document = load_document(data)
    try:
        read_text(document, engine=engine)
    except ExtractionError as exc:
        if isinstance(exc.__cause__, NotCached):
            return None
        raise
    lines = document_lines(document)
    rules, options = read_receipt(lines, "\n".join(page.text for page in document.pages))
    if (model := _shipped_model()) is not None:
        choose_fields(rules, options, lines, model)
    return rules


def data_fields(fields: dict) -> tuple[str, str]:
    """(merchant, receipt number) as the data check normalises them."""
    value = {name: candidate.value for name, candidate in fields.items()}
    return (
        normalise.merchant(value.get("merchantName")),
        normalise.receipt_number(value.get("receiptNumber")),
    )


def forged(fields: dict, rng: np.random.Generator) -> list[tuple[tuple, str]]:
    """Where the date and the total were read, another date and total (none when the
    reader found neither: there is nothing a forger would change)."""
    edits = []
    for name, text in (
        ("date", f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}/2019"),
        ("totalAmount", f"{int(rng.integers(10, 999))}.{int(rng.integers(0, 100)):02d}"),
    ):
        candidate = fields.get(name)
        if candidate is not None and candidate.evidence:
            edits.append((tuple(candidate.evidence[0]["bbox"]), text))
    return edits


def same_number(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return (
        normalise.distinctive_number(a[1])
        and a[1] == b[1]
        and normalise.merchant_similarity(a[0], b[0]) >= SIMILAR
    )


def run(name: str, engine, edit_engine, edits: int) -> None:
    fq.use_dataset(name)
    ids = fq.receipt_ids(None)
    folder = dataset_path(name) / "img"
    fields = {}
    for receipt_id in ids:
        found = read((folder / f"{receipt_id}.jpg").read_bytes(), engine)
        if found is not None:
            fields[receipt_id] = found
    reads = {receipt_id: data_fields(found) for receipt_id, found in fields.items()}
    numbered = [i for i, r in reads.items() if normalise.distinctive_number(r[1])]
    pairs = [(a, b) for a, b in itertools.combinations(sorted(reads), 2) if not fq.same_key(a, b)]
    same_shop = [(a, b) for a, b in pairs if fq._same_merchant(a, b)]
    false = [(a, b) for a, b in pairs if same_number(reads[a], reads[b])]
    print(f"\n{name}: {len(reads)} of {len(ids)} receipts read")
    print(
        f"  a distinctive receipt number read: {len(numbered)} ({_pct(len(numbered), len(reads))})"
    )
    print(f"  distinct pairs: {len(pairs)}, of one shop: {len(same_shop)}")
    print(f"  false matches by the number: {len(false)} {false[:10]}")
    if edits:
        edited_copies(folder, [i for i in ids if i in fields][:edits], fields, edit_engine)


def edited_copies(folder: Path, ids: list[str], fields: dict, engine) -> None:
    tried, other_date, numbered, caught = 0, 0, 0, []
    for receipt_id in ids:
        edits = forged(fields[receipt_id], np.random.default_rng(int(receipt_id)))
        if not edits:
            continue
        with Image.open(folder / f"{receipt_id}.jpg") as image:
            copy = read(edit_fields(image, edits), engine)
        if copy is None:
            continue
        tried += 1
        day = [
            normalise.date(f["date"].value) if "date" in f else None
            for f in (copy, fields[receipt_id])
        ]
        other_date += day[0] != day[1]
        original = data_fields(fields[receipt_id])
        numbered += normalise.distinctive_number(original[1])
        if same_number(data_fields(copy), original):
            caught.append(receipt_id)
    print(
        f"  edited copies (date and total typed again): {tried}, read with another date "
        f"{other_date}; originals with a distinctive number {numbered}; caught by the "
        f"number {len(caught)} ({_pct(len(caught), tried)} of the copies, "
        f"{_pct(len(caught), numbered)} of those numbered)"
    )


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append")
    parser.add_argument("--ocr-cache", type=Path, required=True)
    parser.add_argument("--edit-cache", type=Path, default=None, help="default: --ocr-cache")
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--cached-only", action="store_true", help="originals only from cache")
    args = parser.parse_args()
    engine = get_engine(None)
    originals = CachingEngine(engine, args.ocr_cache, only_cached=args.cached_only)
    edited = CachingEngine(engine, args.edit_cache or args.ocr_cache)
    for name in args.dataset or ["sroie-dev", "sroie-test"]:
        run(name, originals, edited, args.edits)


if __name__ == "__main__":
    main()
