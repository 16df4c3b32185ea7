"""Correction memory, the pure part: what identifies a shop on a receipt, and which
remembered value to give a new receipt. No Django here, so the benchmark replays it too.

A merchant name or address a reviewer corrects (or approves as read) is remembered per
company under every key the receipt's header carries: the company registration number,
the GST/SST number, the phone number, and the name and address as they were read (the
same shop's receipts read the same way, misreadings included; in a number, letters OCR
reads for digits count as those digits, so a misread receipt shares its numbers' keys).
Branches of a chain share the registration and tax numbers and the name, and often the
head office's address too, so a remembered address is only given to a receipt that
prints it (``support``): the branch line or the street of another branch is not on this
one. That lets addresses be found under every key, so a shop with no phone number is
still recognised.

ADDRESS_SUPPORT is fitted by bench/extraction.py --memory (on one set, scored on the
other, both ways; the shipped value on both sets).

A remembered name may be one the receipt does not print (a reviewer may correct to the
legal name), so it is still given; but unless it is printed whole (``name_printed``),
it goes to review: a chain's branches share the registration number and often the head
office's address, and "MR. D.I.Y. SDN BHD" went straight through on the receipt of
"MR. D.I.Y. (KUCHAI) SDN BHD" (every word of it is printed there, not as one run).
NAME_PRINTED is fitted by bench/extraction.py --memory too, the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

REMEMBERED_FIELDS = ("merchantName", "merchantAddress")
HEADER_LINES = 20  # identifiers lower down may be the customer's, not the shop's

# Malaysian GST ids: 12 digits from 00, some printed in groups of 4 ("0010 9010 5344").
_GST = re.compile(r"(?<!\d)(0{2}\d{2}\s?\d{4}\s?\d{4})(?!\d)")
_SST = re.compile(r"\b([A-Z]\d{2}[-\s]?\d{4}[-\s]?\d{8})\b")
# Company numbers: "123456-X", zero-padded to 9 digits ("001451637-M", the same number),
# or in brackets with a space for the dash ("(139386 X)").
_REG = re.compile(
    r"(?<![0-9A-Z])(?:00(?=\d{7}\s?-))?(\d{5,7})\s?-\s?([A-Z])(?![A-Z0-9])"
    r"|\(\s*(\d{5,7})\s([A-Z])\s*\)"
)
# A phone number, also with the country code ("+603-6251 2293", "603-…": one shop's receipts
# print both) or its area code in brackets.
_PHONE = re.compile(
    r"(?<![\d-])(?:\+?6(?=0[1-9]))?\(?(0[1-9]\d?)\)?\s?[-\s]?\s?(\d{3,4})\s?[-\s]?\s?(\d{4})"
    r"(?![\d-])"
)
# Letters OCR reads for digits (O/Q/D for 0, I/L for 1, Z for 2, S for 5, B for 8): in a
# run of digits ("86Q671-D", "OOO987654321") they are that digit, so the misread receipt
# is keyed as its shop's others are.
_DIGIT_OF = str.maketrans("OQDILZSB", "00011258")
_MISREAD_RUN = re.compile(r"[0-9OQDILZSB]+")
ADDRESS_SUPPORT = 0.95  # share of a remembered address printed on the receipt (fitted)
MISREAD_MIN_LENGTH = 5  # shorter words (numbers, "NO", "JLN") must be printed exactly
# Longer "words" (a run of letters no address has) must be printed exactly too: the
# one-slip search builds 3 patterns per letter, and a 2000-letter value took 28 s.
MISREAD_MAX_LENGTH = 40
NAME_PRINTED = 0.95  # share of a remembered name printed as one run, else review (fitted)
UNPRINTED_NAME_CONFIDENCE = 0.79  # below the default review threshold (80)
NAME_MAX_LENGTH = 120  # the edit search is len(name) x len(header) steps
NEIGHBOUR = 3  # letters of the next (or previous) word a short word must be printed beside


def normalise(value: object) -> str:
    return re.sub(r"[^0-9A-Z]", "", str(value).upper())


def same_value(a: str, b: str) -> bool:
    """Whether two remembered values are one, but for case and spaces: a reviewer who
    writes "UNIHAKKA SDN BHD" where the memory holds "Unihakka Sdn Bhd" confirms the
    shop's name (each was counted as the other overruled: three receipts' support fell
    to one right and one wrong)."""
    return spelling(a) == spelling(b)


def spelling(value: str) -> str:
    """A value without its case and spaces: what ``same_value`` compares."""
    return "".join(value.split()).casefold()


def shop_keys(
    text: str, read_address: str | None = None, read_name: str | None = None
) -> list[str]:
    """The identifiers of the shop in a receipt's text, most specific first."""
    header = "\n".join(text.splitlines()[:HEADER_LINES]).upper()
    # The header as printed, then with misread digits read as digits: the keys it gave
    # before stay (memories are stored under them), the misread ones come on top.
    headers = (header, _MISREAD_RUN.sub(_digits_read, header))
    keys = [f"gst:{normalise(m)}" for h in headers for m in _GST.findall(h)]
    keys += [f"sst:{normalise(m)}" for h in headers for m in _SST.findall(h)]
    keys += [key for h in headers for parts in _REG.findall(h) for key in _reg_keys(*parts)]
    keys += [f"tel:{''.join(parts)}" for h in headers for parts in _PHONE.findall(h)]
    if read_address and len(normalise(read_address)) >= 12:
        keys.append(f"addr:{normalise(read_address)[:120]}")
    if read_name and len(normalise(read_name)) >= 6:
        keys.append(f"name:{normalise(read_name)[:120]}")
    return list(dict.fromkeys(keys))


