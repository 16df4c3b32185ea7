"""Invoice fields from reading-order lines (text-layer PDFs or OCR)."""

from __future__ import annotations

import re
from collections.abc import Set
from decimal import Decimal

from . import header
from .fields import (
    AmountRef,
    Candidate,
    evidence_for,
    labelled_token,
    ocr_factor,
    span_words_bbox,
    squash,
)
from .header import find_merchant, has_company_suffix, header_segments, is_name_like
from .layout import BBox, Line, Word, split_segments
from .ranker import DISAGREEMENT_CAP
from .receipt import (
    CREDIT_NOTE_CONFIDENCE,
    ORDER_UNSURE_CONFIDENCE,
    RIVAL_TOTAL_CUE,
    date_order,
    doubt_rival_totals,
    find_issue_date,
    find_line_item_rows,
    line_items_candidate,
)
from .totals import amount_paid_back, find_tax, find_total, two_documents
from .values import (
    Match,
    detect_currency,
    order_unsure,
    parse_amounts,
    parse_dates,
    printed_order,
)

# "N°" and "Nº" as OCR reads them: PP-OCRv4's alphabet has no "°" (and NFKC makes "º" an
# "o"), so a scan's "N° de facture" comes out "No de facture", "N. de facture" or
# "N de facture"; with its spaces dropped as well, "Nodefacture" and "NoTVA".
_NUMERO = r"(?:N[°º]|\bN(?:O\b\.?|\.|(?=\s))|\bNO(?=(?:DE|D['’])?(?:FACTUR|AVOIR|TVA)))"
# A credit note's own number is the document's number; the invoice it credits
# ("Original invoice: INV-8367") is a reference, never it.
# German, French, Dutch and Spanish invoices and credit notes name their numbers so
# ("Rechnungsnummer", "Facture n°", "Factuurnr.", "Nº factura", "Avoir n°"); a bare
# "Numéro"/"Número" only with a colon after it or as a column's heading, and never the
# credited invoice's ("zu Rechnung Nr.").
_INVOICE_NO_LABEL = re.compile(
    r"(?<!ORIGINAL\s)(?<!ORIGINAL)(?<!ZU\s)(?:"
    r"(?:INVOICE|INV\.?|BILL|CREDIT\s*NOTE|CREDIT\s*MEMO)\s*(?:(?:NO|NUMBER|NUM|ID|REF)\b|#)\.?\s*[:#.]?"
    r"|\b(?:INVOICE|CREDIT\s*NOTE)\s*(?=[:#])[:#]"
    r"|\b(?:(?:RECHNUNGS?|GUTSCHRIFTS?)\s*-?\s*(?:NUMMER|NR\b\.?)"
    r"|(?:FACTURE|AVOIR|FACTURA)\s*N(?:[°º]|O\b|\b)\.?|"
    + _NUMERO
    + r"\s*(?:DE\s*)?(?:FACTURE|FACTURA|RECTIFICATIVA)"
    r"|" + _NUMERO + r"\s*D['’]\s*AVOIR|(?:FACTUUR|CREDITNOTA)\s*(?:NUMMER|NR\b\.?)"
    r"|N[ÚUÉE]M[ÉE]RO\s*(?:DE\s+FACTUR[EA]\b|(?=:|$)))\s*[:#.]?)",
    re.I,
)
# An invoice number, with one or two capitals before a space that OCR may have put there:
# RapidOCR's respacing splits proportional capitals ("R E-2026-9703", "IN V-47499"), and
# the token after the space alone was the number at 0.93.
_TOKEN = re.compile(
    r"\s*[:#.]?\s*((?:(?-i:[A-Z]{1,2}) (?=[A-Z0-9]))?[A-Z0-9][A-Z0-9\-/_.]{1,30}[A-Z0-9])", re.I
)
# A number joined over such a space is a guess (the space may be printed): reviewed.
SPLIT_NUMBER_FACTOR = 0.85
_TAX_ID_LABEL = re.compile(
    r"\b(?:VAT\s*(?:REG\.?\s*)?(?:NO|NUMBER|ID)?|TAX\s*(?:ID|NO|NUMBER|REG)|TIN|EIN|"
    # Not right after a number: a Dutch IBAN's bank code, "NL91 ABNA", set apart by OCR.
    r"(?<!\d\s)(?<!\d)ABN|"
    r"GST\s*(?:REG\.?|ID|NO)\S*|SST\s*(?:REG\.?|ID|NO)\S*|UST-?IDNR|"
    + _NUMERO
    + r"\s*(?:DE\s*)?TVA(?:\s*INTRACOM\w*)?|BTW-?\s*(?:NUMMER|NR|ID)|NIF|CIF)\b\.?\s*[:#.]?",
    re.I,
)
_TAX_ID_VALUE = re.compile(r"\s*[:#.]?\s*([A-Z]{0,3}[\s-]?\d[\dA-Z\- ]{4,20}[\dA-Z])", re.I)
_CUSTOMER_LABEL = re.compile(
    r"\b(?:BILL(?:ED)?\s*TO|INVOICE\s*TO|SOLD\s*TO|CUSTOMER(?:\s*NAME)?|CLIENTE?|"
    r"RECHNUNGSEMPF[ÄA]NGER|KUNDE|FACTUR[ÉE]\s+[ÀA]|KLANT|FACTUUR\s+AAN|FACTURAR\s+A)(?!\w)"
    r"\s*[:.]?",
    re.I,
)
_CUSTOMER_VALUE = re.compile(r"\s*[:.]?\s*([A-Za-z][^\n]{1,80})")
_INVOICE_DATE_LABEL = re.compile(
    r"\b(?:INVOICE|INV|BILL(?:ING)?|ISSUE)\.?\s*DATE\b|\bDATE\s*OF\s*(?:INVOICE|ISSUE)\b|"
    r"\b(?:RECHNUNGS|GUTSCHRIFTS|FACTUUR)DATUM\b|\bDATE\s+(?:DE\s+(?:LA\s+)?FACTURE|"
    r"D['’]\s*[ÉE]MISSION)\b|\bFECHA\s+(?:DE\s+)?(?:FACTURA|EMISI[ÓO]N|EXPEDICI[ÓO]N)\b",
    re.I,
)
_DUE_LABEL = re.compile(r"DUE|PAYMENTTERMS|PAYBY")
# The due date's label in German, French, Dutch and Spanish ("Fällig am", "Zahlbar bis",
# "Date d'échéance", "Vervaldatum", "Te betalen vóór", "Vencimiento"): such a date, labelled
# DATE as well, was taken for the invoice date.
_DUE_WORDS = (
    r"F[ÄA]LLIG(?:KEITS\w*)?|ZAHLBAR\s+BIS|[ÉE]CH[ÉE]ANCE|(?:R[ÉE]GLER|PAYABLE)\s+AVANT|"
    r"VERVAL\w*|BETALEN\s*V[OÓ]{2}R|VENCIMIENTO|PAGAR\s*ANTES\s*DE"
)
_DUE = re.compile(r"DUE|PAYMENT\s*DUE|PAY\s*BY|" + _DUE_WORDS, re.I)
_DUE_ABROAD = re.compile(_DUE_WORDS, re.I)
_FROM_LABEL = re.compile(r"^\s*(?:FROM|VENDOR|SUPPLIER|SELLER)\s*[:.]?\s*", re.I)
# A numeric date printed with points (04.03.2026), as continental Europe prints.
_DOTTED_DATE = re.compile(r"(?<![\d.])\d{1,2}\.\d{1,2}\.(?:19|20)\d{2}(?![\d.])")
# Labels of the parties an invoice is addressed to, and of where its payment goes (a
# lockbox or a factor, "Remit to: Lockbox Services LLC"): their names are never the
# vendor's.
_PARTY_LABEL = re.compile(
    r"^\s*(?:BILL(?:ED)?\s*TO|INVOICE\s*TO|SOLD\s*TO|SHIP(?:PED)?\s*TO|DELIVER(?:Y|ED)?\s*TO|"
    r"CUSTOMER(?:\s*NAME)?|CLIENTE?|ATTN|ATTENTION|REMIT(?:TANCE)?(?:\s*(?:TO|ADDRESS))?|"
    r"RECHNUNGSEMPF[ÄA]NGER|KUNDE|FACTUR[ÉE]\s+[ÀA]|KLANT|FACTUUR\s+AAN|FACTURAR\s+A|"
    r"(?:MAKE\s*)?(?:CHEQUES?|CHECKS?|PAYMENTS?)?\s*PAYABLE\s*TO|PAY\s*TO)\b\s*[:.]?",
    re.I,
)
# Countries of VAT numbers and IBANs whose currency is all but certain: the euro area
# ("EL" is Greece's VAT prefix) and the United Kingdom ("XI": Northern Ireland's VAT).
_EURO_AREA = (
    "AT", "BE", "CY", "DE", "EE", "EL", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PT", "SI", "SK",
)  # fmt: skip
_COUNTRY_CURRENCY = {**dict.fromkeys(_EURO_AREA, "EUR"), "GB": "GBP", "XI": "GBP"}
_VAT_COUNTRY = re.compile(r"([A-Z]{2})[\s-]?[0-9]")
# "IBAN DE89 3704 ...", also with OCR's spaces gone ("IBANFR7630006...").
_IBAN_COUNTRY = re.compile(r"IBAN\s*:?\s*([A-Z]{2})\s?\d{2}")
COUNTRY_CURRENCY_CONFIDENCE = 0.7
# A document's title, in a letterhead's place or beside it ("FACTUUR", "RECHNUNG
# 2026/0412", "CREDIT NOTE"): no issuer's name.
_TITLE = re.compile(
    r"^\s*(?:TAX\s+|PRO\s*-?\s*FORMA\s+)?(?:INVOICE|RECHNUNG|FACTURE|FACTUUR|FACTURA|"
    r"GUTSCHRIFT|AVOIR|CREDITNOTA|CREDIT\s*(?:NOTE|MEMO))\b",
    re.I,
)
# Where an invoice is sent from, printed under a letterhead whose name may be only a logo:
# beside the receipts' streets and numbers (header._is_address), a European street by its
# word ("Hauptstraße 5", OCR's "HauptstraBe 5", "Stationsweg 19", "10 rue de la Paix",
# "Calle Mayor 12"), a post box, and a postcode with its town ("Bristol BS1 4DJ",
# "Austin, TX 78701", "10115 Berlin", "3511 ED Utrecht").
_STREET_SUFFIX = re.compile(
    r"\w(?:STRA(?:SS|ß|B)E|STR\.|WEG|GASSE|PLATZ|ALLEE|DAMM|LAAN|STRAAT|PLEIN|GRACHT|KADE|"
    r"SINGEL|DIJK)\s*\d",
    re.I,
)
_STREET_WORD = re.compile(
    r"^(?=.*\d)\s*(?:\d+[A-Z]?(?:-\d+)?,?\s+)?(?:RUE|AVENUE|AV\.?|BD|BOULEVARD|CHEMIN|PLACE|ALL[ÉE]E|"
    r"IMPASSE|QUAI|ROUTE|CALLE|C/|AVDA\.?|AVENIDA|PLAZA|PASEO|CARRER|VIA|VIALE|PIAZZA|CORSO|"
    r"LARGO|RUA)\b",
    re.I,
)
_POST_BOX = re.compile(r"\b(?:P\.?\s?O\.?\s*BOX|POSTFACH|BO[IÎ]TE\s+POSTALE|APARTADO)\s*\d", re.I)
_POSTCODE_TOWN = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}$"  # United Kingdom
    r"|,\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?$"  # United States
    r"|^\s*(?:[A-Z]{1,2}-)?\d{4,5}(?:\s?[A-Z]{2})?\s+[^\W\d]"  # continental, town after
)
# A title beside a letterhead: printed this much larger or smaller than the name, or after
# a gap this many times the widest between the name's words (see _before_title).
TITLE_SIZE_RATIO = 1.2
TITLE_GAP = 2.0
# The most an OCR-read vendor name is rated (see _ocr_name_capped).
OCR_NAME_CONFIDENCE = 0.9
# A legal form abbreviated with points, the last of which closes the name.
_ABBREVIATED_FORM = re.compile(
    r"(?:\b[A-Za-z]{1,2}\.)+[A-Za-z]{1,2}$|\b(?:LTD|INC|CORP|CO|CIE|BROS|GEBR|PTY|LDA)$", re.I
)
# A party's block under its label: at most this many lines, each closer below the one
# above than this many of its heights.
PARTY_BLOCK_LINES = 6
PARTY_BLOCK_GAP = 1.5


