"""The top of a document: who issued it (name) and where (address)."""

from __future__ import annotations

import functools
import re

from .fields import Candidate, evidence_for, ocr_factor, squash
from .layout import BBox, Line, split_segments
from .values import parse_amounts, parse_dates, parse_times

COMPANY_SUFFIX = re.compile(
    r"SDNBHD|SDNBND|SDNBH|BHD$|BERHAD|ENTERPRISE|TRADING|RESTAURANT|RESTORAN|CAFE|MART|"
    r"STORE|SHOP|HARDWARE|PHARMACY|FARMASI|BAKERY|STATIONERY|SUPERMARKET|HOLDINGS|"
    r"CORPORATION|COMPANY|LIMITED|LTD|LLC|INC$|PLC|GMBH|SRL|PTYLTD|KEDAI|PERNIAGAAN|"
    r"TRADINGCO|SERVICES|SOLUTIONS|MARKETING|INDUSTRIES|GROUP"
)
_SB = re.compile(r"\bS\s?/\s?B\b")
# Words that name a kind of business or legal form, not the business itself.
_GENERIC_WORDS = re.compile(
    r"SDNBHD|SDN|BHD|BERHAD|ENTERPRISES?|TRADING|RESTAURANT|RESTORAN|CAFE|HARDWARE|"
    r"STATIONERY|SUPERMARKET|MART|STORE|SHOP|LIMITED|LTD|COMPANY|CO|PLT|MARKETING|"
    r"SERVICES|HOLDINGS|ELECTRICAL|BAKERY|PHARMACY|INC|LLC"
)
# Lines at the top that are not the issuer's name.
_NOT_NAME = re.compile(
    r"TAXINVOICE|^INVOICE|RECEIPT|CASHBILL|^BILL|OFFICIAL|WELCOME|^TEL|PHONE|^FAX|^GST|"
    r"^REG|^CO(MPANY)?NO|^ROC|^DATE|^TIME|^CASHIER|^TABLE|^NO$|SIMPLIFIED|^COPY|^ORDER|"
    r"^COMPANY|^EMAIL|^WWW|^HTTP|THANKYOU|^PAGE|SHOPPING|^TQ|^THANK"
)
# Legal forms: a line carrying one is almost surely the registered name.
LEGAL_FORM = re.compile(
    r"SDNBHD|BHD$|BERHAD|ENTERPRISES?|TRADING|SYARIKAT|PERNIAGAAN|LIMITED|LTD|LLC|INC$|"
    r"PLC|GMBH|PTYLTD|CORPORATION|COMPANY|\bCO$"
)
# Legal forms from abroad, matched on the words as printed: squashed, "SA", "AG" or "AB"
# hide in any word ("SALON"). Each must close the name, at its end or before a comma, after
# at least one word of it. The long and dotted ones may be in any case ("Oyj", "S.r.l."),
# "SpA" and "Oy" not: in capitals the one is a spa ("THAI FOOT SPA"), the other short.
_FORM_ABROAD = re.compile(
    r"\S[\s,]\s*(?:(?i:S\.?\s?A\.?\s?R\.?\s?L|S\.\s?A\.\s?S|SAS|S\.\s?A|S\.\s?P\.\s?A|"
    r"S\.\s?R\.\s?L|SRL|B\.\s?V|N\.\s?V|OYJ|A\s?/\s?S|SP\.?\s?Z\s?O\.\s?O|LLP)|SpA|ApS|Oy)"
    r"\.?\s*(?:,|$)"
)
# The two-letter forms without points only in capitals and on a line without digits:
# "AB" is a name's initials and "KG" a weight ("GULA 1 KG") or a village ("KG BARU").
_SHORT_FORM_ABROAD = re.compile(r"\S[\s,]\s*(?:SA|AG|KG|BV|NV|OY|AB)\.?\s*(?:,|$)")
# Legal forms and the trade words that close a name, at a line's end: what may stand on
# a line of its own under the name's distinctive words. "SDN" may be glued to the word
# before it ("NINGSDN.BHD.").
_LEGAL_END = re.compile(
    r"(?:(?:S[DO0]N\.?\s*)?\bB[HN]D|S[DO0]N\.?\s*B[HN]D|\bBERHAD|\bS\s?/\s?B|\bSARL|"
    r"\bS\.\s?A\.\s?R\.\s?L|\bGMBH(?:\s*&\s*CO\.?\s*KG)?|&\s*CO\.?\s*KG|\bLTD|\bLIMITED|"
    r"\bLLC|\bINC|\bPLC|\bS\.\s?A|\bENTERPRISES?|\bTRADING|\bCORPORATION|"
    # _FORM_ABROAD's dotted or long forms; not its undotted short ones, nor "SpA", which
    # in any case is a spa ("FOOT SPA" under "THAI").
    r"\bS\.\s?A\.\s?S|\bS\.\s?R\.\s?L|\bSRL|\bS\.\s?P\.\s?A|\bB\.\s?V|\bN\.\s?V|\bOYJ|"
    r"\bA\s?/\s?S|\bSP\.?\s?Z\s?O\.\s?O|\bLLP)\.?$",
    re.I,
)
# What no name starts with: a line opening so goes on from the line above. Not the trade
# words, which may ("Enterprise Rent-A-Car", "TRADING POST").
_OPENS_WITH_TAIL = re.compile(
    r"^(?:&|(?:S[DO0]N\.?\s*)?B[HN]D\b|BERHAD\b|SARL\b|GMBH\b|LTD\b|LLC\b|INC\b|"
    r"CORPORATION\b|S\.\s?R\.\s?L\b|S\.\s?P\.\s?A\b|B\.\s?V\b|N\.\s?V\b|OYJ\b|A\s?/\s?S\b|LLP\b)",
    re.I,
)
# OCR variants of "SDN BHD" (Sendirian Berhad) at the end of a name.
# The B of BHD read as 8, 3 or F ("SDN. 8HD", "SON 3HD", "Sdn fhd").
_SDN_BHD = re.compile(r"\bS[DO0IU]N\.?\s*[B83F][HN][DI0O]\.?$|\bSDN\.?\s*B\w{1,2}\.?$", re.I)
_ZERO_IN_WORD = re.compile(r"(?<=[A-Z])0(?![0-9])|(?<![0-9A-Z])0(?=[A-Z])")
# An upper-case I between lower-case letters is nearly always a misread l ("WorId").
_MIXED_I = re.compile(r"(?<=[a-z])I(?=[a-z])|(?<=[a-z])I\b")
# The short words must end there ("ST" is no street in "STATIONERY", "UNIT" none in
# "UNITED"); the long ones may run into the next word, as OCR often glues them
# ("JALANSS2").
ADDRESS_WORD = re.compile(
    r"\b((?:JL|LOT|KG|RD|ST|AVE|LANE|ROAD|DRIVE|FLR|UNIT)(?![A-Z])|"
    r"JALAN|JLN|TAMAN|TMN|LORONG|LRG|PERSIARAN|LEBUH|NO\b|NO\.|BLOK|BLOCK|BATU|"
    r"KAMPUNG|BANDAR|PUSAT|PLAZA|STREET|AVENUE|FLOOR|"
    r"LEVEL|SUITE|BUILDING|KAWASAN|INDUSTRI|SEKSYEN|SECTION|SELANGOR|JOHOR|"
    r"KUALA LUMPUR|PUTRAJAYA|PENANG|PULAU PINANG|PERAK|PAHANG|KEDAH|KELANTAN|MELAKA|"
    r"SABAH|SARAWAK|NEGERI SEMBILAN|TERENGGANU|PETALING|SHAH ALAM|KLANG|PUCHONG|"
    r"CHERAS|AMPANG|KAJANG|SUBANG|BANGSAR|MALAYSIA|WILAYAH|PERSEKUTUAN)",
    re.I,
)
POSTCODE = re.compile(r"(?<!\d)\d{5}(?!\d)")
_ADDRESS_STOP = re.compile(
    r"TEL|PHONE|FAX|HP|GST|SST|EMAIL|WWW|HTTP|INVOICE|RECEIPT|CASHIER|DATE|BILL|"
    r"REGNO|COMPANYNO|CONO|ROC|BUSINESS|OPEN|TAX|MOBILE|WHATSAPP|DOC|INV|CASHBILL|ORDER"
)
# The digits are taken from the start of their run ((?<!\d)): tried from every digit of a
# long run, each try read the run to its end, minutes for one of 100,000 digits.
_REG_NUMBER = re.compile(r"^\(?[\s\w.]*?(?<!\d)\d{3,}[\s-]*[A-Z]\)?\.?$|^\(?\d{4,}[-\s]?[A-Z]?\)?$")
_TRAILING_REG = re.compile(
    r"\s*[\(\[]?\s*(?:(?:CO(?:MPANY)?\.?\s*)?(?:REG(?:ISTRATION)?\.?\s*)?NO\.?\s*:?)?"
    r"\s*(?<!\d)\d{4,}[-\s]?[A-Z]\s*[\)\]]?\s*$",
    re.I,
)
# What follows a closing legal form on the name's line is no part of the name when it
# holds a number (a registration or branch code: "S/B 273500-U (GK3)") or is a cut-off
# parenthesis ("S/B (S").
_AFTER_LEGAL_FORM = re.compile(
    r"(\b(?:S[DO0]N\.?\s*B[HN]D|S\s?/\s?B|5\s?/\s?B|S\s?/\s?8|BHD|BERHAD)\.?)(?:\s*\S*\d.*|\s*\([^)]{0,3})$",
    re.I,
)
# "S/B" (Sendirian Berhad) closing a name, with S read as 5 or B as 8: "MART 5/B", "S/8";
# one letter misread, not both, so "5/8" stays a size.
_MISREAD_SB = re.compile(r"(?<=\s)(?:5\s?/\s?B|S\s?/\s?8)$", re.I)
# "GST ID" with the T read as 1, I or 3-for-S ("(GS11D No", "(G3T ID No1"); a unit
# number such as "G31 & G32" is no such label.
_MISREAD_GST_ID = re.compile(r"^\(?\s*G[S35]\s?[T1I]\s*[I1]?\s*D\b")
_REG_LINE = re.compile(r"^(COMPANY|CONPANY|COMPANYREG|COREG|CONO|REG|ROC|SITE|BRN|BUSINESSREG)")
_NUMBERED = re.compile(r"^\s*(?:NO\.?\s*)?\d{1,4}[A-Z]?(?:-\d{1,4}[A-Z]?)*\s*[,.]", re.I)
_PLACE = re.compile(
    r"MALAYSIA|SELANGOR|JOHOR|KUALA|LUMPUR|(?<![A-Z])KL(?![A-Z])|PAHANG|PERAK|KEDAH|PENANG|PINANG|MELAKA|"
    r"SABAH|SARAWAK|KELANTAN|TERENGGANU|NEGERI|SEMBILAN|PUTRAJAYA|DARUL|EHSAN|TAKZIM|"
    r"WILAYAH|PERSEKUTUAN|SINGAPORE",
    re.I,
)
_STREET_SQUASHED = re.compile(r"JALAN|JLN|TAMAN|LORONG|PERSIARAN|KAWASAN|BANDAR|LEBUH")
_BRANCH = re.compile(r"^\(.*\)\.?$")
# From the start of the points and spaces before it, for the same reason as _EMAIL.
_TRAILING_PHONE = re.compile(
    r"(?<![\s,.])[\s,.]*\+?\(?\d{2,4}\)?[-\s]?\d{3,4}[-\s]?\d{3,5}[.,\s]*$"
)
_MISREAD_LOT = re.compile(r"^[1lI][0O]T(?=\s?\d)")  # "10T1851-A" is "LOT 1851-A"
# From the start of the word holding it ((?<!\S)): tried from every character of a long
# word, each try read the word to its end.
_EMAIL = re.compile(r"(?<!\S)\S+@\S.*$")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_AS_LETTER = {"0": ("O", "o"), "1": ("I", "l"), "5": ("S", "s"), "8": ("B", "B")}
_TRAILING_ONE = re.compile(r"(?<=[a-z]{3})1$")
_LETTER_IN_NUMBER = re.compile(r"(?<=\d)[OoIl](?=\d)")
_DIGIT_IN_WORD = re.compile(r"(?<=[A-Za-z])[0158](?=[A-Za-z])")
_AS_DIGIT = {"O": "0", "o": "0", "I": "1", "l": "1"}
_INLINE_CONTACT = re.compile(r"\s*\b(TEL|FAX|PHONE|H/?P|GST|EMAIL)\b.*$", re.I)
_TRAILING_ZERO = re.compile(r"(?<=[A-Za-z]{3})0$")  # "REK0" is "REKO"
# Words of Malaysian addresses long enough (5+ letters) that one misread letter in them
# is recognisable: "Jaian", "Joher", "LUNPUR", "Seksyer", "Perindustian". Not words
# with a common neighbour: UTARA (north) is one letter from UTAMA ("Damansara Utama").
ADDRESS_VOCABULARY = (
    "JALAN", "TAMAN", "LORONG", "PERSIARAN", "KAMPUNG", "BANDAR", "KAWASAN", "INDUSTRI",
    "PERINDUSTRIAN", "SEKSYEN", "SECTION", "SELANGOR", "JOHOR", "KUALA", "LUMPUR",
    "PUTRAJAYA", "PENANG", "PULAU", "PINANG", "PAHANG", "KEDAH", "KELANTAN", "MELAKA",
    "SABAH", "SARAWAK", "NEGERI", "SEMBILAN", "TERENGGANU", "PETALING", "KLANG", "PUCHONG",
    "CHERAS", "AMPANG", "KAJANG", "SUBANG", "BANGSAR", "MALAYSIA", "WILAYAH",
    "PERSEKUTUAN", "BAHRU", "DARUL", "EHSAN", "TAKZIM", "KEMBANGAN", "FLOOR", "LEVEL",
    "BUILDING", "SENTRAL",
    # Real words one letter from a word above, which the repair must leave alone:
    # "Pasar Borong" (a wholesale market), "Kampong" (the older spelling of Kampung).
    "BORONG", "KAMPONG",
)  # fmt: skip
# Places of two words: when one word is read right, the other is the place's word if it
# is one slip away ("Shah Aiam", "Shah Alamn", "Daru! Ehsan").
PLACE_PHRASES = (
    ("SHAH", "ALAM"), ("KUALA", "LUMPUR"), ("PETALING", "JAYA"), ("SERI", "KEMBANGAN"),
    ("SUNGAI", "BULOH"), ("JOHOR", "BAHRU"), ("BATU", "CAVES"), ("DARUL", "EHSAN"),
    ("DARUL", "TAKZIM"), ("KOTA", "DAMANSARA"), ("BANDAR", "BARU"),
)  # fmt: skip
# Trade words and legal forms of business names, for the same repair ("ENTERFRISE").
NAME_VOCABULARY = (
    "ENTERPRISE", "ENTERPRISES", "TRADING", "STATIONERY", "RESTAURANT", "RESTORAN",
    "HARDWARE", "SUPERMARKET", "BAKERY", "PHARMACY", "FARMASI", "HOLDINGS", "CORPORATION",
    "INDUSTRIES", "MARKETING", "SERVICES", "SOLUTIONS", "BERHAD", "PERNIAGAAN",
    "SYARIKAT", "ELECTRICAL",
    # Real words one dropped last letter from a word above, which the repair must leave
    # alone: "Baker & Sons" is no bakery, "CAR SERVICE" no "SERVICES".
    "BAKER", "SERVICE", "HOLDING", "SOLUTION",
)  # fmt: skip
# A word: a run of letters, also split where lower case turns upper ("JahorBahru").
WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")

