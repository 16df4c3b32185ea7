"""A page number printed on the row of an invoice's amount due.

A footer's "Page 2" on the row of "Total due" was read into its label ("Page 2 Total
due"), which made the amount due a running total (a page total): a page total on page 1
that the line items agreed with was read instead (1,000.00 for 1,250.00, reviewed), an
invoice whose arithmetic was right went to review (0.712), and a rival total beside such
a page number went unnamed. The receipt path is untouched (test_extraction_rival_totals
and the other test_extraction files)."""

from __future__ import annotations

import pytest

from jobs.extraction.ranker import DISAGREEMENT_CAP
from tests.jobs.test_extraction_invoice_rival_totals import _HEAD, INVOICE, _items, _read, _totals


def _page_total_then_due(first_total: str, footer: str, *, vat: bool):
    first = [
        *_HEAD,
        *_items(("Consulting hours", "1,000.00")),
        *_totals((first_total, "£1,000.00")),
    ]
    rows = [("Subtotal", "£1,250.00"), ("VAT 20%", "£250.00")] if vat else []
    due = "£1,500.00" if vat else "£1,250.00"
    second = [
        *_items(("Travel", "250.00"), top=100),
        *_totals(*rows, ("Total due", due), top=200),
        (50, 200 + 18 * len(rows), footer, 10),  # the page number, on the total's row
    ]
    return first, second


@pytest.mark.parametrize("footer", ["Page 2", "Page: 2", "PAGE 2", "Pg. 2"])
@pytest.mark.parametrize("first_total", ["Page total", "Page 1 total", "Total carried forward"])
def test_a_page_number_on_the_amount_dues_row_leaves_it_the_invoices_total(first_total, footer):
    read = _read(*_page_total_then_due(first_total, footer, vat=False))
    assert read.fields["totalAmount"] == 1250.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


@pytest.mark.parametrize("first_total", ["Page total", "Page 1 total", "Total carried forward"])
def test_a_page_number_on_the_amount_dues_row_does_not_send_it_to_review(first_total):
    read = _read(*_page_total_then_due(first_total, "Page 2", vat=True))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


@pytest.mark.parametrize("footer", ["Page 2", "Page: 2"])
def test_a_bare_page_number_beside_a_rival_total_hides_no_rival(footer):
    read = _read(INVOICE, [(50, 300, footer, 10), *_totals(("Total due", "£980.00"), top=300)])
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:980.00@2" in read.cues["totalAmount"]


def test_a_page_total_that_names_its_page_in_its_label_stays_a_running_total():
    # "Page 2 total" set close as one label is the page's total, not a page number beside
    # the amount due.
    first = [
        *_HEAD,
        *_items(("Consulting hours", "1,000.00")),
        *_totals(("Page 1 total", "£1,000.00")),
    ]
    second = [
        *_items(("Travel", "250.00"), top=100),
        *_totals(
            ("Page 2 total", "£250.00"),
            ("Subtotal", "£1,250.00"),
            ("VAT 20%", "£250.00"),
            ("Total due", "£1,500.00"),
            top=200,
        ),
    ]
    read = _read(first, second)
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
