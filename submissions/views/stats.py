"""The overview: queue depth, decisions per day, fraud and straight-through rates and
each reviewer's figures, for one environment of the reviewer's company."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from steve.accounts import Action, allowed
from steve.models import Environment
from submissions.selectors import (
    company_submissions,
    decisions_per_day,
    oldest_waiting,
    overview_since,
    review_depth,
    review_rates,
    reviewer_figures,
)
from submissions.views.common import queue_filters, queue_query

PERIOD_DAYS = 30


@require_GET
@allowed(Action.STATS)
def stats(request: HttpRequest) -> HttpResponse:
    environment = queue_filters(request)["environment"]
    submissions = company_submissions(request.company, environment)
    depth = review_depth(submissions)
    oldest = oldest_waiting(submissions)
    now = timezone.now()
    since = overview_since(PERIOD_DAYS)
    # Said on the page, with a link to the other one: the figures are of one environment.
    other = next(e for e in Environment if e != environment)
    context = {
        "environment": Environment(environment),
        "other_environment": other,
        # Links keep the environment (production, the default, is left out as the queue does).
        "environment_qs": queue_query({"environment": environment}),
        "other_qs": queue_query({"environment": other}),
        "depth": depth,
        "waiting": sum(row["value"] for row in depth),
        "oldest": oldest,
        "oldest_age": now - oldest.review_since if oldest else None,
        "sla": settings.REVIEW_SLA,
        "decisions": decisions_per_day(submissions, PERIOD_DAYS),
        "rates": review_rates(submissions, since),
        "reviewers": reviewer_figures(submissions, since),
    }
    return render(request, "review/stats.html", context)