HEADER_LINES = 14


def is_name_like(line: Line) -> bool:
    text = clean_name(line.text)
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 3:
        return False
    # Handwritten notes on scans come out in lower case; printed headers are capitals.
    if not any(c.isupper() for c in letters):
        return False
    s = squash(text)
    if _NOT_NAME.search(s) or _REG_NUMBER.match(line.text.strip().upper()):
        return False
    digits = sum(c.isdigit() for c in text)
    return digits <= len(letters) / 2


def header_segments(lines: list[Line]) -> list[Line]:
    """The top lines split into column segments, left to right, so a letterhead is not
    glued to an "INVOICE" title or a details block printed on the same baseline."""
    segments: list[Line] = []
    for line in lines[:HEADER_LINES]:
        segments.extend(split_segments(line))
    return segments


def find_merchant(lines: list[Line]) -> tuple[Candidate | None, int]:
    """The issuer's name and the index of its last line in ``lines``, or -1.

    ``lines`` should come from ``header_segments``.
    """
    top = [(i, line) for i, line in enumerate(lines) if line.center_y < 0.5]
    names = [(i, line) for i, line in top if is_name_like(line) and not _is_address(line.text)]
    chosen = next(((i, True) for i, line in names if has_company_suffix(line.text)), None)
    if chosen is None and names:
        chosen = (names[0][0], False)
    if chosen is None:
        return None, -1
    index, suffix = chosen
    earlier = [line for i, line in names if i < index - 1]
    return _name_candidate(lines, index, suffix=suffix, rivals_above=len(earlier))


