"""The review UI: queue, submission page, its actions, file bytes and the overview.

Views are thin: they scope every query to the reviewer's company, parse a form, call
one service and render. Each page works as plain links and form posts; htmx (boost,
polling and partial refreshes) only makes it faster.
"""

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from statistics import median
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from steve.accounts import Action, allowed, company_required, membership_allows, not_allowed
from steve.errors import ServiceError
from steve.models import Environment
from submissions.forms import (
    ALL,
    MINE,
    REJECT_REASONS,
    UNCLAIMED,
    ApproveForm,
    CancelForm,
    CorrectionForm,
    LineItemsForm,
    QueueFilterForm,
    RejectForm,
)
from submissions.models import Submission, SubmissionEvent, SubmissionFile, SubmissionStatus
from submissions.pages import as_read, is_identity
from submissions.selectors import company_submission, company_submissions, field_label
from submissions.services import (
    Actor,
    LineItemRow,
    claim_is_live,
    is_clean_and_confident,
    may_release_claim,
    submission_approve,
    submission_bulk_approve,
    submission_cancel,
    submission_claim,
    submission_comment,
    submission_correct_field,
    submission_correct_line_items,
    submission_reject,
    submission_release_claim,
)

S = SubmissionStatus
# Filter values left out of links: the queue shows them when nothing is said.
DEFAULTS = {"status": S.REVIEW, "environment": Environment.PRODUCTION, "sort": "age"}
QUEUE_PAGE = 50
# A poll refreshes every row the reviewer has loaded, up to this many.
POLL_WINDOW = 500
EVENT_LIMIT = 100
PDF_MAX_PAGES = 50
PDF_SCALE = 1.6  # ~115 dpi: readable receipts without multi-megabyte PNGs
# A huge page (PDF allows 200 x 200 inches) is scaled down to this many pixels: rendered
# at PDF_SCALE a 9000-pt page would take gigabytes and seconds of the web process.
PDF_MAX_PIXELS = 16_000_000
PDF_CACHE_SECONDS = 600
PARTS = {"side"}


# --- Queue -------------------------------------------------------------------------------


def _workflow_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(w.slug, w.name) for w in request.company.workflows.order_by("name")]


def _filters(request: HttpRequest) -> dict[str, str]:
    form = QueueFilterForm(request.GET or None, workflows=_workflow_choices(request))
    return form.values()


def _filtered(request: HttpRequest, filters: dict[str, str], *, status: bool = True) -> QuerySet:
    queryset = company_submissions(request.company, filters["environment"]).select_related(
        "claimed_by"
    )
    if status and filters["status"] != ALL:
        queryset = queryset.filter(status=filters["status"])
    if filters["workflow"]:
        queryset = queryset.filter(workflow__slug=filters["workflow"])
    if filters["fraud"]:
        queryset = queryset.filter(fraud_status=filters["fraud"])
    if filters["claims"]:
        live = Q(claimed_by__isnull=False, claimed_until__gt=timezone.now())
        if filters["claims"] == MINE:
            queryset = queryset.filter(live, claimed_by=request.user)
        elif filters["claims"] == UNCLAIMED:
            queryset = queryset.exclude(live)
    if filters["q"]:
        q = filters["q"]
        queryset = queryset.filter(
            Q(pk=q)
            | Q(client_submission_id__icontains=q)
            | Q(extracted_data__merchantName__icontains=q)
            | Q(extracted_data__vendorName__icontains=q)
        )
    return queryset


