"""How alike OCR reads an honest PDF's shop name to what its text layer says.

    .venv/bin/python bench/shown_names.py [--dataset sroie-dev --dataset sroie-test] [--limit N]

Each shop name of a dataset's keys (its ``company``) is set as the header of a till
receipt (tests/jobs/fixtures_docs's rows under it) in Helvetica, Times and Courier bold,
at 8, 10, 12 or 14 points by turns, and extracted as the pipeline reads a PDF with a text
layer (jobs.extraction.extract_document, the real OCR engine): what the check of the name
(jobs.extraction.shown._names_agree) compares is recorded, box by box. Reported: the
likeness of honest names read again (the least, percentiles, mean), how many fall under
shown.NAME_AGREES, and how alike the distinct names of the dataset are to each other (a
text layer naming another shop must be told from the page's: the most alike pairs).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steve.settings")
os.environ.setdefault("SECRET_KEY", "bench")

import django  # noqa: E402

django.setup()

from reportlab.lib.units import mm  # noqa: E402
from reportlab.pdfbase.pdfmetrics import stringWidth  # noqa: E402
from reportlab.pdfgen import canvas  # noqa: E402

from fraud import normalise  # noqa: E402
from jobs.extraction import extract_document, get_engine, shown  # noqa: E402
from tests.jobs.fixtures_docs import FAMILIES, _receipt_rows  # noqa: E402

SIZES = (8, 10, 12, 14)


def names(dataset: str) -> list[str]:
    keys = Path("/work/shared/datasets") / dataset / "key"
    found = {json.loads(path.read_text()).get("company", "").strip() for path in keys.iterdir()}
    return sorted(name for name in found if name)


def receipt(name: str, family: str, size: int) -> bytes:
    """A till receipt headed by ``name`` in ``family``'s bold at ``size`` points, as wide
    as the name needs."""
    regular, bold = FAMILIES[family]
    width = max(80 * mm, stringWidth(name, bold, size) + 20 * mm)
    height = 110 * mm
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    y = height - 14 * mm
    for _font, row_size, text, amount in _receipt_rows(name):
        is_name = text == name
        pdf.setFont(bold if is_name else regular, size if is_name else row_size)
        if amount is None:
            pdf.drawCentredString(width / 2, y, text)
        else:
            pdf.drawString(6 * mm, y, text)
            pdf.drawRightString(width - 6 * mm, y, amount)
        y -= 10 * mm
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", action="append", default=[])
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    shops = sorted({shop for dataset in args.dataset or ["sroie-dev"] for shop in names(dataset)})
    shops = shops[: args.limit or None]
    engine = get_engine("rapidocr")
    compared: list[tuple[str, str]] = []
    original = shown._names_agree

    def recorded(said: str, read: str) -> bool:
        compared.append((said, read))
        return original(said, read)

    shown._names_agree = recorded
    likeness, runs = [], itertools.cycle(SIZES)
    for shop in shops:
        for family in FAMILIES:
            size = next(runs)
            compared.clear()
            _, read = extract_document(receipt(shop, family, size), kind="receipt", engine=engine)
            for said, again in compared:
                meant, seen = (
                    normalise.merchant(text).translate(shown._AS_LETTERS) for text in (said, again)
                )
                score = (
                    1.0 if not meant and not seen else normalise.merchant_similarity(meant, seen)
                )
                likeness.append(score)
                if score < shown.NAME_AGREES + 0.2:
                    print(f"{score:.2f} {family} {size}pt said {said!r} read {again!r}")
    values = np.array(likeness)
    print(f"{len(shops)} shops, {len(values)} name boxes read again")
    print(
        f"honest likeness: min {values.min():.2f}, 1% {np.percentile(values, 1):.2f}, "
        f"5% {np.percentile(values, 5):.2f}, mean {values.mean():.2f}; "
        f"under {shown.NAME_AGREES}: {(values < shown.NAME_AGREES).sum()}"
    )
    normalised = sorted({normalise.merchant(shop) for shop in shops} - {""})
    pairs = sorted(
        (normalise.merchant_similarity(a, b), a, b)
        for a, b in itertools.combinations(normalised, 2)
    )
    print(f"distinct names: {len(normalised)}, most alike pairs:")
    for score, a, b in pairs[-8:]:
        print(f"  {score:.2f} {a!r} {b!r}")
    above = sum(score >= shown.NAME_AGREES for score, _, _ in pairs)
    print(f"pairs at or above {shown.NAME_AGREES}: {above} of {len(pairs)}")


if __name__ == "__main__":
    main()
