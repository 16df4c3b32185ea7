"""Do confidences hold on receipts unlike the ones the reader was fitted on?

Renders the 80 synthetic receipts of ``bench/synthetic_receipts.py`` (other countries'
dates, currencies and labels, refunds, invoices, PDFs, noise), reads each as the
pipeline does (``extract_document``, the shipped field model) and prints, per field,
right/wrong by confidence bucket and every wrong field at 0.8 or more (what would go
straight through). Names and addresses are compared case- and whitespace-insensitively.

    .venv/bin/python bench/extraction_synthetic.py [--ocr-cache DIR] [--keep DIR]

The set was written to probe weak spots, so its rates say nothing of ordinary traffic;
what counts is the wrong fields at >= 0.8, which should be none.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("SECRET_KEY", "bench-not-secret")

from extraction import CachingEngine  # noqa: E402
from synthetic_receipts import write  # noqa: E402

from jobs.extraction import ExtractionError, extract_document, get_engine  # noqa: E402

FIELDS = ("merchantName", "merchantAddress", "date", "totalAmount")
BUCKETS = ("<0.8", "0.8-0.9", ">=0.9")


def right(name: str, expected: object, got: object) -> bool:
    if name == "totalAmount":
        return abs(float(got) - float(expected)) < 0.005  # type: ignore[arg-type]
    if name == "date":
        return str(got) == expected
    return re.sub(r"\s+", "", str(got)).casefold() == re.sub(r"\s+", "", str(expected)).casefold()


def bucket(confidence: float) -> str:
    return BUCKETS[0] if confidence < 0.8 else BUCKETS[1] if confidence < 0.9 else BUCKETS[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ocr-cache", type=Path, help="memoise OCR per image (development)")
    parser.add_argument("--keep", type=Path, help="render into DIR and keep the files")
    args = parser.parse_args()
    engine = get_engine(None)
    if args.ocr_cache:
        engine = CachingEngine(engine, args.ocr_cache)
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        truth = write(directory)
        table = {name: {b: [0, 0] for b in BUCKETS} | {"missing": [0, 0]} for name in FIELDS}
        sure_wrong: list[str] = []
        for file_name, expected in sorted(truth.items()):
            try:
                _, read = extract_document(
                    (directory / file_name).read_bytes(), kind="receipt", engine=engine
                )
            except ExtractionError as exc:
                print(f"{file_name}: {exc.code}")
                continue
            for name in FIELDS:
                got = read.fields.get(name)
                confidence = read.field_confidences.get(name, 0.0)
                if got is None:
                    table[name]["missing"][1] += 1
                    continue
                ok = right(name, expected[name], got)
                table[name][bucket(confidence)][0 if ok else 1] += 1
                if not ok and confidence >= 0.8:
                    sure_wrong.append(
                        f"  {confidence:.3f} {file_name:40} {name:16} "
                        f"want={expected[name]!r} got={got!r}"
                    )
    print(f"{len(truth)} synthetic receipts; right/wrong by confidence")
    print(f"{'field':16} " + " ".join(f"{b:>9}" for b in BUCKETS) + "   missing")
    for name in FIELDS:
        cells = " ".join(f"{'{}/{}'.format(*table[name][b]):>9}" for b in BUCKETS)
        print(f"{name:16} {cells}   {table[name]['missing'][1]}")
    print(f"wrong at >= 0.8: {len(sure_wrong)}")
    print("\n".join(sure_wrong))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
