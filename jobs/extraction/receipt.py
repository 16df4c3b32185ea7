"""Receipt fields from reading-order lines."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal

from .fields import (
    NOT_ISSUE_DATE,
    NOT_ISSUE_REACH,
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
from .options import address_options, date_options, merchant_options, total_options
from .ranker import DISAGREEMENT_CAP, FieldModel, Option
from .totals import amount_paid_back, amount_with_tip, find_tax, find_total, rival_totals
from .values import (
    Match,
    detect_currency,
    order_unsure,
    parse_amounts,
    parse_dates,
    parse_times,
    printed_order,
    utc_today,
    whole_amounts,
    whole_separators,
)

_DATE_LABEL = re.compile(r"DATE|TARIKH|DTE|DT")
_TIME_LABEL = re.compile(r"TIME|MASA|WAKTU|JAM")
# A time's label is looked for this many characters before it at most (a label's dot
# leaders across an A4 line are fewer): each time on a line read the line from its start,
# quadratic in a line of thousands of amounts ("1.00" is a time).
TIME_LABEL_REACH = 100
_RECEIPT_NO_LABEL = re.compile(
    r"(RECEIPT|RCPT|INVOICE|INV|BILL|DOC(?:UMENT)?|TRANS(?:ACTION)?|TXN|SLIP|CHECK|CHK|"
    r"ORDER|REF|SALES|CB|CS|OR)\s*(NO|NUMBER|NUM|#)\b\.?\s*[:#.]?",
    re.I,
)
_RECEIPT_NO_VALUE = re.compile(r"\s*[:#.]?\s*([A-Z0-9][A-Z0-9\-/]{2,})", re.I)
_ITEM_HEADER = re.compile(r"QTY|DESC|ITEM|PRICE|AMOUNT|AMT")
_ITEMS_END = re.compile(r"SUBT|T[O0]TA?L|TTL|GST|SST|TAX|ROUND|CASH|CHANGE|NETT")
# "2 x Widget", "2 Widget".
_LEADING_QTY = re.compile(r"^(\d{1,3})\s?(?:X|PCS?|UNITS?|@)?\s+(?=[A-Za-z])", re.I)
# The columns left of the price: "Widget 2", "Widget 2.0", "Widget 2 pcs", "Widget 2 x".
_COLUMN_TOKEN = re.compile(r"^(?:\d{1,4}(?:[.,]\d{1,3})?[xX]?|[xX@]|PCS?|UNITS?)$", re.I)
_QUANTITY = re.compile(r"^(\d{1,4}(?:[.,]\d{1,3})?)[xX]?$")


# A credit note's total (negative) is rated nothing: the field model was fitted on no
# credit note, so no probability can be claimed for it. Under any review threshold
# (1-99), so a reviewer always confirms it.
CREDIT_NOTE_CONFIDENCE = 0.0


def read_receipt(
    lines: list[Line], text: str
) -> tuple[dict[str, Candidate], dict[str, list[Option]]]:
    """The hand rules' fields, and the options the field model ranks for the main four;
    a receipt in a currency printed in whole units (rupiah, dong, won, yen) with its
    whole amounts read as amounts (values.whole_separators)."""
    with whole_amounts(whole_separators(_lines_text(lines))):
        return _read_receipt(lines, text)


def _lines_text(lines: list[Line]) -> str:
    # What read_receipt and choose_fields both have: the currency is read from the same
    # text, so both read the same amounts.
    return "\n".join(line.text for line in lines)


def _read_receipt(
    lines: list[Line], text: str
) -> tuple[dict[str, Candidate], dict[str, list[Option]]]:
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
    day_first, order_known = date_order(text, currency, currency_conf)
    date = find_issue_date(lines, day_first=day_first, order_known=order_known)
    if date:
        fields["date"] = date
    time = _find_time(lines)
    if time:
        fields["time"] = time
    rows = find_line_item_rows(lines)
    items = [item for item, _ in rows]
    item_sum = sum((i["amount"] for i in items), Decimal(0)) if items else None
    total = find_total(lines, item_sum)
    if total:
        fields["totalAmount"] = total
    number = _find_receipt_number(lines)
    if number:
        fields["receiptNumber"] = number
    if items:
        fields["lineItems"] = line_items_candidate(rows, 0.55)
    options = {
        "totalAmount": total_options(lines, item_sum, total),
        "date": date_options(
            lines, day_first=day_first, order_known=order_known, rule=date, score=_date_score
        ),
        "merchantName": merchant_options(header, merchant),
        "merchantAddress": address_options(header, name_index, address),
    }
    return fields, options


def choose_fields(
    fields: dict[str, Candidate],
    options: dict[str, list[Option]],
    lines: list[Line],
    model: FieldModel,
) -> dict[str, Candidate]:
    """Replace the main fields with the model's choices and calibrated confidences; the
    tax and the line items' confidence follow the chosen total."""
    separators = whole_separators(_lines_text(lines))
    with whole_amounts(separators):
        chosen = _choose_fields(fields, options, lines, model)
    total = chosen.get("totalAmount")
    if separators and total is not None and total.confidence > DISAGREEMENT_CAP:
        chosen["totalAmount"] = _doubt_whole_total(total, options.get("totalAmount", []))
    return chosen


