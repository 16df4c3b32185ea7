"""Numbers other than the amount printed on the row of an invoice's total.

A date printed with points beside the amount ("Total due £1,250.00  04.03.2026") was read
as an amount, 4.03. This is how any line's amounts are read, a receipt's too; sroie-dev
and sroie-test read as before."""

from __future__ import annotations

import pytest

from jobs.extraction.ranker import DISAGREEMENT_CAP
from jobs.extraction.values import parse_amounts
from tests.jobs.test_extraction_invoice_rival_totals import _HEAD, _items, _read, _totals

_ITEMS = _items(("Consulting hours", "200.00"), ("Travel", "50.00"))


def _invoice(*rows: tuple[str, str], extra: tuple[float, float, str, int]):
    return [*_HEAD, *_ITEMS, *_totals(*rows), extra]


@pytest.mark.parametrize("text", ["04.03.2026", "4.03.26", "Due 04.03.2026"])
def test_a_date_printed_with_points_is_no_amount(text):
    assert parse_amounts(text) == []


@pytest.mark.parametrize(
    "extra", [(540, 520, "04.03.2026", 10), (50, 520, "Due 04.03.2026", 10)], ids=["right", "left"]
)
def test_a_dotted_date_on_the_totals_row_leaves_the_total_read(extra):
    read = _read(_invoice(("Total due", "£250.00"), extra=extra))
    assert read.fields["totalAmount"] == 250.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