def has_company_suffix(text: str) -> bool:
    text = clean_name(text)
    return bool(
        COMPANY_SUFFIX.search(squash(text)) or _SB.search(text.upper()) or _has_form_abroad(text)
    )


def has_legal_form(text: str) -> bool:
    """Whether ``text`` carries a legal form: then it is almost surely the registered name."""
    return bool(LEGAL_FORM.search(squash(text))) or _has_form_abroad(text)


def _has_form_abroad(text: str) -> bool:
    text = text.strip()
    short = not any(c.isdigit() for c in text) and _SHORT_FORM_ABROAD.search(text)
    return bool(_FORM_ABROAD.search(text) or short)


def _name_candidate(
    lines: list[Line], index: int, *, suffix: bool, rivals_above: int
) -> tuple[Candidate, int]:
    used = [lines[index]]
    # A name wrapped over two lines: "... HARDWARE &" / "ELECTRICAL", or a line that is
    # only generic words ("RESTAURANT SDN BHD") under the distinctive part of the name.
    above = lines[index - 1] if index > 0 else None
    if (
        above is not None
        and (_continues(above, lines[index]) or _closes_name_above(above, lines[index]))
        and is_name_like(above)
    ):
        used.insert(0, above)
    last = index
    below = lines[index + 1] if index + 1 < len(lines) else None
    if below is not None and (_wraps_to(used[-1], below) or _closes_name(used[-1], below)):
        used.append(below)
        last = index + 1
    text = normalise_name(clean_name(" ".join(u.text for u in used)))
    confidence = _name_confidence(text, used, suffix=suffix, rivals_above=rivals_above)
    if below is not None and last == index and _may_continue(used[-1], below):
        confidence *= 0.85  # an unexplained name-like line right below may belong to it
    return Candidate(text, round(confidence, 3), [evidence_for(u) for u in used]), last


