"""JSON numbers read exactly where a changed digit matters (corrections of amounts).

Python reads a JSON number with a point or an exponent as a float, which keeps about 15
significant digits: 99999999999999.9999 reads as 100000000000000.0 and
1.00000000000000001 as 1.0, before any check sees what was sent. A parser given
`exact_float` keeps each such number as its float, marked when the float is not the
number written, so the service refuses it rather than storing another number.
"""

from decimal import Decimal


def _short(text: str) -> bool:
    """A number with a point, no exponent and at most 15 digits: a float holds every such
    decimal exactly as written (DBL_DIG), and none of them is subnormal or too large."""
    return len(text) <= 16 and "." in text and "e" not in text and "E" not in text


def as_float(number: Decimal) -> float | None:
    """The float that is `number`, or None when no float is (storing it would change
    it): the one check of the desk's typed numbers and of JSON's."""
    value = float(number)
    return value if Decimal(repr(value)) == number else None


class InexactFloat(float):
    """A JSON number a float cannot hold exactly, as the float it reads as (it stores and
    compares as that float); `written` is the number as the JSON text had it."""

    written: str


def exact_float(text: str) -> float:
    """`json.loads`' `parse_float`: the number, marked InexactFloat when the float is not
    the decimal written (trailing zeros and exponents are the same number: 12.50, 1.25e1)."""
    value = float(text)
    # Amounts as written (12.50) need no Decimals: building two per number made parsing
    # a body of a few MB of numbers eleven times as long as json's own floats.
    if _short(text) or as_float(Decimal(text)) is not None:
        return value
    marked = InexactFloat(value)
    marked.written = text
    return marked
