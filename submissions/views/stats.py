"""The overview: queue depth, decisions per day, fraud and straight-through rates and
each reviewer's figures, for one environment of the reviewer's company."""

from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from steve.accounts import Action, allowed
from submissions.selectors import (
    company_submissions,
    decisions_per_day,
    oldest_waiting,
    review_depth,
    review_rates,
    reviewer_figures,
)
from submissions.views.common import queue_filters

PERIOD_DAYS = 30


@require_GET
@allowed(Action.STATS)
def stats(request: HttpRequest) -> HttpResponse:
    submissions = company_submissions(request.company, queue_filters(request)["environment"])
    depth = review_depth(submissions)
    oldest = oldest_waiting(submissions)
    now = timezone.now()
    since = now - timedelta(days=PERIOD_DAYS)
    context = {
        "depth": depth,
        "waiting": sum(row["value"] for row in depth),
        "oldest": oldest,
        "oldest_age": now - oldest.created_at if oldest else None,
        "sla": settings.REVIEW_SLA,
        "decisions": decisions_per_day(submissions, PERIOD_DAYS),
        "rates": review_rates(submissions, since),
        "reviewers": reviewer_figures(submissions, since),
    }
    return render(request, "review/stats.html", context)