def _wraps_to(line: Line, below: Line) -> bool:
    joined = line.text.rstrip().endswith("&") or below.text.lstrip().startswith("&")
    return joined and is_name_like(below) and not _is_address(below.text)


def _closes_name(line: Line, below: Line) -> bool:
    """Whether ``below`` ends the name begun on ``line``: a legal form printed on a line of
    its own ("ATELIER LEFEBVRE" / "SARL", "KEDAI UBAT & RUNCIT HONG" / "NING SDN. BHD."),
    or the rest of a parenthesis ``line`` left open ("ENTERPRISE(SETIA" / "ALAM) SDN BHD")."""
    if not _next_to(line, below) or _is_address(below.text):
        return False
    if _is_legal_tail(below.text):
        return True  # name-like or not: "S.A." has two letters
    return is_name_like(below) and _opens(line.text) and _closes(below.text)


def _closes_name_above(above: Line, line: Line) -> bool:
    """Whether ``line`` goes on from the name begun on the line ``above``: it opens with a
    word no name starts with ("& TEA LEAF (M) SDN. BHD", "GmbH & Co. KG", "CORPORATION
    S/B"), with a branch in parentheses ("(SEMENYIH) SDN BHD"), or closes a parenthesis
    ``above`` left open."""
    if not _next_to(above, line) or _is_address(above.text):
        return False
    text = line.text.strip()
    return bool(
        _OPENS_WITH_TAIL.match(text)
        or _is_legal_tail(text)
        or (text.startswith("(") and _LEGAL_END.search(clean_name(text)))
        or (_opens(above.text) and _closes(text))
    )