# A total read in whole units that no arithmetic proves.
WHOLE_UNITS_CUE = "whole-units"


def _doubt_whole_total(total: Candidate, options: list[Option]) -> Candidate:
    """A total of a receipt in whole units (rupiah, dong, won, yen) is reviewed unless
    the items printed above it add up to it: the field model never saw such a receipt,
    so its confidence there is no measured one."""
    option = next((o for o in options if o.value == total.value), None)
    proven = option is not None and (
        "line-items" in option.cues or option.features.get("column_sum", 0.0) > 0
    )
    if proven:
        return total
    cues = [*total.cues, WHOLE_UNITS_CUE]
    return Candidate(total.value, DISAGREEMENT_CAP, total.evidence, cues)


def _choose_fields(
    fields: dict[str, Candidate],
    options: dict[str, list[Option]],
    lines: list[Line],
    model: FieldModel,
) -> dict[str, Candidate]:
    chosen = dict(fields)
    for name, found in options.items():
        choice = model.choose(name, found)
        if choice is None:
            chosen.pop(name, None)
            continue
        option = choice.option
        confidence = choice.confidence
        if DOUBTFUL_DATE_CUES & set(option.cues):
            # The model was fitted on receipts where these (nearly) never happen: it
            # cannot know.
            confidence = min(confidence, ORDER_UNSURE_CONFIDENCE)
        chosen[name] = Candidate(option.value, confidence, option.evidence, option.cues)
    if (paid_back := amount_paid_back(lines)) is not None:
        # A credit note or a refund: the amount payable is negative, and no option (all
        # positive) is it.
        chosen["totalAmount"] = Candidate(
            paid_back.value, CREDIT_NOTE_CONFIDENCE, [paid_back.evidence], ["credit-note"]
        )
    total = chosen.get("totalAmount")
    if total is not None and (tipped := amount_with_tip(lines, total.value)) is not None:  # type: ignore[arg-type]
        # The bill's total, and a tip added under it: the amount paid is the sum printed
        # below. The field model never saw a tip added after the total: reviewed.
        confidence = min(total.confidence, DISAGREEMENT_CAP)
        cues = [*total.cues, TIP_ADDED_CUE]
        total = chosen["totalAmount"] = Candidate(tipped.value, confidence, [tipped.evidence], cues)
    if total is not None and total.confidence > DISAGREEMENT_CAP:
        total = chosen["totalAmount"] = doubt_rival_totals(total, lines)
    tax = find_tax(lines, total.value) if total else None  # type: ignore[arg-type]
    if tax:
        chosen["taxAmount"] = tax
    items = chosen.get("lineItems")
    if items is not None:
        item_sum = sum((i["amount"] for i in items.value), Decimal(0))  # type: ignore[attr-defined]
        agrees = total is not None and item_sum == total.value
        chosen["lineItems"] = Candidate(items.value, 0.9 if agrees else 0.55, items.evidence)
    return chosen


# A total read with the tip a card slip adds under the bill's total (totals.amount_with_tip).
TIP_ADDED_CUE = "tip-added"


# A total's cue naming a grand total the document also shows, and no printed arithmetic
# explains: "totals-disagree:26.80@2" (its amount and page, counted from 1).
RIVAL_TOTAL_CUE = "totals-disagree"


def doubt_rival_totals(total: Candidate, lines: list[Line], *, invoice: bool = False) -> Candidate:
    """Send to review a total beside which the document shows another grand total that
    nothing printed explains (totals.rival_totals): a two-page PDF showing "TOTAL 17.90"
    on its first page and "TOTAL 26.80" on its second was read as 17.90 at 0.94, straight
    through, with a total nobody can vouch for. Only across pages: on one page, receipts
    print several totals (before and after tax, rounded) that their arithmetic does not
    always show. ``invoice``: what a long invoice prints legitimately is no rival either
    (a running total per page, a total before and after tax, in another currency, a
    payment or a credit taken off)."""
    rivals = rival_totals(lines, total.value, invoice=invoice)  # type: ignore[arg-type]
    if not rivals:
        return total
    # A new candidate: the chosen option's cues are the option's, which a benchmark
    # choosing again with another model reads.
    cues = [f"{RIVAL_TOTAL_CUE}:{r.value}@{r.line.page + 1}" for r in rivals]
    return Candidate(total.value, DISAGREEMENT_CAP, total.evidence, [*total.cues, *cues])


