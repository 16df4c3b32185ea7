"""The generic reading the field model ranks: lost separators, labels beside their
amount, registration numbers after a name, totals that sum the column above them."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest

from jobs.extraction.fields import label_and_amount
from jobs.extraction.header import _is_address_stop, clean_name
from jobs.extraction.layout import Line, Word
from jobs.extraction.options import COLUMN_SUM_MAX_TERMS, total_options
from jobs.extraction.totals import amount_paid_back, classify, find_total
from jobs.extraction.values import parse_amounts, parse_dates


def test_a_date_whose_separator_ocr_lost_is_read_as_a_guessed_boundary():
    (late,) = parse_dates("EDDIE #01-01 10/072017 18:02")
    (early,) = parse_dates("CS00010612 Date:0803/2018")
    assert (late.value, late.kind) == (dt.date(2017, 7, 10), "glued")
    assert (early.value, early.kind) == (dt.date(2018, 3, 8), "glued")


def test_a_line_of_many_dates_reads_each_once():
    line = " ".join(f"{1 + j % 28:02d}/{1 + j % 12:02d}/2017" for j in range(150))
    found = parse_dates(line)
    assert len(found) == 150
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))


def test_a_line_of_more_dates_than_any_receipt_prints_offers_none():
    from jobs.extraction.fields import MAX_DATES_ON_A_LINE, find_dates

    table = " ".join(f"{1 + j:02d}/03/2017" for j in range(MAX_DATES_ON_A_LINE + 1))
    lines = [_line(("Date: 10/03/2018 11:02", 0.1, 0.5), y=0.1), _line((table, 0.1, 0.9), y=0.5)]
    found = find_dates(lines, day_first=True)
    assert [match.value for match, _, _ in found] == [dt.date(2018, 3, 10)]


def test_digits_that_are_no_date_stay_unread():
    assert parse_dates("INV 2018/1234") == []
    assert parse_dates("NO 12/3456 2018") == []


def _line(*cells: tuple[str, float, float], y: float = 0.5) -> Line:
    return Line(page=0, words=[Word(t, (x0, y, x1, y + 0.02), 0.98) for t, x0, x1 in cells])


def test_a_label_between_two_amounts_labels_the_one_beside_it():
    line = _line(("80.90", 0.2, 0.3), ("Change:", 0.5, 0.65), ("19.10", 0.7, 0.82))
    label, ref = label_and_amount([line], 0)
    assert ref is not None and ref.value == Decimal("19.10")
    assert classify(label)[0] == "change"


def test_a_label_word_misread_by_one_letter_is_read_as_the_word():
    assert classify("Canh Paid")[0] == "tender"
    assert classify("Chango")[0] == "change"
    assert classify("Totai Incl.of G S T") == ("total", 3.0)
    assert classify("Rcunding Adj")[0] == "rounding"
    assert classify("IOTAL(INCL GSI)") == ("total", 3.0)  # a T read as I, as thermal print does


def test_a_total_inclusive_of_tax_with_its_i_read_as_l_is_no_tax_line():
    assert classify("Total Salos(lnclusivofGST):") == ("total", 2.5)
    assert classify("Total Sales (lnclusive of GST)") == ("total", 3.0)
    assert classify("Total GST")[0] == "tax"


def test_words_one_letter_from_a_label_word_keep_their_meaning():
    assert classify("Service Charge")[0] == "other"  # not CHANGE
    assert classify("GLOVES (1PAIR)")[0] == "other"  # not PAID
    assert classify("CAR WASH")[0] == "other"  # first letter differs from CASH


def test_a_registration_number_or_branch_code_after_the_name_is_dropped():
    assert clean_name("URBAN IDEA SDN BHD (417940-M),") == "URBAN IDEA SDN BHD"
    assert clean_name("KING'S CONFECTIONERY S/B 273500-U (GK3)") == "KING'S CONFECTIONERY S/B"
    assert clean_name("99 SPEED MART S/B (S") == "99 SPEED MART S/B"
    assert clean_name("99 SPEED MART 5/B(S") == "99 SPEED MART S/B"  # S read as 5
    assert clean_name("99 SPEED MART S/8 (S") == "99 SPEED MART S/B"  # B read as 8
    assert clean_name("BRASS PIPE 5/8") == "BRASS PIPE 5/8"  # both: a size, not S/B
    assert clean_name("ABC SDN. BHD. PJ BRANCH") == "ABC SDN. BHD. PJ BRANCH"  # no number


def _row(label: str, amount: str, y: float) -> Line:
    return _line((label, 0.1, 0.6), (amount, 0.7, 0.82), y=y)


def test_cents_printed_without_the_leading_zero_are_amounts():
    def read(text: str) -> list[tuple[str, str]]:
        return [(str(a.value), text[a.start : a.end]) for a in parse_amounts(text)]

    assert read("Rounding Adjustment RM -.01") == [("-0.01", "RM -.01")]
    assert read("CHANGE RK .00") == [("0.00", ".00")]
    assert read("PRICE 1.50 .90") == [("1.50", "1.50"), ("0.90", ".90")]
    assert read("No.12 Jalan SS2/24") == []  # a point after a letter starts no amount


def test_the_rounded_total_wins_when_the_adjustment_is_printed_without_a_zero():
    lines = [
        _row("Total Sales (Inclusive GST) RM", "2.11", 0.5),
        _row("Rounding Adjustment RM", "-.01", 0.55),
        _row("Rounding RM", "2.10", 0.6),
        _row("CASH RM", "2.20", 0.65),
        _row("CHANGE RM", ".10", 0.7),
    ]
    total = find_total(lines)
    assert total is not None and total.value == Decimal("2.10")


def test_the_amount_payable_sums_the_per_rate_totals_above_it_and_is_the_last_total():
    lines = [
        _row("Total 6% supplies (Inc. GST):", "16.29", 0.60),
        _row("Total 0% supplies:", "25.96", 0.65),
        _row("Total Payable:", "42.25", 0.70),
    ]
    options = {o.value: o.features for o in total_options(lines, None, None)}
    payable = options[Decimal("42.25")]
    assert payable["column_sum"] == 1.0 and payable["last_total_line"] == 1.0
    assert Decimal("25.96") not in options  # a part of the payable below it


def test_an_amount_in_another_column_is_not_part_of_the_sum():
    lines = [
        _row("Total A:", "16.29", 0.60),
        _line(("Total B:", 0.1, 0.3), ("25.96", 0.35, 0.45), y=0.65),  # not right-aligned
        _row("Total Payable:", "42.25", 0.70),
    ]
    options = {o.value: o.features for o in total_options(lines, None, None)}
    assert options[Decimal("42.25")]["column_sum"] == 0.0


def test_amounts_either_side_of_a_column_bins_edge_still_sum_to_the_total():
    # Right edges 0.599 and 0.628: within COLUMN_TOLERANCE of 0.61, in different bins.
    lines = [
        _line(("Item A", 0.1, 0.3), ("16.29", 0.5, 0.599), y=0.60),
        _line(("Item B", 0.1, 0.3), ("25.96", 0.5, 0.628), y=0.65),
        _line(("Total:", 0.1, 0.3), ("42.25", 0.5, 0.61), y=0.70),
    ]
    options = {o.value: o.features for o in total_options(lines, None, None)}
    assert options[Decimal("42.25")]["column_sum"] == 1.0


@pytest.mark.parametrize(
    "terms, found", [(COLUMN_SUM_MAX_TERMS, 1.0), (COLUMN_SUM_MAX_TERMS + 1, 0.0)]
)
def test_a_column_sum_has_at_most_its_cap_of_terms(terms: int, found: float):
    # Thousands of amounts in one column (20 dense pages) made every total's check scan
    # them all; no receipt sums more than the cap.
    lines = [_row(f"Item {i}", "1.00", 0.1 + i * 0.0001) for i in range(terms)]
    lines.append(_row("TOTAL", f"{terms}.00", 0.9))
    options = {o.value: o.features for o in total_options(lines, None, None)}
    assert options[Decimal(terms)]["column_sum"] == found


def test_a_neighbouring_column_in_the_same_bin_takes_no_place_in_the_sum():
    # Prices end at 0.575 and amounts at 0.599: one bin, but only the amounts are within
    # COLUMN_TOLERANCE of the total's right edge (0.61).
    lines = [
        _line(("Item", 0.1, 0.3), ("9.99", 0.5, 0.575), ("1.00", 0.58, 0.599), y=0.1 + i * 0.005)
        for i in range(150)
    ]
    lines.append(_line(("TOTAL", 0.1, 0.3), ("150.00", 0.5, 0.61), y=0.9))
    options = {o.value: o.features for o in total_options(lines, None, None)}
    assert options[Decimal("150.00")]["column_sum"] == 1.0


def test_a_misread_gst_id_line_ends_the_address_but_a_unit_number_does_not():
    assert _is_address_stop("(GS11D No :000306020352)")
    assert _is_address_stop("(G3T ID No1000306020352)")
    assert not _is_address_stop("G31 & G32, GRD FLR")


def _delivery_note(payable: str) -> list[Line]:
    return [
        _row("Total 6% supplies (Inc. GST):", "9.92", 0.60),
        _row("Total 0% supplies:", "-16.34", 0.65),
        _row("Total Payable:", payable, 0.70),
    ]


def test_a_credit_notes_negative_total_is_read_and_always_goes_to_a_reviewer():
    from jobs.extraction.ranker import load_model
    from jobs.extraction.receipt import choose_fields, read_receipt

    model = load_model()
    for payable, reviewed in (("-6.42", True), ("26.26", False)):
        lines = _delivery_note(payable)
        rules, options = read_receipt(lines, "\n".join(line.text for line in lines))
        total = choose_fields(rules, options, lines, model)["totalAmount"]
        assert total.value == Decimal(payable)
        assert (total.confidence == 0.0) is reviewed, (payable, total)


def _read_total(lines: list[Line]):
    from jobs.extraction.ranker import load_model
    from jobs.extraction.receipt import choose_fields, read_receipt

    rules, options = read_receipt(lines, "\n".join(line.text for line in lines))
    return choose_fields(rules, options, lines, load_model())


@pytest.mark.parametrize("label", ["Total Voucher", "Total Returned", "TOTAL DlSCOUNT"])
def test_a_negative_total_line_below_a_sales_total_is_no_credit_note(label: str):
    lines = [
        _row("Item A", "10.00", 0.40),
        _row("Item B", "18.50", 0.45),
        _row("TOTAL", "28.50", 0.55),
        _row(label, "-5.00", 0.60),
        _row("Cash", "30.00", 0.65),
        _row("Change", "1.50", 0.70),
    ]
    assert _read_total(lines)["totalAmount"].value == Decimal("28.50")


def test_an_amount_payable_is_no_credit_note_when_cash_was_tendered():
    lines = [
        _row("TOTAL", "28.50", 0.55),
        _row("Total Amount Saved", "-5.00", 0.60),
        _row("Cash", "30.00", 0.65),
    ]
    assert _read_total(lines)["totalAmount"].value == Decimal("28.50")


def test_a_negative_part_printed_below_the_amount_payable_is_no_credit_note():
    lines = [
        _row("Total 6% supplies (Inc. GST):", "42.60", 0.60),
        _row("Total Payable:", "26.26", 0.65),
        _row("Total 0% supplies:", "-16.34", 0.70),
    ]
    assert amount_paid_back(lines) is None
    assert _read_total(lines)["totalAmount"].value > 0


def test_an_amount_with_a_trailing_minus_is_negative():
    def read(text: str) -> list[tuple[str, str]]:
        return [(str(a.value), text[a.start : a.end]) for a in parse_amounts(text)]

    assert read("Rounding Adj 0.01-") == [("-0.01", "0.01-")]
    assert read("DISC 14.00-(30%)") == [("-14.00", "14.00-")]
    assert read("Happy hour 12.50-13.00") == [("12.50", "12.50"), ("13.00", "13.00")]
    lines = [_row("Total Payable:", "6.42-", 0.70)]
    assert _read_total(lines)["totalAmount"].value == Decimal("-6.42")


def test_a_credit_notes_tax_is_read_negative_like_its_total():
    lines = [
        _row("Total 6% supplies (excl. GST):", "-6.06", 0.55),
        _row("GST:", "-0.36", 0.60),
        _row("Total Payable:", "-6.42", 0.70),
    ]
    fields = _read_total(lines)
    assert fields["totalAmount"].value == Decimal("-6.42")
    assert fields["taxAmount"].value == Decimal("-0.36")


def _cell(text: str, x0: float, x1: float, top: float, bottom: float) -> Line:
    return Line(page=0, words=[Word(text, (x0, top, x1, bottom), 0.98)])


def test_a_label_split_from_its_larger_amount_labels_the_amount_on_its_row():
    # The amounts are printed twice as high, so OCR split each row in two lines, the
    # amount first: 78.50 / NET TOTAL / 100.00 / CASH.
    lines = [
        _cell("78.50", 0.78, 0.92, 0.765, 0.793),
        _cell("NET TOTAL", 0.17, 0.39, 0.781, 0.796),
        _cell("100.00", 0.76, 0.92, 0.797, 0.824),
        _cell("CASH", 0.17, 0.28, 0.812, 0.828),
    ]
    _, net = label_and_amount(lines, 1)
    _, cash = label_and_amount(lines, 3)
    assert (net.value, cash.value) == (Decimal("78.50"), Decimal("100.00"))
    total = find_total(lines)
    assert total is not None and total.value == Decimal("78.50")


def test_a_label_above_its_amount_still_labels_the_amount_below():
    lines = [_cell("TOTAL", 0.1, 0.3, 0.70, 0.72), _cell("12.50", 0.7, 0.9, 0.73, 0.75)]
    _, ref = label_and_amount(lines, 0)
    assert ref is not None and ref.value == Decimal("12.50")


def test_a_per_rate_total_larger_than_the_amount_payable_is_no_option_when_it_sums_into_it():
    # An adjustment note: the 0% goods delivered, the 6% goods taken back, the payable
    # their sum. The largest total is a part of the one below it.
    lines = [
        _row("Total 0% supplies:", "42.37", 0.55),
        _row("Total 6% supplies (Inc. GST):", "-3.82", 0.60),
        _row("Total 0% supplies:", "42.37", 0.65),
        _row("Total Payable:", "38.55", 0.70),
    ]
    values = {o.value for o in total_options(lines, None, None)}
    assert Decimal("38.55") in values and Decimal("42.37") not in values
    total = find_total(lines)
    assert total is not None and total.value == Decimal("38.55")
    assert "totals-sum" in total.cues


def test_totals_that_do_not_add_up_stay_options():
    lines = [
        _row("Total 0% supplies:", "42.37", 0.55),
        _row("Total 6% supplies (Inc. GST):", "-3.82", 0.60),
        _row("Total Payable:", "38.50", 0.70),  # not their sum
    ]
    values = {o.value for o in total_options(lines, None, None)}
    assert {Decimal("42.37"), Decimal("38.50")} <= values


def test_amount_to_be_paid_is_a_total_not_a_payment():
    assert classify("Amount To Be Paid:") == ("total", 3.0)
    assert classify("Cash Paid")[0] == "tender"


def test_a_total_that_lost_its_decimal_point_is_read_when_the_amount_is_printed_elsewhere():
    lines = [
        _row("Subtotal RM", "73.00", 0.55),
        _line(("TOTAL RM 7740", 0.1, 0.9), y=0.70),
        _row("Cash", "77.40", 0.75),
    ]
    total = find_total(lines)
    assert total is not None and total.value == Decimal("77.40")
    assert any(cue.startswith("label:TOTAL") for cue in total.cues)


def test_a_number_after_a_total_label_is_no_amount_when_nothing_corroborates_it():
    lines = [
        _row("Subtotal RM", "73.00", 0.55),
        _line(("TOTAL QTY 1200", 0.1, 0.9), y=0.65),  # a quantity, not a total
        _line(("TOTAL RM 7740", 0.1, 0.9), y=0.70),
        _row("Cash", "80.00", 0.75),
    ]
    values = {o.value for o in total_options(lines, None, None)}
    assert Decimal("77.40") not in values and Decimal("12.00") not in values


def test_a_short_street_word_must_end_where_the_word_ends():
    from jobs.extraction.header import ADDRESS_WORD, _is_address

    # "ST" opens STATIONERY and "UNIT" UNITED: a name's second line is no address.
    assert not _is_address("STATIONERY SDN.BHD")
    assert not ADDRESS_WORD.search("UNITED LOTUS KGS")
    assert _is_address("LOT 3, JALAN PELABUR 23/1")
    assert ADDRESS_WORD.search("12 ST. MARY RD") and ADDRESS_WORD.search("NO8,JALANLANGKUNING")


def _read_date(*rows: tuple[str, float]):
    from jobs.extraction.ranker import load_model
    from jobs.extraction.receipt import choose_fields, read_receipt

    lines = [_line((text, 0.1, 0.9), y=y) for text, y in rows]
    rules, options = read_receipt(lines, "\n".join(line.text for line in lines))
    return choose_fields(rules, options, lines, load_model()).get("date")


@pytest.mark.parametrize(
    ("shop", "total"),
    [("BEST MART", "TOTAL $ 7.57"), ("BEST MART", "TOTAL 7.57"), ("SYDNEY CAFE", "TOTAL $7.57")],
)
def test_a_date_whose_day_and_month_could_swap_goes_to_review_when_nothing_tells_the_order(
    shop: str, total: str
):
    date = _read_date((shop, 0.05), ("Date: 05/12/2026 14:32", 0.2), (total, 0.6))
    assert date is not None and date.confidence < 0.8, date


@pytest.mark.parametrize(
    "told",
    [
        "TOTAL RM 7.57",  # a currency named outright
        "TOTAL USD 7.57",
        "Refund by 25/12/2026",  # another date that reads one way only
    ],
)
def test_a_receipt_that_tells_the_date_order_keeps_the_dates_confidence(told: str):
    date = _read_date(("BEST MART", 0.05), ("Date: 05/12/2026 14:32", 0.2), (told, 0.6))
    expected = "2026-05-12" if "USD" in told else "2026-12-05"
    assert date is not None and date.value == expected and date.confidence >= 0.8, date


@pytest.mark.parametrize(
    "printed", ["SAH SEHINGGA 31/12/2026", "VALID UNTIL 31/12/2026", "RETURN BY 01/04/2027"]
)
def test_a_receipts_only_date_labelled_as_no_purchase_date_goes_to_review(printed: str):
    date = _read_date(("KEDAI RUNCIT SDN BHD", 0.05), ("TOTAL RM 7.57", 0.5), (printed, 0.8))
    assert date is None or date.confidence < 0.8, date


@contextmanager
def process_time_zone(zone: str) -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ")
        else:
            os.environ["TZ"] = before
        time.tzset()


def a_zone_on_another_day() -> str:
    """A process time zone (POSIX, no tzdata needed) whose date is not UTC's now: UTC+14
    from 10:00 UTC, UTC-12 before 12:00 UTC; each picked with an hour to spare."""
    return "LINT-14" if dt.datetime.now(dt.UTC).hour >= 11 else "AOE+12"


def same_in_another_time_zone(answers: Callable[[], object]) -> None:
    in_utc = answers()
    with process_time_zone(a_zone_on_another_day()):
        assert dt.date.today() != dt.datetime.now(dt.UTC).date()  # the premise
        assert answers() == in_utc


def test_a_dates_plausibility_counts_from_utcs_today_whatever_the_process_time_zone():
    """Today was the process's own date: right only while the process runs in UTC. Out
    of it, a date a day past the 400 days ahead was read, or the last day was not."""
    today = dt.datetime.now(dt.UTC).date()

    def answers() -> list[list[object]]:
        ahead = [today + dt.timedelta(days=days) for days in (399, 400, 401)]
        return [[m.value for m in parse_dates(day.strftime("%d/%m/%Y"))] for day in ahead]

    assert answers()[1] and not answers()[2]
    same_in_another_time_zone(answers)


def test_a_purchase_date_is_in_the_future_by_utcs_today_whatever_the_process_time_zone():
    today = dt.datetime.now(dt.UTC).date()

    def answers() -> list[object]:
        found = []
        for days in (1, 2):
            printed = (today + dt.timedelta(days=days)).strftime("%d/%m/%Y")
            date = _read_date(
                ("KEDAI RUNCIT SDN BHD", 0.05), ("TOTAL RM 7.57", 0.5), (printed, 0.8)
            )
            found.append(date and (date.value, date.confidence))
        return found

    same_in_another_time_zone(answers)


def test_a_date_in_the_future_is_no_purchase_date():
    ahead = (dt.date.today() + dt.timedelta(days=30)).strftime("%d/%m/%Y")
    date = _read_date(("KEDAI RUNCIT SDN BHD", 0.05), ("TOTAL RM 7.57", 0.5), (ahead, 0.8))
    assert date is None or date.confidence < 0.8, date


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("TARIKH: 05 DIS 2026", dt.date(2026, 12, 5)),
        ("5 Disember 2025", dt.date(2025, 12, 5)),
        ("17 OGOS 2018", dt.date(2018, 8, 17)),
        ("1 MEI 2018", dt.date(2018, 5, 1)),
        ("5. Dez. 2025", dt.date(2025, 12, 5)),
        ("3 März 2018", dt.date(2018, 3, 3)),
    ],
)
def test_malay_and_german_month_names_are_read(text: str, value: dt.date):
    assert [d.value for d in parse_dates(text)] == [value]


def test_a_month_first_date_with_a_two_digit_year_is_read():
    # The year was taken as printed: "Dec 25, 18" was the year 18, dropped as implausible.
    assert [d.value for d in parse_dates("Dec 25, 18")] == [dt.date(2018, 12, 25)]
    assert [d.value for d in parse_dates("FEB 29 24")] == [dt.date(2024, 2, 29)]


def test_a_time_after_a_day_and_month_is_no_two_digit_year():
    # "05 JAN 10:30" prints no year: 10 is the hour, not 2010.
    assert parse_dates("05 JAN 10:30") == []
    assert parse_dates("JAN 05 10:30") == [] and parse_dates("05 JAN 10.30AM") == []
    assert [d.value for d in parse_dates("25 DEC 18 10:30")] == [dt.date(2018, 12, 25)]


def test_words_that_start_like_a_malay_month_are_no_month():
    assert parse_dates("2 DISC 10%") == []
    assert parse_dates("1 MACHINE 18") == []


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("TASTY BAKING CO", "other"),  # BAKI is Malay change
        ("WOOL CARDIGAN", "other"),  # CARD is a tender
        ("CARDBOARD BOX", "other"),
        ("WATER BOTTLE", "other"),  # TTL is a total
        ("ASSTD SWEETS", "other"),  # SST is a tax
        ("INTERNET", "other"),  # NET is a total
        ("CABINET", "other"),
        ("GROSS TOTAL", "total"),
        ("NETT", "total"),
        ("Nett Total", "total"),
        ("HARGA NETT", "total"),
        ("CASHEW NUT", "other"),  # CASH is a tender
        ("CHICKEN TENDERS", "other"),
        ("CARDAMOM", "other"),
        ("TAXI FARE", "other"),  # TAX is a tax
        ("GROUND BEEF", "other"),  # ROUND is a rounding
        ("BREAD JAM", "other"),  # ADJ is a rounding
        ("SUB TUNA", "other"),  # SUBT is a subtotal
        ("CREAM TEA", "other"),  # AMT is a total
        ("HAM TOAST", "other"),
        ("TOTAL SAVED", "other"),
        ("TENDERED", "tender"),
        ("RND ADJ", "rounding"),
        ("NETT AMT", "total"),
        ("PAYABLE", "total"),
        ("VOUCHER AMT", "tender"),
        ("BAKI", "change"),
        ("CREDIT CARD", "tender"),
        ("SST 6%", "tax"),
    ],
)
def test_a_label_word_hidden_inside_an_item_word_does_not_label_it(label: str, kind: str):
    assert classify(label)[0] == kind


def test_an_accountants_bracket_and_a_trailing_cr_are_negative():
    def read(text: str) -> list[str]:
        return [str(a.value) for a in parse_amounts(text)]

    assert read("TOTAL (7.57)") == ["-7.57"]
    assert read("TOTAL RM (7.57)") == ["-7.57"]
    # A currency inside the brackets is a conversion, not a negative.
    assert read("TOTAL RM 250.00 (USD 60.00)") == ["250.00", "60.00"]
    assert read("TOTAL 22.39CR") == ["-22.39"]
    assert read("TOTAL 22.39 CR") == ["-22.39"]
    assert read("TOTAL 7.57 CREDIT CARD") == ["7.57"]
    assert read("Nasi lemak (S) 2.50") == ["2.50"]


@pytest.mark.parametrize("amount", ["(7.57)", "7.57-", "7.57CR"])
def test_a_refund_whose_totals_are_all_negative_is_read_negative_and_reviewed(amount: str):
    lines = [_row("REFUND", "", 0.30), _row("Item A", amount, 0.40), _row("TOTAL", amount, 0.55)]
    total = _read_total(lines)["totalAmount"]
    assert (total.value, total.confidence) == (Decimal("-7.57"), 0.0)


def test_a_negative_voucher_above_the_amount_payable_is_no_refund():
    lines = [
        _row("ITEM A", "10.00", 0.40),
        _row("ITEM B", "18.50", 0.45),
        _row("VOUCHER AMT", "(5.00)", 0.50),
        _row("PAYABLE", "23.50", 0.55),
    ]
    assert _read_total(lines)["totalAmount"].value == Decimal("23.50")


@pytest.mark.parametrize(
    "noise",
    [
        "Time 09.13.45",  # a time written with dots
        "NO. 3-13-05, JALAN PJU 1/42",  # a unit number
        "TEL: 03.13.22 1234",
        "POS VER 1.13.20",
        "REF 25-03-42",
    ],
)
def test_numbers_shaped_like_a_one_way_date_do_not_set_the_date_order(noise: str):
    date = _read_date(
        ("BEST MART", 0.05), (noise, 0.1), ("Date: 05/11/2026 14:32", 0.2), ("TOTAL RM 7.57", 0.6)
    )
    assert date is not None and date.value == "2026-11-05" and date.confidence >= 0.8, date


@pytest.mark.parametrize(("currency", "sure"), [("PHP", True), ("CAD", False), ("SGD", True)])
def test_a_named_currency_tells_the_order_where_its_country_has_one(currency: str, sure: bool):
    date = _read_date(
        ("SARI SARI", 0.05), ("Date: 11/05/2026 14:32", 0.2), (f"TOTAL {currency} 7.57", 0.6)
    )
    expected = "2026-11-05" if currency == "PHP" else "2026-05-11"
    assert date is not None and date.value == expected, date
    assert (date.confidence >= 0.8) is sure, date


@pytest.mark.parametrize("line", ["2 MAC 10.90", "2 DIS 10%", "12.15 DIS 10%", "2 Mai 15.00"])
def test_an_item_line_with_a_malay_or_german_month_word_is_no_date(line: str):
    assert parse_dates(line) == []


@pytest.mark.parametrize("shop", ["KFC EXPRESS", "TAMAN BESTARI"])
def test_a_shop_name_left_of_the_date_is_no_expiry_label(shop: str):
    date = _read_date(
        ("KEDAI SDN BHD", 0.05), (f"{shop} 05/11/2026 12:45", 0.2), ("TOTAL RM 7.57", 0.6)
    )
    assert date is not None and date.value == "2026-11-05" and date.confidence >= 0.8, date


def test_a_refund_that_prints_its_refund_amount_positive_is_still_a_refund():
    lines = [
        _row("REFUND", "", 0.30),
        _row("ITEM A", "(7.57)", 0.40),
        _row("TOTAL", "(7.57)", 0.55),
        _row("REFUND AMOUNT", "7.57", 0.60),
    ]
    total = _read_total(lines)["totalAmount"]
    assert (total.value, total.confidence) == (Decimal("-7.57"), 0.0)
    assert classify("GOODS ARE NON REFUNDABLE")[0] == "other"


def test_a_date_opening_its_line_with_one_digit_goes_to_a_reviewer():
    """ "7-04-18 16:28" at a line's start may be 27-04-18 with its first digit cut off at
    the line box's edge; the same date after a label is read as usual."""

    def date(line: Line):
        lines = [
            _line(("KEDAI MAJU SDN BHD", 0.2, 0.8), y=0.05),
            line,
            _line(("TOTAL", 0.1, 0.3), ("12.50", 0.7, 0.9), y=0.6),
        ]
        return _read_total(lines)["date"]

    cut = date(_line(("7-04-18 16:28 SH01", 0.05, 0.6), y=0.2))
    labelled = date(_line(("Date: 7-04-18 16:28 SH01", 0.05, 0.6), y=0.2))
    assert (cut.value, labelled.value) == ("2018-04-07", "2018-04-07")
    assert "cut-at-edge" in cut.cues and cut.confidence < 0.8
    assert "cut-at-edge" not in labelled.cues and labelled.confidence >= 0.8
    for unpadded in ("7/4/18 16:28 SH01", "7 April 2018 16:28"):
        assert "cut-at-edge" not in date(_line((unpadded, 0.05, 0.6), y=0.2)).cues