def parse_invoice(
    lines: list[Line], text: str, *, ocr_pages: Set[int] = frozenset()
) -> dict[str, Candidate]:
    """The invoice's fields; ``ocr_pages`` are the indexes of the pages OCR read (no text
    layer)."""
    fields: dict[str, Candidate] = {}
    currency, currency_conf = detect_currency(text)
    if currency:
        fields["currency"] = Candidate(currency, round(currency_conf, 3))
    # A date that reads one way only (06/21/2026) tells how the invoice's others read
    # (08/05/2026 beside it is 5 August); else a currency named outright ("USD 1,234.56"
    # was read day first for want of a "$"); else a bare "$" guesses month first, and a
    # date whose day and month could swap is then a guess, reviewed as on a receipt.
    day_first, order_known = date_order(text, currency, currency_conf)
    if not order_known and _looks_us(text):
        day_first = False
    if not day_first and printed_order(text) is None and _DOTTED_DATE.search(text):
        # Dollars name the month first, but dotted dates are European style: a German
        # vendor billing in USD printed 02.04.2026 for 2 April, read as 4 February at 0.97.
        order_known = False
    _put(fields, "invoiceNumber", _invoice_number(lines))
    _put(fields, "vendorName", _ocr_name_capped(_vendor(lines), ocr_pages))
    # Per column segment: "VAT No: DE404697807" beside a bill-to block's "Springfield"
    # was read as "DE404697807 Springfield".
    segments = [segment for line in lines for segment in split_segments(line)]
    _put(fields, "vendorTaxId", _labelled(segments, _TAX_ID_LABEL, _TAX_ID_VALUE, 0.85, digit=True))
    if "currency" not in fields:
        _put(fields, "currency", _currency_of_country(fields.get("vendorTaxId"), text))
    _put(fields, "customerName", _customer(lines))
    due = _due_date(lines, day_first=day_first, order_known=order_known)
    issue_lines = [line for line in lines if not _is_due_line(line)]
    # "Invoice Date: ..." names the field outright; an order, delivery or service date
    # printed above it, labelled DATE as well, tied with it and won by being higher.
    named = [line for line in issue_lines if _names_invoice_date(line, day_first=day_first)]
    issue_lines = named or issue_lines
    issued = find_issue_date(issue_lines, day_first=day_first, order_known=order_known)
    _put(fields, "invoiceDate", issued)
    _put(fields, "dueDate", due)
    rows = find_line_item_rows(lines)
    items = [item for item, _ in rows]
    item_sum = sum((i["amount"] for i in items), Decimal(0)) if items else None
    total = find_total(lines, item_sum, invoice=True)
    paid_back = amount_paid_back(lines, invoice=True)
    if (documents := two_documents(lines)) is not None:
        total = _first_of_two_documents(total, paid_back, *documents)
    elif paid_back is not None:
        # A credit note: its total is negative, and find_total reads positive amounts only
        # (a credit note's total was missing, or a line's amount at 0.4). Reviewed, as a
        # receipt's refund is.
        total = _credit_note_total(paid_back)
    if total is not None and total.confidence > DISAGREEMENT_CAP:
        total = doubt_rival_totals(total, lines, invoice=True)
    _put(fields, "totalAmount", total)
    if total:
        _put(fields, "taxAmount", find_tax(lines, total.value, invoice=True))  # type: ignore[arg-type]
    if items:
        subtotal_ok = total is not None and item_sum is not None and item_sum <= total.value
        fields["lineItems"] = line_items_candidate(rows, 0.85 if subtotal_ok else 0.55)
    return fields


