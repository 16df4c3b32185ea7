"""Compare OCR engines on sroie-dev: field accuracy and seconds per receipt per engine.

Usage: .venv/bin/python bench/ocr_engines.py [--limit N] [--engines rapidocr,tesseract]

Each engine runs the full extraction (same parser) single-threaded; CPU seconds are
reported because wall-clock time depends on whatever else shares the machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction import DATASET, TARGETS, evaluate, peak_memory_mb  # noqa: E402

from jobs.extraction import get_engine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--engines", default="rapidocr,tesseract")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args()
    rows = []
    for name in args.engines.split(","):
        result = evaluate(get_engine(name), args.limit, args.dataset)
        n = max(1, result.count)
        accuracies = [result.correct[field] / n for field in TARGETS]
        calibration = result.high_correct / result.high if result.high else 1.0
        rows.append(
            (name, *accuracies, calibration, result.straight / n, result.cpu_seconds / n,
             result.seconds / n)
        )  # fmt: skip
    header = ("engine", *TARGETS, "calib>=0.9", "straight", "cpu s/rcpt", "wall s/rcpt")
    print(f"OCR engine comparison on sroie-dev ({result.count} receipts, 1 thread each)")
    print(" ".join(f"{h:>15}" for h in header))
    for row in rows:
        cells = [f"{row[0]:>15}"] + [f"{v:>15.1%}" for v in row[1:7]]
        cells += [f"{v:>15.2f}" for v in row[7:]]
        print(" ".join(cells))
    print(f"peak memory (MB, RSS, both engines loaded): {peak_memory_mb():.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
