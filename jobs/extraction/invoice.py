"""Invoice fields from reading-order lines (text-layer PDFs or OCR)."""

from __future__ import annotations

import re
from decimal import Decimal

from .fields import Candidate, evidence_for, labelled_token, ocr_factor, squash
from .header import COMPANY_SUFFIX, find_merchant, header_segments
from .layout import Line
from .receipt import find_issue_date, find_line_item_rows, line_items_candidate
from .totals import find_tax, find_total
from .values import detect_currency, parse_dates

_INVOICE_NO_LABEL = re.compile(
    r"(?:INVOICE|INV|BILL)\s*(?:NO|NUMBER|NUM|#|ID)\b\.?\s*[:#.]?|\bINVOICE\s*(?=[:#])[:#]", re.I
)
_TOKEN = re.compile(r"\s*[:#.]?\s*([A-Z0-9][A-Z0-9\-/_.]{1,30}[A-Z0-9])", re.I)
_TAX_ID_LABEL = re.compile(
    r"\b(?:VAT\s*(?:REG\.?\s*)?(?:NO|NUMBER|ID)?|TAX\s*(?:ID|NO|NUMBER|REG)|TIN|EIN|ABN|"
    r"GST\s*(?:REG\.?|ID|NO)\S*|SST\s*(?:REG\.?|ID|NO)\S*|UST-?IDNR)\b\.?\s*[:#.]?",
    re.I,
)
_TAX_ID_VALUE = re.compile(r"\s*[:#.]?\s*([A-Z]{0,3}[\s-]?\d[\dA-Z\- ]{4,20}[\dA-Z])", re.I)
_CUSTOMER_LABEL = re.compile(
    r"\b(?:BILL(?:ED)?\s*TO|INVOICE\s*TO|SOLD\s*TO|CUSTOMER(?:\s*NAME)?|CLIENT)\b\s*[:.]?", re.I
)
_CUSTOMER_VALUE = re.compile(r"\s*[:.]?\s*([A-Za-z][^\n]{1,80})")
_DUE_LABEL = re.compile(r"DUE|PAYMENTTERMS|PAYBY")
_FROM_LABEL = re.compile(r"^\s*(?:FROM|VENDOR|SUPPLIER|SELLER)\s*[:.]?\s*", re.I)


def parse_invoice(lines: list[Line], text: str) -> dict[str, Candidate]:
    fields: dict[str, Candidate] = {}
    currency, currency_conf = detect_currency(text)
    if currency:
        fields["currency"] = Candidate(currency, round(currency_conf, 3))
    day_first = currency not in ("USD", None) or not _looks_us(text)
    _put(fields, "invoiceNumber", _labelled(lines, _INVOICE_NO_LABEL, _TOKEN, 0.93, digit=True))
    _put(fields, "vendorName", _vendor(lines))
    _put(fields, "vendorTaxId", _labelled(lines, _TAX_ID_LABEL, _TAX_ID_VALUE, 0.85, digit=True))
    _put(fields, "customerName", _labelled(lines, _CUSTOMER_LABEL, _CUSTOMER_VALUE, 0.8))
    due = _due_date(lines, day_first=day_first)
    issue_lines = [line for line in lines if not _DUE_LABEL.search(squash(line.text))]
    _put(fields, "invoiceDate", find_issue_date(issue_lines, day_first=day_first))
    _put(fields, "dueDate", due)
    rows = find_line_item_rows(lines)
    items = [item for item, _ in rows]
    item_sum = sum((i["amount"] for i in items), Decimal(0)) if items else None
    total = find_total(lines, item_sum)
    _put(fields, "totalAmount", total)
    if total:
        _put(fields, "taxAmount", find_tax(lines, total.value))  # type: ignore[arg-type]
    if items:
        subtotal_ok = total is not None and item_sum is not None and item_sum <= total.value
        fields["lineItems"] = line_items_candidate(rows, 0.85 if subtotal_ok else 0.55)
    return fields


def _put(fields: dict[str, Candidate], name: str, candidate: Candidate | None) -> None:
    if candidate is not None:
        fields[name] = candidate


def _looks_us(text: str) -> bool:
    return "$" in text and not re.search(r"S\$|A\$|C\$|NZ\$", text)


def _labelled(
    lines: list[Line],
    label: re.Pattern[str],
    value: re.Pattern[str],
    base: float,
    *,
    digit: bool = False,
) -> Candidate | None:
    found = labelled_token(lines, label, value)
    if not found:
        return None
    token, line, start, end = found
    token = token.strip()
    if digit and not any(c.isdigit() for c in token):
        return None
    conf = base * ocr_factor(line.confidence)
    return Candidate(token, round(conf, 3), [evidence_for(line, start, end)])


def _vendor(lines: list[Line]) -> Candidate | None:
    for index, line in enumerate(lines):
        m = _FROM_LABEL.match(line.text)
        if not m:
            continue
        rest = line.text[m.end() :].strip()
        target = line if rest else (lines[index + 1] if index + 1 < len(lines) else None)
        if target is not None:
            name = rest or target.text.strip()
            conf = 0.9 * ocr_factor(target.confidence)
            return Candidate(name, round(conf, 3), [evidence_for(target)])
    candidate, _ = find_merchant(header_segments(lines))
    if candidate and not COMPANY_SUFFIX.search(squash(str(candidate.value))):
        # The first name-like line of an invoice is usually the letterhead.
        candidate.confidence = round(min(0.82, candidate.confidence + 0.2), 3)
    return candidate


def _due_date(lines: list[Line], *, day_first: bool) -> Candidate | None:
    for index, line in enumerate(lines):
        m = re.search(r"DUE|PAYMENT\s*DUE|PAY\s*BY", line.text, re.I)
        if not m:
            continue
        for candidate_line in (line, *lines[index + 1 : index + 2]):
            segment = (
                candidate_line.text[m.end() :] if candidate_line is line else candidate_line.text
            )
            offset = m.end() if candidate_line is line else 0
            dates = parse_dates(segment, day_first=day_first)
            if dates:
                d = dates[0]
                conf = 0.9 * ocr_factor(candidate_line.confidence)
                return Candidate(
                    d.value.isoformat(),  # type: ignore[attr-defined]
                    round(conf, 3),
                    [evidence_for(candidate_line, offset + d.start, offset + d.end)],
                )
    return None
