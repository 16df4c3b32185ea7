"""An invoice's running-total and other-document words are whole words of its labels.

They were matched on the squashed label (letters only, upper-cased), so they hid inside
other words: "Total fees of arbitration" (FEE-S-OF-AR-bitration) was a total "so far",
"Priority order total" a "prior" invoice's, "Homepage redesign total" a page total and
"Total forwarding charges" one carried forward, and "Page 2 / 2" printed on the row of a
"Total due" (PAGE-TOTAL squashed) made it a running total. Each hid a rival total the
invoice's own disagrees with, and a credit note whose own total said "priority" was read
as the invoice it quotes. The receipt path is untouched (test_extraction_rival_totals and
the other test_extraction files)."""

from __future__ import annotations

import pytest

from jobs.extraction.ranker import DISAGREEMENT_CAP
from tests.jobs.test_extraction_invoice_rival_totals import (
    _CREDIT_NOTE_HEAD,
    INVOICE,
    _items,
    _read,
    _totals,
    _two_pages,
)


@pytest.mark.parametrize(
    "label",
    [
        "Total fees of arbitration",
        "Priority order total",
        "Homepage redesign total",
        "Total forwarding charges",
    ],
    ids=["so-far-across-words", "prior-in-priority", "page-in-homepage", "forward-in-forwarding"],
)
def test_a_rival_total_whose_label_only_contains_a_running_total_word_is_reviewed(label):
    read = _read(INVOICE, _totals((label, "£980.00"), top=300))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:980.00@2" in read.cues["totalAmount"]


@pytest.mark.parametrize("page_number", ["Page 2 / 2", "Page 2/2", "Page 2 of 2"])
def test_a_page_number_on_a_rival_totals_row_hides_no_rival(page_number):
    read = _read(INVOICE, [(50, 300, page_number, 10), *_totals(("Total due", "£980.00"), top=300)])
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:980.00@2" in read.cues["totalAmount"]


def test_a_credit_notes_own_total_saying_priority_is_read_not_the_invoice_it_quotes():
    credit_note = [
        *_CREDIT_NOTE_HEAD,
        *_items(("Returned widgets", "-250.00")),
        *_totals(
            ("Subtotal", "-£250.00"),
            ("VAT 20%", "-£50.00"),
            ("Total credit (priority order)", "-£300.00"),
        ),
    ]
    read = _read(credit_note, _totals(("Invoice INV-20417 total", "£1,500.00"), top=300))
    assert read.fields["totalAmount"] == -300.0
    assert read.cues["totalAmount"] == ["credit-note"]


@pytest.mark.parametrize(
    "first_total",
    [
        "Total so far",
        "Total c/f",
        "Page 1 total",
        "Total this page",
        "Totalcarried forward",
        "Pagetotal",
        "Balance forwarded",
    ],
)
def test_a_running_total_named_by_its_words_leaves_the_amount_due_sure(first_total):
    read = _read(*_two_pages((first_total, "£1,000.00")))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
    assert not any(c.startswith("totals-disagree") for c in read.cues["totalAmount"])


@pytest.mark.parametrize(
    "quote",
    [
        "Prior invoice total",
        "Previous invoice total",
        "Total previously invoiced",
        "Last invoice total",
        "Originally invoiced total",
    ],
)
def test_another_documents_total_named_by_its_words_is_no_rival(quote):
    read = _read(INVOICE, _totals((quote, "£980.00"), top=300))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
    assert not any(c.startswith("totals-disagree") for c in read.cues["totalAmount"])