def test_a_tax_summary_rows_taxable_amount_is_no_tax():
    # The last line naming GST is the summary table's row, whose tax OCR read without its
    # point: its one amount is what the tax was charged on (6.51 of a 6.90 total), a
    # share no tax rate makes.
    lines = [
        _row("Vegetable", "2.20", 0.40),
        _row("Total Amount:", "$6.90", 0.45),
        _row("GST @6%:", "$0.39", 0.48),
        _row("Nett Total:", "$6.90", 0.51),
        _row("CASH", "$6.90", 0.55),
        _line(("SR = GST @6%", 0.1, 0.3), ("6.51", 0.45, 0.52), ("035", 0.7, 0.76), y=0.62),
    ]
    fields = _read_total(lines)
    assert fields["totalAmount"].value == Decimal("6.90")
    assert fields["taxAmount"].value == Decimal("0.39")


def test_amounts_grouped_by_points_before_a_decimal_comma_are_read():
    def read(text: str) -> list[str]:
        return [str(a.value) for a in parse_amounts(text)]

    assert read("Gesamtbetrag 1.234,56 EUR") == ["1234.56"]
    assert read("Total EUR 12.345.678,90") == ["12345678.90"]
    # Points group thousands only before a decimal comma: a quantity stays no amount.
    assert read("Menge 1.500 Summe 3,00") == ["3.00"]
    assert read("TOTAL 1,234.56") == ["1234.56"]