def _credit_note_total(paid_back: AmountRef) -> Candidate:
    return Candidate(paid_back.value, CREDIT_NOTE_CONFIDENCE, [paid_back.evidence], ["credit-note"])


def _first_of_two_documents(
    total: Candidate | None,
    paid_back: AmountRef | None,
    owed: list[AmountRef],
    credited: list[AmountRef],
) -> Candidate:
    """The total of the document an invoice's PDF opens with, when it holds an invoice
    and a credit note (totals.two_documents), reviewed, with the other's total named
    (RIVAL_TOTAL_CUE): the credit note's -250.00 was read for an invoice of 1,500.00
    with a credit note attached, and nothing said of the 1,500.00. What is owed is then
    for a reviewer to say (the invoice's amount, or it less the credit)."""
    if min(r.line.page for r in owed) < min(r.line.page for r in credited):
        values = {r.value for r in owed}
        if total is not None and total.value in values:
            read = total
        else:
            last = max(owed, key=lambda r: r.line_index)
            read = Candidate(last.value, DISAGREEMENT_CAP, [last.evidence])
        confidence = min(read.confidence, DISAGREEMENT_CAP)
        return Candidate(read.value, confidence, read.evidence, [*read.cues, *_named(credited)])
    if (
        paid_back is None
        or paid_back.value >= 0
        or paid_back.line_index not in {r.line_index for r in credited}
    ):
        paid_back = max(credited, key=lambda r: r.line_index)
    credit = _credit_note_total(paid_back)
    return Candidate(
        credit.value, credit.confidence, credit.evidence, [*credit.cues, *_named(owed)]
    )


