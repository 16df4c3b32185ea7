"""Text a person typed that a page, an API body or a webhook would show wrongly."""

import re
import unicodedata

# Embeddings, overrides and isolates: they reorder how the text around them is shown.
# Invisible characters a script needs: the zero-width (non-)joiners of Indic and Arabic,
# taken only next to a letter beyond ASCII.
_JOINERS = frozenset("\u200c\u200d")
# Unicode's default-ignorable code points that are not format characters (Cf), and the
# blank Braille pattern: they show nothing, so a value can hide behind them.
_BLANK = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
    "\U000e0100-\U000e01ef]"
)


def hides_text(text: str, *, allowed: str) -> bool:
    """Whether ``text`` holds a control character other than ``allowed``, a line or
    paragraph separator, or an invisible character (bidi marks and overrides, zero-width
    spaces, a byte-order mark, a soft hyphen, a Hangul filler): what a page, an API body
    or a webhook would show wrongly, or not at all."""
    if _BLANK.search(text):
        return True
    return any(_hidden(text, i) and c not in allowed for i, c in enumerate(text))


def _hidden(text: str, i: int) -> bool:
    category = unicodedata.category(text[i])
    if category in ("Cc", "Zl", "Zp"):
        return True
    if category != "Cf":
        return False
    if text[i] in _JOINERS:
        beside = text[max(0, i - 1) : i] + text[i + 1 : i + 2]
        return not any(not c.isascii() and c.isalpha() for c in beside)
    return True
