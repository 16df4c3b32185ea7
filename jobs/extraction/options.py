"""The options the field model ranks: every amount, every date, the lines near the top for
the merchant and the blocks of lines under it for the address, each with its features.

The hand rules' pick is one option among them, marked by the ``rule_pick`` feature and
carrying the rule's confidence (``rule_conf``): where the rules are right the model can
follow them, where they were tuned to one data set it learns how far to trust them.
"""

from __future__ import annotations

import bisect
import math
import re
import statistics
from collections import defaultdict
from decimal import Decimal

from . import header as h
from .fields import (
    NOT_ISSUE_DATE,
    NOT_ISSUE_REACH,
    AmountRef,
    Candidate,
    evidence_for,
    find_dates,
    span_confidence,
    span_words_bbox,
    squash,
)
from .layout import Line
from .ranker import Option
from .totals import build_ledger, support_for
from .values import Match, order_unsure, parse_amounts, parse_times

ADDRESS_MAX_LINES = 6
# Right edges of amounts this close (share of the page width) are one printed column.
COLUMN_TOLERANCE = 0.03
# A column sum of more amounts is no receipt's or invoice's; the cap bounds the work on a
# document of thousands of amounts (20 pages of small print: 17 s without it).
COLUMN_SUM_MAX_TERMS = 200
COLUMN_SCAN = 5 * COLUMN_SUM_MAX_TERMS  # amounts of a bin looked at for them, at most
Printed = tuple[int, int, float, Decimal]  # line index, order on the page, right edge, value
ADDRESS_STARTS = 8  # blocks may start at any of the first lines under the name
MERCHANT_MAX_OPTIONS = 12


def _median_height(lines: list[Line]) -> float:
    heights = [line.height for line in lines if line.height > 0]
    return statistics.median(heights) if heights else 1.0


def _mark_rule(options: list[Option], rule: Candidate | None, same: object) -> list[Option]:
    """Flag the option equal to the rule's pick (adding it when the options lack it)."""
    if rule is None:
        return options
    for option in options:
        if _key(option.value) == _key(same):
            option.features["rule_pick"] = 1.0
            option.features["rule_conf"] = rule.confidence
            option.evidence = option.evidence or rule.evidence
            return options
    return options


def _key(value: object) -> str:
    return re.sub(r"[^0-9A-Z.]", "", str(value).upper())


# --- total ------------------------------------------------------------------------------


def total_options(
    lines: list[Line], item_sum: Decimal | None, rule: Candidate | None
) -> list[Option]:
    ledger = build_ledger(lines)
    support = support_for(ledger, item_sum)
    refs: dict[Decimal, list[AmountRef]] = defaultdict(list)
    kinds: dict[Decimal, set[str]] = defaultdict(set)
    buckets = {
        "total": [r for _, r, _ in ledger.totals],
        "tender": ledger.tenders,
        "change": ledger.changes,
        "subtotal": ledger.subtotals,
        "tax": ledger.taxes,
        "other": ledger.others + ledger.roundings,
    }
    for kind, bucket in buckets.items():
        for ref in bucket:
            if ref.value > 0:
                refs[ref.value].append(ref)
                kinds[ref.value].add(kind)
    # A part of a total printed below it is not the amount paid, however large. (A
    # negative sum is a credit note's, which goes to a reviewer with its options kept.)
    parts = {p.value for ref, summed in ledger.total_sums if ref.value > 0 for p in summed}
    values = sorted(set(refs) - parts, reverse=True)
    median = _median_height(lines)
    last_total = max((r.line_index for r in buckets["total"]), default=-1)
    total_lines = sorted({r.line_index for r in buckets["total"]})
    column = _printed_columns(lines)
    lower = [v for v in values if max(r.line.center_y for r in refs[v]) > 0.4]
    kept = [v for v in lower if not kinds[v] & {"tender", "change"}]
    options = []
    for rank, value in enumerate(values):
        its = refs[value]
        s = support.get(value)
        cues = s.cues if s else set()
        lowest = max(r.line_index for r in its)
        totals_below = sum(1 for i in total_lines if i > lowest)
        features = {
            "label_weight": s.weight if s else 0.0,
            "cues": float(len(cues)),
            "cue_cash_change": float("cash-change" in cues),
            "cue_rounding": float("rounding" in cues),
            "cue_subtotal_tax": float("subtotal+tax" in cues),
            "cue_items": float("line-items" in cues),
            "cue_tender": float("tender" in cues),
            "is_largest": float(rank == 0),
            "rank_desc": 1.0 / (1 + rank),
            "occurrences": math.log1p(len(its)),
            "y_last": max(r.line.center_y for r in its),
            "height_rel": max(r.line.height for r in its) / median,
            "ocr": min(r.ocr_confidence for r in its),
            "x_right": max(r.line.bbox[2] for r in its),
            "is_item_sum": float(item_sum is not None and value == item_sum),
            "below_last_total": float(min(r.line_index for r in its) > last_total >= 0),
            "column_sum": float(any(_sums_column_above(r, column) for r in its)),
            "last_total_line": float("total" in kinds[value] and totals_below == 0),
            "totals_below": 1.0 / (1 + totals_below),
            "largest_lower": float(bool(kept) and value == kept[0]),
        }
        for kind in ("tender", "change", "subtotal", "tax", "other"):
            features[f"in_{kind}"] = float(kind in kinds[value])
        evidence = [r.evidence for r in its[:3]]
        options.append(Option(value, features, evidence, sorted(cues)))
    return _mark_rule(options, rule, rule.value if rule else None)