def test_swiss_francs_and_other_codes_name_their_currency():
    from jobs.extraction.values import detect_currency

    assert detect_currency("Total CHF 12.50")[0] == "CHF"
    assert detect_currency("Amount HK$ 88.00")[0] == "HKD"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Tax point: 25th Feb 2026", dt.date(2026, 2, 25)),
        ("Date: 1st March 2026", dt.date(2026, 3, 1)),
        ("Due: 22nd Dec 2025", dt.date(2025, 12, 22)),
    ],
)
def test_a_day_printed_as_an_ordinal_is_the_day(text: str, value: dt.date):
    # "25th Feb 2026" was read as "Feb 20" of (20)26: 20 February, at 0.97.
    assert [d.value for d in parse_dates(text)] == [value]


def test_a_month_and_a_four_digit_year_is_no_date():
    # "Feb 2026" names a month (a service period), not 20 February (20)26.
    assert parse_dates("Service period: Feb 2026") == []
    assert parse_dates("DEC 2018") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Date de facture : 31 août 2025", dt.date(2025, 8, 31)),
        ("6 déc. 2026", dt.date(2026, 12, 6)),
        ("12 févr. 2026", dt.date(2026, 2, 12)),
        ("3 juin 2026", dt.date(2026, 6, 3)),
        ("14 juillet 2026", dt.date(2026, 7, 14)),
        ("2 avril 2026", dt.date(2026, 4, 2)),
        ("Fecha: 6 de diciembre de 2026", dt.date(2026, 12, 6)),
        ("15 de enero de 2026", dt.date(2026, 1, 15)),
        ("9 agosto 2025", dt.date(2025, 8, 9)),
        ("6 maart 2026", dt.date(2026, 3, 6)),
        ("6 mrt. 2026", dt.date(2026, 3, 6)),
    ],
)
def test_french_spanish_and_dutch_month_names_are_read(text: str, value: dt.date):
    assert [d.value for d in parse_dates(text)] == [value]


def test_a_bracketed_amount_with_its_currency_sign_is_negative():
    # An accountant's negative printed with its sign inside the brackets ("($772.08)",
    # "(£1,083.00)") was read positive: a credit memo's total and tax at 0.95. A bracketed
    # amount after another on its line is still a conversion, no negative.
    def read(text: str) -> list[str]:
        return [str(a.value) for a in parse_amounts(text)]

    assert read("Sales Tax (8.875%) ($772.08)") == ["-772.08"]
    assert read("Total (£15,478.44)") == ["-15478.44"]
    assert read("Total (-€ 1.234,56)") == ["-1234.56"]
    assert read("TOTAL RM 250.00 ($60.00)") == ["250.00", "60.00"]
    assert read("TOTAL RM 250.00 (USD 60.00)") == ["250.00", "60.00"]
