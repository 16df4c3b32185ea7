"""An invoice's total before tax beside the amount due.

"Total net £1,250.00" / "VAT 20% £250.00" / "Total due £1,500.00" was read as 1,250.00:
"Total net" claimed the total as strongly as a plain "Total", and the line items adding
up to it outweighed the amount due's label (0.712, reviewed; beside a plain "Total",
"Invoice total" or "Total gross", 0.95 straight through). The receipt path is untouched
(test_extraction_rival_totals and the other test_extraction files)."""

from __future__ import annotations

import pytest

from jobs.extraction.ranker import DISAGREEMENT_CAP
from tests.jobs.test_extraction_invoice_rival_totals import _HEAD, _items, _read, _totals

_ITEMS = _items(("Consulting hours", "1,000.00"), ("Travel", "250.00"))


def _net_then_due(net_label: str, due_label: str, *, net_amount: str = "£1,250.00"):
    return [
        *_HEAD,
        *_ITEMS,
        *_totals((net_label, net_amount), ("VAT 20%", "£250.00"), (due_label, "£1,500.00")),
    ]


@pytest.mark.parametrize(
    "net_label",
    [
        "Total net",
        "Total (net)",
        "Total net amount",
        "Total Net Amount",
        "Total amount (net)",
        "Goods total (net)",
        "Total excluding VAT",
        "Total without VAT",
    ],
)
def test_an_invoice_reads_its_amount_due_not_its_total_before_tax(net_label):
    read = _read(_net_then_due(net_label, "Total due"))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
    assert read.fields["taxAmount"] == 250.0


@pytest.mark.parametrize(
    "due_label",
    [
        "Amount due",
        "Balance due",
        "Total (incl. VAT)",
        "Total payable",
        "Total",
        "Invoice total",
        "Grand total",
        "Total gross",
    ],
)
def test_a_total_net_loses_to_whatever_names_the_total_after_it(due_label):
    read = _read(_net_then_due("Total net", due_label))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


def test_a_net_word_printed_after_the_amount_marks_it_before_tax_too():
    read = _read(_net_then_due("Total", "Total due", net_amount="£1,250.00 net"))
    assert read.fields["totalAmount"] == 1500.0


def test_an_invoice_whose_only_total_is_before_tax_still_reads_it():
    # A zero-rated invoice printing its total as net, and nothing else: it is the total.
    read = _read([*_HEAD, *_ITEMS, *_totals(("Total net", "£1,250.00"))])
    assert read.fields["totalAmount"] == 1250.0


@pytest.mark.parametrize("label", ["Net amount due", "Net total payable"])
def test_a_net_amount_asked_for_is_the_amount_due(label):
    # "Net" of a deposit taken off, not of tax: the label asks for it.
    read = _read(
        [
            *_HEAD,
            *_ITEMS,
            *_totals(("Total", "£1,500.00"), ("Less deposit", "-£500.00"), (label, "£1,000.00")),
        ]
    )
    assert read.fields["totalAmount"] == 1000.0


def test_payment_terms_on_the_amount_dues_row_say_nothing_of_tax():
    # "Net 30" is a payment term: the total printed on its row is still after tax.
    read = _read(
        [
            *_HEAD,
            *_ITEMS,
            *_totals(("Total net", "£1,250.00"), ("VAT 20%", "£250.00"), ("Total", "£1,500.00")),
            (50, 556, "Terms: Net 30", 10),
        ]
    )
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
