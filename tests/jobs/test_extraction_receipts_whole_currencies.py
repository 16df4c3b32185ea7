"""Receipts in currencies printed without decimals (rupiah, dong, won, yen): "Rp 125.000",
"Tổng cộng: 1.250.000 đ", "합계 ₩12,500", "合計 ¥1,280". Amounts were read only with two
decimals, so such a receipt went to review with no total at all. SROIE has none of them;
its Malaysian receipts print quantities, item codes and points without decimals, which
must stay no amount."""

from __future__ import annotations

from decimal import Decimal

import pytest

from jobs.extraction.layout import Line
from jobs.extraction.values import parse_amounts
from tests.jobs.test_extraction_receipts_abroad import _line, _row


def _receipt(name: str, stamp: str, *rows: tuple[str, str]) -> list[Line]:
    return [
        _line(name, 0.03, 0.3, 0.7),
        _line(stamp, 0.1),
        *(_row(label, amount, 0.2 + 0.04 * i) for i, (label, amount) in enumerate(rows)),
    ]


def _read(lines: list[Line]):
    from jobs.extraction.ranker import load_model
    from jobs.extraction.receipt import choose_fields, read_receipt

    rules, options = read_receipt(lines, "\n".join(line.text for line in lines))
    return choose_fields(rules, options, lines, load_model())


def _values(text: str, separators: str | None) -> list[str]:
    from jobs.extraction.values import whole_amounts

    with whole_amounts(separators):
        return [str(match.value) for match in parse_amounts(text)]


@pytest.mark.parametrize(
    ("text", "separators", "expected"),
    [
        ("Rp 125.000", ".,", ["125000"]),
        ("TOTAL 125,000", ".,", ["125000"]),
        ("Tổng cộng: 1.250.000 đ", ".,", ["1250000"]),
        ("VND 45,000", ".,", ["45000"]),
        ("합계 ₩12,500", ",", ["12500"]),
        ("12,500원", ",", ["12500"]),
        ("合計 ¥1,280", ",", ["1280"]),
        ("1,280円", ",", ["1280"]),
        ("小計 ¥980", ",", ["980"]),  # under a thousand: the yen sign makes it an amount
        ("値引 -¥200", ",", ["-200"]),
        ("Indomie 2 x 3.500 7.000", ".,", ["3500", "7000"]),
    ],
)
def test_a_whole_amount_is_read_in_a_currency_printed_without_decimals(
    text: str, separators: str, expected: list[str]
):
    assert _values(text, separators) == expected


@pytest.mark.parametrize(
    ("text", "separators"),
    [
        ("TOTAL 125,000", None),  # no such currency named: as before, no amount
        ("合計 1.280", ","),  # a yen's thousands are grouped by commas: 1.280 is a weight
        ("Qty 2 Item 9555012345678", ".,"),  # a count and a code, no thousands grouped
        ("Tel 0812.345.678", ".,"),  # a phone number's groups
        ("1,2345", ".,"),
        ("Date 12.11.2026", ".,"),
    ],
)
def test_a_number_no_such_currency_groups_stays_no_amount(text: str, separators: str | None):
    assert _values(text, separators) == []


@pytest.mark.parametrize(
    ("lines", "expected", "currency"),
    [
        (
            _receipt(
                "INDOMARET CIPUTAT",
                "12.11.2026 18:30",
                ("Indomie Goreng", "7.000"),
                ("Aqua 600ml", "4.000"),
                ("TOTAL", "Rp 125.000"),
                ("TUNAI", "Rp 150.000"),
                ("KEMBALI", "Rp 25.000"),
            ),
            "125000",
            "IDR",
        ),
        (
            _receipt(
                "ALFAMART KEMANG",
                "12/11/2026 18:30",
                ("Teh Botol", "Rp 5,000"),
                ("TOTAL", "125,000"),
                ("TUNAI", "200,000"),
            ),
            "125000",
            "IDR",
        ),
        (
            _receipt(
                "CO.OP MART QUAN 3",
                "12/11/2026 18:30",
                ("Sữa tươi", "45.000"),
                ("Tổng cộng:", "1.250.000 đ"),
                ("Tiền khách đưa", "1.300.000 đ"),
                ("Tiền thừa", "50.000 đ"),
            ),
            "1250000",
            "VND",
        ),
        (
            _receipt(
                "HIGHLANDS COFFEE",
                "12/11/2026 18:30",
                ("Phin Sua Da", "29,000"),
                ("TOTAL", "VND 45,000"),
            ),
            "45000",
            "VND",
        ),
        (
            _receipt(
                "스타벅스 강남점",
                "2026-11-12 18:30",
                ("부가세", "₩1,136"),
                ("합계", "₩12,500"),
                ("카드", "₩12,500"),
            ),
            "12500",
            "KRW",
        ),
        (
            _receipt(
                "GS25 역삼점",
                "2026-11-12 18:30",
                ("합계", "12,500원"),
                ("받은금액", "20,000원"),
                ("거스름돈", "7,500원"),
            ),
            "12500",
            "KRW",
        ),
        (
            _receipt(
                "ローソン 渋谷店",
                "2026年11月12日 18:30",
                ("(内消費税", "¥116)"),
                ("合計", "¥1,280"),
                ("お預り", "¥2,000"),
                ("お釣り", "¥720"),
            ),
            "1280",
            "JPY",
        ),
        (
            _receipt(
                "ファミリーマート",
                "2026/11/12 18:30",
                ("合計", "1,280円"),
                ("お預り", "1,500円"),
                ("お釣", "220円"),
            ),
            "1280",
            "JPY",
        ),
    ],
)
def test_the_total_of_a_receipt_in_a_currency_without_decimals_is_read_for_a_reviewer(
    lines: list[Line], expected: str, currency: str
):
    """The total was empty. It is read now, under the review threshold: the field model
    never saw such a receipt, and nothing here adds up to the total."""
    fields = _read(lines)
    total = fields.get("totalAmount")
    assert total is not None and total.value == Decimal(expected), total
    assert total.confidence < 0.8, total
    assert fields["currency"].value == currency