def _reg_keys(digits: str, letter: str, bracket_digits: str, bracket_letter: str) -> list[str]:
    """A company number's keys: as printed (the key it gave before: memories are stored
    under it), then without its leading zeros where it has some. A number padded to 9
    digits loses only its first two zeros ("001451637-M" is "1451637-M"), so
    "000760274-K" was keyed "reg:0760274K" and "760274-K" "reg:760274K": one company, two
    keys, and what reviewers taught on one receipt never reached the other."""
    digits, letter = digits or bracket_digits, letter or bracket_letter
    keys = [f"reg:{digits}{letter}"]
    if digits.startswith("0") and digits.strip("0"):
        keys.append(f"reg:{digits.lstrip('0')}{letter}")
    return keys


# A registration key as stored: the number (5 to 7 digits as printed, or fewer once its
# zeros went) and its letter.
_REG_KEY = re.compile(r"reg:(\d+)([A-Z])")
REG_PRINTED_DIGITS = range(5, 8)  # the digits a number keyed as printed has (_REG)


def recall_keys(keys: Iterable[str]) -> list[str]:
    """The keys to find a receipt's memories by: its own (``shop_keys``, which memories are
    stored under), then its company numbers as earlier key functions kept them. Until the
    unpadded key was added a number was keyed as printed, zeros and all ("0012345-A" as
    reg:0012345A, "000760274-K" as reg:0760274K), and rows taught then are under that key
    alone: a receipt printing "12345-A", or padding it otherwise, did not find them.

    The number without its zeros and zero-padded to each width _REG reads (5 to 7
    digits) are all the keys it was ever stored under: at most four names (one for a
    7-digit number), looked up on the (company, key, field) index like any key, so no
    scan of a company's registration rows. Only looked up, never stored under."""
    keys = list(keys)
    return list(dict.fromkeys(keys + [older for key in keys for older in _reg_spellings(key)]))


def _reg_spellings(key: str) -> list[str]:
    """Every key a registration key's number was stored under: without its zeros, and
    padded with zeros to each width _REG reads as printed."""
    match = _REG_KEY.fullmatch(key)
    if match is None or not match[1].strip("0"):
        return []  # not a company number, or zeros alone (kept as keyed)
    digits, letter = match[1].lstrip("0"), match[2]
    widths = [len(digits), *(width for width in REG_PRINTED_DIGITS if width > len(digits))]
    return [f"reg:{digits.zfill(width)}{letter}" for width in widths]


def _digits_read(run: re.Match[str]) -> str:
    """A run of digits and digit-like letters as digits, when it is a number: at least
    twice as many digits as letters ("86Q671", not "OIL", "S1" or a word)."""
    token = run.group()
    digits = sum(c.isdigit() for c in token)
    if digits < 2 * (len(token) - digits):
        return token
    # Only a whole word: a run inside one ("SDN1") is a word's tail, not a number.
    start, end = run.span()
    whole = run.string
    if (start and whole[start - 1].isalpha()) or (end < len(whole) and whole[end].isalpha()):
        return token
    return token.translate(_DIGIT_OF)


@dataclass(frozen=True)
class Remembered:
    """One memory row as the chooser sees it."""

    key: str
    field: str
    value: str
    times_right: int
    times_wrong: int
    id: str = ""


@dataclass(frozen=True)
class Recall:
    value: str
    confidence: float
    corrections: int  # how many earlier receipts back this value
    memory_ids: tuple[str, ...]


def memory_confidence(times_right: int, times_wrong: int) -> float:
    """How often this memory has been right, shrunk towards 1/2 for few observations
    (Laplace): one correction gives 0.67, three 0.8, eight 0.9; every time it was
    overruled by a reviewer counts against it."""
    return round((times_right + 1) / (times_right + times_wrong + 2), 3)