def _next_to(line: Line, below: Line) -> bool:
    """The next line of one block: less than 1.2 line heights below, in print no more
    than half again as tall (a letterhead's legal form is no larger than its name)."""
    gap = below.bbox[1] - line.bbox[3]
    return gap < 1.2 * max(below.height, 1e-6) and below.height < 1.6 * line.height


def _is_legal_tail(text: str) -> bool:
    """A legal form alone or nearly ("SDN BHD", "(M) SDN BHD", "NING SDN. BHD.", "LLC",
    "GmbH & Co. KG", "S.A."): at most one short word of the name before it."""
    m = _LEGAL_END.search(clean_name(text))
    if m is None:
        return False
    rest = m.string[: m.start()].strip(" ,.()&")
    return len(rest.split()) <= 1 and sum(c.isalpha() for c in rest) <= 4


def _opens(text: str) -> bool:
    return text.count("(") > text.count(")")


def _closes(text: str) -> bool:
    close = text.find(")")
    return close >= 0 and "(" not in text[:close]


def _may_continue(line: Line, below: Line) -> bool:
    adjacent = below.bbox[1] - line.bbox[3] < 0.6 * max(line.height, 1e-6)
    similar = abs(below.height - line.height) < 0.25 * max(line.height, 1e-6)
    return (
        adjacent
        and similar
        and is_name_like(below)
        and not _is_address(below.text)
        and not has_company_suffix(line.text)
    )


def _name_confidence(text: str, used: list[Line], *, suffix: bool, rivals_above: int) -> float:
    if suffix and has_legal_form(text):
        base = 0.95
    elif suffix:
        base = 0.82  # a trade word (CAFE, HARDWARE) may sit under a brand line
    else:
        base = 0.55
    if rivals_above:
        base *= 0.85  # a name-like line above was passed over
    # Names must be right to the letter, so OCR doubt weighs more than for numbers.
    ocr = min(w.confidence for u in used for w in u.words)
    return base * max(0.3, min(1.0, 1 - 3.0 * (0.97 - ocr)))


def normalise_name(text: str) -> str:
    """Repair OCR slips that are unambiguous in company names."""
    text = _SDN_BHD.sub("SDN BHD", text)
    text = _ZERO_IN_WORD.sub("O", text)  # "AEON C0. (M) BHD"
    text = _MIXED_I.sub("l", text)
    return WORD.sub(lambda m: fix_known_word(m.group(0), NAME_VOCABULARY), text)


def _continues(above: Line, line: Line) -> bool:
    """Whether ``line`` reads as the tail of a name begun on the line ``above``."""
    adjacent = line.bbox[1] - above.bbox[3] < 1.2 * max(line.height, 1e-6)
    if not adjacent or _is_address(above.text) or has_company_suffix(above.text):
        return False
    if above.text.rstrip().endswith("&"):
        return True
    distinctive = _GENERIC_WORDS.sub("", squash(line.text))
    return len(distinctive) < 4


def clean_name(text: str) -> str:
    text = _TRAILING_REG.sub("", text.strip().rstrip(" ,.;:"))
    text = _INLINE_CONTACT.sub("", text)
    text = _AFTER_LEGAL_FORM.sub(r"\1", text)
    text = _MISREAD_SB.sub("S/B", text.strip())
    return re.sub(r"\s+", " ", text).strip(" ,.-:")


def _x_overlap(a: BBox, b: BBox) -> float:
    return min(a[2], b[2]) - max(a[0], b[0])


def _is_address(text: str) -> bool:
    if ADDRESS_WORD.match(text.strip()) or _PLACE.fullmatch(squash(text)):
        return True  # "TAMAN BERKELEY", "JOHOR": a place, not a business
    return bool(ADDRESS_WORD.search(text)) and bool(re.search(r"\d", text))


