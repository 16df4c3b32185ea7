"""Receipt fields from reading-order lines."""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

from .fields import (
    Candidate,
    evidence_for,
    find_dates,
    labelled_token,
    ocr_factor,
    span_confidence,
    squash,
)
from .header import find_address, find_merchant, header_segments
from .layout import Line
from .totals import find_tax, find_total
from .values import Match, detect_currency, parse_amounts, parse_times

_DATE_LABEL = re.compile(r"DATE|TARIKH|DTE|DT")
_NOT_ISSUE_DATE = re.compile(r"EXP|VALID|DUE|BEST|USEBY|BIRTH")
_RECEIPT_NO_LABEL = re.compile(
    r"(RECEIPT|RCPT|INVOICE|INV|BILL|DOC(?:UMENT)?|TRANS(?:ACTION)?|TXN|SLIP|CHECK|CHK|"
    r"ORDER|REF|SALES|CB|CS|OR)\s*(NO|NUMBER|NUM|#)\b\.?\s*[:#.]?",
    re.I,
)
_RECEIPT_NO_VALUE = re.compile(r"\s*[:#.]?\s*([A-Z0-9][A-Z0-9\-/]{2,})", re.I)
_ITEM_HEADER = re.compile(r"QTY|DESC|ITEM|PRICE|AMOUNT|AMT")
_ITEMS_END = re.compile(r"SUBT|T[O0]TA?L|TTL|GST|SST|TAX|ROUND|CASH|CHANGE|NETT")
# "Widget 2", "Widget 2 pcs", "Widget 2 x" / "2 x Widget", "2 Widget".
_TRAILING_QTY = re.compile(r"\s(\d{1,4})\s?(?:X|PCS?|UNITS?|@)?\s*$", re.I)
_LEADING_QTY = re.compile(r"^(\d{1,3})\s?(?:X|PCS?|UNITS?|@)?\s+(?=[A-Za-z])", re.I)


def parse_receipt(lines: list[Line], text: str) -> dict[str, Candidate]:
    fields: dict[str, Candidate] = {}
    header = header_segments(lines)
    merchant, name_index = find_merchant(header)
    if merchant:
        fields["merchantName"] = merchant
    address = find_address(header, name_index)
    if address:
        fields["merchantAddress"] = address
    currency, currency_conf = detect_currency(text)
    if currency:
        fields["currency"] = Candidate(currency, round(currency_conf, 3))
    day_first = currency != "USD"
    date = find_issue_date(lines, day_first=day_first)
    if date:
        fields["date"] = date
    time = _find_time(lines)
    if time:
        fields["time"] = time
    items = find_line_items(lines)
    item_sum = sum((i["amount"] for i in items), Decimal(0)) if items else None
    total = find_total(lines, item_sum)
    if total:
        fields["totalAmount"] = total
        tax = find_tax(lines, total.value)  # type: ignore[arg-type]
        if tax:
            fields["taxAmount"] = tax
    number = _find_receipt_number(lines)
    if number:
        fields["receiptNumber"] = number
    if items:
        agrees = total is not None and item_sum == total.value
        fields["lineItems"] = Candidate(items, 0.9 if agrees else 0.55)
    return fields


def find_issue_date(lines: list[Line], *, day_first: bool) -> Candidate | None:
    """The transaction date: labelled or time-stamped dates beat stray ones."""
    found = find_dates(lines, day_first=day_first)
    if not found:
        return None
    scored = [(_date_score(m, line), m, line) for m, line, _ in found]
    best_by_value: dict[object, float] = {}
    counts: Counter[object] = Counter()
    for score, m, _ in scored:
        best_by_value[m.value] = max(best_by_value.get(m.value, score), score)
        counts[m.value] += 1
    # Repeats of a date corroborate it; ties go to the higher (earlier printed) line.
    best_score, match, line = max(
        scored, key=lambda t: (t[0] + 0.3 * counts[t[1].value], -t[2].center_y)
    )
    rivals = [v for value, v in best_by_value.items() if value != match.value]
    confidence = _date_confidence(best_score, max(rivals, default=None), counts[match.value])
    if match.kind == "glued":
        confidence *= 0.9  # read out of a run of digits: the boundary is a guess
    confidence *= ocr_factor(span_confidence(line, match.start, match.end))
    return Candidate(
        match.value.isoformat(),  # type: ignore[attr-defined]
        round(confidence, 3),
        [evidence_for(line, match.start, match.end)],
    )


def _date_score(match: Match, line: Line) -> float:
    before = squash(line.text[: match.start])
    score = 1.0
    if _NOT_ISSUE_DATE.search(before):
        score -= 3.0  # expiry, validity or due dates are not the purchase date
    elif _DATE_LABEL.search(before[-12:]):
        score += 2.0
    rest = line.text[: match.start] + " " * (match.end - match.start) + line.text[match.end :]
    if parse_times(rest):
        score += 1.5  # a date stamped with a time is the transaction stamp
    return score


def _date_confidence(best: float, rival: float | None, occurrences: int) -> float:
    if rival is None:
        return 0.97 if best >= 2.5 or occurrences > 1 else 0.93
    margin = best - rival
    if margin >= 1.5:
        return 0.92
    if margin >= 0.5:
        return 0.8
    return 0.55


def _find_time(lines: list[Line]) -> Candidate | None:
    for line in lines:
        times = parse_times(line.text)
        if times:
            match = times[0]
            conf = 0.85 * ocr_factor(line.confidence)
            return Candidate(
                match.value, round(conf, 3), [evidence_for(line, match.start, match.end)]
            )
    return None


def _find_receipt_number(lines: list[Line]) -> Candidate | None:
    found = labelled_token(lines, _RECEIPT_NO_LABEL, _RECEIPT_NO_VALUE)
    if not found:
        return None
    value, line, start, end = found
    if not any(c.isdigit() for c in value):
        return None
    conf = 0.8 * ocr_factor(line.confidence)
    return Candidate(value, round(conf, 3), [evidence_for(line, start, end)])


def find_line_items(lines: list[Line]) -> list[dict]:
    """Rows between the column header and the first total-ish line that end in an amount."""
    start = next(
        (i for i, line in enumerate(lines) if len(_ITEM_HEADER.findall(squash(line.text))) >= 2),
        None,
    )
    if start is None:
        return []
    items: list[dict] = []
    pending_description = ""
    for line in lines[start + 1 :]:
        s = squash(line.text)
        if _ITEMS_END.search(s):
            break
        amounts = parse_amounts(line.text)
        if not amounts:
            if sum(c.isalpha() for c in line.text) >= 3:
                pending_description = line.text.strip()
            continue
        head = line.text[: amounts[0].start].strip()
        description = head if sum(c.isalpha() for c in head) >= 3 else pending_description
        if not description or amounts[-1].value <= 0:
            continue
        items.append(_item(description, head, amounts[-1].value, len(amounts)))
        pending_description = ""
    return items


def _item(description: str, head: str, amount: Decimal, n_amounts: int) -> dict:
    quantity = 1.0
    if head == description:
        trailing = _TRAILING_QTY.search(head)
        leading = _LEADING_QTY.match(head)
        if trailing and trailing.start() > 0:
            quantity, description = float(trailing.group(1)), head[: trailing.start()]
        elif leading:
            quantity, description = float(leading.group(1)), head[leading.end() :]
    clean = re.sub(r"\s+", " ", description).strip(" :-")
    return {"description": clean, "quantity": quantity, "amount": amount}
