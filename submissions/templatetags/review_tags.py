"""Small formatting helpers and server-side SVG charts for the review UI."""

import json
import re
import unicodedata
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from submissions.selectors import field_label

register = template.Library()

CHART_WIDTH = 720
CHART_HEIGHT = 180
CHART_PAD = 24


@register.filter
def timesince_delta(now: datetime, then: datetime | None) -> timedelta | None:
    return now - then if then else None


@register.filter
def short_age(age: timedelta | None) -> str:
    """ "3d 4h", "5h 12m", "7m": the two largest units are enough to triage by."""
    if age is None:
        return "—"
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


@register.filter
def sla_class(age: timedelta | None, sla: timedelta) -> str:
    """Rows nearing the review SLA stand out before they breach it."""
    if age is None:
        return ""
    if age >= sla:
        return "sla-breached"
    if age >= sla * 0.75:
        return "sla-near"
    return ""


@register.filter
def merchant(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    return str(data.get("merchantName") or data.get("vendorName") or "")


@register.filter
def total(data: Any) -> str:
    if not isinstance(data, dict) or data.get("totalAmount") is None:
        return ""
    amount = data["totalAmount"]
    text = f"{amount:,.2f}" if isinstance(amount, int | float) else str(amount)
    return f"{text} {data.get('currency') or ''}".strip()


@register.filter
def percent(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f}%"


@register.filter
def event_label(event_type: str) -> str:
    return event_type.replace("_", " ").capitalize()


@register.filter
def field_title(name: Any, properties: dict[str, Any]) -> str:
    """A corrected field as the page labels its row (the schema's title, or the key spelt
    out), not the key its event keeps for the API and webhooks."""
    if not isinstance(name, str):
        return ""
    spec = properties.get(name) if isinstance(properties, dict) else None
    return field_label(name, spec if isinstance(spec, dict) else {})


@register.filter
def corrected_value(value: Any) -> str:
    """A corrected field's old or new value for the timeline; a list as its row count."""
    if value is None:
        return "—"
    if isinstance(value, list):
        return f"{len(value)} row{'' if len(value) == 1 else 's'}"
    return str(value)


# The issuer and the invoice number a summary names, as jobs.extraction.api.summarise
# writes its sentence ("Invoice from <name> number <number> dated <date> for …", or "with
# no readable date"): one sentence per file, one after the other.
_SUMMARY_VALUES = re.compile(
    r"(?:^|(?<=\. ))\w+ from (?P<name>.+?)(?: number (?P<number>.+?))?"
    r"(?= dated | with no readable date)"
)


@register.filter
def summary_isolated(summary: str) -> SafeString:
    """The summary with the issuer and invoice number it names each in a <bdi>: a name
    in Arabic or Hebrew, or one holding a bidi override stored before extraction dropped
    them, took the date and total after it into its run and reversed the rest of the
    line. The rest is escaped as any text."""
    text, at = str(summary), 0
    parts: list[str] = []
    for match in _SUMMARY_VALUES.finditer(text):
        for group in ("name", "number"):
            if match.group(group) is None:
                continue
            parts += [
                escape(text[at : match.start(group)]),
                format_html("<bdi>{}</bdi>", match.group(group)),
            ]
            at = match.end(group)
    # Safe: each part was escaped above, the names by format_html.
    return mark_safe("".join([*parts, escape(text[at:])]))


# A line-item correction names this many row changes in the timeline, then counts the rest.
ROW_CHANGES_SHOWN = 3
ROW_TEXT_MAX = 40
# The most changed rows (on either side, once the rows alike at both ends are set aside)
# that are matched by content; more are paired in order. difflib's matching is cubic in
# rows that repeat: 170 alike rows (what an event keeps) took 0.34 s per timeline entry,
# 2,000 (an event of any size is stored data) took minutes.
ROW_MATCH_MAX = 40


@register.filter
def row_changes(details: Any) -> list[str]:
    """What a correction of a list of rows (line items) changed, for the timeline:
    "row 2 (Bread): amount 1.10 → 1.20", "row 3 added: Coffee beans, 1 × 6.80",
    "row 4 removed: Wine". Rows are matched in order, so a row removed from the middle
    reads as removed, not as every later row changed. Empty when the event does not hold
    two lists of rows (another field, or a value too large to keep)."""
    if not isinstance(details, dict) or details.get("omitted"):
        return []
    old, new = details.get("old") or [], details.get("new") or []
    if not _is_rows(old) or not _is_rows(new):
        return []
    changes: list[str] = []
    for i1, i2, j1, j2 in _changed_spans([_row_key(r) for r in old], [_row_key(r) for r in new]):
        paired = min(i2 - i1, j2 - j1)
        for k in range(paired):
            if changed := _row_changed(j1 + k + 1, old[i1 + k], new[j1 + k]):
                changes.append(changed)
        changes += [f"row {i + 1} removed: {_row_text(old[i])}" for i in range(i1 + paired, i2)]
        changes += [f"row {j + 1} added: {_row_text(new[j])}" for j in range(j1 + paired, j2)]
    if len(changes) > ROW_CHANGES_SHOWN:
        rest = len(changes) - ROW_CHANGES_SHOWN
        changes = [
            *changes[:ROW_CHANGES_SHOWN],
            f"and {rest} more change{'' if rest == 1 else 's'}",
        ]
    return changes


def _changed_spans(old: list[str], new: list[str]) -> list[tuple[int, int, int, int]]:
    """(i1, i2, j1, j2): old[i1:i2] became new[j1:j2], in order. Rows alike at both ends
    are unchanged; in between, rows are matched by content when few enough, otherwise
    the whole stretch is one span (its rows then paired in order)."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    old_mid, new_mid = old[head : len(old) - tail], new[head : len(new) - tail]
    if max(len(old_mid), len(new_mid)) > ROW_MATCH_MAX:
        spans = [(0, len(old_mid), 0, len(new_mid))]
    else:
        matcher = SequenceMatcher(None, old_mid, new_mid, autojunk=False)
        spans = [op[1:] for op in matcher.get_opcodes() if op[0] != "equal"]
    return [(i1 + head, i2 + head, j1 + head, j2 + head) for i1, i2, j1, j2 in spans]


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(row, dict) for row in value)


def _row_key(row: dict[str, Any]) -> str:
    """Rows equal in value have one key: a quantity of 2 is a quantity of 2.0."""
    numbers = {k: float(v) for k, v in row.items() if type(v) is int}
    return json.dumps({**row, **numbers}, sort_keys=True, default=str)


def _row_fields(row: dict[str, Any]) -> list[str]:
    known = [k for k in ("description", "quantity", "amount") if k in row]
    return known + sorted(k for k in row if k not in known)


def _row_value(name: str, value: Any) -> str:
    """A cell as the form shows it (amounts with 2 decimals), long text shortened."""
    if value is None:
        return "—"
    if name in ("quantity", "amount"):
        return as_stored(value, 2 if name == "amount" else 0)
    text = str(value)
    return _isolated(text if len(text) <= ROW_TEXT_MAX else f"{text[: ROW_TEXT_MAX - 1]}…")


# Bidi classes that make text run right to left, or steer the text around it.
_BIDI_STEERING = {"R", "AL", "AN", "RLE", "RLO", "LRE", "LRO", "PDF", "RLI", "LRI", "FSI", "PDI"}


def _isolated(text: str) -> str:
    """Typed text that would run right to left (Arabic, Hebrew) or carries bidi controls,
    set apart with Unicode's first-strong isolate: in a row change's one line it took the
    numbers and arrow beside it into its run ("6.80 × 1 ,خبز", the new name before the
    old). Other text is left as it was."""
    if any(unicodedata.bidirectional(char) in _BIDI_STEERING for char in text):
        return f"\u2068{text}\u2069"
    return text


def _row_text(row: dict[str, Any]) -> str:
    """A row as the reviewer saw it: "Coffee beans, 1 × 6.80"."""
    text = _row_value("description", row.get("description"))
    if "quantity" in row and "amount" in row:
        quantity, amount = (_row_value(n, row[n]) for n in ("quantity", "amount"))
        text += f", {quantity} × {amount}"
    return text


def _row_changed(number: int, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    names = _row_fields({**old, **new})
    diffs = [
        f"{n} {_row_value(n, old.get(n))} → {_row_value(n, new.get(n))}"
        for n in names
        if old.get(n) != new.get(n)
    ]
    if not diffs:
        return None
    # Named by its description unless that is what changed.
    same_name = old.get("description") == new.get("description")
    name = f" ({_row_value('description', new.get('description'))})" if same_name else ""
    return f"row {number}{name}: {', '.join(diffs)}"


@register.filter
def detail_items(details: Any) -> list[tuple[str, str]]:
    """Event details as short key/value pairs for the timeline."""
    if not isinstance(details, dict):
        return []
    return [(str(k), _detail_text(v)) for k, v in details.items()]


# The one timestamp format Steve writes (steve.timefmt.iso), e.g. a claim's claimedUntil.
STEVE_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def _detail_text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        if not STEVE_TIMESTAMP.fullmatch(value):
            return value  # a name or a reason, whatever fromisoformat would make of it
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime(
                "%Y-%m-%d %H:%M UTC"
            )
        except ValueError:  # the shape without the calendar: "2026-13-45T…"
            return value
    if isinstance(value, list):  # flaggedFields: ["merchantName", "date"]
        return ", ".join(_detail_text(item) for item in value) or "—"
    return str(value)


# The decisions chart's stacked series, bottom up: (who decided, which of their decisions,
# the bar's class). Automatic and API decisions are one series each, mostly approvals.
DECISION_SERIES = [
    ("reviewer", ["approved"], "bar-approved"),
    ("reviewer", ["rejected"], "bar-rejected"),
    ("automatic", ["approved", "rejected"], "bar-auto"),
    ("api", ["approved", "rejected"], "bar-api"),
]


@register.inclusion_tag("review/_bar_chart.html")
def decisions_chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Stacked bars of decisions per day by who decided (selectors.decisions_per_day), as
    SVG geometry, and the month's counts its text alternative says."""
    plot_h = CHART_HEIGHT - 2 * CHART_PAD
    peak = max((d["approved"] + d["rejected"] for d in days), default=0)
    # The scale is never below 1 (no division by zero), but the axis and its label say the
    # real highest day: a month without decisions read "highest day 1".
    scale = peak or 1
    step = (CHART_WIDTH - 2 * CHART_PAD) / max(len(days), 1)
    base = CHART_HEIGHT - CHART_PAD
    bars = []
    for i, day in enumerate(days):
        x = CHART_PAD + i * step + 1
        top, segments = float(base), []
        for by, kinds, css in DECISION_SERIES:
            h = plot_h * sum(day[by][kind] for kind in kinds) / scale
            top -= h
            segments.append({"y": round(top, 1), "h": round(h, 1), "class": css})
        bars.append(
            {
                "x": round(x, 1),
                "w": round(max(step - 2, 1), 1),
                "segments": segments,
                "day": day,
                "said": _decisions_said(day),
                "label": i % 5 == 0 or i == len(days) - 1,
                "label_x": round(x + step / 2, 1),
            }
        )
    return {
        "bars": bars,
        "totals": {
            by: sum(sum(d[by].values()) for d in days) for by in ("reviewer", "automatic", "api")
        },
        "peak": peak,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "pad": CHART_PAD,
        "top": CHART_PAD,
        "base": base,
        "label_y": CHART_HEIGHT - 6,
        "right": CHART_WIDTH - CHART_PAD,
    }


DECIDERS_SAID = {"reviewer": "reviewers", "automatic": "automatic", "api": "API keys"}


def _decisions_said(day: dict[str, Any]) -> str:
    """A day's bar as its tooltip reads it: "reviewers 3 approved, 1 rejected; automatic 5
    approved"; who decided nothing is left out."""
    parts = []
    for by, said in DECIDERS_SAID.items():
        counts = [f"{n} {kind}" for kind, n in day[by].items() if n]
        if counts:
            parts.append(f"{said} {', '.join(counts)}")
    return "; ".join(parts) or "no decisions"


@register.inclusion_tag("review/_hbar_chart.html")
def depth_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Horizontal bars (queue depth per workflow), as SVG geometry."""
    label_w, row_h, width = 160, 26, 520
    peak = max((r["value"] for r in rows), default=0) or 1
    bars = [
        {
            "label": r["label"],
            "value": r["value"],
            "y": i * row_h + 4,
            "text_y": i * row_h + row_h / 2 + 4,
            "w": round((width - label_w - 50) * r["value"] / peak, 1),
            "value_x": round(label_w + (width - label_w - 50) * r["value"] / peak + 6, 1),
        }
        for i, r in enumerate(rows)
    ]
    return {
        "bars": bars,
        "label_w": label_w,
        "bar_h": row_h - 8,
        "width": width,
        "height": max(len(rows), 1) * row_h + 8,
    }


@register.filter
def as_stored(number: Any, places: int = 0) -> str:
    """A stored number as typed back into a form, without rounding it: at least ``places``
    decimals, and every further one it has (up to the 4 the review service keeps), so that
    saving a form nobody touched changes nothing ("1.2345" stays, "1.5" shows "1.50")."""
    if not isinstance(number, int | float) or isinstance(number, bool):
        return "" if number is None else str(number)
    text = f"{number:.4f}".rstrip("0")
    decimals = len(text.partition(".")[2])
    return f"{number:.{max(decimals, places)}f}"


@register.filter
def refused_member(item_errors: dict[int, str], row: int) -> str:
    """The member ("description", "quantity", "amount") of line-item row `row` a refusal
    is about, or ""."""
    return item_errors.get(row, "")
