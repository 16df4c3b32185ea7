"""Text a person typed that a page, an API body or a webhook would show wrongly."""

import re
import unicodedata

# Embeddings, overrides and isolates: they reorder how the text around them is shown.
# Invisible characters a script or an emoji needs are taken where it needs them:
# - the zero-width (non-)joiners beside a character beyond ASCII that shows (a letter, a
#   mark such as the virama of Malayalam's chillu, an emoji: "👩‍💻", "क्‍ष");
# - variation selectors right after a character they style ("❤️", "1️⃣", a kanji's variant);
# - the tag characters of a subdivision flag, after its black flag ("🏴󠁧󠁢󠁥󠁮󠁧󠁿").
_JOINERS = frozenset("\u200c\u200d")
_SELECTOR = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
_BLACK_FLAG = "\U0001f3f4"
_TAGS = re.compile("[\U000e0020-\U000e007f]")
# Unicode's default-ignorable code points that are not format characters (Cf), and the
# blank Braille pattern: they show nothing, so a value can hide behind them.
_BLANK = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\uffa0]")
# What surrounds a typed value without meaning anything: spaces of any width (U+00A0,
# U+3000, ...) and tabs (a paste from a spreadsheet). A line break is not padding: where
# a text takes none (a correction, an endpoint's description) it is refused wherever it is.
PADDING = "\t" + "".join(c for c in map(chr, range(0x3001)) if unicodedata.category(c) == "Zs")


def without_padding(text: str) -> str:
    """``text`` as stored: without its surrounding spaces (of any width) and tabs, the one
    rule of a correction's text and a webhook endpoint's description."""
    return text.strip(PADDING)


def hides_text(text: str, *, allowed: str) -> bool:
    """Whether ``text`` holds a control character other than ``allowed``, a line or
    paragraph separator, or an invisible character (bidi marks and overrides, zero-width
    spaces, a byte-order mark, a soft hyphen, a Hangul filler) where no script or emoji
    needs it: what a page, an API body or a webhook would show wrongly, or not at all."""
    if _BLANK.search(text):
        return True
    return any(_hidden(text, i) and c not in allowed for i, c in enumerate(text))


def _hidden(text: str, i: int) -> bool:
    char = text[i]
    if _SELECTOR.match(char):
        return i == 0 or not _selects(text[i - 1])
    if _TAGS.match(char):
        return not _in_a_flag(text, i)
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):
        return True
    if category != "Cf":
        return False
    if char in _JOINERS:
        beside = text[max(0, i - 1) : i] + text[i + 1 : i + 2]
        return not any(not c.isascii() and (_shows(c) or _SELECTOR.match(c)) for c in beside)
    return True


def _shows(char: str) -> bool:
    """A letter, a mark, a number, punctuation or a symbol: not a space, control or format."""
    return unicodedata.category(char)[0] in "LMNPS"


def _selects(char: str) -> bool:
    """Whether a variation selector after ``char`` changes how it shows: an emoji, a
    CJK character, a keycap's digit, # or * ("1️⃣"); after a Latin letter it only hides."""
    return (not char.isascii() and _shows(char)) or char in "0123456789#*"


def _in_a_flag(text: str, i: int) -> bool:
    """Whether the tag character at ``i`` is in a run of tags right after a black flag."""
    start = i
    while start > 0 and _TAGS.match(text[start - 1]):
        start -= 1
    return start > 0 and text[start - 1] == _BLACK_FLAG


def shown(text: str) -> str:
    """``text`` with each character hides_text refuses written out as its code point
    ("[U+202E]"): for a name stored before it was checked, so it shows what it holds
    rather than reordering or hiding the text around it."""
    return "".join(
        f"[U+{ord(c):04X}]" if _BLANK.match(c) or _hidden(text, i) else c
        for i, c in enumerate(text)
    )


def without_hidden(text: str) -> str:
    """``text`` without the characters hides_text refuses: for a name Steve keeps but did
    not choose (an upload's), where refusing the name would refuse the file. Taken away
    until none is left: without a hidden character, a joiner may have nothing beside it
    that needs it."""
    while hides_text(text, allowed=""):
        text = "".join(c for i, c in enumerate(text) if not (_BLANK.match(c) or _hidden(text, i)))
    return text