# How a bare number date is ordered where a currency is named outright: month first in
# the United States and the Philippines; either way in Canada; day first elsewhere. A
# currency read from a bare "$" (0.6) names no country: Australia, Singapore and Canada
# use it too. A yen tells none: Japanese (and Chinese, whose yuan prints "¥" too) tills
# print the year first, "26/12/05", which was read as 26 Dec 2005 at 0.97.
MONTH_FIRST = {"USD": True, "PHP": True, "CAD": None, "JPY": None}
SURE_CURRENCY = 0.85
# A date whose day and month could be swapped, on a receipt that does not tell which
# comes first, is a guess: reviewed.
ORDER_UNSURE_CONFIDENCE = 0.5
# A date labelled as no purchase date, one whose order is a guess, or one that may have
# lost its first digit (options.date_options) is reviewed.
DOUBTFUL_DATE_CUES = frozenset({"not-issue", "order-unsure", "cut-at-edge"})


def date_order(text: str, currency: str | None, confidence: float) -> tuple[bool, bool]:
    """(day first, whether the receipt tells): a date printed on it that reads one way
    only (25/12/2026), else a currency named outright, else day first, unsure."""
    printed = printed_order(text)
    if printed is not None:
        return printed, True
    if currency is None or confidence < SURE_CURRENCY:
        return True, False
    month_first = MONTH_FIRST.get(currency, False)
    return not month_first, month_first is not None


def find_issue_date(
    lines: list[Line], *, day_first: bool, order_known: bool = True
) -> Candidate | None:
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
    if not order_known and order_unsure(match):
        confidence = min(confidence, ORDER_UNSURE_CONFIDENCE)
    confidence *= ocr_factor(span_confidence(line, match.start, match.end))
    return Candidate(
        match.value.isoformat(),  # type: ignore[attr-defined]
        round(confidence, 3),
        [evidence_for(line, match.start, match.end)],
    )


def _date_score(match: Match, line: Line) -> float:
    before = squash(line.text[: match.start])
    score = 1.0
    if NOT_ISSUE_DATE.search(before[-NOT_ISSUE_REACH:]) or _in_the_future(match):
        score -= 3.0  # expiry, validity, due or return-by dates are not the purchase date
    elif _DATE_LABEL.search(before[-12:]):
        score += 2.0
    rest = line.text[: match.start] + " " * (match.end - match.start) + line.text[match.end :]
    if parse_times(rest):
        score += 1.5  # a date stamped with a time is the transaction stamp
    return score


def _in_the_future(match: Match) -> bool:
    """A date days ahead (a voucher's expiry) is no purchase; a day's grace for time zones."""
    value = match.value
    return isinstance(value, dt.date) and value > utc_today() + dt.timedelta(days=1)


def _date_confidence(best: float, rival: float | None, occurrences: int) -> float:
    if rival is None:
        if best < 0:
            return 0.5  # the only date is labelled as no purchase date ("VALID UNTIL")
        return 0.97 if best >= 2.5 or occurrences > 1 else 0.93
    margin = best - rival
    if margin >= 1.5:
        return 0.92
    if margin >= 0.5:
        return 0.8
    return 0.55


def _find_time(lines: list[Line]) -> Candidate | None:
    """The printed time: one labelled TIME or stamped beside the date beats the first
    time-shaped number, which on an item line is often a price ("MINERAL WATER 3 16.05").
    Ties go to the earliest line. A number with a point, neither labelled nor beside a
    date, is no time: on a receipt printing none, an item's "10.00" or a "Discount 0.00"
    was its time (10:00, 00:00) at 0.85, over the review threshold."""
    best: tuple[float, Match, Line] | None = None
    for line in lines:
        # Once a line, not once a time on it: a line of thousands of amounts ("1.00" is
        # 01:00) searched its whole length for a date as many times (21 s for 2,300).
        dated = bool(parse_dates(line.text))
        for match in parse_times(line.text):
            score = _time_score(match, line, dated=dated)
            if score >= 0 and (best is None or score > best[0]):
                best = (score, match, line)
    if best is None:
        return None
    _, match, line = best
    conf = 0.85 * ocr_factor(line.confidence)
    return Candidate(match.value, round(conf, 3), [evidence_for(line, match.start, match.end)])