def _named(refs: list[AmountRef]) -> list[str]:
    """``refs`` as RIVAL_TOTAL_CUE cues, one per amount and page."""
    cues = [f"{RIVAL_TOTAL_CUE}:{r.value}@{r.line.page + 1}" for r in refs]
    return list(dict.fromkeys(cues))


def _currency_of_country(tax_id: Candidate | None, text: str) -> Candidate | None:
    """The currency of the country a VAT number ("DE811234567", "GB987654321") or an IBAN
    names, when no currency was read: PP-OCRv4 reads no "€" or "£", so a scanned euro or
    pound invoice's amounts come out bare. A country's currency is a guess (a German
    vendor may bill in dollars), so it stays under SURE_CURRENCY: reviewed, and no
    evidence for the order of the invoice's dates."""
    countries = set(_IBAN_COUNTRY.findall(text.upper()))
    if tax_id is not None and (m := _VAT_COUNTRY.match(str(tax_id.value).upper())):
        countries.add(m.group(1))
    currencies = {_COUNTRY_CURRENCY.get(country) for country in countries}
    if len(currencies) != 1 or None in currencies:
        return None  # none named, one outside the list, or two that disagree
    return Candidate(currencies.pop(), COUNTRY_CURRENCY_CONFIDENCE)


def _is_due_line(line: Line) -> bool:
    return bool(_DUE_LABEL.search(squash(line.text)) or _DUE_ABROAD.search(line.text))