def _printed_columns(lines: list[Line]) -> dict[int, list[Printed]]:
    """Every amount on the page, negative ones too, filed by its right edge in bins of
    COLUMN_TOLERANCE, each bin in page order: (line index, order, right edge, value)."""
    columns: dict[int, list[Printed]] = defaultdict(list)
    order = 0
    for index, line in enumerate(lines):
        for match in parse_amounts(line.text):
            right = span_words_bbox(line, match.start, match.end)[2]
            columns[math.floor(right / COLUMN_TOLERANCE)].append((index, order, right, match.value))
            order += 1
    return columns


def _sums_column_above(ref: AmountRef, columns: dict[int, list[Printed]]) -> bool:
    """Whether the amount is the sum of the two or more amounts printed right above it
    in its column: items above a total, subtotal and tax above a total, per-rate totals
    above the amount payable."""
    right = span_words_bbox(ref.line, ref.start, ref.end)[2]
    home = math.floor(right / COLUMN_TOLERANCE)
    near: list[Printed] = []
    for filed in (columns.get(key, []) for key in range(home - 2, home + 3)):
        end = bisect.bisect_left(filed, ref.line_index, key=lambda p: p[0])
        near += _nearest_in_column(filed[max(0, end - COLUMN_SCAN) : end], right)
    above = sorted(near, key=lambda p: (-p[0], p[1]))
    running = Decimal(0)
    for count, (*_, value) in enumerate(above[:COLUMN_SUM_MAX_TERMS], start=1):
        running += value
        if count >= 2 and running == ref.value:
            return True
    return False


def _nearest_in_column(filed: list[Printed], right: float) -> list[Printed]:
    """The last COLUMN_SUM_MAX_TERMS of ``filed`` within COLUMN_TOLERANCE of ``right``:
    a bin may also hold a neighbouring column's amounts, which must not take their
    places."""
    found: list[Printed] = []
    for printed in reversed(filed):
        if abs(printed[2] - right) <= COLUMN_TOLERANCE:
            found.append(printed)
            if len(found) == COLUMN_SUM_MAX_TERMS:
                break
    return found


# --- date -------------------------------------------------------------------------------


