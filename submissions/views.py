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
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from steve.accounts import company_required
from submissions.forms import (
    ALL,
    REJECT_REASONS,
    ApproveForm,
    CancelForm,
    CorrectionForm,
    LineItemsForm,
    QueueFilterForm,
    RejectForm,
)
from submissions.models import Submission, SubmissionEvent, SubmissionFile, SubmissionStatus
from submissions.selectors import company_submission, company_submissions
from submissions.services import (
    Actor,
    LineItemRow,
    SubmissionActionError,
    claim_is_live,
    submission_approve,
    submission_cancel,
    submission_claim,
    submission_correct_field,
    submission_correct_line_items,
    submission_reject,
    submission_release_claim,
)

S = SubmissionStatus
QUEUE_PAGE = 50
# A poll refreshes every row the reviewer has loaded, up to this many.
POLL_WINDOW = 500
EVENT_LIMIT = 100
PDF_MAX_PAGES = 50
PDF_SCALE = 1.6  # ~115 dpi: readable receipts without multi-megabyte PNGs
PDF_CACHE_SECONDS = 600
PARTS = {"side"}


# --- Queue -------------------------------------------------------------------------------


def _workflow_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(w.slug, w.name) for w in request.company.workflows.order_by("name")]


def _filters(request: HttpRequest) -> dict[str, str]:
    form = QueueFilterForm(request.GET or None, workflows=_workflow_choices(request))
    return form.values()


def _filtered(request: HttpRequest, filters: dict[str, str], *, status: bool = True) -> QuerySet:
    queryset = company_submissions(request.company).select_related("claimed_by")
    if status and filters["status"] != ALL:
        queryset = queryset.filter(status=filters["status"])
    if filters["workflow"]:
        queryset = queryset.filter(workflow__slug=filters["workflow"])
    if filters["fraud"]:
        queryset = queryset.filter(fraud_status=filters["fraud"])
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
        if value and not (key == "status" and value == S.REVIEW):
            params[key] = value
    return params.urlencode()