def _names_invoice_date(line: Line, *, day_first: bool) -> bool:
    m = _INVOICE_DATE_LABEL.search(line.text)
    return m is not None and bool(parse_dates(line.text[m.end() :], day_first=day_first))


def _put(fields: dict[str, Candidate], name: str, candidate: Candidate | None) -> None:
    if candidate is not None:
        fields[name] = candidate


def _looks_us(text: str) -> bool:
    return "$" in text and not re.search(r"S\$|A\$|C\$|NZ\$", text)


def _invoice_number(lines: list[Line]) -> Candidate | None:
    found = _labelled(lines, _INVOICE_NO_LABEL, _TOKEN, 0.93, digit=True)
    if found is not None and " " in str(found.value):
        found.value = str(found.value).replace(" ", "")
        found.confidence = round(found.confidence * SPLIT_NUMBER_FACTOR, 3)
    return found


def _labelled(
    lines: list[Line],
    label: re.Pattern[str],
    value: re.Pattern[str],
    base: float,
    *,
    digit: bool = False,
) -> Candidate | None:
    found = labelled_token(lines, label, value)
    if found is None or (digit and not any(c.isdigit() for c in found[0])):
        # "Invoice No Invoice Date Due Date": the next heading is no number.
        found = _token_under_heading(lines, label, value, digit=digit)
    if not found:
        return None
    token, line, start, end = found
    token = token.strip()
    conf = base * ocr_factor(line.confidence)
    return Candidate(token, round(conf, 3), [evidence_for(line, start, end)])


