"""Normalised merchant, amount, date, time and receipt number for the data check (pure).

OCR reads a merchant name differently on every capture ("BOOK TA.K (TAMAN DAYA)" vs
"BOOKTA K(TAMANDAYA)"), so names are compared by similarity (character trigrams with the
spaces removed), not by equality.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Context, Decimal, InvalidOperation
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


# Letters of other scripts drawn as a Latin one (the common ones of Unicode's
# confusables): a PDF's text layer can spell a shop's name with them and its page shows
# that name, yet folded away as letters beyond ASCII they left "DI RUNIT H NG DN HD" of
# "Kedai Runcit Ah Seng Sdn Bhd", like no other name, and an edited copy matched none.
_LOOK_ALIKES = {
    # Cyrillic
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ӏ": "I", "Ј": "J",
    "К": "K", "М": "M", "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y",
    "Ү": "Y", "Ԝ": "W", "а": "a", "с": "c", "е": "e", "і": "i", "ӏ": "l", "ј": "j",
    "о": "o", "р": "p", "ѕ": "s", "х": "x", "у": "y", "һ": "h", "ԁ": "d", "ԛ": "q",
    "ԝ": "w",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "α": "a", "ι": "i",
    "ν": "v", "ο": "o", "ρ": "p",
    # Armenian
    "Օ": "O", "հ": "h", "ո": "n", "ս": "u", "զ": "q", "օ": "o",
}  # fmt: skip
_AS_LATIN = str.maketrans(_LOOK_ALIKES)
# Scripts whose accents OCR and text layers set or drop at will ("Kédai", "ΚΑΦΈ"): a name
# is compared without them. Other scripts' marks are letters of their own (a Thai vowel, a
# Devanagari matra) and are kept.
_ACCENTED_SCRIPTS = ("LATIN ", "GREEK ", "CYRILLIC ")


def _is_word_char(char: str) -> bool:
    """A letter, mark or digit of any script: what a name is spelt with."""
    return unicodedata.category(char)[0] in "LMN"


def _words(text: str) -> list[str]:
    """The runs of letters, marks and digits of ``text``; anything else parts them."""
    return "".join(c if _is_word_char(c) else " " for c in text).split()


def _as_latin(word: str) -> str:
    """A word of Latin letters and look-alikes only, as the Latin word it shows; a word
    with any other letter (a Greek or Russian word) keeps its letters."""
    if all(
        c in _LOOK_ALIKES or not c.isalpha() or unicodedata.name(c, "").startswith("LATIN ")
        for c in word
    ):
        return word.translate(_AS_LATIN)
    return word


def _without_accents(word: str) -> str:
    """``word`` without the marks set on letters of _ACCENTED_SCRIPTS."""
    kept: list[str] = []
    base = ""
    for char in unicodedata.normalize("NFKD", word):
        if not unicodedata.combining(char):
            base = unicodedata.name(char, "")
        elif base.startswith(_ACCENTED_SCRIPTS):
            continue
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def merchant(value: Any) -> str:
    """Upper-case words of the name, in any script, without punctuation and legal forms.

    A name of Latin letters reads as it always has (stored DataFingerprint.merchant
    values compare unchanged): ASCII letters and digits. Letters of other scripts were
    once dropped, so a shop named in Greek or Chinese was never compared; the rows stored
    from names holding such letters are recomputed by migration fraud 0011."""
    if not value:
        return ""
    words = [_as_latin(w) for w in _words(unicodedata.normalize("NFKC", str(value)))]
    folded = [_without_accents(w.casefold()) for w in words]
    kept = [w for word in folded for w in _words(word) if w not in _LEGAL_FORMS]
    return " ".join(kept).upper()[:200]


def merchant_similarity(a: str, b: str) -> float:
    """Jaccard index of the character trigrams of two normalised names, spaces ignored."""
    left, right = _trigrams(a), _trigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def _trigrams(name: str) -> set[str]:
    squashed = "".join(c for c in (name or "").upper() if _is_word_char(c))
    if len(squashed) < 3:
        return {squashed} if squashed else set()
    return {squashed[i : i + 3] for i in range(len(squashed) - 2)}


def time(value: Any) -> str:
    """A time of day as "HH:MM" (24 h), or "" when there is none."""
    if isinstance(value, dt.datetime | dt.time):
        return f"{value.hour:02d}:{value.minute:02d}"
    match = re.search(r"(\d{1,2})[:.](\d{2})(?::\d{2})?\s*([ap]\.?m)?", str(value or "").lower())
    if not match:
        return ""
    hour, minute = int(match[1]), int(match[2])
    if match[3]:
        hour = hour % 12 + (12 if match[3].startswith("p") else 0)
    if hour > 23 or minute > 59:
        return ""
    return f"{hour:02d}:{minute:02d}"


DISTINCTIVE_DIGITS = 5


def receipt_number(value: Any) -> str:
    """Letters and digits of a receipt or invoice number, upper case."""
    return re.sub(r"[^A-Z0-9]", "", str(value or "").upper())[:64]


def distinctive_number(number: str) -> bool:
    """A (normalised) receipt number long enough to name one receipt of a shop: at least
    DISTINCTIVE_DIGITS digits. Short ones repeat: a table, a till's daily counter."""
    return sum(c.isdigit() for c in number) >= DISTINCTIVE_DIGITS


def numbers_conflict(a: str, b: str) -> bool:
    """Two receipt numbers that cannot be one number misread by OCR: more edits apart
    than one per five characters (at least one)."""
    if not a or not b:
        return False
    allowed = max(1, min(len(a), len(b)) // 5)
    return edit_distance(a, b, limit=allowed) > allowed


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, stopping early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def one_digit_apart(a: dt.date, b: dt.date) -> bool:
    """Two dates whose ISO forms differ in exactly one digit (one misread by OCR)."""
    left, right = a.isoformat(), b.isoformat()
    if len(left) != len(right):
        return False
    return sum(x != y for x, y in zip(left, right, strict=True)) == 1


# The digits of an amount the data check keeps (DataFingerprint.total), two of them
# decimals: a Decimal's default precision. An invoice in dong or rupiah runs to 13 digits
# and more before its decimals; a longer run of digits is no money amount.
AMOUNT_DIGITS = 28


def amount(value: Any) -> Decimal | None:
    """A money amount as Decimal with two places; currency prefixes and spaces ignored.
    None when it has none, or more than AMOUNT_DIGITS digits."""
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
    try:
        kept = number.quantize(Decimal("0.01"), context=_AMOUNTS)
    except InvalidOperation:  # more digits than AMOUNT_DIGITS
        return None
    return kept


# Two places of at most AMOUNT_DIGITS digits, whatever the thread's decimal context says.
_AMOUNTS = Context(prec=AMOUNT_DIGITS, traps=[InvalidOperation])


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