def find_address(lines: list[Line], after: int) -> Candidate | None:
    """Address lines below the name (or from the top when no name was found).

    Registration and tax-number lines before the address are skipped; a contact line,
    a vertical gap, or a line after the postcode that is no place name ends it.
    """
    column = lines[after + 1 :]
    if after >= 0:
        name_box = lines[after].bbox
        column = [line for line in column if _x_overlap(line.bbox, name_box) > 0]
    collected: list[Line] = []
    skipped = 0
    seen_postcode = False
    passed: Line | None = None  # the line right above, when passed over as no address
    for line in column[:12]:
        text = fix_ocr_confusions(line.text.strip())
        # Not in _is_address_stop: the field model's features, fitted on SROIE, read that.
        if _is_address_stop(text) or _is_no_address_line(text):
            if collected:
                break
            passed = None
            continue  # company / tax registration numbers sit between name and address
        if collected and (_is_contact_only(text) or len(parse_amounts(text)) >= 2):
            break  # a bare phone number, or a row of prices: the address has ended
        if not collected:
            skipped += 0 if _starts_address(text) else 1
            if skipped > 3 or line.center_y > 0.5:
                break
            if _starts_address(text):
                if passed is not None and _is_street_above_town(passed, line, text):
                    collected.append(passed)
                collected.append(line)
                seen_postcode = _has_postcode_and_place(text)
            passed = line
            continue
        gap = line.bbox[1] - collected[-1].bbox[3]
        if gap > 1.5 * max(collected[-1].height, 1e-6):
            break
        place_only = _PLACE.search(text) and not re.search(r"\d", text)
        if seen_postcode and not (place_only or _BRANCH.match(text)):
            break  # after the postcode only a state, country or "(branch)" may follow
        collected.append(line)
        seen_postcode = seen_postcode or _has_postcode_and_place(text)
        if len(collected) >= 5:
            break
    if not collected:
        return None
    return _address_candidate(collected)


# A house number opening or closing a street's line: "24 Rue de Rivoli", "Via Roma 12a",
# "Corso Vittorio Emanuele 88".
_HOUSE_NUMBER = re.compile(r"^\d{1,4}[A-Za-z]?\s+[A-Za-z]|[A-Za-z]\s+\d{1,4}[A-Za-z]?$")


def _is_street_above_town(above: Line, line: Line, text: str) -> bool:
    """Whether ``above`` is the street of the postcode and town on ``line`` (``text``, read
    repaired): a street abroad names no street word the reader knows ("Rue", "Corso",
    "...strasse"), so it was passed over and only "75004 Paris" read. The street line
    holds a house number at one end and words, right above the town line."""
    if not POSTCODE.search(text) or ADDRESS_WORD.search(text):
        return False  # no town line, or a Malaysian one, whose street lines are known
    street = fix_ocr_confusions(above.text.strip()).rstrip(" ,.")
    gap = line.bbox[1] - above.bbox[3]
    return bool(
        gap < 1.5 * max(above.height, 1e-6)
        and _HOUSE_NUMBER.search(street)
        and sum(c.isalpha() for c in street) >= 4
        and not has_company_suffix(street)
    )


def _is_contact_only(text: str) -> bool:
    return not _strip_contact(text).strip(" ,.;:")


def _has_postcode_and_place(text: str) -> bool:
    return bool(POSTCODE.search(text) and _PLACE.search(text))


def _address_candidate(collected: list[Line]) -> Candidate:
    parts = [_strip_contact(line.text) for line in collected]
    text = fix_ocr_confusions(re.sub(r"\s+", " ", " ".join(p for p in parts if p)).strip())
    text = _MISREAD_LOT.sub("LOT", text)
    has_street = any(ADDRESS_WORD.search(p) for p in parts)
    has_postcode = any(POSTCODE.search(p) for p in parts)
    base = 0.82 if has_street and has_postcode else 0.6
    ocr = min(line.confidence for line in collected)
    return Candidate(
        text, round(base * ocr_factor(ocr), 3), [evidence_for(line) for line in collected]
    )


def _is_address_stop(text: str) -> bool:
    s = squash(text)
    return bool(
        _ADDRESS_STOP.match(s)
        or _REG_NUMBER.match(text.upper())
        or _REG_LINE.match(s)
        or re.match(r"^\(?(GST|SST)", text.upper())
        or _MISREAD_GST_ID.match(text.upper())
    )