def _token_under_heading(
    lines: list[Line], label: re.Pattern[str], value: re.Pattern[str], *, digit: bool
) -> tuple[str, Line, int, int] | None:
    """The value under a heading that stands alone in its column segment: "Invoice No |
    Invoice Date | Due Date" over a row of values, where the heading row's next word is
    the next heading."""
    segments = [segment for line in lines for segment in split_segments(line)]
    for index, segment in enumerate(segments):
        m = label.search(segment.text)
        if m is None:
            continue
        rest = segment.text[m.end() :].strip(" :#.-")
        if any(c.isdigit() for c in rest):
            continue  # a value beside the label, which labelled_token judged
        # The next heading may stand nearer than the column gap ("Rechnungsnummer
        # Rechnungsdatum", one segment): the label's own words are its column then.
        column = span_words_bbox(segment, m.start(), m.end()) if rest else segment.bbox
        below = _below(segments, index, column)
        if below is None:
            continue
        text = below.text.strip()
        v = value.match(text)
        if v and (not digit or any(c.isdigit() for c in v.group(1))):
            offset = len(below.text) - len(below.text.lstrip())
            start, end = offset + v.start(1), offset + v.end(1)
            if _overlaps(column, span_words_bbox(below, start, end)):
                return v.group(1), below, start, end
    return None


def _customer(lines: list[Line]) -> Candidate | None:
    """The name after a "Bill to" label in its own column segment, or under a label that
    stands alone: a "Bill To | Ship To" heading row gave "Ship To", and a name sharing its
    row with another column was read with that column's text."""
    segments = [segment for line in lines for segment in split_segments(line)]
    for index, segment in enumerate(segments):
        m = _CUSTOMER_LABEL.search(segment.text)
        if not m:
            continue
        rest = segment.text[m.end() :]
        if rest.strip(" :#.-"):
            target, start = segment, m.end()
        elif (below := _below(segments, index)) is not None:
            target, rest, start = below, below.text, 0
        else:
            continue
        v = _CUSTOMER_VALUE.search(rest)
        if v:
            name = v.group(1).strip()
            span = (start + v.start(1), start + v.start(1) + len(name))
            conf = 0.8 * ocr_factor(target.confidence)
            return Candidate(name, round(conf, 3), [evidence_for(target, *span)])
    return None


