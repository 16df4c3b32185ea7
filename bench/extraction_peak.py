"""Peak memory of one extraction worker: a data set read receipt after receipt, keeping
nothing between them (bench/extraction.py keeps every receipt it scores, ~0.2 MB each,
so its peak over a whole set is the worker's plus that).

    SECRET_KEY=x .venv/bin/python bench/extraction_peak.py --dataset sroie-test

Prints each receipt that raised the peak (its image size and the resident size after
it), then the peak and the median image size.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")

import django  # noqa: E402

django.setup()

from bench.extraction import dataset_path, peak_memory_mb, read_receipts  # noqa: E402
from jobs.extraction.ocr import get_engine  # noqa: E402


def resident_mb() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sroie-test")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()
    engine = get_engine()
    dataset = dataset_path(args.dataset)
    count = len(list((dataset / "img").glob("*.jpg")))
    sizes, highest = [], 0.0
    for index in range(min(count, args.limit or count)):
        (receipt,) = read_receipts(engine, dataset, 1, index)  # dropped after the loop
        sizes.append(receipt.megapixels)
        if peak_memory_mb() > highest:
            highest = peak_memory_mb()
            print(
                f"{receipt.stem}: {receipt.megapixels:.2f} MP, resident {resident_mb()} MB, "
                f"peak {highest:.0f} MB",
                flush=True,
            )
    print(
        f"{args.dataset}: {len(sizes)} receipts, median image {statistics.median(sizes):.2f} MP,"
        f" peak RSS {highest:.0f} MB (target <= 800)"
    )


if __name__ == "__main__":
    main()