def _status_counts(request: HttpRequest, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Counts per status under the other filters, so the tabs say what each would show."""
    rows = _filtered(request, filters, status=False).values("status").annotate(n=Count("id"))
    counts = {row["status"]: row["n"] for row in rows}
    tabs = [(value, label, counts.get(value, 0)) for value, label in S.choices]
    tabs.append((ALL, "All", sum(counts.values())))
    return [
        {"value": value, "label": label, "count": n, "query": _query(filters, status=value)}
        for value, label, n in tabs
    ]


def _query(filters: dict[str, str], **overrides: str) -> str:
    params = QueryDict(mutable=True)
    for key, value in {**filters, **overrides}.items():
        if value and DEFAULTS.get(key) != value:
            params[key] = value
    return params.urlencode()


# Other orders than the default read one bounded window (keyset paging follows ids).
SORTED_WINDOW = 200
ORDERS = {
    "-age": [F("id").desc()],
    "confidence": [F("confidence").asc(nulls_last=True), "id"],
    "amount": [F("extracted_data__totalAmount").desc(nulls_last=True), "id"],
    "fraud": [F("fraud_score").desc(nulls_last=True), "id"],
}


def _rows(request: HttpRequest, filters: dict[str, str]) -> tuple[list[Submission], bool]:
    """One window of the queue, oldest first (ids sort by creation time).

    `after` continues after a row (keyset, never OFFSET); `upto` re-reads every row up
    to the last one the page shows, which is what the poll asks for. Another order
    shows its first SORTED_WINDOW rows, and says so.
    """
    if filters["sort"] in ORDERS:
        ordered = _filtered(request, filters).order_by(*ORDERS[filters["sort"]])
        rows = list(ordered[: SORTED_WINDOW + 1])
        return rows[:SORTED_WINDOW], len(rows) > SORTED_WINDOW
    queryset = _filtered(request, filters).order_by("id")
    after, upto = request.GET.get("after"), request.GET.get("upto")
    limit = QUEUE_PAGE
    if after:
        queryset = queryset.filter(id__gt=after)
    elif upto:
        # At least the first page, so rows that arrived since still show up.
        limit = min(POLL_WINDOW, max(QUEUE_PAGE, queryset.filter(id__lte=upto).count()))
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


def why_in_review(submission: Submission) -> str:
    """The short answer to "why is this here?" for the queue."""
    reasons = []
    if submission.fraud_status in {"flagged", "blocked"}:
        reasons.append(f"Fraud {submission.fraud_status}")
    flagged = submission.review_flagged_fields or []
    if flagged:
        schema = _schema_fields(submission)
        labels = [field_label(name, schema.get(name) or {}) for name in flagged[:3]]
        more = f" +{len(flagged) - 3}" if len(flagged) > 3 else ""
        reasons.append("Check " + ", ".join(labels) + more)
    if not reasons and submission.status == S.REVIEW:
        reasons.append("Manual review")
    return "; ".join(reasons)


def _sla_breaches(request: HttpRequest, filters: dict[str, str]) -> int:
    """Submissions waiting longer than the SLA, under the queue's other filters."""
    waiting = _filtered(request, {**filters, "status": S.REVIEW})
    return waiting.filter(created_at__lte=timezone.now() - settings.REVIEW_SLA).count()


def _sort_links(filters: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each sortable column's link; age toggles between oldest and newest first."""
    current = filters["sort"] or "age"
    links = {}
    for column in ["age", "confidence", "amount", "fraud"]:
        target = ("-age" if current == "age" else "age") if column == "age" else column
        active = current.lstrip("-") == column
        direction = "descending" if current in {"-age", "amount", "fraud"} else "ascending"
        links[column] = {
            "query": _query(filters, sort=target),
            "aria": direction if active else "none",
        }
    return links


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    filters = _filters(request)
    rows, has_more = _rows(request, filters)
    decides = membership_allows(request.user, request.company, Action.DECIDE)
    for row in rows:
        row.why = why_in_review(row)
        row.bulk = decides and is_clean_and_confident(row)
        row.due = row.created_at + settings.REVIEW_SLA
    form = QueueFilterForm(initial=filters, workflows=_workflow_choices(request))
    return {
        "sorted": filters["sort"] in ORDERS,
        "sort_links": _sort_links(filters),
        "breaches": _sla_breaches(request, filters),
        "sla_hours": round(settings.REVIEW_SLA.total_seconds() / 3600),
        "filters": filters,
        "form": form,
        "rows": rows,
        "has_more": has_more,
        "last_id": rows[-1].pk if rows else request.GET.get("upto", ""),
        "query": _query(filters),
        # An empty table says whether the filters or the queue itself are empty.
        "filtered": any(filters[key] for key in ("workflow", "fraud", "claims", "q")),
        "counts": _status_counts(request, filters),
        "now": timezone.now(),
        "sla": settings.REVIEW_SLA,
        "decides": decides,
    }


@require_GET
@company_required
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "review/queue.html", _queue_context(request))


@require_GET
@company_required
def queue_rows(request: HttpRequest) -> HttpResponse:
    """The rows partial: polled for in-place updates and fetched by "Load more"."""
    context = _queue_context(request)
    if request.GET.get("after"):
        return render(request, "review/queue.html#rows", {**context, "appending": True})
    return render(request, "review/queue.html#results", context)


# --- Submission page -----------------------------------------------------------------------


def _own(request: HttpRequest, submission_id: str) -> Submission:
    submission = company_submission(request.company, submission_id)
    if submission is None:
        raise Http404("No such submission.")
    return submission


@dataclass(frozen=True)
class FileView:
    file: SubmissionFile
    kind: str  # image | pdf | unavailable | other
    pages: list[str]
    # Each page rendered as OCR read it; ?rotate= turns it for the viewer's rotate button.
    rendered: list[str]


@dataclass(frozen=True)
class FieldRow:
    name: str
    label: str
    value: Any
    text: str
    confidence: float | None
    low: bool
    flagged: bool
    evidence: str
    input_type: str
    remembered: int = 0  # earlier corrections the value was recalled from (0: read)


def _pdf_page_count(file: SubmissionFile) -> int:
    if file.page_count:
        return min(file.page_count, PDF_MAX_PAGES)
    import pypdfium2

    with default_storage.open(file.storage_key, "rb") as handle:
        document = pypdfium2.PdfDocument(handle.read())
    try:
        return min(len(document), PDF_MAX_PAGES)
    finally:
        document.close()


def _transform(file: SubmissionFile, page: int) -> Any:
    transforms = file.page_transforms if isinstance(file.page_transforms, list) else []
    return transforms[page] if page < len(transforms) else {}


def _file_view(submission: Submission, file: SubmissionFile) -> FileView:
    mime = file.mime_type or file.declared_content_type
    if file.purged_at or not default_storage.exists(file.storage_key):
        return FileView(file, "unavailable", [], [])
    url = reverse("review:file", args=[submission.pk, file.file_index])
    if mime.startswith("image/") and mime != "image/svg+xml":
        rendered = reverse("review:file_page", args=[submission.pk, file.file_index, 0])
        # An upright upload is shown as uploaded; a straightened or turned one as read.
        shown = url if is_identity(_transform(file, 0)) else rendered
        return FileView(file, "image", [shown], [rendered])
    if mime == "application/pdf":
        pages = [
            reverse("review:file_page", args=[submission.pk, file.file_index, n])
            for n in range(_pdf_page_count(file))
        ]
        return FileView(file, "pdf", pages, pages)
    return FileView(file, "other", [url], [])


@dataclass(frozen=True)
class ItemRow:
    description: Any
    quantity: Any
    amount: Any
    evidence: str  # JSON list of boxes, like a field row's


def _evidence_boxes(entries: Any, *, item: int | None = None) -> list[dict[str, Any]]:
    """Well-formed boxes of one field (or of one line item), for the viewer."""
    return [
        {"file": e.get("file", 0), "page": e.get("page", 0), "bbox": e["bbox"]}
        for e in (entries if isinstance(entries, list) else [])
        if isinstance(e, dict)
        and len(e.get("bbox") or []) == 4
        and (item is None or e.get("item") == item)
    ]


def _item_rows(submission: Submission) -> list[ItemRow]:
    items = (submission.extracted_data or {}).get("lineItems") or []
    boxes = (submission.evidence or {}).get("lineItems")
    return [
        ItemRow(
            description=item.get("description"),
            quantity=item.get("quantity"),
            amount=item.get("amount"),
            evidence=json.dumps(_evidence_boxes(boxes, item=n)),
        )
        for n, item in enumerate(items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


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


def _field_rank(name: str, data: dict[str, Any]) -> tuple[int, int, str]:
    """Extracted fields first, then missing ones; each in reading order."""
    order = FIELD_ORDER.index(name) if name in FIELD_ORDER else len(FIELD_ORDER)
    return (0 if name in data else 1, order, name)


def _schema_fields(submission: Submission) -> dict[str, Any]:
    """The fields of the workflow version's output schema, by name."""
    return (submission.workflow_version.output_schema or {}).get("properties", {})


def _field_rows(submission: Submission) -> list[FieldRow]:
    """Every scalar field of the workflow's schema, extracted or not, in schema order."""
    schema = _schema_fields(submission)
    data = submission.extracted_data or {}
    confidences = submission.field_confidences or {}
    threshold = submission.workflow_version.review_threshold / 100
    flagged = set(submission.review_flagged_fields or [])
    rows = []
    for name, spec in sorted(schema.items(), key=lambda item: _field_rank(item[0], data)):
        if spec.get("type") in {"array", "object"}:
            continue
        confidence = confidences.get(name)
        evidence = _evidence_boxes((submission.evidence or {}).get(name, []))
        rows.append(
            FieldRow(
                name=name,
                label=field_label(name, spec),
                value=data.get(name),
                text=_text(data.get(name)),
                confidence=confidence,
                low=name in data and confidence is not None and confidence < threshold,
                flagged=name in flagged,
                evidence=json.dumps(evidence),
                input_type="text",
                remembered=_remembered(submission, name),
            )
        )
    return rows


def _remembered(submission: Submission, name: str) -> int:
    """How many earlier corrections the correction memory gave this field's value from."""
    for e in (submission.evidence or {}).get(name, []):
        if isinstance(e, dict) and "memory" in e:
            return int(e.get("corrections") or 0)
    return 0


def _neighbours(
    request: HttpRequest, submission: Submission, filters: dict[str, str]
) -> tuple[str | None, str | None]:
    """Previous and next submission around this one in the queue as filtered (for j/k)."""
    shown = _filtered(request, filters)
    before = shown.filter(id__lt=submission.pk).order_by("-id").values_list("id", flat=True)
    after = shown.filter(id__gt=submission.pk).order_by("id").values_list("id", flat=True)
    return before.first(), after.first()


def _detail_context(
    request: HttpRequest,
    submission: Submission,
    *,
    error: str = "",
    error_code: str = "",
    reject_form: RejectForm | None = None,
    field_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    unresolved = submission.fraud_matches.filter(resolution__isnull=True).count()
    # The queue's filters travel with the page, so j/k and "next" stay in that queue.
    filters = _filters(request)
    previous_id, next_id = _neighbours(request, submission, filters)
    query = _query(filters)
    return {
        "submission": submission,
        "version": submission.version,
        "files": [_file_view(submission, f) for f in submission.files.order_by("file_index")],
        "fields": _field_rows(submission),
        "line_items": _item_rows(submission),
        "has_line_items": "lineItems" in _schema_fields(submission),
        "threshold": submission.workflow_version.review_threshold,
        "threshold_ratio": submission.workflow_version.review_threshold / 100,
        "unresolved": unresolved,
        # Viewers see a submission in review without the forms that change it.
        "in_review": submission.status == S.REVIEW
        and membership_allows(request.user, request.company, Action.DECIDE),
        "claim_live": claim_is_live(submission),
        "claim_mine": submission.claimed_by_id == request.user.pk,
        "may_release": may_release_claim(
            request.user,
            submission,
            others=membership_allows(request.user, request.company, Action.RELEASE_OTHERS),
        ),
        "events": submission.events.order_by("-id")[:EVENT_LIMIT],
        "metadata": json.dumps(submission.metadata or {}, indent=2, sort_keys=True),
        "previous_id": previous_id,
        "next_id": next_id,
        "query": query,
        "qs": f"?{query}" if query else "",
        "reject_form": reject_form or RejectForm(initial={"version": submission.version}),
        "reject_reasons": REJECT_REASONS,
        "error": error,
        "error_code": error_code,  # the code the API answers the same refusal with
        "field_errors": field_errors or {},
        "now": timezone.now(),
    }


@require_GET
@company_required
def detail(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    part = request.GET.get("part", "")
    if part in PARTS:
        # A region refreshing itself after a change elsewhere on the page.
        return render(request, f"review/detail.html#{part}", _detail_context(request, submission))
    # Viewing never claims (no write on GET): "Start review" or the first action does.
    refusal = _pop_refusal(request, submission.pk)
    reject_form = None
    if refusal.get("reason"):
        initial = {"version": submission.version, "reason": refusal["reason"]}
        reject_form = RejectForm(initial=initial)
    context = _detail_context(
        request,
        submission,
        error=refusal.get("message", ""),
        error_code=refusal.get("code", ""),
        reject_form=reject_form,
    )
    return render(request, "review/detail.html", context)


REFUSAL_KEY = "review:refusal"


def _pop_refusal(request: HttpRequest, submission_id: str) -> dict[str, str]:
    refusal = request.session.pop(REFUSAL_KEY, None)
    if not isinstance(refusal, dict) or refusal.get("id") != submission_id:
        return {}
    return refusal


def _page_url(request: HttpRequest, submission_id: str) -> str:
    url = reverse("review:detail", args=[submission_id])
    query = _query(_filters(request))
    return f"{url}?{query}" if query else url


def _refused(
    request: HttpRequest, submission_id: str, message: str, *, code: str = "", reason: str = ""
) -> HttpResponse:
    """Post/Redirect/Get: back to the page, which shows the new state and why the action
    failed; a typed reject reason comes back with it. The address bar never keeps /approve."""
    refusal = {"id": submission_id, "message": message, "code": code, "reason": reason}
    request.session[REFUSAL_KEY] = refusal
    return HttpResponseRedirect(_page_url(request, submission_id), status=303)


def _refusal(error: ServiceError) -> dict[str, Any]:
    """What a page shows of a service's refusal: the API's message, code and status."""
    return {"error": error.message, "error_code": error.code, "status": error.status}


def page_action(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A POST action of the submission page; a GET of its address (a reload, a shared
    link) opens the page instead of answering 405."""

    @wraps(view)
    def wrapper(
        request: HttpRequest, submission_id: str, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        if request.method == "GET":
            return HttpResponseRedirect(_page_url(request, _own(request, submission_id).pk))
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"])
        return view(request, submission_id, *args, **kwargs)

    return wrapper


def _next_in_queue(request: HttpRequest, done: Submission) -> str:
    """The next waiting submission nobody else holds, oldest first; else the queue.

    Both stay within the queue's workflow, fraud and search filters.
    """
    filters = _filters(request)
    query = _query(filters)
    now = timezone.now()
    free = Q(claimed_by__isnull=True) | Q(claimed_until__lte=now) | Q(claimed_by=request.user)
    waiting = _filtered(request, {**filters, "status": S.REVIEW}).filter(free).exclude(pk=done.pk)
    following = waiting.filter(id__gt=done.pk).order_by("id").first()
    chosen = following or waiting.order_by("id").first()
    url = reverse("review:queue") if chosen is None else reverse("review:detail", args=[chosen.pk])
    return f"{url}?{query}" if query else url


def _decided(request: HttpRequest, submission: Submission, verb: str) -> HttpResponse:
    messages.success(request, f"{submission.pk} {verb}.")
    return HttpResponseRedirect(_next_in_queue(request, submission), status=303)


@allowed(Action.DECIDE)
@page_action
def approve(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _refused(request, submission.pk, "The form was incomplete; try again.")
    try:
        submission = submission_approve(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            expected_version=form.cleaned_data["version"],
        )
    except ServiceError as error:
        return _refused(request, submission.pk, error.message, code=error.code)
    return _decided(request, submission, "approved")


@allowed(Action.DECIDE)
@page_action
def reject(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = RejectForm(request.POST)
    typed = request.POST.get("reason", "")[:2000]
    if not form.is_valid():
        message = " ".join(form.non_field_errors()) or "The form was incomplete; try again."
        return _refused(request, submission.pk, message, reason=typed)
    try:
        submission = submission_reject(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            reason=form.cleaned_data["final_reason"],
            expected_version=form.cleaned_data["version"],
        )
    except ServiceError as error:
        return _refused(request, submission.pk, error.message, code=error.code, reason=typed)
    return _decided(request, submission, "rejected")


@allowed(Action.DECIDE)
@page_action
def cancel(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _refused(request, submission.pk, "The form was incomplete; try again.")
    try:
        submission = submission_cancel(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        )
    except ServiceError as error:
        return _refused(request, submission.pk, error.message, code=error.code)
    return _decided(request, submission, "cancelled")


def _changed(request: HttpRequest, submission_id: str, part: str, **extra: Any) -> HttpResponse:
    """After an in-page change: htmx gets the side column back and tells the fraud panel
    to refresh (its forms carry the old version); plain posts go back to the page."""
    if not request.htmx:
        if extra.get("error"):
            return _refused(
                request, submission_id, extra["error"], code=extra.get("error_code", "")
            )
        return HttpResponseRedirect(_page_url(request, submission_id), status=303)
    submission = _own(request, submission_id)
    context = _detail_context(
        request,
        submission,
        error=extra.get("error", ""),
        error_code=extra.get("error_code", ""),
        field_errors=extra.get("field_errors"),
    )
    response = render(
        request, f"review/detail.html#{part}", context, status=extra.get("status", 200)
    )
    response["HX-Trigger"] = "submission-changed"
    return response


@allowed(Action.DECIDE)
@page_action
def correct(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = CorrectionForm(request.POST)
    if not form.is_valid():
        return _incomplete(request, submission)
    data = form.cleaned_data
    return _corrected(
        request,
        submission,
        data["field"],
        lambda actor: submission_correct_field(
            submission_id=submission.pk,
            field_name=data["field"],
            raw_value=data["value"],
            actor=actor,
            expected_version=data["version"],
        ),
    )


# A form posts at most this many line-item rows (the page shows the items plus one blank).
MAX_LINE_ITEM_ROWS = 200


@allowed(Action.DECIDE)
@page_action
def correct_items(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = LineItemsForm(request.POST)
    if not form.is_valid():
        return _incomplete(request, submission)
    return _corrected(
        request,
        submission,
        "lineItems",
        lambda actor: submission_correct_line_items(
            submission_id=submission.pk,
            rows=_line_item_rows(request),
            actor=actor,
            expected_version=form.cleaned_data["version"],
        ),
    )


def _incomplete(request: HttpRequest, submission: Submission) -> HttpResponse:
    return _changed(request, submission.pk, "side", error="The form was incomplete.", status=400)


def _corrected(
    request: HttpRequest,
    submission: Submission,
    field_name: str,
    save: Callable[[Actor], Submission],
) -> HttpResponse:
    """Run a correction service; the side column, with the refusal when there is one."""
    try:
        save(Actor.for_user(request.user))
    except ServiceError as error:
        # An invalid value is shown at its field too; a conflict only above the form.
        errors = {field_name: error.message} if error.status == 422 else None
        return _changed(request, submission.pk, "side", field_errors=errors, **_refusal(error))
    return _changed(request, submission.pk, "side")


def _line_item_rows(request: HttpRequest) -> list[LineItemRow]:
    """The rows of the line-items form: description-N, quantity-N, amount-N."""
    post = request.POST
    return [
        LineItemRow(
            description=post.get(f"description-{n}", "")[:500],
            quantity=post.get(f"quantity-{n}", "")[:50],
            amount=post.get(f"amount-{n}", "")[:50],
        )
        for n in range(MAX_LINE_ITEM_ROWS)
        if f"description-{n}" in post or f"amount-{n}" in post
    ]


@allowed(Action.DECIDE)
@page_action
def claim(request: HttpRequest, submission_id: str) -> HttpResponse:
    """ "Start review", or "Take over" another reviewer's claim (recorded as an event)."""
    submission = _own(request, submission_id)
    take_over = request.POST.get("take_over") == "1"
    try:
        submission_claim(submission_id=submission.pk, user=request.user, take_over=take_over)
    except ServiceError as error:
        return _changed(request, submission.pk, "side", **_refusal(error))
    return _changed(request, submission.pk, "side")


@allowed(Action.DECIDE)
@page_action
def release(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    others = membership_allows(request.user, request.company, Action.RELEASE_OTHERS)
    # Another's live claim needs the lead's right: a 403 like any action the role lacks.
    if claim_is_live(submission) and not may_release_claim(request.user, submission, others=others):
        return not_allowed(request, Action.RELEASE_OTHERS)
    try:
        submission_release_claim(submission_id=submission.pk, user=request.user, others=others)
    except ServiceError as error:
        return _changed(request, submission.pk, "side", **_refusal(error))
    return _changed(request, submission.pk, "side")


@company_required
@page_action
def comment(request: HttpRequest, submission_id: str) -> HttpResponse:
    """A note in the submission's timeline (an event; also in the API)."""
    submission = _own(request, submission_id)
    try:
        submission_comment(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            text=request.POST.get("text", "")[:5000],
        )
    except ServiceError as error:
        return _changed(request, submission.pk, "side", **_refusal(error))
    return _changed(request, submission.pk, "side")


# A bulk approve handles at most this many picks (the queue's page size is 50).
BULK_MAX = 100


def _picks(request: HttpRequest) -> list[tuple[str, int]]:
    """The queue's checked rows ("id:version"), limited to the reviewer's company."""
    parsed: dict[str, int] = {}
    for raw in request.POST.getlist("pick")[:BULK_MAX]:
        pk, _, version = raw.partition(":")
        if version.isdigit():
            parsed[pk] = int(version)
    own = set(
        company_submissions(request.company).filter(pk__in=parsed).values_list("pk", flat=True)
    )
    return [(pk, version) for pk, version in parsed.items() if pk in own]


@require_POST
@allowed(Action.DECIDE)
def bulk_approve(request: HttpRequest) -> HttpResponse:
    """Approve the selected clean, high-confidence submissions, one event each; back to
    the queue (Post/Redirect/Get) with what was approved and what was refused, and why."""
    outcome = submission_bulk_approve(picks=_picks(request), actor=Actor.for_user(request.user))
    if outcome.approved:
        count = len(outcome.approved)
        messages.success(request, f"Approved {count} submission{'s' if count != 1 else ''}.")
    for pk, message in outcome.refused:
        messages.error(request, f"{pk} was not approved: {message}")
    if not outcome.approved and not outcome.refused:
        messages.error(request, "Select at least one submission to approve.")
    query = _query(_filters(request))
    url = reverse("review:queue")
    return HttpResponseRedirect(f"{url}?{query}" if query else url, status=303)


# --- File bytes ----------------------------------------------------------------------------


def _own_file(request: HttpRequest, submission_id: str, index: int) -> SubmissionFile:
    submission = _own(request, submission_id)
    file = submission.files.filter(file_index=index, purged_at__isnull=True).first()
    if file is None or not default_storage.exists(file.storage_key):
        raise Http404("No such file.")
    return file


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
@company_required
def file_content(request: HttpRequest, submission_id: str, index: int) -> HttpResponse:
    """The file's bytes, streamed from storage, for the reviewer's own company only."""
    file = _own_file(request, submission_id, index)
    mime = file.mime_type or file.declared_content_type or "application/octet-stream"
    # Only raster images show inline (the page views PDFs as rendered PNGs); a PDF or
    # anything else downloads, so no active content runs under our origin.
    inline = mime.startswith("image/") and mime != "image/svg+xml"
    response = FileResponse(default_storage.open(file.storage_key, "rb"), content_type=mime)
    response["Content-Disposition"] = "inline" if inline else "attachment"
    return _private(response)


ROTATIONS = {"0": 0, "90": 90, "180": 180, "270": 270}


@require_GET
@company_required
def file_page(request: HttpRequest, submission_id: str, index: int, page: int) -> HttpResponse:
    """One page as OCR read it (a PDF page rendered, an image straightened and turned),
    as PNG; `rotate` (90/180/270 clockwise) turns it for the viewer's rotate button."""
    file = _own_file(request, submission_id, index)
    mime = file.mime_type or file.declared_content_type
    if mime != "application/pdf" and not (mime.startswith("image/") and mime != "image/svg+xml"):
        raise Http404("Not a page.")
    rotate = ROTATIONS.get(request.GET.get("rotate", "0"), 0)
    transform = _transform(file, page)
    # Rendering costs far more than the bytes: reviewers flip pages back and forth.
    key = (
        f"review:page:{file.pk}:{file.sha256 or file.size}:{page}:{PDF_SCALE}:"
        f"{json.dumps(transform, sort_keys=True)}:{rotate}"
    )
    png = cache.get(key)
    if png is None:
        png = _render_page(file, mime, page, transform, rotate)
        cache.set(key, png, PDF_CACHE_SECONDS)
    return _private(HttpResponse(png, content_type="image/png"))


def pdf_page_scale(width_pt: float, height_pt: float) -> float:
    """PDF_SCALE, or less so the page renders to at most PDF_MAX_PIXELS."""
    area = max(width_pt * height_pt, 1.0)
    return min(PDF_SCALE, (PDF_MAX_PIXELS / area) ** 0.5)


def _render_page(file: SubmissionFile, mime: str, page: int, transform: Any, rotate: int) -> bytes:
    image = _pdf_page_image(file, page) if mime == "application/pdf" else _image(file, page)
    image = as_read(image, transform)
    if rotate:
        image = image.rotate(-rotate, expand=True)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _image(file: SubmissionFile, page: int) -> Any:
    from PIL import Image, ImageOps

    if page != 0:
        raise Http404("An image has one page.")
    with default_storage.open(file.storage_key, "rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
    # As the extraction loaded it: EXIF orientation applied, on white.
    image = ImageOps.exif_transpose(image) or image
    return image.convert("RGB")


def _pdf_page_image(file: SubmissionFile, page: int) -> Any:
    import pypdfium2

    with default_storage.open(file.storage_key, "rb") as handle:
        document = pypdfium2.PdfDocument(handle.read())
    try:
        if not 0 <= page < min(len(document), PDF_MAX_PAGES):
            raise Http404("No such page.")
        pdf_page = document[page]
        return pdf_page.render(scale=pdf_page_scale(*pdf_page.get_size())).to_pil()
    finally:
        document.close()


# --- Overview ------------------------------------------------------------------------------


def _decisions_per_day(company_submissions_qs: QuerySet, days: int) -> list[dict[str, Any]]:
    today = timezone.now().date()
    start = today - timedelta(days=days - 1)
    rows = (
        SubmissionEvent.objects.filter(
            submission__in=company_submissions_qs,
            type__in=["approved", "rejected"],
            occurred_at__date__gte=start,
        )
        .annotate(day=TruncDate("occurred_at"))
        .values("day", "type")
        .annotate(n=Count("id"))
    )
    counts = {(row["day"], row["type"]): row["n"] for row in rows}
    return [
        {
            "day": day,
            "approved": counts.get((day, "approved"), 0),
            "rejected": counts.get((day, "rejected"), 0),
        }
        for day in (start + timedelta(days=n) for n in range(days))
    ]


def _rates(submissions: QuerySet, since: Any) -> dict[str, float | None]:
    recent = submissions.filter(created_at__gte=since)
    checked = recent.exclude(fraud_status__isnull=True)
    suspicious = checked.filter(fraud_status__in=["flagged", "blocked"]).count()
    finished = SubmissionEvent.objects.filter(
        submission__in=recent, from_status=S.PROCESSING, to_status__in=[S.REVIEW, S.APPROVED]
    )
    processed = finished.count()
    straight = finished.filter(to_status=S.APPROVED).count()
    total_checked = checked.count()
    return {
        "fraud_rate": suspicious / total_checked if total_checked else None,
        "straight_through": straight / processed if processed else None,
        "checked": total_checked,
        "processed": processed,
    }


CLAIM_EVENTS = ["claimed", "claim_taken_over"]


def _reviewer_figures(submissions: QuerySet, since: Any) -> list[dict[str, Any]]:
    """Per reviewer: decisions since `since` and the median time from taking the
    submission (the last claim before the decision) to deciding it."""
    decisions = list(
        SubmissionEvent.objects.filter(
            submission__in=submissions,
            type__in=["approved", "rejected"],
            actor_type=SubmissionEvent.ActorType.USER,
            occurred_at__gte=since,
        ).values("submission_id", "type", "actor_id", "actor_label", "occurred_at")
    )
    claims: dict[tuple[str, str], list[Any]] = {}
    for row in SubmissionEvent.objects.filter(
        submission_id__in={d["submission_id"] for d in decisions}, type__in=CLAIM_EVENTS
    ).values("submission_id", "actor_id", "occurred_at"):
        claims.setdefault((row["submission_id"], row["actor_id"]), []).append(row["occurred_at"])
    people: dict[str, dict[str, Any]] = {}
    for d in decisions:
        person = people.setdefault(
            d["actor_id"], {"label": d["actor_label"], "approved": 0, "rejected": 0, "times": []}
        )
        person[d["type"]] += 1
        taken = [
            t for t in claims.get((d["submission_id"], d["actor_id"]), []) if t <= d["occurred_at"]
        ]
        if taken:
            person["times"].append((d["occurred_at"] - max(taken)).total_seconds())
    return sorted(
        (
            {
                "label": p["label"],
                "approved": p["approved"],
                "rejected": p["rejected"],
                "decisions": p["approved"] + p["rejected"],
                "median": timedelta(seconds=median(p["times"])) if p["times"] else None,
            }
            for p in people.values()
        ),
        key=lambda p: (-p["decisions"], p["label"]),
    )


@require_GET
@allowed(Action.STATS)
def stats(request: HttpRequest) -> HttpResponse:
    submissions = company_submissions(request.company, _filters(request)["environment"])
    waiting = submissions.filter(status=S.REVIEW)
    depth = list(
        waiting.values("workflow__name").annotate(n=Count("id")).order_by("-n", "workflow__name")
    )
    oldest = waiting.order_by("id").first()
    now = timezone.now()
    context = {
        "depth": [{"label": row["workflow__name"], "value": row["n"]} for row in depth],
        "waiting": sum(row["n"] for row in depth),
        "oldest": oldest,
        "oldest_age": now - oldest.created_at if oldest else None,
        "sla": settings.REVIEW_SLA,
        "decisions": _decisions_per_day(submissions, 30),
        "rates": _rates(submissions, now - timedelta(days=30)),
        "reviewers": _reviewer_figures(submissions, now - timedelta(days=30)),
    }
    return render(request, "review/stats.html", context)