def _vendor(lines: list[Line]) -> Candidate | None:
    # Per column segment, not per line: a "From:" block often shares its row with a
    # "Customer:" or "Bill to" block, and a line reading "Customer: X  From: Y" never
    # started with the label.
    segments = [segment for line in lines for segment in split_segments(line)]
    labelled = _labelled_vendor(segments)
    if labelled is not None:
        return labelled
    # The customer's block (often a legal name with a suffix, printed near the top) is
    # the party billed, never the issuer: find_merchant took it at 0.8-0.95.
    segments = _without_party_blocks(
        [_before_title(s) for s in header_segments(lines) if not _TITLE.match(s.text)]
    )
    top = next((s for s in segments if is_name_like(s) or _is_address(s.text)), None)
    if top is None or _is_address(top.text):
        # No name printed over the address: it is in the logo, and a line read below the
        # address (its town, "Description", the customer's) is no vendor's name.
        return None
    candidate, _ = find_merchant([s for s in segments if not _is_address(s.text)])
    if candidate is None:
        return None
    if not has_company_suffix(str(candidate.value)):
        # The first name-like line of an invoice is usually the letterhead.
        candidate.confidence = round(min(0.82, candidate.confidence + 0.2), 3)
    _keep_closing_point(candidate, segments)
    return candidate


def _before_title(segment: Line) -> Line:
    """``segment`` less a document title printed at its end, set apart from the words
    before it ("Müller Maschinenbau GmbH    RECHNUNG"): nearer the letterhead than the gap
    that makes two columns, it was read as the name's last word, at 0.95. A title is set
    apart by its print (another size) or by a gap wider than any between the name's own
    words; "Smart Invoice", in one size and spacing, is a name."""
    words = segment.words
    for index in range(1, len(words)):
        rest = " ".join(w.text for w in words[index:])
        if not _TITLE.match(rest) or any(c.isalpha() for c in _TITLE.sub("", rest, count=1)):
            continue  # not a title alone ("RECHNUNG", "INVOICE 2026/0412")
        before, title = words[index - 1], words[index]
        gap = title.bbox[0] - before.bbox[2]
        inner = [
            b.bbox[0] - a.bbox[2] for a, b in zip(words[: index - 1], words[1:index], strict=True)
        ]
        if _sizes_differ(before, title) or (inner and gap > TITLE_GAP * max(inner)):
            return Line(page=segment.page, words=words[:index])
    return segment


def _sizes_differ(a: Word, b: Word) -> bool:
    high, low = sorted((a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1]), reverse=True)
    return high > TITLE_SIZE_RATIO * low


def _ocr_name_capped(candidate: Candidate | None, ocr_pages: Set[int]) -> Candidate | None:
    """A vendor name OCR read is never rated exact to the letter (0.95): the recogniser's
    alphabet is ASCII, so "Bäckerei Müller GmbH" reads "Backerei Muller GmbH" (or drops
    the letter), and no read says whether the print had an accent there. Still above the
    default review threshold (80): the reviewer's page shows the scan beside it."""
    if candidate is None or not any(e["page"] in ocr_pages for e in candidate.evidence):
        return candidate
    if candidate.confidence > OCR_NAME_CONFIDENCE:
        candidate.confidence = OCR_NAME_CONFIDENCE
        candidate.cues.append("ocr-ascii")
    return candidate


def _is_address(text: str) -> bool:
    return bool(
        header._is_address(text)  # the receipts' (Malaysian) streets, "12 Harbour Road"
        or _STREET_SUFFIX.search(text)
        or _STREET_WORD.search(text)
        or _POST_BOX.search(text)
        # A name may open with a year ("2020 Vision Ltd"); a town has no legal form.
        or (_POSTCODE_TOWN.search(text.strip()) and not header.has_legal_form(text))
    )


def _keep_closing_point(candidate: Candidate, segments: list[Line]) -> None:
    """Put back the point that closes a legal form ("S.A.R.L.", "S.p.A.", "B.V.", "Sp. z
    o.o.", "Ltd.", "Inc."), which clean_name cut with the line's trailing punctuation:
    the name as printed, not "Ferrari S.p.A"."""
    value = str(candidate.value)
    if value.endswith(".") or not candidate.evidence or not _ABBREVIATED_FORM.search(value):
        return
    last_word = value.rsplit(" ", 1)[-1]
    for segment in segments:
        if evidence_for(segment) == candidate.evidence[-1]:
            if segment.text.rstrip().endswith(last_word + "."):
                candidate.value = value + "."
            return


