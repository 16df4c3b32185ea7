"""An invoice's "Net Total" read by the invoice's own arithmetic, not by the word alone.

"Net total" is before tax on a British invoice ("Net total £1,250.00" / "VAT £250.00" /
"Total £1,500.00", test_extraction_invoice_net_totals) and the amount due on a Malaysian
one, printed after the tax, a deposit or the rounding: "Total 950.00" / "SST 6% 57.00" /
"Net Total 1,007.00" was read as 950.00, and "Total 1,250.00" / "Less deposit 250.00" /
"Net total 1,000.00" as 1,250.00 at 0.95, both straight through. A net total that is
another total plus the tax (or less what is printed between them) is the amount due; one
that plus the tax is another total is before tax; where the arithmetic says neither, the
total is a guess, reviewed."""

from __future__ import annotations

import pytest

from jobs.extraction.ranker import DISAGREEMENT_CAP
from tests.jobs.test_extraction_invoice_rival_totals import (
    _CREDIT_NOTE_HEAD,
    _HEAD,
    _items,
    _read,
    _totals,
)


def _invoice(*totals: tuple[str, str | None], items: tuple[tuple[str, str], ...]):
    return [*_HEAD, *_items(*items), *_totals(*totals)]


_ITEMS_950 = (("Air-cond servicing", "500.00"), ("Gas top-up", "450.00"))
_ITEMS_1250 = (("Consulting hours", "1,000.00"), ("Travel", "250.00"))


@pytest.mark.parametrize("net_label", ["Net Total", "NET TOTAL", "Nett Total", "Total net"])
def test_a_net_total_that_is_the_total_plus_its_tax_is_the_amount_due(net_label):
    read = _read(
        _invoice(
            ("Total", "950.00"), ("SST 6%", "57.00"), (net_label, "1,007.00"), items=_ITEMS_950
        )
    )
    assert read.fields["totalAmount"] == 1007.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
    assert read.fields["taxAmount"] == 57.0


@pytest.mark.parametrize("deposit", ["250.00", "-250.00", "(250.00)"])
def test_a_net_total_less_a_deposit_printed_above_it_is_the_amount_due(deposit):
    read = _read(
        _invoice(
            ("Total", "1,250.00"),
            ("Less deposit", deposit),
            ("Net total", "1,000.00"),
            items=_ITEMS_1250,
        )
    )
    assert read.fields["totalAmount"] == 1000.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


def test_a_net_total_after_a_service_charge_its_tax_and_the_rounding_is_the_amount_due():
    read = _read(
        _invoice(
            ("Total", "950.00"),
            ("Service Charge 10%", "95.00"),
            ("SST 6%", "62.70"),
            ("Rounding", "0.05"),
            ("Net Total", "1,107.75"),
            items=_ITEMS_950,
        )
    )
    assert read.fields["totalAmount"] == 1107.75
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


def test_a_net_total_after_a_discount_is_the_amount_due():
    read = _read(
        _invoice(
            ("Total", "1,250.00"),
            ("Discount", "-50.00"),
            ("Net Total", "1,200.00"),
            items=_ITEMS_1250,
        )
    )
    assert read.fields["totalAmount"] == 1200.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


def test_a_net_total_whose_tax_is_printed_below_it_is_the_amount_due():
    # A tax summary under the totals: 950.00 + 57.00 is the net total, wherever printed.
    read = _read(
        _invoice(
            ("Total", "950.00"),
            ("Net Total", "1,007.00"),
            ("SST Summary", None),
            ("SST 6% on 950.00", "57.00"),
            items=_ITEMS_950,
        )
    )
    assert read.fields["totalAmount"] == 1007.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


@pytest.mark.parametrize("net_label", ["Net total", "Net Total", "Total net"])
def test_a_net_total_that_plus_its_tax_is_the_total_is_before_tax(net_label):
    # The same words as the Malaysian invoice's: only the arithmetic tells them apart.
    read = _read(
        _invoice(
            (net_label, "£1,250.00"),
            ("VAT 20%", "£250.00"),
            ("Total", "£1,500.00"),
            items=_ITEMS_1250,
        )
    )
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
    assert read.fields["taxAmount"] == 250.0


@pytest.mark.parametrize(
    "totals",
    [
        # A net total beside a plain total, nothing printed between them: net of tax
        # (British), or the other way round with a discount left out (Malaysian)?
        (("Total net", "1,250.00"), ("Total", "1,500.00")),
        (("Net Total", "1,250.00"), ("Total", "1,500.00")),
        (("Total", "1,250.00"), ("Net Total", "1,200.00")),
        (("Total", "1,250.00"), ("Net Total", "1,300.00")),
    ],
)
def test_a_net_total_no_arithmetic_explains_beside_another_total_is_reviewed(totals):
    read = _read(_invoice(*totals, items=_ITEMS_1250))
    assert read.fields["totalAmount"] in {float(a.replace(",", "")) for _, a in totals}
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP


@pytest.mark.parametrize("due_label", ["Total due", "Amount payable", "Total incl. VAT"])
def test_a_net_total_beside_a_total_whose_words_say_it_is_due_is_no_guess(due_label):
    # No tax printed, but the other total says it is the amount due, or includes the tax.
    read = _read(_invoice(("Total net", "1,250.00"), (due_label, "1,500.00"), items=_ITEMS_1250))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


def test_a_credit_notes_net_total_before_its_tax_is_no_amount_paid_back():
    # A "Net total" is a total on an invoice now; a credit note's, before its tax, is
    # still no amount credited.
    read = _read(
        [
            *_CREDIT_NOTE_HEAD,
            *_items(("Returned widgets", "-1,250.00")),
            *_totals(("Net total", "-£1,250.00"), ("VAT 20%", "-£250.00"), ("Total", "-£1,500.00")),
        ]
    )
    assert read.fields["totalAmount"] == -1500.0