# A document's title, in the languages of the tills abroad: "FACTURE", "Factura
# simplificada", "CASH RECEIPT" (squashed, from the line's start).
_DOCUMENT_TITLE = re.compile(
    r"^(?:SIMPLIFIED|SALES|CASH|OFFICIAL|TAX)*(?:INVOICE|RECEIPT|FACTURE|FACTURA|FATTURA|"
    r"RECHNUNG|QUITTUNG|KASSENBON|KASSABON|KVITTO|KVITTERING|RICEVUTA|SCONTRINO|RECIBO|"
    r"TICKET|BELEG)"
)
# A card slip's line: a masked card number, a card scheme, or a card or terminal word with
# a number ("Terminal ID 0042", "Carte bancaire 0042"). Not "MID", which is Mid Valley.
_MASKED_CARD = re.compile(r"(?:\*{3,}|X{4,})\s?\d{2,4}\b")
_CARD_SCHEME = re.compile(r"\b(?:VISA|MASTERCARD|MAESTRO|AMEX|CONTACTLESS)\b")
_CARD_WORD = re.compile(r"\b(?:TERMINAL|TERM|TID|CARD|CARTE|CARTA|KARTE|TARJETA|CB|EC|DEBIT)\b")
# A phone number alone after a short label, grouped any way ("Tél : 01 42 60 12 34",
# "+39 02 1234 5678"): 8 to 15 digits and nothing else.
_PHONE_LINE = re.compile(r"^[^\d+(]{0,16}[+(]?\d[\d\s().\-/]{6,}\d\)?$")
# A tax or company registration abroad, at the line's start ("VAT Reg No", "P.IVA",
# "N° TVA", "UEN/GST Reg No", "USt-IdNr").
_REGISTRATION_ABROAD = re.compile(
    r"^\W*(?:N[°O]\.?\s*)?(?:VAT|TVA|UEN|ABN|ACN|SIRET|SIREN|P\.?\s?IVA|PARTITA\s+IVA|CIF|NIF|"
    r"UST|UID|ST\.?-?NR|STEUER\w*|BTW|KVK|ORG\.?\s?NR|GSTIN|RCS|TRN)\b"
)


def _is_no_address_line(text: str) -> bool:
    """A line no address holds: a date or a time ("05/12/2026 14:03"), a card slip, a
    document's title, a phone number or a tax registration. Under an address that names
    no state the reader knows, the address ran on into it ("... 10200 George Town
    05/12/2026 14:03", 0.81). Unless labelled so at its start, a line with an address
    word is kept whatever else it holds: "Lot 2.03, Level 2, Terminal 1" is an airport's
    shop."""
    upper = text.strip().upper()
    if _DOCUMENT_TITLE.match(squash(upper)) or _REGISTRATION_ABROAD.match(upper):
        return True  # labelled at the start: a "No" after the label is no address's
    if ADDRESS_WORD.search(upper):
        return False
    if _MASKED_CARD.search(upper) or _CARD_SCHEME.search(upper):
        return True
    if _CARD_WORD.search(upper) and any(c.isdigit() for c in upper):
        return True
    if parse_dates(upper) or any(":" in upper[m.start : m.end] for m in parse_times(upper)):
        return True
    return _is_phone_line(upper)


def _is_phone_line(text: str) -> bool:
    m = _PHONE_LINE.match(text)
    return m is not None and 8 <= sum(c.isdigit() for c in text) <= 15


def _starts_address(text: str) -> bool:
    return bool(
        ADDRESS_WORD.search(text)
        or POSTCODE.search(text)
        or _NUMBERED.match(text)
        or _STREET_SQUASHED.search(squash(text))  # "NO4JALANPERJIRANAN10"
    )


def _strip_contact(text: str) -> str:
    text = _EMAIL.sub("", text)
    text = _INLINE_CONTACT.sub("", text)
    return _TRAILING_PHONE.sub("", text).strip()


# A five-digit postcode with a digit or two read as a look-alike letter ("411SO",
# "520D0", "401sO" glued to the town): at least three real digits, and not a word.
_MISREAD_POSTCODE = re.compile(r"(?<![0-9A-Za-z])[0-9OoDQSsIlB]{5}(?![0-9a-z])")
_POSTCODE_DIGIT = str.maketrans("OoDQSsIlB", "000055118")


def _postcode(match: re.Match[str]) -> str:
    read = match.group(0)
    return read.translate(_POSTCODE_DIGIT) if sum(c.isdigit() for c in read) >= 3 else read


# Pure, and called on the same lines for every address block they are part of.
@functools.lru_cache(maxsize=4096)
def fix_ocr_confusions(text: str) -> str:
    """Undo digit/letter swaps inside words: L0T -> LOT, Ja1an -> Jalan, 433O0 -> 43300;
    and single misread letters in well-known address words: Jaian -> Jalan."""
    text = _MISREAD_POSTCODE.sub(_postcode, text)
    text = _TOKEN.sub(lambda m: _fix_token(m.group(0)), text)
    text = _MIXED_I.sub("l", text)  # "JaIan" -> "Jalan"
    text = _O_IN_UNIT.sub("0", text)  # "NO.1O-G" -> "NO.10-G"
    text = _LOT_FIRST.sub(lambda m: m.group(1) + ("Lot" if m.group(2) == "t" else "LOT"), text)
    text = _FLOOR_ORDINAL.sub(lambda m: _ORDINALS[m.group(1).upper()], text)  # "BRD FLR"
    text = _SPLIT_WORD.sub(_join_split_word, text)  # "BORON G" -> "BORONG"
    text = WORD.sub(lambda m: fix_known_word(m.group(0), ADDRESS_VOCABULARY), text)
    return _fix_place_phrases(text)


