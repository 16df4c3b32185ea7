"""The submission page: the files as OCR read them, the fields and line items with
their evidence, the decision forms, the timeline, and j/k to the neighbours in the queue."""

import json
import re
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.views.decorators.http import require_GET

from steve.accounts import Action, company_required, membership_allows
from steve.workflow_rules import field_type, form_description, form_example
from submissions.forms import REJECT_REASONS, RejectForm
from submissions.models import Submission, SubmissionFile, SubmissionStatus
from submissions.page_cache import failed_pages
from submissions.pages import PDF_MAX_PAGES, is_identity, pdf_page_count, stored_transform
from submissions.selectors import (
    FORGOTTEN,
    HELD,
    field_label,
    memory_standing,
    queue_neighbours,
    schema_fields,
    submission_files,
    submission_recent_events,
    unresolved_fraud_match_count,
    values_as_given,
)
from submissions.services import (
    COMMENT_MAX,
    CORRECTION_MAX,
    REASON_MAX,
    claim_is_live,
    may_release_claim,
    submission_caught_up,
)
from submissions.views.common import (
    cut_note,
    fraud_pairs_asked,
    own_submission,
    queue_filters,
    queue_query,
    submission_queue_filters,
)
from submissions.views.document_text import DocumentText, ReadAt, document_text, read_at
from submissions.views.files import file_page_url, file_url, is_raster

EVENT_LIMIT = 100
# Regions of the page that refresh themselves (?part=).
PARTS = {"side"}
# Where a refused action leaves its message for the page it redirects to.
REFUSAL_KEY = "review:refusal"
# Reading order of a receipt or invoice; the schema's own order does not survive jsonb.
FIELD_ORDER = [
    "merchantName",
    "vendorName",
    "invoiceNumber",
    "receiptNumber",
    "date",
    "invoiceDate",
    "dueDate",
    "time",
    "totalAmount",
    "taxAmount",
    "currency",
]


