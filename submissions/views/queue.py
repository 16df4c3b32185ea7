"""The review queue: filtered, sorted and paged rows, their polled refresh, and bulk
approval of the clean ones."""

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from steve.accounts import Action, allowed, company_required, membership_allows, post_or_open
from submissions.forms import ALL, QueueFilterForm
from submissions.models import OPEN_STATUSES, Submission, SubmissionStatus
from submissions.selectors import (
    NEWEST_FIRST,
    QUEUE_ORDERS,
    age_token,
    company_submission_ids,
    field_label,
    queue_age_since,
    queue_sla_breaches,
    queue_status_counts,
    queue_window,
    schema_fields,
    workflow_choices,
)
from submissions.services import (
    Actor,
    is_clean_and_confident,
    submission_bulk_approve,
    submissions_catch_up,
)
from submissions.views.common import queue_filters, queue_query

# A bulk approve handles at most this many picks (the queue's page size is 50).
BULK_MAX = 100


def why_in_review(submission: Submission) -> str:
    """The short answer to "why is this here?" for the queue."""
    reasons = []
    if submission.fraud_status in {"flagged", "blocked"}:
        reasons.append(f"Fraud {submission.fraud_status}")
    flagged = submission.review_flagged_fields or []
    if flagged:
        schema = schema_fields(submission)
        labels = [field_label(name, schema.get(name) or {}) for name in flagged[:3]]
        more = f" +{len(flagged) - 3}" if len(flagged) > 3 else ""
        reasons.append("Check " + ", ".join(labels) + more)
    if not reasons and submission.status == SubmissionStatus.REVIEW:
        reasons.append("Manual review")
    return "; ".join(reasons)


def _status_tabs(request: HttpRequest, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Counts per open status under the other filters, so the tabs say what each would
    show; the decided, cancelled and failed tabs (and All) are uncounted (None): theirs
    is every submission the company ever had, re-read on every poll."""
    counts = queue_status_counts(company=request.company, user=request.user, filters=filters)
    tabs = [
        (value, label, counts.get(value, 0) if value in OPEN_STATUSES else None)
        for value, label in SubmissionStatus.choices
    ]
    tabs.append((ALL, "All", None))
    return [
        {"value": value, "label": label, "count": n, "query": queue_query(filters, status=value)}
        for value, label, n in tabs
    ]


def _sort_links(filters: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each sortable column's link; age toggles between oldest and newest first."""
    current = filters["sort"] or "age"
    links = {}
    for column in ["age", "confidence", "amount", "fraud"]:
        target = ("-age" if current == "age" else "age") if column == "age" else column
        active = current.lstrip("-") == column
        direction = "descending" if current in {"-age", "amount", "fraud"} else "ascending"
        links[column] = {
            "query": queue_query(filters, sort=target),
            "aria": direction if active else "none",
        }
    return links


def _queue_context(request: HttpRequest) -> dict[str, Any]:
    filters = queue_filters(request)
    # Sessions past their TTL are expired first, as the API's list does: the rows and the
    # counts never show created what the sweep (beat may be behind) would have cancelled.
    submissions_catch_up(company_id=request.company.pk, environment=filters["environment"])
    scope = {"company": request.company, "user": request.user, "filters": filters}
    rows, has_more = queue_window(
        **scope,
        after=request.GET.get("after", ""),
        upto=request.GET.get("upto", ""),
        at=request.GET.get("at", ""),
    )
    decides = membership_allows(request.user, request.company, Action.DECIDE)
    for row in rows:
        row.why = why_in_review(row)
        row.bulk = decides and is_clean_and_confident(row)
        row.due = row.review_since + settings.REVIEW_SLA  # as queue_sla_breaches counts
        row.age_since = queue_age_since(row)  # as the age sort orders them
        # Where the row stands in that order as drawn now, sent back with its id to page on.
        row.age_at = age_token(row.age_since)
    form = QueueFilterForm(initial=filters, workflows=workflow_choices(request.company))
    return {
        # A window in its order, not paged: "Load more" pages oldest first only.
        "sorted": filters["sort"] in QUEUE_ORDERS or filters["sort"] == NEWEST_FIRST,
        "sort_links": _sort_links(filters),
        "breaches": queue_sla_breaches(**scope),
        "sla_hours": round(settings.REVIEW_SLA.total_seconds() / 3600),
        "filters": filters,
        "form": form,
        "rows": rows,
        "has_more": has_more,
        "last_id": rows[-1].pk if rows else request.GET.get("upto", ""),
        "last_at": rows[-1].age_at if rows else request.GET.get("at", ""),
        "query": queue_query(filters),
        # An empty table says whether the filters or the queue itself are empty.
        "filtered": any(filters[key] for key in ("workflow", "fraud", "claims", "q")),
        "counts": _status_tabs(request, filters),
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
        response = render(request, "review/queue.html#rows", {**context, "appending": True})
        if context["rows"]:
            # The address says how far the reviewer has loaded: Back from a submission
            # opened further down (or a reload) showed the first 50 again, its row gone.
            query = queue_query(context["filters"], upto=context["last_id"], at=context["last_at"])
            response["HX-Replace-Url"] = f"{reverse('review:queue')}?{query}"
        return response
    return render(request, "review/queue.html#results", context)


def _picks(request: HttpRequest) -> list[tuple[str, int]]:
    """The queue's checked rows ("id:version"), limited to the reviewer's company."""
    parsed: dict[str, int] = {}
    for raw in request.POST.getlist("pick")[:BULK_MAX]:
        pk, _, version = raw.partition(":")
        # ASCII digits only ("²".isdigit() is true), and ids are printable ASCII.
        if version.isascii() and version.isdigit() and pk.isascii() and pk.isprintable():
            parsed[pk] = int(version)
    own = company_submission_ids(request.company, parsed)
    return [(pk, version) for pk, version in parsed.items() if pk in own]


def _queue_url(request: HttpRequest) -> str:
    """The queue with this request's filters (the queue itself checks them)."""
    query = request.GET.urlencode()
    url = reverse("review:queue")
    return f"{url}?{query}" if query else url


@post_or_open(_queue_url)
@allowed(Action.DECIDE)
def bulk_approve(request: HttpRequest) -> HttpResponse:
    """Approve the selected clean, high-confidence submissions, one event each; back to
    the queue (Post/Redirect/Get) with what was approved and what was refused, and why."""
    outcome = submission_bulk_approve(picks=_picks(request), actor=Actor.for_user(request.user))
    if outcome.approved:
        count = len(outcome.approved)
        messages.success(request, f"Approved {count} submission{'s' if count != 1 else ''}.")
    for pk, error in outcome.refused:
        messages.error(request, f"{pk} was not approved: {error.message} ({error.code})")
    if not outcome.approved and not outcome.refused:
        messages.error(request, "Select at least one submission to approve.")
    query = queue_query(queue_filters(request))
    url = reverse("review:queue")
    return HttpResponseRedirect(f"{url}?{query}" if query else url, status=303)