def test_a_whole_total_the_items_add_up_to_keeps_the_models_confidence():
    """The arithmetic proves it: the items printed above add up to the total."""
    lines = _receipt(
        "스타벅스 강남점",
        "2026-11-12 18:30",
        ("아메리카노", "₩4,500"),
        ("카페라떼", "₩5,000"),
        ("치즈케이크", "₩3,000"),
        ("합계", "₩12,500"),
    )
    total = _read(lines)["totalAmount"]
    assert total.value == Decimal("12500"), total
    assert total.confidence >= 0.8, total


def test_no_whole_number_becomes_the_total_of_a_ringgit_receipt():
    """A Malaysian receipt prints its quantities, item codes and points without decimals
    ("QTY 3", "9555012345678", "POINTS 1,000"): none is an amount."""
    lines = _receipt(
        "KEDAI RUNCIT MAJU SDN BHD",
        "12/11/2026 18:30",
        ("9555012345678 MILO 1KG", "RM 12.50"),
        ("TOTAL QTY", "3"),
        ("POINTS EARNED", "1,000"),
        ("TOTAL", "RM 12.50"),
        ("CASH", "RM 20.00"),
        ("CHANGE", "RM 7.50"),
    )
    total = _read(lines)["totalAmount"]
    assert total.value == Decimal("12.50"), total


@pytest.mark.parametrize(
    "rows",
    [
        # Rupiah named, but an amount with decimals: the receipt prints cents, so its
        # whole numbers are counts or codes.
        (("Gula 1kg", "Rp 14.500,00"), ("MEMBER", "125.000"), ("TOTAL", "Rp 14.500,00")),
        # Two currencies named: which one the receipt is in is a guess.
        (("Nasi Goreng", "Rp 45.000"), ("TOTAL", "RM 125.000"), ("KURS", "1 RM = 3.750 IDR")),
        # No currency named at all.
        (("ITEM", "2"), ("TOTAL", "125.000")),
    ],
)
def test_whole_numbers_are_no_amounts_unless_the_receipt_is_in_such_a_currency(rows):
    lines = _receipt("TOKO MAJU", "12/11/2026 18:30", *rows)
    total = _read(lines).get("totalAmount")
    whole = {Decimal("125000"), Decimal("45000"), Decimal("3750"), Decimal("2")}
    assert total is None or total.value not in whole, total


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            _receipt(
                "TOKO SAYUR SEGAR",
                "12.11.2026 18:30",
                ("Beras 1.25 kg", "Rp 15.000"),
                ("Bawang 0,50kg", "Rp 10.000"),
                ("TOTAL", "Rp 25.000"),
                ("TUNAI", "Rp 50.000"),
            ),
            "25000",
        ),
        (
            _receipt(
                "スーパー 渋谷店",
                "2026/11/12 18:30",
                ("牛肉 0.35kg", "¥3,000"),
                ("合計", "¥3,000"),
                ("お預り", "¥5,000"),
            ),
            "3000",
        ),
    ],
)
def test_a_weight_printed_with_decimals_leaves_a_whole_receipts_total_read(
    lines: list[Line], expected: str
):
    """A grocer's receipt prints its weights with decimals ("1.25 kg"): taken for an
    amount with cents, they had the receipt read as one in cents, so its whole amounts
    were no amounts, and the weight, the only amount left, was read as its total."""
    total = _read(lines).get("totalAmount")
    assert total is not None and total.value == Decimal(expected), total