@dataclass(frozen=True)
class FileView:
    file: SubmissionFile
    kind: str  # image | pdf | locked (needs its password to render) | unavailable | other
    pages: list[str]
    # Each page rendered as OCR read it; ?rotate= turns it for the viewer's rotate button.
    rendered: list[str]
    original: str  # the uploaded bytes' address (versioned: files.file_url)
    # Why each shown page that could not be drawn a while ago was not (page_cache.failed_pages):
    # shown as such with the download, not as an image the browser would ask for again.
    not_drawn: dict[int, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Its tab's name, which the fields' "Files disagree" names it by too."""
        return file_name(self.file)

    @property
    def shown_pages(self) -> list["ShownPage"]:
        return [
            ShownPage(
                n,
                url,
                self.rendered[n] if n < len(self.rendered) else "",
                self.not_drawn.get(n),
            )
            for n, url in enumerate(self.pages)
        ]


@dataclass(frozen=True)
class ShownPage:
    index: int
    url: str  # what the viewer shows: the upload itself for an upright image
    rendered: str  # the page as drawn (turned by ?rotate=), or ""
    not_drawn: str | None  # why it could not be drawn a while ago


@dataclass(frozen=True)
class FieldRow:
    name: str
    dom_id: str  # field_dom_id(name): its elements' ids are "field-<dom_id>[-conf|-hint|-error]"
    label: str
    value: Any
    text: str
    confidence: float | None
    low: bool
    flagged: bool
    evidence: str
    input_type: str
    remembered: int = 0  # earlier corrections the value was recalled from (0: read)
    # Why a value the memory gave no longer stands there (forgotten, or overruled since).
    memory_gone: str = ""
    # What was read but not stored (the output schema refused it); what each file read,
    # where the submission's files disagree. HTML, each value read in a <bdi>.
    refused: str = ""
    disagreed: str = ""
    # What the page shows where its PDF text said otherwise, or that it was not checked.
    shown_otherwise: str = ""
    # Where the value was read in the document's text ("Document text" on the page).
    read_at: tuple[ReadAt, ...] = ()
    # The form the schema gives the field, shown at its input before a save is refused.
    example: str | None = None  # the schema's first example: the input's placeholder
    hint: str = ""  # its short description, read with the input


@dataclass(frozen=True)
class ItemRow:
    description: Any
    quantity: Any
    amount: Any
    evidence: str  # JSON list of boxes, like a field row's


def _page_count(file: SubmissionFile) -> int:
    if file.page_count:
        return min(file.page_count, PDF_MAX_PAGES)
    with default_storage.open(file.storage_key, "rb") as handle:
        return pdf_page_count(handle.read())


def _file_view(submission: Submission, file: SubmissionFile) -> FileView:
    mime = file.mime_type or file.declared_content_type
    if file.purged_at or not default_storage.exists(file.storage_key):
        return FileView(file, "unavailable", [], [], "")
    url = file_url(file)
    if is_raster(mime):
        rendered = file_page_url(file, 0)
        # An upright upload is shown as uploaded; a straightened or turned one as read.
        upright = is_identity(stored_transform(file.page_transforms, 0))
        # The browser draws an upright upload itself: only a drawing shown can have failed.
        failed = {} if upright else failed_pages(file, range(1))
        return FileView(file, "image", [url if upright else rendered], [rendered], url, failed)
    if mime == "application/pdf" and file.password_protected:
        return FileView(file, "locked", [], [], url)
    if mime == "application/pdf":
        count = _page_count(file)
        pages = [file_page_url(file, n) for n in range(count)]
        return FileView(file, "pdf", pages, pages, url, failed_pages(file, range(count)))
    return FileView(file, "other", [url], [], url)


def _evidence_boxes(entries: Any, *, item: int | None = None) -> list[dict[str, Any]]:
    """Well-formed boxes of one field (or of one line item), for the viewer."""
    return [
        {"file": e.get("file", 0), "page": e.get("page", 0), "bbox": e["bbox"]}
        # The line of its page's text it was read on, where extraction recorded it.
        | ({"line": e["line"]} if isinstance(e.get("line"), int) else {})
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict)
        and len(e.get("bbox") or []) == 4
        and (item is None or e.get("item") == item)
    ]


def _item_rows(submission: Submission, text: DocumentText, *, several_files: bool) -> list[ItemRow]:
    items = (submission.extracted_data or {}).get("lineItems") or []
    boxes = (submission.evidence or {}).get("lineItems")
    rows = []
    for n, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        evidence = _evidence_boxes(boxes, item=n)
        # Marks the row's line in the document's text; the row itself links nowhere.
        read_at(text, evidence, label=f"Line item {n + 1}", several_files=several_files)
        rows.append(
            ItemRow(
                description=item.get("description"),
                quantity=item.get("quantity"),
                amount=item.get("amount"),
                evidence=json.dumps(evidence),
            )
        )
    return rows


def field_text(value: Any) -> str:
    """A stored field's value as its box on the page shows it."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


_KEPT_IN_DOM_ID = re.compile(r"[A-Za-z0-9]")


def field_dom_id(name: str) -> str:
    """The part of a field's element ids its name gives ("field-<dom_id>", and "-conf",
    "-hint", "-error" after it): its ASCII letters and digits as they are (every built-in
    field: "field-merchantName"), every other character as '_', its code point in hex,
    '_' ("Invoice no." → "Invoice_20_no_2e_").

    No two names share an id, whatever they are: a dom_id has no '-', so an id's first
    '-' after "field-" ends it, and a dom_id is its name spelt out, read back one escape
    at a time. An admin's field "foo-conf" kept its name and had the id "field-foo-conf",
    field "foo"'s confidence cell's; "Invoice no." had a space, which ends an id in
    aria-describedby's list, so its label's `for` and descriptions pointed at nothing."""
    return "".join(char if _KEPT_IN_DOM_ID.fullmatch(char) else f"_{ord(char):x}_" for char in name)


def _field_rank(name: str, data: dict[str, Any]) -> tuple[int, int, str]:
    """Extracted fields first, then missing ones; each in reading order."""
    order = FIELD_ORDER.index(name) if name in FIELD_ORDER else len(FIELD_ORDER)
    return (0 if name in data else 1, order, name)


def _field_rows(
    submission: Submission, text: DocumentText, *, file_names: dict[int, str]
) -> list[FieldRow]:
    """Every scalar field of the workflow's schema, extracted or not, in reading order."""
    schema = schema_fields(submission)
    data = submission.extracted_data or {}
    confidences = submission.field_confidences or {}
    threshold = submission.workflow_version.review_threshold / 100
    flagged = set(submission.review_flagged_fields or [])
    recalled = any(_remembered(submission, name, {}) for name in submission.evidence or {})
    given = values_as_given(submission) if recalled else {}  # one query, only when needed
    rows = []
    for name, spec in sorted(schema.items(), key=lambda item: _field_rank(item[0], data)):
        if field_type(spec) in {"array", "object"}:
            continue
        spec = spec if isinstance(spec, dict) else {}  # true or false, as published before
        confidence = confidences.get(name)
        evidence = _evidence_boxes((submission.evidence or {}).get(name, []))
        label = field_label(name, spec)
        remembered, memory_gone = _recall_standing(submission, name, given)
        rows.append(
            FieldRow(
                name=name,
                dom_id=field_dom_id(name),
                label=label,
                value=data.get(name),
                text=field_text(data.get(name)),
                confidence=confidence,
                low=name in data and confidence is not None and confidence < threshold,
                flagged=name in flagged,
                evidence=json.dumps(evidence),
                input_type="text",
                remembered=remembered,
                memory_gone=memory_gone,
                refused=_refused(submission, name),
                disagreed=_disagreed(submission, name, file_names),
                shown_otherwise=_shown_otherwise(submission, name),
                read_at=tuple(
                    read_at(text, evidence, label=label, several_files=len(file_names) > 1)
                ),
                example=form_example(spec),
                hint=form_description(spec),
            )
        )
    return rows


def _remembered(submission: Submission, name: str, given: dict[str, Any]) -> int:
    """How many earlier corrections the correction memory gave this field's value from;
    none once a reviewer replaced that value (``given``: values_as_given): the page said
    "from 3 earlier corrections" beside the reviewer's own value, or a cleared field."""
    if name in given and (submission.extracted_data or {}).get(name) != given[name]:
        return 0
    for e in (submission.evidence or {}).get(name, []):
        if isinstance(e, dict) and "memory" in e:
            return int(e.get("corrections") or 0)
    return 0


def _recall_standing(submission: Submission, name: str, given: dict[str, Any]) -> tuple[int, str]:
    """ "From N earlier corrections" only while the memory still holds the value it gave
    (one query, for a recalled field only); else why it no longer does: an admin forgot
    it, or a later correction of the shop overruled it. The page said "from 3 earlier
    corrections" of a value forgotten as wrong."""
    remembered = _remembered(submission, name, given)
    if not remembered:
        return 0, ""
    ids = [
        memory_id
        for e in (submission.evidence or {}).get(name, [])
        if isinstance(e, dict)
        for memory_id in e.get("memory", [])
    ]
    standing = memory_standing(memory_ids=ids, value=(submission.extracted_data or {}).get(name))
    if standing == HELD:
        return remembered, ""
    if standing == FORGOTTEN:
        return 0, "remembered value since forgotten by an admin"
    return 0, "remembered value since overruled by a later correction"


def _refused(submission: Submission, name: str) -> SafeString | str:
    """The value read for this field that the workflow's output schema refused, and why
    (jobs.pipeline.fit_to_schema keeps both in the evidence). The value is the document's
    text, set apart in a <bdi>: in Arabic or Hebrew it took the words after it into its
    right-to-left run."""
    for e in reversed((submission.evidence or {}).get(name, [])):
        if isinstance(e, dict) and "schema" in e and "read" in e:
            read = Truncator(str(e["read"])).chars(80)
            return format_html("Read <bdi>{}</bdi>, not stored: {}", read, e["schema"])
    return ""


def file_name(file: SubmissionFile) -> str:
    """A file as its tab on the page names it: its workflow's label and its number."""
    return f"{file.label or 'file'} {file.file_index + 1}"


def _named(index: int, file_names: dict[int, str]) -> str:
    """A file by its tab's name; by its number, as a tab without a label names it, for an
    index no stored file has."""
    return file_names.get(index) or f"file {index + 1}"


def _shown_otherwise(submission: Submission, name: str) -> str:
    """What the page shows where the field was read from a PDF's text layer that says
    otherwise (jobs.extraction.shown keeps it on the box): the value beside it is the
    text layer's, which the reviewer's eye does not see on the page. Or that its text is
    drawn faint there (``faint``: what the eye reads may be an image beside it) or too
    small to read (``small``: the same, beside a speck of print), that
    the page could not be read again there to tell (``unchecked``), or that the page's
    text is too faint to see at all (``faintPage``: read by OCR, it is not what the
    reviewer sees)."""
    boxes = [e for e in (submission.evidence or {}).get(name, []) if isinstance(e, dict)]
    shown = [Truncator(str(e["shown"])).chars(80) for e in boxes if "shown" in e]
    if shown:
        return f"The page shows {'; '.join(shown)}; the PDF's text says otherwise"
    keys = ("faintPage", "faint", "small", "unchecked")
    said = [str(e[key]) for key in keys for e in boxes if key in e]
    return " ".join(Truncator(text).chars(120) for text in dict.fromkeys(said))


def _disagreed(submission: Submission, name: str, file_names: dict[int, str]) -> SafeString | str:
    """What each file read of a field the submission's files disagree on (the pipeline
    keeps ``{"file", "read", "confidence"}`` per file then): the value shown is one of
    them, and the boxes alone did not say which file read what. Each file is named as
    its tab is ("receipt 2"): "file 2" under tabs labelled otherwise named none of them."""
    reads = [
        (_named(e["file"], file_names), Truncator(field_text(e["read"])).chars(80))
        for e in (submission.evidence or {}).get(name, [])
        if isinstance(e, dict)
        and isinstance(e.get("file"), int)
        and {"read", "confidence"} <= e.keys()
    ]
    if not reads:
        return ""
    # Each value in a <bdi>: one in Arabic or Hebrew took the "; file 2 read" after it.
    each = format_html_join("; ", "{} read <bdi>{}</bdi>", reads)
    return format_html("Files disagree: {}", each)


def detail_context(
    request: HttpRequest,
    submission: Submission,
    *,
    error: str = "",
    error_code: str = "",
    reject_form: RejectForm | None = None,
    field_errors: dict[str, str] | None = None,
    error_for: str = "",
) -> dict[str, Any]:
    # The queue's filters travel with the page, so j/k and "next" stay in that queue.
    filters = submission_queue_filters(request, submission)
    previous_id, next_id = queue_neighbours(
        company=request.company, user=request.user, filters=filters, submission_id=submission.pk
    )
    query = queue_query(filters)
    version = submission.workflow_version
    may_decide = membership_allows(request.user, request.company, Action.DECIDE)
    files = list(submission_files(submission))
    text = document_text(submission, files)
    several = len(files) > 1
    file_names = {f.file_index: file_name(f) for f in files}
    reject_form = reject_form or RejectForm(initial={"version": submission.version})
    if error and error_for == "reject":
        _describe_by_refusal(reject_form)
    return {
        "submission": submission,
        "version": submission.version,
        "files": [_file_view(submission, f) for f in files],
        # Before the rows, which mark the lines their values were read on.
        "document_text": text,
        "fields": _field_rows(submission, text, file_names=file_names),
        "line_items": _item_rows(submission, text, several_files=several),
        "has_line_items": "lineItems" in schema_fields(submission),
        "threshold": version.review_threshold,
        "threshold_ratio": version.review_threshold / 100,
        "unresolved": unresolved_fraud_match_count(submission),
        # Viewers see a submission in review without the forms that change it.
        "in_review": submission.status == SubmissionStatus.REVIEW and may_decide,
        "may_comment": may_decide,
        # One per drawn comment form: the same form sent twice is one comment.
        "form_token": uuid.uuid4(),
        "claim_live": claim_is_live(submission),
        "claim_mine": submission.claimed_by_id == request.user.pk,
        "may_release": may_release_claim(
            request.user,
            submission,
            others=membership_allows(request.user, request.company, Action.RELEASE_OTHERS),
        ),
        "events": submission_recent_events(submission, EVENT_LIMIT),
        # The timeline names a corrected field as its row does (field_title).
        "field_schema": schema_fields(submission),
        # As typed: Arabic or emoji, not \uXXXX escapes.
        "metadata": json.dumps(
            submission.metadata or {}, indent=2, sort_keys=True, ensure_ascii=False
        ),
        "previous_id": previous_id,
        "next_id": next_id,
        "query": query,
        "qs": f"?{query}" if query else "",
        "panel_qs": _panel_query(request, filters),
        "panel_pairs": fraud_pairs_asked(request),  # the count the panel first loads at
        "reject_form": reject_form,
        "reject_reasons": REJECT_REASONS,
        "error": error,
        "error_code": error_code,  # the code the API answers the same refusal with
        "field_errors": field_errors or {},
        "item_errors": _item_errors(field_errors or {}),
        # The form ("reject", "cancel", "comment") whose input the refusal is about.
        "error_for": error_for if error else "",
        "now": timezone.now(),
    }


_ITEM_INPUT = re.compile(r"lineItems\[(\d+)\]\.(description|quantity|amount)")


def _item_errors(field_errors: dict[str, str]) -> dict[int, str]:
    """The line-items form's refused input by its row (from 0): {1: "quantity"}, from the
    place a refusal names (lineItems[1].quantity); a workflow's own member has no input."""
    found = (_ITEM_INPUT.fullmatch(place) for place in field_errors)
    return {int(m.group(1)): m.group(2) for m in found if m}


def _describe_by_refusal(form: RejectForm) -> None:
    """The reject reason's inputs, marked invalid and described by the refusal shown above
    them (#side-refusal), as a refused correction's input is by its error."""
    for name in ("preset", "reason"):
        attrs = form.fields[name].widget.attrs
        attrs.update({"aria-invalid": "true", "aria-describedby": "side-refusal"})


def _panel_query(request: HttpRequest, filters: dict[str, str]) -> str:
    """The fraud panel's query: the queue's filters and the pairs the reviewer had drawn
    (?pairs=, which a plain resolve in the panel brings back here), so its link and load
    open where they were, not at the first page. Only this page's own links carry it: the
    neighbours' panels start at their first page."""
    asked = fraud_pairs_asked(request)
    query = queue_query(filters, pairs=str(asked) if asked else "")
    return f"?{query}" if query else ""


def page_url(request: HttpRequest, submission_id: str) -> str:
    """The submission page's address, with the queue's filters."""
    url = reverse("review:detail", args=[submission_id])
    query = queue_query(queue_filters(request))
    return f"{url}?{query}" if query else url


def _pop_refusal(request: HttpRequest, submission_id: str) -> dict[str, str]:
    refusal = request.session.pop(REFUSAL_KEY, None)
    if not isinstance(refusal, dict) or refusal.get("id") != submission_id:
        return {}
    if "user" in refusal and refusal["user"] != str(request.user.pk):
        return {}  # kept through a sign-in for another user (actions.kept_through_sign_in)
    return refusal


@require_GET
@company_required
def detail(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = submission_caught_up(submission=own_submission(request, submission_id))
    part = request.GET.get("part", "")
    if part in PARTS:
        # A region refreshing itself after a change elsewhere on the page.
        return render(request, f"review/detail.html#{part}", detail_context(request, submission))
    # Viewing never claims (no write on GET): "Start review" or the first action does.
    refusal = _pop_refusal(request, submission.pk)
    typed = refusal.get("typed") or {}
    context = detail_context(
        request,
        submission,
        error=refusal.get("message", ""),
        error_code=refusal.get("code", ""),
        reject_form=_kept_reject_form(submission, typed),
        field_errors=refusal.get("field_errors"),
        error_for=refusal.get("error_for", ""),
    )
    _show_typed(context, typed, plain=bool(refusal.get("plain")))
    return render(request, "review/detail.html", context)


def _kept_reject_form(submission: Submission, typed: dict[str, Any]) -> RejectForm | None:
    """The reject form as a refused Reject left it: the reason typed and the one picked
    from the list (a pick came back unpicked, though the typed reason was kept), marked
    as unsaved input. A picked value not on the list is not drawn: no option has it."""
    reason, preset = typed.get("reject_reason", ""), typed.get("reject_preset", "")
    if not reason and not preset:
        return None
    form = RejectForm(initial={"version": submission.version, "reason": reason, "preset": preset})
    for name in ("preset", "reason"):
        # Drawn without it, the box is empty: review.js counts what was kept as unsaved.
        form.fields[name].widget.attrs["data-drawn"] = ""
    return form


def _show_typed(context: dict[str, Any], typed: dict[str, Any], *, plain: bool = False) -> None:
    """Put what a refused plain form held back in its inputs, as the htmx path does; a
    page without them (another reviewer decided the submission meanwhile) lists it
    instead, so it is neither lost nor shown as if it were the stored value.

    On a page a plain post (no JavaScript) led to, the claim's buttons and Approve submit
    the form that holds it (kept_form): each was a form of its own, and Take over, pressed
    after a save refused as "bob is reviewing this submission", brought the page back
    with the stored values. htmx keeps what was typed itself (review.js)."""
    context["typed_comment"] = typed.get("comment", "")
    context["typed_cut"] = _cut_notes(context["fields"], typed)
    if not context["in_review"]:
        context["not_kept"] = _not_kept(context["fields"], typed)
        return
    context["kept_form"] = _kept_form(context["fields"], typed) if plain else ""
    # A correction a claim button (or a sign-in) carried keeps the version it was typed
    # on: this page may be drawn after another saved that field, and its Save checks the
    # field since then (refuse_stale_correction's typed_version).
    version = typed.get("version")
    context["typed_version"] = version if isinstance(version, int) and plain else None
    context["typed_cancel_reason"] = typed.get("cancel_reason", "")
    if "field" in typed:
        context["fields"] = [
            replace(row, text=str(typed.get("value", ""))) if row.name == typed["field"] else row
            for row in context["fields"]
        ]
    context["rows_refused"] = _rows_text(typed.get("rows_refused") or [])
    if "rows" in typed:
        context["line_items"] = [
            ItemRow(description=d, quantity=q, amount=a, evidence="[]") for d, q, a in typed["rows"]
        ]


def _kept_form(fields: list[FieldRow], typed: dict[str, Any]) -> str:
    """The id of the page's form that holds what a refused plain post brought back; ""
    when it brought nothing back into a form (line items refused as changed meanwhile are
    listed beside the current rows, not put in them)."""
    if "field" in typed:
        named = [row.dom_id for row in fields if row.name == typed["field"]]
        return f"correct-{named[0]}" if named else ""
    if any(any(v.strip() for v in row) for row in typed.get("rows") or []):
        return "items-form"
    for key, form in (
        ("reject_reason", "reject-form"),
        ("reject_preset", "reject-form"),
        ("cancel_reason", "cancel-form"),
        ("comment", "comment-form"),
    ):
        if str(typed.get(key, "")).strip():
            return form
    return ""


def _cut_notes(fields: list[FieldRow], typed: dict[str, Any]) -> list[str]:
    """What a refused plain post could not bring back: a text past TYPED_MAX comes back
    cut (it travels through the session), and the reviewer, shortening what they see, is
    told its end is gone and how far it must go, rather than finding out after a save."""
    labels = {row.name: row.label for row in fields}
    notes = []
    for entry in typed.get("cut") or []:
        what, sent = str(entry.get("what", "")), entry.get("sent")
        if not isinstance(sent, int):
            continue
        name = what.removeprefix("field:")
        label = labels.get(name, name) if what.startswith("field:") else what
        limit = {"comment": COMMENT_MAX}.get(
            what, REASON_MAX if "reason" in what else CORRECTION_MAX
        )
        notes.append(cut_note(label, sent=sent, limit=limit))
    return notes


def _not_kept(fields: list[FieldRow], typed: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) of each typed value a refused form carried, for a page that has no
    input to put it back in."""
    labels = {row.name: row.label for row in fields}
    preset = typed.get("reject_preset", "")
    found = [
        ("Reject reason", typed.get("reject_reason", "")),
        # The one picked from the list too (a value not on the list was never the form's).
        ("Reject reason", preset if preset in REJECT_REASONS else ""),
        ("Cancel reason", typed.get("cancel_reason", "")),
    ]
    if "field" in typed:
        found.append((labels.get(typed["field"], typed["field"]), str(typed.get("value", ""))))
    found.append(("Line items", _rows_text(typed.get("rows") or typed.get("rows_refused") or [])))
    return [(label, text) for label, text in found if text.strip()]


def _rows_text(rows: list[list[str]]) -> str:
    """Typed line items as a line of text ("Milk, 2 × 1.45; Bread, 1 × 1.10")."""
    return "; ".join(f"{d}, {q} × {a}" for d, q, a in rows if d or q or a)