_O_IN_UNIT = re.compile(r"(?<=\d)[Oo](?=-[A-Za-z0-9])")
# An address that opens with LOT whose L was read as 1, I or i ("1.OT 1851-A", "iot L1-4").
_LOT_FIRST = re.compile(r"^([\s(]*)[1Iil|][.,]?[O0o]([Tt])\b")
# A floor's ordinal with its digit read as a letter ("BRD FLR", "IST FLOOR").
_FLOOR_ORDINAL = re.compile(r"\b(BRD|IST|lST)(?=\s*(?:FLR|FLOOR|FL\b))", re.I)
_ORDINALS = {"BRD": "3RD", "IST": "1ST", "LST": "1ST"}
_SPLIT_WORD = re.compile(r"\b([A-Za-z]+) (?=([A-Za-z]+)\b)")


def _join_split_word(m: re.Match[str]) -> str:
    """Two pieces of one address word that OCR split with a space ("SELAN GOR"), so that
    the one-slip repair does not complete the first piece and leave the second."""
    a, b = m.groups()
    if (a + b).upper() in ADDRESS_VOCABULARY and a.upper() not in ADDRESS_VOCABULARY:
        return a  # the space goes; the second piece is kept by the lookahead
    return m.group(0)


def _fix_place_phrases(text: str) -> str:
    parts = re.split(r"(\s+)", text)  # words at even indices, the spaces between at odd
    for i in range(0, len(parts) - 2, 2):
        a, b = _bare(parts[i]), _bare(parts[i + 2])
        for first, second in PLACE_PHRASES:
            if a == first and b != second and _near_word(b, second):
                parts[i + 2] = _as_known(parts[i + 2], second)
            elif (
                b == second
                and len(a) == len(first)  # "Sri Kembangan" is spelt so too
                and a != first
                and _near_word(a, first)
            ):
                parts[i] = _as_known(parts[i], first)
    return "".join(parts)


def _bare(word: str) -> str:
    """A word without the punctuation after it, upper case ("Alamn," -> "ALAMN")."""
    return word.rstrip(",.;:").upper()


def _as_known(word: str, known: str) -> str:
    """``known`` in the word's case, with the punctuation after the word kept."""
    return _in_case_of(word, known) + word[len(word.rstrip(",.;:")) :]


def _near_word(read: str, known: str) -> bool:
    """One letter misread, dropped or added ("AIAM", "ALA", "ALAMN"; "!" is a read l)."""
    read = read.replace("!", "L").replace("|", "L")
    if not read.isalpha():
        return False
    return (
        read == known
        or _one_slip_apart(read, known)
        or (len(read) == len(known) + 1 and _one_slip_apart(known, read))
    )


def _in_case_of(word: str, known: str) -> str:
    if word.isupper() or not any(c.islower() for c in word):
        return known
    return known.capitalize() if word[0].isupper() else known.lower()


def fix_known_word(
    word: str, vocabulary: tuple[str, ...], *, shortest: int = 5, keep_first: bool = False
) -> str:
    """The vocabulary word one misread (or one dropped) letter away, in the word's case;
    with ``keep_first``, only when the first letter was read right."""
    upper = word.upper()
    if len(upper) < shortest or upper in vocabulary:
        return word
    near = {
        known
        for known in vocabulary
        if _one_slip_apart(upper, known) and (not keep_first or _same_first(upper, known))
    }
    if len(near) != 1:
        return word  # none, or ambiguous
    return _in_case_of(word, near.pop())


# First letters OCR reads as one another on receipts' thermal print (T/I, O/0, S/5, B/8).
_FIRST_LOOKALIKES = {("I", "T"), ("0", "O"), ("5", "S"), ("8", "B")}


def _same_first(read: str, known: str) -> bool:
    return read[0] == known[0] or (read[0], known[0]) in _FIRST_LOOKALIKES


def _one_slip_apart(read: str, known: str) -> bool:
    if len(read) == len(known):
        return sum(a != b for a, b in zip(read, known, strict=True)) == 1
    if len(read) == len(known) - 1:  # one letter dropped
        return any(known[:i] + known[i + 1 :] == read for i in range(len(known)))
    return False


def _fix_token(token: str) -> str:
    token = _LETTER_IN_NUMBER.sub(lambda m: _AS_DIGIT[m.group(0)], token)  # "1l8B" -> "118B"
    token = _TRAILING_ONE.sub("l", token)  # "Leve1" -> "Level"
    token = _TRAILING_ZERO.sub("o" if token[:-1].islower() else "O", token)
    letters = sum(c.isalpha() for c in token)
    digits = sum(c.isdigit() for c in token)
    if letters >= 2 and digits:
        lower = sum(c.islower() for c in token) > letters / 2
        # A digit between two letters is a misread letter ("L0T1851" -> "LOT1851").
        token = _DIGIT_IN_WORD.sub(lambda m: _AS_LETTER[m.group(0)][lower], token)
    if digits >= 2 and letters and all(c in _AS_DIGIT for c in token if c.isalpha()):
        return "".join(_AS_DIGIT.get(c, c) for c in token)  # "433O0" -> "43300"
    return token
