"""Normalised merchant, amount and date for the data check (pure functions)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

# Legal-form words say nothing about which shop it is and OCR often drops them.
_LEGAL_FORMS = {
    "sdn", "bhd", "berhad", "s", "b", "sb", "m", "ltd", "limited", "llc", "inc", "co",
    "corp", "company", "gmbh", "ag", "sa", "sp", "z", "o", "oo", "plc", "pte", "pty",
}  # fmt: skip
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip


def merchant(value: Any) -> str:
    """Upper-case words of the name without punctuation and legal forms."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode().lower()
    words = [w for w in re.findall(r"[a-z0-9]+", text) if w not in _LEGAL_FORMS]
    return " ".join(words).upper()[:200]


def amount(value: Any) -> Decimal | None:
    """A money amount as Decimal with two places; currency prefixes and spaces ignored."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
    else:
        text = re.sub(r"[^0-9.,-]", "", str(value))
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # decimal comma
        text = text.replace(",", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    if not number.is_finite():
        return None
    return number.quantize(Decimal("0.01"))


def date(value: Any) -> dt.date | None:
    """ISO dates, and day-first dates as printed on receipts (25/12/2018, 19 MAR 2018)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not value:
        return None
    text = str(value).strip().lower()
    iso = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if iso:
        return _safe_date(int(iso[1]), int(iso[2]), int(iso[3]))
    numeric = re.search(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})", text)
    if numeric:
        return _safe_date(_year(numeric[3]), int(numeric[2]), int(numeric[1]))
    named = re.search(r"(\d{1,2})[\s\-/]*([a-z]{3,9})[\s\-/,]*(\d{2,4})", text)
    if named and named[2] in _MONTHS:
        return _safe_date(_year(named[3]), _MONTHS[named[2]], int(named[1]))
    return None


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None
