"""Which total an invoice's PDF is read under when it prints more than its own.

A negative credit note whose second page quotes the invoice it credits ("Invoice
INV-20417 total £1,500.00") was read as +1,500.00 at 0.86, straight through: only the
last total printed was asked whether it was negative. A running total carried from one
page to the next claimed the total as strongly as the amount due: "Total carried forward
1,000.00" / "Total brought forward 1,000.00" / "Total due 1,500.00" was read as 1,000.00,
and a genuine two-page invoice with a page total went to review (0.712). An invoice and a
credit note in one PDF were read as the credit note's amount with nothing said of the
invoice's. The receipt path is untouched (test_extraction_rival_totals and the other
test_extraction files)."""

from __future__ import annotations

import pytest

from jobs.extraction.ranker import DISAGREEMENT_CAP
from tests.jobs.test_extraction_invoice_rival_totals import (
    _CREDIT_NOTE_HEAD,
    _HEAD,
    INVOICE,
    LEGITIMATE,
    _items,
    _read,
    _totals,
    _two_pages,
)

CREDIT_NOTE = [
    *_CREDIT_NOTE_HEAD,
    *_items(("Returned widgets", "-250.00")),
    *_totals(("Subtotal", "-£250.00"), ("VAT 20%", "-£50.00"), ("Total credit", "-£300.00")),
]


@pytest.mark.parametrize(
    "quote",
    ["Invoice INV-20417 total", "Original invoice INV-20417 total", "Invoice no. 20417 total due"],
)
def test_a_credit_note_quoting_the_invoice_it_credits_reads_its_own_negative_total(quote):
    read = _read(CREDIT_NOTE, _totals((quote, "£1,500.00"), top=300))
    assert read.fields["totalAmount"] == -300.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert read.cues["totalAmount"] == ["credit-note"]


def test_a_credit_note_quoting_the_invoice_on_its_own_page_reads_its_own_total():
    read = _read(
        [
            *_CREDIT_NOTE_HEAD,
            *_items(("Returned widgets", "-250.00")),
            *_totals(("Total credit", "-£300.00"), ("Invoice INV-20417 total", "£1,500.00")),
        ]
    )
    assert read.fields["totalAmount"] == -300.0
    assert read.cues["totalAmount"] == ["credit-note"]


def test_a_credit_note_beside_an_invoice_total_it_does_not_name_is_reviewed_with_it_named():
    # "Invoice total" names no other document outright: the credit note's own total is
    # still read, and the positive one is named for the reviewer.
    read = _read(CREDIT_NOTE, _totals(("Invoice total", "£1,500.00"), top=300))
    assert read.fields["totalAmount"] == -300.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:1500.00@2" in read.cues["totalAmount"]
    assert "also shows a total of 1500.00 on page 2" in read.summary


def test_the_briefs_carried_forward_invoice_reads_the_amount_due_sure():
    read = _read(
        [*_HEAD, *_totals(("Total carried forward", "1,000.00"))],
        _totals(("Total brought forward", "1,000.00"), ("Total due", "1,500.00"), top=200),
    )
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


@pytest.mark.parametrize(
    "name", ["running-total", "total-page-1", "page-total", "cumulative", "carried-forward"]
)
def test_a_long_invoices_running_total_leaves_its_amount_due_sure(name):
    read = _read(*LEGITIMATE[name])
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


def test_a_total_to_date_leaves_the_amount_due_sure():
    read = _read(*_two_pages(("Total to date", "£1,000.00")))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


def test_an_invoice_whose_only_total_is_a_page_total_still_reads_it():
    read = _read(
        [*_HEAD, *_items(("Consulting hours", "1,000.00")), *_totals(("Page total", "£1,000.00"))]
    )
    assert read.fields["totalAmount"] == 1000.0


def test_a_page_number_beside_a_rival_total_hides_no_rival():
    # "Page 2 of 2" printed on the total's row is no running total: its 980.00 disagrees.
    read = _read(
        INVOICE, [(50, 300, "Page 2 of 2", 10), *_totals(("Total due", "£980.00"), top=300)]
    )
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:980.00@2" in read.cues["totalAmount"]


SMALL_CREDIT_NOTE = [
    *_CREDIT_NOTE_HEAD,
    *_items(("Returned widgets", "-250.00"), top=250),
    *_totals(("Total credit", "-£250.00"), top=320),
]


def test_an_invoice_with_a_credit_note_attached_reads_the_invoices_total_reviewed():
    # Two documents: the one the PDF opens with is read, and the other's total is named.
    read = _read(INVOICE, SMALL_CREDIT_NOTE)
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:-250.00@2" in read.cues["totalAmount"]
    assert "also shows a total of -250.00 on page 2" in read.summary


def test_a_credit_note_with_the_invoice_attached_reads_the_credit_notes_total_reviewed():
    read = _read(SMALL_CREDIT_NOTE, INVOICE)
    assert read.fields["totalAmount"] == -250.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "credit-note" in read.cues["totalAmount"]
    assert "totals-disagree:1500.00@2" in read.cues["totalAmount"]


def test_an_invoice_with_a_credit_taken_off_on_its_last_page_is_one_document():
    # A negative total beside the balance it leaves, on one page: no second document.
    read = _read(
        INVOICE,
        _totals(("Total credit", "-£300.00"), ("Balance due", "£1,200.00"), top=300),
    )
    assert "totals-disagree:-300.00@2" not in read.cues["totalAmount"]
