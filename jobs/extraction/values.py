"""Recognising values in OCR text: amounts, dates, times and currencies."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

# Amounts: optional currency, thousands separators, exactly two decimals (receipts print
# cents; integers are too easily quantities, codes or phone digits). OCR often reads the
# decimal point as a comma or splits it with a space, so both are accepted; thousands
# grouped by points only before a decimal comma ("1.234,56", as most of Europe prints),
# or by apostrophes ("1'234.56", as Switzerland prints: "64'831.32" was read as 831.32),
# or by lakhs and crores above the thousands ("1,06,498.00", as India prints: read as
# 1.06). Two decimals followed by a separator and more digits are no amount's end: a
# date printed with points ("04.03.2026" beside an invoice's total) was read as 4.03.
# Rupees as India prints them, the point glued to the amount ("Rs.1,06,498.00": the
# amount was taken for a decimal's tail, and none read), never the end of a word (HRS).
AMOUNT_RE = re.compile(
    r"(?<![\d.,/:])(?<!\d['’])(-)?\s?(?:RM|MYR|USD|EUR|GBP|SGD|CHF|(?<![A-Za-z])R[Ss]\.?|"
    r"[$€£¥])?\s?(-)?"
    r"(\d{1,2}(?:,\d{2})+,\d{3}(?=\.\d{2})|\d{1,3}(?:[,\s'’]\d{3})+|"
    r"\d{1,3}(?:\.\d{3})+(?=,\d{2})|\d+)\s?[.,]\s?(\d{2})"
    r"(?:(-)(?![\d.]))?(?![\d%/:])(?![.,]\d)"
)
# Cents printed without the leading zero (".01", "RM -.10", "CHANGE .00"), as some
# tills print rounding, change and small prices; the point must follow a space, a minus,
# a currency or the line start, so "No.12" stays no amount.
CENTS_RE = re.compile(
    r"(?:^|(?<=\s))(-)?(?:(?:RM|MYR|USD|EUR|GBP|SGD|[$€£¥])\s?)?(-)?\.(\d{2})(?![\d%/:.,])"
)
MONTHS = {
    "JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
    "JUL": 7, "AUG": 8, "SEP": 9, "SEPT": 9, "OCT": 10, "NOV": 11, "DEC": 12,
    # Malay (Mac, Mei, Ogos, Oktober, Disember) and German (Mär, Mrz, Mai, Okt, Dez)
    "MAC": 3, "MEI": 5, "OGO": 8, "OKT": 10, "DIS": 12, "MÄR": 3, "MRZ": 3, "MAI": 5,
    "DEZ": 12,
    # French (févr., avr., juin, juil., août, déc.), Dutch (maart, mrt) and Spanish (enero,
    # abril, agosto, diciembre); their other months begin as the English names do.
    "FÉV": 2, "FEV": 2, "AVR": 4, "JUIN": 6, "JUIL": 7, "AOÛ": 8, "AOU": 8, "DÉC": 12,
    "MAA": 3, "MRT": 3, "ENE": 1, "ABR": 4, "AGO": 8, "DIC": 12,
}  # fmt: skip
# A 4-digit year may run straight into a time when OCR drops the space ("20188:13").
_FULL_OR_GLUED_YEAR = (
    r"\d{4}(?=\d{1,2}\s?[:.]\s?\d{2})|\d{2}(?=\d{1,2}\s?[:.]\s?[0-5]\d)|\d{4}(?!\d)"
)
_YEAR = rf"({_FULL_OR_GLUED_YEAR}|\d{{2}}(?!\d))"
# After a day and a month name, two digits that start a time are the hour of a date
# printed without its year ("05 JAN 10:30", "JAN 05 10.30"), not the year 2010.
_NAMED_YEAR = rf"({_FULL_OR_GLUED_YEAR}|\d{{2}}(?![\d:]|\.[0-5]\d))"
_SEP = r"\s?[-/.,\s]?\s?"
_MONTH_NAMES = r"(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEPT?|OCT|NOV|DEC)[A-Z]*"
# Malay (Mac, Mei, Ogos, Oktober, Disember), German (März, Mai, Okt, Dez), French,
# Dutch and Spanish names are whole words before a four-digit year: "2 MAC 10.90" is an
# item, no 2 March 2010.
_OTHER_MONTH_NAMES = (
    r"(MAC|MEI|OGOS|OKTOBER|OKT|DISEMBER|DIS|MÄRZ|MÄR|MRZ|MAI|DEZEMBER|DEZ|"
    r"FÉVRIER|FÉVR|FÉV|FEVRIER|FEVR|AVRIL|AVR|JUIN|JUILLET|JUIL|AOÛT|AOUT|DÉCEMBRE|DÉC|"
    r"MAART|MRT|ENERO|ENE|ABRIL|ABR|AGOSTO|AGO|DICIEMBRE|DIC)"
)
# A day printed as an ordinal: "25th Feb 2026", "1er mars 2026" (read before as "Feb 20"
# of (20)26).
_ORDINAL = r"(?:ST|ND|RD|TH|ER)?"
DATE_PATTERNS = [
    # 2018-12-25, 2018/12/25
    ("ymd", re.compile(r"(?<!\d)(20\d{2}|19\d{2})\s?[-/.]\s?(\d{1,2})\s?[-/.]\s?(\d{1,2})(?!\d)")),
    # 25/12/2018, 25-12-18, 25.12.2018
    ("dmy", re.compile(r"(?<!\d)(\d{1,2})\s?[-/.]\s?(\d{1,2})\s?[-/.]\s?" + _YEAR)),
    # 25 Dec 2018, 25-DEC-18, 25DEC2018
    ("dMy", re.compile(r"(?<!\d)(\d{1,2})" + _ORDINAL + _SEP + _MONTH_NAMES + _SEP + _NAMED_YEAR, re.I)),
    ("dMy", re.compile(r"(?<!\d)(\d{1,2})" + _ORDINAL + _SEP + _OTHER_MONTH_NAMES + r"\.?\s?(\d{4})(?!\d)", re.I)),
    # 6 de diciembre de 2026 (Spanish), also as OCR reads it without spaces ("2deabrilde2026");
    # the word is checked against MONTHS
    ("dMy", re.compile(r"(?<!\d)(\d{1,2})\s*DE\s*([A-ZÀ-Ý]{3,10}?)\.?\s*DE\s*(\d{4})(?!\d)", re.I)),
    # Dec 25, 2018; never "Feb 2026", a month and its year (read as 20 Feb (20)26)
    ("Mdy", re.compile(r"\b" + _MONTH_NAMES + r"\s?(?!(?:19|20)\d{2}(?!\d))(\d{1,2})(?:st|nd|rd|th)?,?\s?" + _NAMED_YEAR, re.I)),
    # A dd/mm/yyyy date glued to a preceding number ("Order No. 1000219" + "11/03/2018").
    ("glued", re.compile(r"(\d{2})[-/.](\d{2})[-/.](20\d{2})(?!\d{3})")),
    # One separator lost by OCR: "10/072017", "0803/2018" (read as glued: a guessed boundary).
    ("glued", re.compile(r"(?<!\d)(\d{1,2})[-/.](\d{2})(20\d{2})(?!\d)")),
    ("glued", re.compile(r"(?<![\d/.-])(\d{2})(\d{2})[-/.](20\d{2})(?!\d)")),
]  # fmt: skip
# Not inside a longer number ("12:34:56" has no time at "34"), but a label glued to the
# time by OCR ("TIME:14:32") still leaves it readable.
TIME_RE = re.compile(
    r"(?<![\d.])(?<!\d:)([01]?\d|2[0-3])\s?[:.]\s?([0-5]\d)(?:\s?[:.]\s?[0-5]\d)?\s?([AaPp]\.?[Mm])?(?![\d.:])"
)


@dataclass
class Match:
    value: object
    start: int
    end: int
    kind: str = ""
    # A date with a two-digit year that reads as another plausible date year first, one
    # nearer today ("26-11-12": 26 Nov 2012, or 12 Nov 2026 as Korean and Japanese tills
    # print it). "25/11/26" is left alone: 26 Nov 2025 is the older reading.
    year_first: bool = False


def parse_amounts(text: str) -> list[Match]:
    """Every money-looking number in ``text``, as Decimal, with its character span; in
    a receipt read in whole units (whole_amounts), whole amounts too."""
    found = _decimal_amounts(text)
    separators = _WHOLE_SEPARATORS.get()
    if separators:
        found += [
            match
            for match in _whole_amounts(text, separators)
            if not any(match.start < other.end and other.start < match.end for other in found)
        ]
        found.sort(key=lambda match: match.start)
    return found


def _decimal_amounts(text: str) -> list[Match]:
    found = []
    for m in AMOUNT_RE.finditer(text):
        digits = re.sub(r"[,.\s'’]", "", m.group(3))
        try:
            value = Decimal(f"{digits}.{m.group(4)}")
        except InvalidOperation:
            continue
        # The span starts at the currency sign or minus so labels never keep a stray "£".
        start = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
        first = not found  # no amount before it on the line
        if m.group(1) or m.group(2) or m.group(5) or _credit(text, m.start(3), m.end(), first):
            value = -value  # "-6.42", "RM -6.42", "6.42-", "(6.42)", "6.42CR"
        found.append(Match(value, start, m.end()))
    for m in CENTS_RE.finditer(text):
        if not any(m.start() < match.end and match.start < m.end() for match in found):
            value = Decimal(f"0.{m.group(3)}")
            negative = m.group(1) or m.group(2)
            found.append(Match(-value if negative else value, m.start(), m.end()))
    return sorted(found, key=lambda match: match.start)


# Currencies printed in whole units, with the separators their tills group thousands by:
# rupiah and dong by points ("Rp 125.000", "1.250.000 đ") and by commas as many tills
# print them ("TOTAL 125,000", "VND 45,000"), won and yen by commas only (a point there
# is a decimal point: "¥1,100.00", or a weight). Their minor units are never printed, so
# a point or a comma before three digits is no decimal point in them.
WHOLE_UNIT_CURRENCIES = {"IDR": ".,", "VND": ".,", "KRW": ",", "JPY": ","}
# The thousands separators of the receipt being read when it is in such a currency, else
# None: parse_amounts reads whole amounts then. A context, not an argument: every reader
# of amounts below read_receipt (labels, ledger, columns, items) must read the same ones.
_WHOLE_SEPARATORS: ContextVar[str | None] = ContextVar("whole_separators", default=None)
_WHOLE_NUMBER = re.compile(
    r"(?<![\d.,:/])([1-9]\d{0,2}(?:([.,])\d{3})(?:\2\d{3})*|\d+)(?![\d%/:])(?![.,]\d)"
)
# A currency printed before a whole amount, and a minus before or after it ("-¥200").
_WHOLE_BEFORE = re.compile(r"(-)?\s?((?<![A-Z])(?:RP|IDR|VND|KRW|JPY)\.?|[₩¥￥])?\s?(-)?$", re.I)
# ... or after it: "12,500원", "1,280円", "1.250.000 đ", "45.000 VNĐ".
_WHOLE_AFTER = re.compile(r"\s?(?:원|円|[đĐ₫](?!\w)|VN[DĐ](?!\w))", re.I)


@contextmanager
def whole_amounts(separators: str | None) -> Iterator[None]:
    """Read whole amounts grouped by ``separators`` (as whole_separators gives) inside."""
    token = _WHOLE_SEPARATORS.set(separators)
    try:
        yield
    finally:
        _WHOLE_SEPARATORS.reset(token)


def reading_whole_amounts() -> bool:
    return _WHOLE_SEPARATORS.get() is not None


def whole_separators(text: str) -> str | None:
    """The thousands separators of a receipt in a currency printed in whole units, or
    None: ``text`` must name that currency outright and no other (a symbol, a code or its
    word beside an amount) and print no amount with decimals (one printing cents prints
    its counts, codes and points as whole numbers: a Malaysian receipt's); a weight or a
    volume with decimals ("1.25 kg") is no amount with decimals."""
    named = currencies_named(text)
    if len(named) != 1:
        return None
    separators = WHOLE_UNIT_CURRENCIES.get(named.pop())
    if separators is None or any(not _measure(text, m) for m in _decimal_amounts(text)):
        return None
    return separators


# A unit of weight or volume after a number: a grocer's "1.25 kg", "0,50kg" are measures
# printed with decimals, which left a rupiah or yen receipt read as one in cents, its
# whole amounts no amounts and the weight its total.
_MEASURE_UNIT = re.compile(r"\s?(?:kg|gr?|mg|l|ltr|ml|lbs?|oz)(?![A-Za-z])", re.I)


def _measure(text: str, match: Match) -> bool:
    return _MEASURE_UNIT.match(text, match.end) is not None


def _whole_amounts(text: str, separators: str) -> Iterator[Match]:
    """Whole amounts: thousands grouped by one of ``separators`` ("125.000"), or any
    number printed with the currency ("¥980", "220円"). A bare number without either is a
    count, a code or a phone number's part."""
    for m in _WHOLE_NUMBER.finditer(text):
        grouped = m.group(2)
        if grouped and grouped not in separators:
            continue
        # Bounded (a line of thousands of amounts), but its lookbehind sees the text.
        before = _WHOLE_BEFORE.search(text, max(0, m.start() - 8), m.start())
        after = _WHOLE_AFTER.match(text, m.end())
        marked = bool(before and before.group(2)) or after is not None
        if not (grouped or marked) or (not marked and _glued_to_letters(text, m)):
            continue
        # The span starts at the currency sign or minus, as parse_amounts' do.
        start = m.start()
        if before and before.group(0).strip():
            start = before.start() + len(before.group(0)) - len(before.group(0).lstrip())
        value = Decimal(m.group(1).replace(grouped or "", ""))
        negative = bool(before and (before.group(1) or before.group(3)))
        yield Match(-value if negative else value, start, after.end() if after else m.end())


def _glued_to_letters(text: str, m: re.Match[str]) -> bool:
    """ "SKU12,500", "1,000ml": a code or a measure."""
    return bool(_LATIN.match(text, m.end()) or (m.start() and _LATIN.match(text, m.start() - 1)))


_LATIN = re.compile(r"[A-Za-z]")


# An accountant's negative: "(7.57)", "RM (7.57)"; a credit: "22.39CR", "22.39 CR". A
# currency inside the brackets is a conversion ("RM 250.00 (USD 60.00)"), no negative,
# unless it is a sign and the amount the line's first: "($772.08)", "(£1,083.00)" are
# how US and UK accounts print a credit memo's amounts.
_OPENS_NEGATIVE = re.compile(r"\(\s?$")
_OPENS_SIGNED_NEGATIVE = re.compile(r"\(\s?[$€£]\s?$")
_CLOSES_NEGATIVE = re.compile(r"\s?(?:(\))|CR\b)", re.I)


def _credit(text: str, start: int, end: int, first: bool) -> bool:
    closes = _CLOSES_NEGATIVE.match(text, end)
    if closes is None:
        return False
    bracket = closes.group(1) is not None
    if not bracket or _OPENS_NEGATIVE.search(text, 0, start) is not None:
        return True
    return first and _OPENS_SIGNED_NEGATIVE.search(text, 0, start) is not None


def utc_today() -> dt.date:
    """Today in UTC, as Steve's dates are (settings.TIME_ZONE): date.today() is the
    process's own time zone's, a day off for hours of each day out of UTC. Not Django's
    timezone: this package runs without Django (the CLI, the benchmark)."""
    return dt.datetime.now(dt.UTC).date()


def parse_dates(text: str, *, day_first: bool = True, today: dt.date | None = None) -> list[Match]:
    """Every plausible calendar date in ``text`` (unparseable or far-off dates dropped)."""
    today = today or utc_today()
    found: list[Match] = []
    taken: list[tuple[int, int]] = []  # spans of dates found, apart and in order
    for kind, pattern in DATE_PATTERNS:
        for m in pattern.finditer(text):
            if _overlaps(taken, m.start(), m.end()):
                continue
            if kind in ("ymd", "dmy") and not _same_separators(m):
                continue  # "REG#19-10/03/2018": mixed separators join unrelated numbers
            date = _build_date(kind, m.groups(), day_first)
            if not _plausible(date, today):
                continue
            bisect.insort(taken, (m.start(), m.end()))
            year_first = kind == "dmy" and _reads_year_first(m.groups(), date, today)
            found.append(Match(date, m.start(), m.end(), kind, year_first))
    found.sort(key=lambda match: match.start)
    return found


def order_unsure(match: Match) -> bool:
    """Whether a numeric date read day first could as well be month first (05/12/2026),
    or, with a two-digit year, year first (26-11-12)."""
    date = match.value
    numeric = match.kind in ("dmy", "glued") and isinstance(date, dt.date)
    swaps = numeric and date.day <= 12 and date.day != date.month  # type: ignore[union-attr]
    return swaps or match.year_first


def _reads_year_first(groups: tuple[str, ...], date: dt.date | None, today: dt.date) -> bool:
    if len(groups[2]) != 2:
        return False
    try:
        other = dt.date(_year(groups[0]), int(groups[1]), int(groups[2]))
    except ValueError:
        return False
    if date is None or other == date or not _plausible(other, today):
        return False
    return abs(other - today) < abs(date - today)


def printed_order(text: str, today: dt.date | None = None) -> bool | None:
    """True when a date in ``text`` can only be day first (25/12/2026), False when one
    can only be month first (12/25/2026), None when none tells (or they disagree). Only
    dates with a four-digit year count: "3-13-05" (a unit number), "09.13.45" (a time)
    and "01.23.45" (a phone) read one way only too."""
    today = today or utc_today()
    orders = set()
    for m in _ORDER_CUE.finditer(text):
        first, second = int(m.group(1)), int(m.group(2))
        if (first > 12) == (second > 12) or not _same_separators(m):
            continue
        if _plausible(_build_date("dmy", m.groups(), day_first=True), today):
            orders.add(first > 12)
    return orders.pop() if len(orders) == 1 else None


_ORDER_CUE = re.compile(
    r"(?<![\d.])(\d{1,2})\s?[-/.]\s?(\d{1,2})\s?[-/.]\s?((?:19|20)\d{2})(?![\d.])"
)


def _plausible(date: dt.date | None, today: dt.date) -> bool:
    """A date a receipt may print: none before 1990 or more than 400 days ahead."""
    return date is not None and dt.date(1990, 1, 1) <= date <= today + dt.timedelta(days=400)


def _overlaps(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether [start, end) overlaps a span of ``taken`` (apart, in order): only the last
    span starting before ``end`` can (a line of 150 dates was cubic with a scan)."""
    before = bisect.bisect_left(taken, (end, -1))
    return before > 0 and taken[before - 1][1] > start


def _same_separators(m: re.Match[str]) -> bool:
    first = m.string[m.end(1) : m.start(2)].strip()
    second = m.string[m.end(2) : m.start(3)].strip()
    return first == second


def _build_date(kind: str, groups: tuple[str, ...], day_first: bool) -> dt.date | None:
    try:
        if kind == "ymd":
            year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
        elif kind in ("dmy", "glued"):
            first, second, year = int(groups[0]), int(groups[1]), _year(groups[2])
            # Unambiguous when one part exceeds 12; otherwise follow the locale.
            if first > 12 or (day_first and second <= 12):
                day, month = first, second
            else:
                month, day = first, second
        elif kind == "dMy":
            day, month, year = int(groups[0]), MONTHS[_month_key(groups[1])], _year(groups[2])
        else:
            month, day, year = MONTHS[_month_key(groups[0])], int(groups[1]), _year(groups[2])
        return dt.date(year, month, day)
    except (ValueError, KeyError):
        return None


def _month_key(token: str) -> str:
    token = token.upper()
    if token.startswith("JUI"):
        return token[:4]  # French JUIN (June) and JUIL (July)
    return "SEPT" if token.startswith("SEPT") else token[:3]


def _year(token: str) -> int:
    year = int(token)
    return year + 2000 if year < 100 else year


def parse_times(text: str) -> list[Match]:
    # Blank out dates first so a year glued to the hour ("20188:13") cannot hide the time.
    for date in parse_dates(text):
        text = text[: date.start] + " " * (date.end - date.start) + text[date.end :]
    found = []
    for m in TIME_RE.finditer(text):
        hour, minute = int(m.group(1)), int(m.group(2))
        meridiem = (m.group(3) or "").upper().replace(".", "")
        if meridiem == "PM" and hour < 12:
            hour += 12
        elif meridiem == "AM" and hour == 12:
            hour = 0
        found.append(Match(f"{hour:02d}:{minute:02d}", m.start(), m.end()))
    return found


# Currency cues, strongest first. Words are matched on token boundaries.
_CURRENCY_WORDS = [
    # "RM" is often glued to its label by OCR ("TOTALRM 9.00"), so only the amount after
    # it is required there.
    (r"\bMYR\b|RM\s?\d|\bRM\b|RM\s*$|\bRINGGIT\b", "MYR"),
    (r"\bSGD\b|\bS\$", "SGD"),
    (r"\bAUD\b|\bA\$", "AUD"),
    (r"\bCAD\b|\bC\$", "CAD"),
    (r"\bUSD\b|\bUS\$", "USD"),
    (r"\bEUR\b|€", "EUR"),
    (r"\bGBP\b|£", "GBP"),
    (r"\bIDR\b|\bRP\.?\s?\d", "IDR"),
    (r"\bTHB\b|฿", "THB"),
    (r"\bINR\b|₹", "INR"),
    (r"\bJPY\b|[¥￥円]", "JPY"),
    (r"\bPHP\b|₱", "PHP"),
    (r"\bCHF\b", "CHF"),
    (r"\bHKD\b|\bHK\$", "HKD"),
    (r"\bNZD\b|\bNZ\$", "NZD"),
    # Won and dong: their signs, or their words after an amount ("12,500원", "45.000 đ";
    # "Đ" opens Vietnamese words too, "đơn giá").
    (r"\bKRW\b|₩|\d\s?원", "KRW"),
    (r"\bVND\b|VNĐ|₫|\d\s?Đ(?!\w)", "VND"),
]
# Place names that pin a locale when no symbol is printed (Malaysian states and cities).
_LOCALE_HINTS = [
    (
        r"\b(SELANGOR|JOHOR|KUALA LUMPUR|PULAU PINANG|PENANG|PERAK|PAHANG|KEDAH|KELANTAN|"
        r"TERENGGANU|MELAKA|NEGERI SEMBILAN|SABAH|SARAWAK|PUTRAJAYA|SDN\.? ?BHD|JALAN|TAMAN)\b",
        "MYR",
    ),
]


# A document naming two currencies outright (a total also shown in another, a line billed
# in a foreign one): which is its own is a guess, reviewed as a bare "$" is.
MIXED_CURRENCY_CONFIDENCE = 0.6


def detect_currency(text: str) -> tuple[str | None, float]:
    """ISO 4217 code and a confidence: explicit codes/symbols beat tax words and places.

    Of several currencies named, the most named (the first of _CURRENCY_WORDS on a tie)
    at MIXED_CURRENCY_CONFIDENCE: the first of the list was taken at 0.89 whatever the
    document, and set its date order (a euro invoice naming a dollar total read month
    first)."""
    upper = text.upper()
    squashed = re.sub(r"[^A-Z]", "", upper)
    named = [
        (hits, code)
        for pattern, code in _CURRENCY_WORDS
        if (hits := len(re.findall(pattern, upper, re.M)))
    ]
    if len(named) > 1:
        hits, code = max(named, key=lambda found: found[0])  # max keeps the first tied
        return code, MIXED_CURRENCY_CONFIDENCE
    if named:
        hits, code = named[0]
        return code, min(0.99, 0.85 + 0.04 * hits)
    for pattern, code in _LOCALE_HINTS:
        # OCR may drop spaces ("KUALALUMPUR"), so place names are matched squashed too.
        if re.search(pattern, upper) or re.search(_squashed(pattern), squashed):
            # Malaysian SST/GST wording corroborates the place name.
            bonus = 0.05 if re.search(r"\b(SST|GST)\b", upper) else 0.0
            return code, 0.85 + bonus
    if "$" in upper:
        return "USD", 0.6  # a bare dollar sign is ambiguous between several currencies
    return None, 0.0


def currencies_named(text: str) -> set[str]:
    """The ISO 4217 codes of the currencies ``text`` names outright by code or symbol (a
    bare "$" names none: several currencies print it)."""
    upper = text.upper()
    return {code for pattern, code in _CURRENCY_WORDS if re.search(pattern, upper, re.M)}


def _squashed(pattern: str) -> str:
    return pattern.replace(" ", "").replace(r"\b", "").replace(r"\.?", "")


def to_money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))
