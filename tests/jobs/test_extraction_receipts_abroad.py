"""Receipts printed by conventions SROIE has none of (a second probe off SROIE): Indian
lakh grouping, a tip added on the card slip, a German or Swiss "Zu zahlen" after the cash
rounding, a date printed year first with a two-digit year."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.extraction.layout import Line, Word
from jobs.extraction.totals import amount_with_tip, classify
from jobs.extraction.values import parse_amounts


def _line(text: str, y: float, x0: float = 0.1, x1: float = 0.6) -> Line:
    return Line(page=0, words=[Word(text, (x0, y, x1, y + 0.02), 0.98)])


def _row(label: str, amount: str, y: float) -> Line:
    return Line(
        page=0,
        words=[
            Word(label, (0.1, y, 0.6, y + 0.02), 0.98),
            Word(amount, (0.7, y, 0.85, y + 0.02), 0.98),
        ],
    )


def _read(lines: list[Line]):
    from jobs.extraction.ranker import load_model
    from jobs.extraction.receipt import choose_fields, read_receipt

    rules, options = read_receipt(lines, "\n".join(line.text for line in lines))
    return choose_fields(rules, options, lines, load_model())


def test_an_amount_grouped_in_lakhs_is_read_whole():
    """India groups by two digits above the thousands ("1,06,498.00"): it was read as
    1.06, the total of a television bill at 0.899."""

    def read(text: str) -> list[str]:
        return [str(a.value) for a in parse_amounts(text)]

    assert read("Net Payable Rs. 1,06,498.00") == ["106498.00"]
    assert read("LED TV 55in 4K 1,04,999.00") == ["104999.00"]
    assert read("TOTAL 12,34,56,789.50") == ["123456789.50"]
    # A comma decimal is still read as one, and a list of amounts as a list.
    assert read("TOTAL 1,06") == ["1.06"]
    assert read("1.234,56 EUR") == ["1234.56"]
    assert read("RM 12.50 13.00") == ["12.50", "13.00"]
    lines = [
        _line("SHREE BALAJI ELECTRONICS", 0.05, 0.2, 0.8),
        _line("Dt: 18/10/2026 17:05", 0.15),
        _row("LED TV 55in 4K", "1,04,999.00", 0.3),
        _row("Wall Mount Kit", "1,499.00", 0.35),
        _row("CGST 9%", "8,122.80", 0.45),
        _row("SGST 9%", "8,122.81", 0.5),
        _row("Net Payable", "Rs. 1,06,498.00", 0.55),
        _row("Card HDFC ****1234", "1,06,498.00", 0.6),
    ]
    total = _read(lines)["totalAmount"]
    assert total.value == Decimal("106498.00"), total


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Net Payable Rs.1,06,498.00", ["106498.00"]),
        ("Total Rs.499.00", ["499.00"]),
        ("TOTAL RS.1,250.00", ["1250.00"]),
        ("Rs.1,06,498.00 only", ["106498.00"]),
    ],
)
def test_an_amount_printed_right_after_rupees_is_read(text: str, amounts: list[str]):
    """ "Rs.1,06,498.00", the point and no space after it as Indian bills print it, was no
    amount at all: a number after a point was taken for a decimal's tail."""
    assert [str(a.value) for a in parse_amounts(text)] == amounts


def test_a_word_ending_in_rs_before_an_amount_keeps_its_letters():
    # "HOURS 12.00" is no "HOU" and a rupee amount: the label keeps its last letters.
    assert [(a.value, a.start) for a in parse_amounts("HOURS 12.00")] == [(Decimal("12.00"), 6)]
    assert [(a.value, a.start) for a in parse_amounts("TOTAL HRS.12.00")] == []


@pytest.mark.parametrize("label", ["Zu zahlen CHF", "ZU ZAHLEN", "Te betalen"])
def test_the_amount_to_pay_in_another_language_is_a_total_on_a_receipt_too(label: str):
    assert classify(label) == ("total", 3.0)


def test_the_amount_to_pay_after_the_cash_rounding_is_the_total():
    """A Swiss till: "Total CHF 11.52", "Rundung -0.02", "Zu zahlen CHF 11.50". Only
    invoices read "Zu zahlen" as a total, so 11.52 went straight through at 0.899."""
    lines = [
        _line("MIGROS ZURICH HB", 0.03, 0.3, 0.7),
        _line("12.11.2026 17:45", 0.1),
        _row("Birchermuesli", "4.95", 0.2),
        _row("Gipfeli 4x", "3.60", 0.24),
        _row("Rivella 1.5l", "2.97", 0.28),
        _row("Total CHF", "11.52", 0.35),
        _row("Rundung", "-0.02", 0.39),
        _row("Zu zahlen CHF", "11.50", 0.43),
        _row("Bar", "20.00", 0.47),
        _row("Rückgeld", "8.50", 0.51),
    ]
    total = _read(lines)["totalAmount"]
    assert total.value == Decimal("11.50"), total