def choose(
    rows: Iterable[Remembered],
    field: str,
    keys: list[str],
    text: str = "",
    *,
    min_support: float = ADDRESS_SUPPORT,
    name_printed_min: float = NAME_PRINTED,
) -> Recall | None:
    """The remembered value of ``field`` for a receipt with ``keys``: the value the most
    earlier corrections back, over all the keys. An address must also be printed on
    this receipt (``support`` at least ``min_support``), and the one printed best wins:
    that is what tells a chain's branches apart, as they share the name, the
    registration and the tax numbers (and often the head office's address). The other
    values the keys remember count against the chosen one's confidence."""
    usable = set(keys)
    # One vote per value but for case and spaces (same_value), under the spelling its
    # most-backed row holds: keys taught by other receipts may spell it otherwise.
    spelt: dict[str, list[Remembered]] = {}
    for row in rows:
        if row.field == field and row.key in usable:
            spelt.setdefault(spelling(row.value), []).append(row)
    votes = {max(same, key=lambda r: r.times_right).value: same for same in spelt.values()}
    printed = dict.fromkeys(votes, 1.0)  # a name may be corrected to one not printed
    if field == "merchantAddress":
        printed = {value: support(value, text) for value in votes}
        votes = {v: backing for v, backing in votes.items() if printed[v] >= min_support}
    if not votes:
        return None
    value, backing = max(
        votes.items(), key=lambda kv: (printed[kv[0]], sum(r.times_right for r in kv[1]))
    )
    best = max(backing, key=lambda r: r.times_right)
    # Another value remembered under this receipt's keys says this one was wrong for the
    # receipts that taught it (a renamed shop whose new name reached only some keys): the
    # most-backed value alone went past the review gate with the old name.
    dissent = sum(max(r.times_right for r in rows) for v, rows in votes.items() if v != value)
    confidence = memory_confidence(best.times_right, best.times_wrong + dissent)
    if field == "merchantName" and name_printed(value, text) < name_printed_min:
        confidence = min(confidence, UNPRINTED_NAME_CONFIDENCE)
    return Recall(
        value=value,
        confidence=confidence,
        corrections=best.times_right,
        memory_ids=tuple(r.id for r in backing if r.id),
    )


def support(value: str, text: str) -> float:
    """How much of ``value`` is printed in the receipt's header, by characters: each word
    found as it is or, from MISREAD_MIN_LENGTH characters, with one character misread,
    lost or added (OCR's O/0/Q/D, S/5, I/L/1, B/8, Z/2 folded first)."""
    words = [_fold(w) for w in re.findall(r"[0-9A-Z]+", value.upper())]
    total = sum(len(w) for w in words)
    if not total:
        return 0.0
    header = _fold("".join(text.splitlines()[:HEADER_LINES]))
    printed = [
        _printed(w, header) if len(w) >= MISREAD_MIN_LENGTH else _beside(words, i, header)
        for i, w in enumerate(words)
    ]
    return sum(len(w) for w, found in zip(words, printed, strict=True) if found) / total


NAME_HEADER_CHARS = 3000


def name_printed(value: str, text: str) -> float:
    """How much of ``value`` is printed as one run in the receipt's header: 1 less the
    fewest characters misread, lost or added (after folding OCR's confusions) to find it
    there, over its length. Word by word (``support``) a branch's name prints its
    chain's: "MR. D.I.Y. (KUCHAI) SDN BHD" has every word of "MR. D.I.Y. SDN BHD"."""
    name = _fold(value)
    if not name or len(name) > NAME_MAX_LENGTH:
        return 0.0
    # At most NAME_HEADER_CHARS: the search costs name × header steps in Python, and a
    # PDF's text layer can print 20 lines of thousands of characters (a receipt's header
    # is under a thousand).
    header = _fold("".join(text.splitlines()[:HEADER_LINES]))[:NAME_HEADER_CHARS]
    # Edit distance of the name to its best-matching stretch of the header: the match
    # may start and end anywhere in the header (row 0 is all zeros, the minimum over
    # the last row's cells).
    edits = list(range(len(name) + 1))
    fewest = edits[-1]
    for char in header:
        row = [0]
        for i, letter in enumerate(name, 1):
            row.append(min(edits[i] + 1, row[i - 1] + 1, edits[i - 1] + (letter != char)))
        edits = row
        fewest = min(fewest, row[-1])
    return 1 - fewest / len(name)


def _beside(words: list[str], index: int, header: str) -> bool:
    """A short word (a house number, "NO", "SS") is printed where it is in the address:
    next to its neighbour's nearest letters. Alone it is found in any header (a branch's
    "12" in the tax number or the date of another branch's receipt), and that gave one
    branch of a chain another's address at the memory's full confidence."""
    word = words[index]
    if len(words) == 1:
        return word in header
    before = words[index - 1][-NEIGHBOUR:] + word if index else None
    after = word + words[index + 1][:NEIGHBOUR] if index + 1 < len(words) else None
    return any(pair is not None and pair in header for pair in (before, after))


_FOLD = str.maketrans("0QD1IL52B8", "OOOIIISZBB")  # OCR confusions, each to one letter


def _fold(text: str) -> str:
    return normalise(text).translate(_FOLD)


def _printed(word: str, header: str) -> bool:
    if word in header:
        return True
    if not MISREAD_MIN_LENGTH <= len(word) <= MISREAD_MAX_LENGTH:
        return False
    near = []
    for i in range(len(word)):
        head, tail = re.escape(word[:i]), re.escape(word[i + 1 :])
        near += [f"{head}.{tail}", f"{head}{tail}", f"{head}.{re.escape(word[i:])}"]
    return re.search("|".join(near), header) is not None