def date_options(
    lines: list[Line],
    *,
    day_first: bool,
    rule: Candidate | None,
    score: object,
    order_known: bool = True,
) -> list[Option]:
    """``score`` is the rules' date score function (match, line) -> float. An option
    carries the cue ``not-issue`` when every print of it is labelled as no purchase date
    (score below 0), ``order-unsure`` when its day and month could be swapped on a receipt
    that does not tell which comes first, ``cut-at-edge`` when every print of it opens its
    line with a one-digit number (_cut_at_edge)."""
    by_value: dict[object, list] = defaultdict(list)
    for match, line, _ in find_dates(lines, day_first=day_first):
        by_value[match.value].append((match, line))
    options = []
    for value, found in by_value.items():
        scores = [score(m, line) for m, line in found]  # type: ignore[operator]
        first_match, first_line = min(found, key=lambda f: f[1].center_y)
        befores = [squash(line.text[: m.start]) for m, line in found]
        rests = [line.text[: m.start] + " " + line.text[m.end :] for m, line in found]
        features = {
            "score": max(scores),
            "occurrences": math.log1p(len(found)),
            "labelled": float(any(re.search(r"DATE|TARIKH|DTE|DT", b[-12:]) for b in befores)),
            "with_time": float(any(parse_times(r) for r in rests)),
            "glued": float(all(m.kind == "glued" for m, _ in found)),
            "y_first": first_line.center_y,
            "ocr": max(span_confidence(line, m.start, m.end) for m, line in found),
            "not_issue": float(any(NOT_ISSUE_DATE.search(b[-NOT_ISSUE_REACH:]) for b in befores)),
        }
        evidence = [evidence_for(first_line, first_match.start, first_match.end)]
        cues = ["not-issue"] if max(scores) < 0 else []
        if not order_known and order_unsure(first_match):
            cues.append("order-unsure")
        if all(_cut_at_edge(m, line) for m, line in found):
            cues.append("cut-at-edge")
        option = Option(value.isoformat(), features, evidence, cues)  # type: ignore[attr-defined]
        options.append(option)
    return _mark_rule(options, rule, rule.value if rule else None)


def _cut_at_edge(match: Match, line: Line) -> bool:
    """Whether the date opens its line with a one-digit day or month before a two-digit
    one ("7-04-18 16:28", "1/11/16"): the detector's box may have cut a digit off at its
    edge ("27-04-18", "11/11/16"). A till that pads neither ("7/4/18") or writes the month
    ("7 April 2018") is left alone. Over both sroie sets two dates read so, both with a
    lost digit, both at >= 0.9 from the model, which never saw enough such dates to doubt
    them."""
    return not line.text[: match.start].strip() and bool(
        re.match(r"\d[-/.]\d{2}(?!\d)", line.text[match.start :])
    )


# --- merchant name ----------------------------------------------------------------------


def merchant_options(segments: list[Line], rule: Candidate | None) -> list[Option]:
    top = [(i, s) for i, s in enumerate(segments) if s.center_y < 0.5]
    median = _median_height([s for _, s in top]) if top else 1.0
    tallest = max((s.height for _, s in top), default=0.0)
    heights = sorted({round(s.height, 4) for _, s in top}, reverse=True)
    name_like = [i for i, s in top if h.is_name_like(s) and not h._is_address(s.text)]
    spans: list[list[Line]] = []
    for index, segment in top:
        if sum(c.isalpha() for c in segment.text) >= 3:
            spans.append([segment])
            nxt = segments[index + 1] if index + 1 < len(segments) else None
            if nxt is not None and h.is_name_like(nxt) and nxt.center_y < 0.5:
                spans.append([segment, nxt])
    options: dict[str, Option] = {}
    for span in spans:
        raw = " ".join(s.text for s in span)
        text = h.normalise_name(h.clean_name(raw))
        if len(text) < 3 or _key(text) in options:
            continue
        first = segments.index(span[0])
        last = segments.index(span[-1])
        after = segments[last + 1] if last + 1 < len(segments) else None
        letters = [c for c in text if c.isalpha()]
        features = {
            "name_like": float(all(h.is_name_like(s) for s in span)),
            "suffix": float(h.has_company_suffix(text)),
            "legal_form": float(h.has_legal_form(text)),
            "address_like": float(any(h._is_address(s.text) for s in span)),
            "order": float(sum(1 for i in name_like if i < first)),
            "first_name_like": float(bool(name_like) and first == name_like[0]),
            "y": span[0].center_y,
            "height_rel": max(s.height for s in span) / median,
            "tallest": float(max(s.height for s in span) >= 0.95 * tallest),
            "letters": math.log1p(len(letters)),
            "digits": sum(c.isdigit() for c in text) / max(1, len(text)),
            "ocr": min(w.confidence for s in span for w in s.words),
            "two_lines": float(len(span) > 1),
            "centred": abs((span[0].bbox[0] + span[0].bbox[2]) / 2 - 0.5),
            "next_is_address": float(after is not None and h._starts_address(after.text)),
            "lower_share": sum(c.islower() for c in letters) / max(1, len(letters)),
            "postcode": float(bool(h.POSTCODE.search(raw))),
            "place": float(bool(h._PLACE.search(raw))),
            "with_reg": float(
                _is_registration(raw) or (after is not None and _is_registration(after.text))
            ),
            "height_rank": 1.0 / (1 + _rank(heights, max(s.height for s in span))),
        }
        options[_key(text)] = Option(text, features, [evidence_for(s) for s in span])
    ranked = sorted(options.values(), key=lambda o: o.features["y"])[:MERCHANT_MAX_OPTIONS]
    return _mark_rule(ranked, rule, rule.value if rule else None)