def _tipped(*tail: tuple[str, str]) -> list[Line]:
    rows = [
        ("Burrata", "$16.00"),
        ("Cacio e Pepe", "$24.00"),
        ("Branzino", "$34.00"),
        ("Subtotal", "$74.00"),
        ("Tax", "$6.57"),
        ("Total", "$80.57"),
        *tail,
    ]
    return [
        _line("OSTERIA NOVA", 0.03, 0.3, 0.7),
        _line("11/07/2026 8:12 PM", 0.1),
        *(_row(label, amount, 0.2 + 0.04 * i) for i, (label, amount) in enumerate(rows)),
    ]


@pytest.mark.parametrize("tip_label", ["Tip", "Gratuity", "Pourboire", "Fooi", "Trinkgeld"])
def test_a_tip_added_below_the_total_is_part_of_the_amount_paid(tip_label: str):
    """The bill's total, then a card slip adding a tip ("Amount 80.57", "Tip 16.00",
    "Amount Paid 96.57"): the bill's 80.57 went straight through at 0.94 though 96.57 was
    paid. The amount with the tip is read, for a reviewer: the field model never saw a
    tip added after the total."""
    lines = _tipped(("Amount", "$80.57"), (tip_label, "$16.00"), ("Amount Paid", "$96.57"))
    total = _read(lines)["totalAmount"]
    assert total.value == Decimal("96.57"), total
    assert total.confidence < 0.8, total


def test_a_tip_added_on_each_copy_of_the_card_slip_is_part_of_the_amount_paid():
    """The customer's and the merchant's copy of the slip, one under the other: the second
    copy's "Amount 80.57", below the first tip, made the tip look included in the total,
    and the bill's 80.57 went straight through at 0.94."""
    slip = [("Amount", "$80.57"), ("Tip", "$16.00"), ("Amount Paid", "$96.57")]
    total = _read(_tipped(*slip, ("MERCHANT COPY", "-"), *slip))["totalAmount"]
    assert total.value == Decimal("96.57"), total
    assert total.confidence < 0.8, total


def test_a_tip_left_out_of_what_the_card_paid_leaves_the_total_alone():
    # A tip given in cash: the card paid the bill's total, printed again below the tip.
    lines = _tipped(("Tip (cash)", "$16.00"), ("Visa", "$80.57"), ("Total", "$96.57"))
    assert amount_with_tip(lines, Decimal("80.57")) is None


def test_a_tip_that_no_amount_below_adds_up_leaves_the_total_alone():
    # Suggested tips, or a tip line left blank: nothing printed includes them.
    lines = _tipped(("Suggested tip 18%", "$14.50"), ("Tip", "$0.00"), ("Visa", "$80.57"))
    total = _read(lines)["totalAmount"]
    assert total.value == Decimal("80.57"), total
    assert total.confidence >= 0.8, total


def _date(stamp: str, total: str):
    lines = [
        _line("LOTTE MART", 0.03, 0.3, 0.7),
        _line(stamp, 0.1),
        _row("Kimchi 1kg", "9.80", 0.2),
        _row("TOTAL", total, 0.3),
    ]
    return _read(lines)["date"]


@pytest.mark.parametrize(
    ("stamp", "total"),
    [
        ("26-11-12 18:30 POS 12", "14.30"),  # no currency: 26 Nov 2012 or 12 Nov 2026
        ("26/12/05 13:05 REG 02", "¥1,100.00"),  # yen: year first is how Japan prints
    ],
)
def test_a_two_digit_year_that_could_be_printed_first_goes_to_a_reviewer(stamp: str, total: str):
    """ "26-11-12" was read as 26 Nov 2012 at 0.97: Korean and Japanese tills print the
    year first. Unless the receipt tells its order, such a date is a guess when the year
    first reading is the nearer today."""
    date = _date(stamp, total)
    assert date is not None and date.confidence < 0.8, date


@pytest.mark.parametrize(
    ("stamp", "total", "expected"),
    [
        ("15/01/18 18:30", "RM 14.30", "2018-01-15"),  # ringgit: day first
        ("26-11-12 18:30", "14.30 EUR", "2012-11-26"),  # euro: day first
        ("Date: 26/11/2012 18:30", "14.30", "2012-11-26"),  # a four-digit year
        ("Date: 31/12/18 18:30", "14.30", "2018-12-31"),  # 2031 is too far ahead
        ("25-11-26 13:42", "551.00", "2026-11-25"),  # 26 Nov 2025 is the older reading
    ],
)
def test_a_two_digit_year_read_one_way_only_keeps_its_confidence(
    stamp: str, total: str, expected: str
):
    date = _date(stamp, total)
    assert date is not None and date.value == expected and date.confidence >= 0.8, date