def _rows(request: HttpRequest, filters: dict[str, str]) -> tuple[list[Submission], bool]:
    """One window of the queue, oldest first (ids sort by creation time).

    `after` continues after a row (keyset, never OFFSET); `upto` re-reads every row up
    to the last one the page shows, which is what the poll asks for.
    """
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


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    filters = _filters(request)
    rows, has_more = _rows(request, filters)
    form = QueueFilterForm(initial=filters, workflows=_workflow_choices(request))
    return {
        "filters": filters,
        "form": form,
        "rows": rows,
        "has_more": has_more,
        "last_id": rows[-1].pk if rows else request.GET.get("upto", ""),
        "query": _query(filters),
        "counts": _status_counts(request, filters),
        "now": timezone.now(),
        "sla": settings.REVIEW_SLA,
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


@dataclass(frozen=True)
class FieldRow:
    name: str
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


def _file_view(submission: Submission, file: SubmissionFile) -> FileView:
    mime = file.mime_type or file.declared_content_type
    if file.purged_at or not default_storage.exists(file.storage_key):
        return FileView(file, "unavailable", [])
    url = reverse("review:file", args=[submission.pk, file.file_index])
    if mime.startswith("image/"):
        return FileView(file, "image", [url])
    if mime == "application/pdf":
        pages = [
            reverse("review:file_page", args=[submission.pk, file.file_index, n])
            for n in range(_pdf_page_count(file))
        ]
        return FileView(file, "pdf", pages)
    return FileView(file, "other", [url])


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
        evidence = [
            {"file": e.get("file", 0), "page": e.get("page", 0), "bbox": e["bbox"]}
            for e in (submission.evidence or {}).get(name, [])
            if isinstance(e, dict) and len(e.get("bbox") or []) == 4
        ]
        rows.append(
            FieldRow(
                name=name,
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
    reject_form: RejectForm | None = None,
    field_errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    unresolved = submission.fraud_matches.filter(resolution__isnull=True).count()
    # The queue's filters travel with the page, so j/k and "next" stay in that queue.
    filters = _filters(request)
    previous_id, next_id = _neighbours(request, submission, filters)
    query = _query(filters)
    line_items = (submission.extracted_data or {}).get("lineItems") or []
    return {
        "submission": submission,
        "version": submission.version,
        "files": [_file_view(submission, f) for f in submission.files.order_by("file_index")],
        "fields": _field_rows(submission),
        "line_items": line_items if isinstance(line_items, list) else [],
        "has_line_items": "lineItems" in _schema_fields(submission),
        "threshold": submission.workflow_version.review_threshold,
        "threshold_ratio": submission.workflow_version.review_threshold / 100,
        "unresolved": unresolved,
        "in_review": submission.status == S.REVIEW,
        "claim_live": claim_is_live(submission),
        "claim_mine": submission.claimed_by_id == request.user.pk,
        "events": submission.events.order_by("-id")[:EVENT_LIMIT],
        "metadata": json.dumps(submission.metadata or {}, indent=2, sort_keys=True),
        "previous_id": previous_id,
        "next_id": next_id,
        "query": query,
        "qs": f"?{query}" if query else "",
        "reject_form": reject_form or RejectForm(initial={"version": submission.version}),
        "reject_reasons": REJECT_REASONS,
        "error": error,
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
    if submission.status == S.REVIEW:
        # Opening the page claims it, so the queue tells others someone is on it.
        submission = submission_claim(submission_id=submission.pk, user=request.user)
        submission = _own(request, submission_id)
    return render(request, "review/detail.html", _detail_context(request, submission))


def _refused(
    request: HttpRequest, submission_id: str, message: str, *, status: int = 409, **extra: Any
) -> HttpResponse:
    """Re-read the submission and show its new state with the reason the action failed."""
    submission = _own(request, submission_id)
    context = _detail_context(request, submission, error=message, **extra)
    return render(request, "review/detail.html", context, status=status)


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


@require_POST
@company_required
def approve(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = ApproveForm(request.POST)
    if not form.is_valid():
        return _refused(request, submission.pk, "The form was incomplete; try again.", status=400)
    try:
        submission = submission_approve(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            expected_version=form.cleaned_data["version"],
        )
    except SubmissionActionError as error:
        return _refused(request, submission.pk, error.message)
    return _decided(request, submission, "approved")


@require_POST
@company_required
def reject(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = RejectForm(request.POST)
    if not form.is_valid():
        message = " ".join(form.non_field_errors()) or "The form was incomplete; try again."
        return _refused(request, submission.pk, message, status=422, reject_form=form)
    try:
        submission = submission_reject(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            reason=form.cleaned_data["final_reason"],
            expected_version=form.cleaned_data["version"],
        )
    except SubmissionActionError as error:
        return _refused(request, submission.pk, error.message)
    return _decided(request, submission, "rejected")


@require_POST
@company_required
def cancel(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _refused(request, submission.pk, "The form was incomplete; try again.", status=400)
    try:
        submission = submission_cancel(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        )
    except SubmissionActionError as error:
        return _refused(request, submission.pk, error.message)
    return _decided(request, submission, "cancelled")


def _changed(request: HttpRequest, submission_id: str, part: str, **extra: Any) -> HttpResponse:
    """After an in-page change: htmx gets the side column back and tells the fraud panel
    to refresh (its forms carry the old version); plain posts go back to the page."""
    if not request.htmx:
        if extra.get("error"):
            return _refused(request, submission_id, extra["error"], status=extra["status"])
        return HttpResponseRedirect(reverse("review:detail", args=[submission_id]), status=303)
    submission = _own(request, submission_id)
    context = _detail_context(
        request, submission, error=extra.get("error", ""), field_errors=extra.get("field_errors")
    )
    response = render(
        request, f"review/detail.html#{part}", context, status=extra.get("status", 200)
    )
    response["HX-Trigger"] = "submission-changed"
    return response


@require_POST
@company_required
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


@require_POST
@company_required
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
    except SubmissionActionError as error:
        return _changed(request, submission.pk, "side", error=error.message, status=409)
    except ValueError as error:
        message = str(error)
        errors = {field_name: message}
        return _changed(
            request, submission.pk, "side", error=message, field_errors=errors, status=422
        )
    # Working on it keeps the claim alive.
    submission_claim(submission_id=submission.pk, user=request.user)
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


@require_POST
@company_required
def claim(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    submission_claim(submission_id=submission.pk, user=request.user)
    return _changed(request, submission.pk, "side")


@require_POST
@company_required
def release(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    submission_release_claim(submission_id=submission.pk, user=request.user)
    return _changed(request, submission.pk, "side")


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


@require_GET
@company_required
def file_page(request: HttpRequest, submission_id: str, index: int, page: int) -> HttpResponse:
    """One page of a PDF rendered to PNG, so multi-page PDFs show like images."""
    file = _own_file(request, submission_id, index)
    if (file.mime_type or file.declared_content_type) != "application/pdf":
        raise Http404("Not a PDF.")
    # Rendering costs far more than the bytes: reviewers flip pages back and forth.
    key = f"review:pdf-page:{file.pk}:{file.sha256 or file.size}:{page}:{PDF_SCALE}"
    png = cache.get(key)
    if png is None:
        png = _render_pdf_page(file, page)
        cache.set(key, png, PDF_CACHE_SECONDS)
    return _private(HttpResponse(png, content_type="image/png"))


def _render_pdf_page(file: SubmissionFile, page: int) -> bytes:
    import pypdfium2

    with default_storage.open(file.storage_key, "rb") as handle:
        document = pypdfium2.PdfDocument(handle.read())
    try:
        if not 0 <= page < min(len(document), PDF_MAX_PAGES):
            raise Http404("No such page.")
        image = document[page].render(scale=PDF_SCALE).to_pil()
    finally:
        document.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


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


@require_GET
@company_required
def stats(request: HttpRequest) -> HttpResponse:
    submissions = company_submissions(request.company)
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
    }
    return render(request, "review/stats.html", context)