def _rank(descending: list[float], value: float) -> int:
    return sum(1 for v in descending if v > round(value, 4))


def _is_registration(text: str) -> bool:
    """A company registration number, on the name's line or the next ("(123456-X)")."""
    upper = text.strip().upper()
    return bool(h._TRAILING_REG.search(upper) or h._REG_NUMBER.match(upper)) or bool(
        h._REG_LINE.match(squash(text))
    )


# --- merchant address -------------------------------------------------------------------


def address_options(segments: list[Line], after: int, rule: Candidate | None) -> list[Option]:
    column = segments[after + 1 :]
    if after >= 0:
        name_box = segments[after].bbox
        column = [s for s in column if h._x_overlap(s.bbox, name_box) > 0]
    options: dict[str, Option] = {}
    for start in range(min(ADDRESS_STARTS, len(column))):
        if column[start].center_y > 0.6:
            break
        for length in range(1, ADDRESS_MAX_LINES + 1):
            block = column[start : start + length]
            if len(block) < length:
                break
            option = _address_option(block, column, start, length)
            if option is not None and _key(option.value) not in options:
                options[_key(option.value)] = option
    return _mark_rule(list(options.values()), rule, rule.value if rule else None)


def _address_option(
    block: list[Line], column: list[Line], start: int, length: int
) -> Option | None:
    candidate = h._address_candidate(block)
    text = str(candidate.value)
    if sum(c.isalpha() for c in text) < 4:
        return None
    fixed = [h.fix_ocr_confusions(s.text.strip()) for s in block]
    after = column[start + length] if start + length < len(column) else None
    gaps = [b.bbox[1] - a.bbox[3] for a, b in zip(block, block[1:], strict=False)]
    unit = max(_median_height(block), 1e-6)
    next_text = h.fix_ocr_confusions(after.text.strip()) if after is not None else ""
    features = {
        "lines": float(length),
        "starts_address": float(h._starts_address(fixed[0])),
        "after_name": float(start == 0),
        "skipped": float(start),
        "has_stop": float(any(h._is_address_stop(t) for t in fixed)),
        "has_contact": float(any(h._is_contact_only(t) for t in fixed)),
        "ends_postcode_place": float(h._has_postcode_and_place(fixed[-1])),
        "has_postcode": float(any(h.POSTCODE.search(t) for t in fixed)),
        "postcode_inside": float(any(h.POSTCODE.search(t) for t in fixed[:-1])),
        "has_street": float(any(h.ADDRESS_WORD.search(t) for t in fixed)),
        "next_stop": float(after is None or h._is_address_stop(next_text)),
        "next_place": float(bool(h._PLACE.search(next_text)) and not re.search(r"\d", next_text)),
        "next_gap": ((after.bbox[1] - block[-1].bbox[3]) / unit) if after is not None else 3.0,
        "max_gap": max(gaps, default=0.0) / unit,
        "y": block[0].center_y,
        "ocr": min(s.confidence for s in block),
        "has_name": float(any(h.has_company_suffix(t) for t in fixed)),
        "amounts": float(sum(len(parse_amounts(t)) for t in fixed)),
        "next_continues": float(after is not None and h._starts_address(next_text)),
    }
    return Option(text, features, candidate.evidence)
