"""An invoice whose pages show grand totals that disagree, which nothing printed explains.

A two-page invoice whose first page says "Total due £1,250.00" and whose second "Total due
£980.00" went straight through with one of them: receipts were sent to review so
(test_extraction_rival_totals), invoices were not. What a long invoice prints
legitimately leaves its total as sure as it was: a running total on each page, the
total before and after tax or a discount, the total in another currency, a remittance
slip repeating it, a payment or a credit taken off it, a credit note quoting the invoice
it credits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.extraction import extract_document
from jobs.extraction.api import pages_lines
from jobs.extraction.ranker import DISAGREEMENT_CAP
from jobs.extraction.totals import rival_totals
from tests.jobs.fixtures_docs import drawn_pages_pdf
from tests.jobs.test_extraction_shown import Unchecked

Row = tuple[float, float, str, int]

_HEAD: list[Row] = [
    (50, 60, "Brightline Consulting", 22),
    (50, 80, "12 Harbour Road", 10),
    (50, 94, "Bristol BS1 4DJ", 10),
    (50, 130, "INVOICE", 16),
    (50, 160, "Invoice No: INV-20417", 10),
    (50, 174, "Invoice Date: 04/03/2026", 10),
    (50, 200, "Bill To:", 10),
    (50, 214, "Globex Corporation", 10),
]


def _items(*rows: tuple[str, str], top: float = 400) -> list[Row]:
    """An item table: "Description | Amount" over ``rows``."""
    drawn: list[Row] = [(50, top, "Description", 10), (480, top, "Amount", 10)]
    for offset, (description, amount) in enumerate(rows, start=1):
        drawn += [(50, top + 16 * offset, description, 10), (480, top + 16 * offset, amount, 10)]
    return drawn


def _totals(*rows: tuple[str, str | None], top: float = 520) -> list[Row]:
    """A totals block: each label with its amount right of it (or alone)."""
    drawn: list[Row] = []
    for offset, (label, amount) in enumerate(rows):
        drawn.append((330, top + 18 * offset, label, 10))
        if amount is not None:
            drawn.append((480, top + 18 * offset, amount, 10))
    return drawn


# The invoice: its items add up to its subtotal, the VAT on it to its total, £1,500.00.
INVOICE = [
    *_HEAD,
    *_items(("Consulting hours", "1,000.00"), ("Travel", "250.00")),
    *_totals(("Subtotal", "£1,250.00"), ("VAT 20%", "£250.00"), ("Total due", "£1,500.00")),
]


def _read(*pages: list[Row]):
    _, read = extract_document(drawn_pages_pdf(*pages), kind="invoice", engine=Unchecked())
    return read


def test_an_invoice_alone_is_read_sure():
    read = _read(INVOICE)
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


@pytest.mark.parametrize(
    ("second", "cue"),
    [
        ([("Total due", "£1,176.00")], "totals-disagree:1176.00@2"),
        # Its currency named as the total's is: no conversion.
        ([("Total due GBP", "1,176.00")], "totals-disagree:1176.00@2"),
        # "incl. VAT" on a total smaller than the invoice's, no total before tax.
        ([("Total incl. VAT", "£980.00")], "totals-disagree:980.00@2"),
        # "net" on a total far under it: more than any tax could add.
        ([("Total net", "£200.00")], "totals-disagree:200.00@2"),
    ],
    ids=["same-label", "same-currency", "both-after-tax", "net-too-small"],
)
def test_an_invoice_whose_other_page_shows_another_total_is_reviewed(second, cue):
    read = _read(INVOICE, _totals(*second, top=300))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert cue in read.cues["totalAmount"]
    amount, page = cue.split(":")[1].split("@")
    said = f"The document also shows a total of {amount} on page {page}, which nothing printed"
    assert said in read.summary


def test_the_briefs_two_page_invoice_is_reviewed():
    # "Total due 1,250.00" on page 1 (its items and subtotal agree), "Total due 980.00" on
    # page 2.
    read = _read(
        [
            *_HEAD,
            *_items(("Consulting hours", "1,000.00"), ("Travel", "250.00")),
            *_totals(("Subtotal", "£1,250.00"), ("Total due", "£1,250.00")),
        ],
        _totals(("Total due", "£980.00"), top=300),
    )
    assert read.fields["totalAmount"] == 1250.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:980.00@2" in read.cues["totalAmount"]


# A long invoice's pages: its items split over two, each page with a running total.
def _two_pages(first_total: tuple[str, str], brought: tuple[str, str] | None = None):
    first = [*_HEAD, *_items(("Consulting hours", "1,000.00")), *_totals(first_total)]
    rows = [brought] if brought else []
    second = [
        *_items(("Travel", "250.00"), top=100),
        *_totals(
            *rows,
            ("Subtotal", "£1,250.00"),
            ("VAT 20%", "£250.00"),
            ("Total due", "£1,500.00"),
            top=200,
        ),
    ]
    return first, second


LEGITIMATE = {
    "running-total": _two_pages(("Running total", "£1,000.00")),
    "total-page-1": _two_pages(("Total page 1", "£1,000.00")),
    "page-total": _two_pages(("Page total", "£1,000.00")),
    "cumulative": _two_pages(("Cumulative total", "£1,000.00")),
    "carried-forward": _two_pages(
        ("Total carried forward", "£1,000.00"), ("Total brought forward", "£1,000.00")
    ),
    "subtotal-per-page": _two_pages(("Subtotal", "£1,000.00")),
    # The total before tax on its own page, with no tax beside it there.
    "total-net": (INVOICE, _totals(("Total net", "£1,250.00"), top=300)),
    "before-tax-after-amount": (INVOICE, _totals(("Total", "£1,250.00 (excl. VAT)"), top=300)),
    "total-ht": (INVOICE, _totals(("Total (HT)", "£1,250.00"), top=300)),
    # Nor anywhere: the invoice's items are priced with their VAT.
    "total-net-tax-unprinted": (
        [
            *_HEAD,
            *_items(("Consulting hours", "1,200.00"), ("Travel", "300.00")),
            *_totals(("Total incl. VAT", "£1,500.00")),
        ],
        _totals(("Total net", "£1,250.00"), top=300),
    ),
    # A discount taken off on a summary page, with the tax on what is left.
    "discount": (
        INVOICE,
        _totals(
            ("Discount 10%", "-£125.00"),
            ("Subtotal", "£1,125.00"),
            ("VAT 20%", "£225.00"),
            ("Total after discount", "£1,350.00"),
            top=300,
        ),
    ),
    # The total in another currency, by symbol, by code, or said converted.
    "other-currency-symbol": (INVOICE, _totals(("Total due in EUR", "€1,755.00"), top=300)),
    "other-currency-code": (
        INVOICE,
        _totals(("Total USD", "1,627.50"), ("Exchange rate 1.085", None), top=300),
    ),
    "converted": (INVOICE, _totals(("Total (equivalent)", "1,755.00"), top=300)),
    # A remittance slip repeating the total.
    "remittance-slip": (
        INVOICE,
        [
            (50, 100, "REMITTANCE ADVICE", 14),
            (50, 130, "Invoice No: INV-20417", 10),
            *_totals(("Amount due", "£1,500.00"), ("Amount enclosed", "________"), top=160),
        ],
    ),
    # A payment, a deposit or a credit note taken off the total.
    "payment-received": (
        INVOICE,
        _totals(("Less payment received", "-£500.00"), ("Balance due", "£1,000.00"), top=300),
    ),
    "deposit-paid": (
        INVOICE,
        _totals(("Deposit paid", "£300.00"), ("Balance due", "£1,200.00"), top=300),
    ),
    "credit-applied": (
        INVOICE,
        _totals(("Credit note CN-12 applied", "-£300.00"), ("Amount due", "£1,200.00"), top=300),
    ),
}


@pytest.mark.parametrize("pages", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_what_a_long_invoice_prints_legitimately_names_no_rival_total(pages):
    # Judged on the lines whatever the total's confidence: find_total already rates some
    # of these under the cap (a running total claims the total about as strongly), where
    # the check is not made.
    document, read = extract_document(drawn_pages_pdf(*pages), kind="invoice", engine=Unchecked())
    total = Decimal(str(read.fields["totalAmount"]))
    assert rival_totals(pages_lines(document.pages), total, invoice=True) == []
    assert not any(c.startswith("totals-disagree") for c in read.cues["totalAmount"])
    assert "also shows a total" not in read.summary


@pytest.mark.parametrize(
    "name",
    [
        "subtotal-per-page",
        "total-ht",
        "total-net-tax-unprinted",
        "other-currency-symbol",
        "other-currency-code",
        "converted",
        "remittance-slip",
        "payment-received",
        "deposit-paid",
        "credit-applied",
    ],
)
def test_an_invoice_sure_of_its_total_stays_sure_beside_what_it_prints_legitimately(name):
    read = _read(*LEGITIMATE[name])
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP


_CREDIT_NOTE_HEAD: list[Row] = [
    (50, 60, "Brightline Consulting", 22),
    (50, 130, "CREDIT NOTE", 16),
    (50, 160, "Credit Note No: CN-12", 10),
    (50, 174, "Date: 04/03/2026", 10),
]


def test_a_credit_note_quoting_the_invoice_it_credits_keeps_its_total_sure():
    read = _read(
        [
            *_CREDIT_NOTE_HEAD,
            *_items(("Returned widgets", "250.00")),
            *_totals(("Subtotal", "£250.00"), ("VAT 20%", "£50.00"), ("Total credit", "£300.00")),
        ],
        _totals(("Original invoice INV-20417 total", "£1,500.00"), top=300),
    )
    assert read.fields["totalAmount"] == 300.0
    assert read.field_confidences["totalAmount"] > DISAGREEMENT_CAP
    assert "also shows a total" not in read.summary


def test_a_negative_credit_note_is_reviewed_as_before_with_no_rival_named():
    credit_note = [
        *_CREDIT_NOTE_HEAD,
        *_items(("Returned widgets", "-250.00")),
        *_totals(("Subtotal", "-£250.00"), ("VAT 20%", "-£50.00"), ("Total credit", "-£300.00")),
    ]
    read = _read(credit_note, _totals(("Total credit", "-£300.00"), top=300))
    assert read.fields["totalAmount"] == -300.0
    assert read.field_confidences["totalAmount"] == 0.0
    assert read.cues["totalAmount"] == ["credit-note"]


@pytest.mark.parametrize("name", ["other-currency-symbol", "other-currency-code"])
def test_a_total_in_another_currency_leaves_the_currency_reviewed(name):
    # Why a rival in another currency may stand: which of the two is the invoice's own is
    # a guess (values.MIXED_CURRENCY_CONFIDENCE), so the currency is reviewed there.
    read = _read(*LEGITIMATE[name])
    assert read.field_confidences["currency"] < 0.8


# An invoice priced in bare dollars: "$" names no currency of its own (US, Australian,
# Canadian... dollars print it).
_DOLLARS = [
    *_HEAD,
    *_items(("Consulting hours", "1,000.00"), ("Travel", "250.00")),
    *_totals(("Subtotal", "$1,250.00"), ("Tax 20%", "$250.00"), ("Total due", "$1,500.00")),
]


@pytest.mark.parametrize(
    "second",
    [
        [("Total due", "A$980.00")],
        [("Total due AUD", "980.00")],
    ],
    ids=["symbol", "code"],
)
def test_a_rival_total_naming_a_currency_is_reviewed_where_the_invoice_names_none(second):
    """A rival in another currency is let stand because the document then names two
    currencies and its currency is reviewed (MIXED_CURRENCY_CONFIDENCE). An invoice whose
    own total names none had its page's currency guessed (a bare "$" as USD, a Malaysian
    street as MYR) and the rival "in another currency" stood, while the document named one
    currency, the rival's: "$1,500.00" beside "Total due A$980.00" went through as AUD
    1,500.00, sure of both."""
    read = _read(_DOLLARS, _totals(*second, top=300))
    assert read.fields["totalAmount"] == 1500.0
    assert read.field_confidences["totalAmount"] <= DISAGREEMENT_CAP
    assert "totals-disagree:980.00@2" in read.cues["totalAmount"]