def _time_score(match: Match, line: Line, *, dated: bool) -> float:
    """How much ``match`` reads as the receipt's time; ``dated``: its line holds a date."""
    score = 0.0
    before = line.text[max(0, match.start - TIME_LABEL_REACH) : match.start]
    if _TIME_LABEL.search(squash(before)[-8:]):
        score += 2.0
    if dated:
        score += 1.0
    if ":" not in line.text[match.start : match.end]:
        score -= 1.0  # "16.05" is more often an amount than a time
    return score


def _find_receipt_number(lines: list[Line]) -> Candidate | None:
    found = labelled_token(lines, _RECEIPT_NO_LABEL, _RECEIPT_NO_VALUE)
    if not found:
        return None
    value, line, start, end = found
    if not any(c.isdigit() for c in value):
        return None
    conf = 0.8 * ocr_factor(line.confidence)
    return Candidate(value, round(conf, 3), [evidence_for(line, start, end)])


def line_items_candidate(rows: list[tuple[dict, Line]], confidence: float) -> Candidate:
    """The items, with each row's box numbered by item so the review page shows where
    each was read."""
    boxes = [{**evidence_for(line), "item": n} for n, (_, line) in enumerate(rows)]
    return Candidate([item for item, _ in rows], confidence, boxes)


def find_line_items(lines: list[Line]) -> list[dict]:
    return [item for item, _ in find_line_item_rows(lines)]


def find_line_item_rows(lines: list[Line]) -> list[tuple[dict, Line]]:
    """Rows between the column header and the first total-ish line that end in an amount,
    each with the line its amount was read from.

    A description printed alone on a line belongs to the row below it when that row has
    no description of its own, else it is the wrapped tail of the row above.
    """
    start = next(
        (i for i, line in enumerate(lines) if len(_ITEM_HEADER.findall(squash(line.text))) >= 2),
        None,
    )
    if start is None:
        return []
    items: list[tuple[dict, Line]] = []
    pending = ""
    for line in lines[start + 1 :]:
        if _ITEMS_END.search(squash(line.text)):
            break
        amounts = parse_amounts(line.text)
        if not amounts:
            if sum(c.isalpha() for c in line.text) >= 3:
                pending = f"{pending} {line.text.strip()}".strip()
            continue
        head = line.text[: amounts[0].start].strip()
        own = sum(c.isalpha() for c in head) >= 3
        if own and pending and items:
            _continue_description(items[-1][0], pending)
            pending = ""
        if not (own or pending) or amounts[-1].value <= 0:
            continue
        price = amounts[-2].value if len(amounts) >= 2 else None
        items.append((_item(head, pending, amounts[-1].value, price, own=own), line))
        pending = ""
    if pending and items:
        _continue_description(items[-1][0], pending)
    return items


def _continue_description(item: dict, tail: str) -> None:
    item["description"] = re.sub(r"\s+", " ", f"{item['description']} {tail}").strip(" :-")


def _item(head: str, pending: str, amount: Decimal, price: Decimal | None, *, own: bool) -> dict:
    """One row: its own description (`own`), or the line above it (`pending`)."""
    description, quantity = _split_columns(head, amount, price, named=own)
    if not own:
        description = pending
    elif quantity is None and (leading := _LEADING_QTY.match(description)):
        quantity, description = float(leading.group(1)), description[leading.end() :]
    clean = re.sub(r"\s+", " ", description).strip(" :-")
    return {"description": clean, "quantity": quantity or 1.0, "amount": amount}


def _split_columns(
    head: str, amount: Decimal, price: Decimal | None, *, named: bool
) -> tuple[str, float | None]:
    """The description and the quantity column of a row's text left of its amounts.

    With `named`, the first word belongs to the description whatever it reads. The
    quantity is the number column whose product with the unit price is the amount;
    without a price to check, the first column that reads as a plausible count (up to 99,
    or a decimal like "2.0" or "0.455"), so a "330" that belongs to "COLA 330" stays in the
    name. Columns to its right (a misread price) are dropped with it.
    """
    tokens = head.split()
    first = len(tokens)
    while first > int(named) and _COLUMN_TOKEN.match(tokens[first - 1]):
        first -= 1
    candidates = [
        (i, Decimal(m.group(1).replace(",", ".")))
        for i in range(first, len(tokens))
        if (m := _QUANTITY.match(tokens[i]))
    ]
    checked = [(i, q) for i, q in candidates if price is not None and q > 0 and q * price == amount]
    plausible = [(i, q) for i, q in candidates if q > 0 and ("." in str(q) or q <= 99)]
    chosen = (checked or plausible or [None])[0]
    if chosen is None:
        return head, None
    index, quantity = chosen
    return " ".join(tokens[:index]), float(quantity)