def _labelled_vendor(segments: list[Line]) -> Candidate | None:
    for index, segment in enumerate(segments):
        m = _FROM_LABEL.match(segment.text)
        if not m:
            continue
        rest = segment.text[m.end() :].strip()
        target = segment if rest else _below(segments, index)
        if target is None:
            continue
        name = rest or target.text.strip()
        if sum(c.isalpha() for c in name) < 3 or parse_dates(name):
            continue  # "From 1 March" is a period, no party
        conf = 0.9 * ocr_factor(target.confidence)
        return Candidate(name, round(conf, 3), [evidence_for(target)])
    return None


def _below(segments: list[Line], index: int, column: BBox | None = None) -> Line | None:
    """The first segment under ``segments[index]`` in its column (``column``, or the
    segment's own span), on the next row."""
    label = segments[index]
    column = column or label.bbox
    for other in segments[index + 1 :]:
        if other.center_y <= label.bbox[3]:
            continue  # the rest of the label's own row
        if _overlaps(column, other.bbox):
            return other
        if other.bbox[1] - label.bbox[3] > PARTY_BLOCK_GAP * max(label.height, 1e-6):
            return None
    return None


def _without_party_blocks(segments: list[Line]) -> list[Line]:
    """``segments`` less those of a party the invoice is addressed to: the labelled
    segment, and when the label stands alone the block under it in its column."""
    dropped: set[int] = set()
    for index, segment in enumerate(segments):
        m = _PARTY_LABEL.match(segment.text)
        if not m:
            continue
        dropped.add(index)
        if sum(c.isalpha() for c in segment.text[m.end() :]) >= 3:
            continue  # "Customer: Initech GmbH": the name is on the label's segment
        last = segment
        taken = 0
        for other_index in range(index + 1, len(segments)):
            other = segments[other_index]
            if other.center_y <= segment.bbox[3] or not _overlaps(segment.bbox, other.bbox):
                continue
            if other.bbox[1] - last.bbox[3] > PARTY_BLOCK_GAP * max(last.height, 1e-6):
                break
            dropped.add(other_index)
            last, taken = other, taken + 1
            if taken == PARTY_BLOCK_LINES:
                break
    return [segment for index, segment in enumerate(segments) if index not in dropped]


def _overlaps(a: BBox, b: BBox) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0])


def _due_date(lines: list[Line], *, day_first: bool, order_known: bool) -> Candidate | None:
    for index, line in enumerate(lines):
        m = _DUE.search(line.text)
        if not m:
            continue
        rest = line.text[m.end() :]
        dates = parse_dates(rest, day_first=day_first)
        if dates:
            return _due_candidate(line, dates[0], order_known, offset=m.end())
        if parse_amounts(rest):
            continue  # "Balance due: 1,440.00" labels an amount, not a date
        if index + 1 < len(lines):
            # A heading over a row of values ("Invoice Date | Due Date"): the due date is
            # the one under the label, not the row's first (the invoice date).
            label = span_words_bbox(line, m.start(), m.end())
            below = lines[index + 1]
            for d in parse_dates(below.text, day_first=day_first):
                if _overlaps(label, span_words_bbox(below, d.start, d.end)):
                    return _due_candidate(below, d, order_known)
    return None


def _due_candidate(line: Line, date: Match, order_known: bool, *, offset: int = 0) -> Candidate:
    confidence = 0.9
    if not order_known and order_unsure(date):
        confidence = ORDER_UNSURE_CONFIDENCE
    return Candidate(
        date.value.isoformat(),  # type: ignore[attr-defined]
        round(confidence * ocr_factor(line.confidence), 3),
        [evidence_for(line, offset + date.start, offset + date.end)],
    )
