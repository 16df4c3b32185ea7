"""The searches of the lists of the tables that grow with every day of use (sessions,
submissions, their events and files, fraud matches, webhook attempts, idempotency keys)
look up whole ids through an index each, as the delivery list's does: Django's search, a
case-insensitive "contains" of every term in every search field, had no index to use and
read the whole table once per term, the largest ones under the web's statement timeout."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from fraud.models import FraudMatch
from jobs.models import SessionState, WorkflowSession
from steve.admin_site import MAX_SEARCH_TERM, MAX_SEARCH_TERMS
from steve.models import IdempotencyKey
from submissions.models import Submission, SubmissionEvent, SubmissionFile
from tests.factories import api_key, many_submissions
from webhooks.models import WebhookAttempt, WebhookDelivery

pytestmark = pytest.mark.django_db


def rows_at_scale(count: int) -> dict[str, list]:
    """`count` submissions (in two companies), each with its file, event, fraud match on
    another, session, idempotency key, and a delivery with its attempt."""
    submissions = many_submissions(count, companies=2)
    keys = {s.company_id: api_key(s.company).api_key for s in submissions[:2]}
    sessions = WorkflowSession.objects.bulk_create(
        WorkflowSession(
            company=s.company,
            api_key=keys[s.company_id],
            environment=s.environment,
            workflow_version=s.workflow_version,
            submission=s,
            state=SessionState.COMPLETED,
            client_submission_id=s.client_submission_id,
            file_count=1,
            expires_at=timezone.now() + timedelta(hours=1),
        )
        for s in submissions
    )
    idempotency = IdempotencyKey.objects.bulk_create(
        IdempotencyKey(
            company=s.company, api_key=keys[s.company_id], key=f"post-{n}", fingerprint="f" * 64
        )
        for n, s in enumerate(submissions)
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            company=s.company,
            url="https://hooks.example.com/",
            event_id=f"evt_{n}",
            event_type="submission.approved",
            payload={"submissionId": s.pk},
        )
        for n, s in enumerate(submissions)
    )
    attempts = WebhookAttempt.objects.bulk_create(WebhookAttempt(delivery=d) for d in deliveries)
    events, files, matches = (
        {row.submission_id: row for row in model.objects.all()}
        for model in (SubmissionEvent, SubmissionFile, FraudMatch)
    )
    return {
        "submissions": submissions,
        "sessions": sessions,
        "events": [events[s.pk] for s in submissions],
        "files": [files[s.pk] for s in submissions],
        "matches": [matches.get(s.pk) for s in submissions],
        "idempotency": idempotency,
        "deliveries": deliveries,
        "attempts": attempts,
    }


def searches(rows: dict[str, list], n: int) -> list[tuple[str, str, set]]:
    """Each list, a search of its rows by the ids support is given (several at once), and
    the rows it finds: those of the n-th submission."""
    submission = rows["submissions"][n]
    session, event, file = rows["sessions"][n], rows["events"][n], rows["files"][n]
    match, attempt = rows["matches"][n], rows["attempts"][n]
    return [
        (
            "admin:jobs_workflowsession_changelist",
            f"{session.pk} '{submission.client_submission_id}' {submission.pk}",
            {session.pk},
        ),
        (
            "admin:submissions_submission_changelist",
            f"{submission.pk} {submission.client_submission_id}",
            {submission.pk},
        ),
        ("admin:submissions_submissionevent_changelist", f"{event.pk} {submission.pk}", {event.pk}),
        (
            "admin:submissions_submissionfile_changelist",
            # As PowerShell's Get-FileHash prints it: upper case.
            f"{file.pk} {submission.pk} {file.sha256.upper()}",
            {file.pk},
        ),
        (
            "admin:fraud_fraudmatch_changelist",
            f"{match.pk} {submission.pk} {match.target_submission_id}",
            # Its own, the one whose target it is, and the target's own.
            set(
                FraudMatch.objects.filter(
                    Q(pk=match.pk)
                    | Q(submission__in=[submission, match.target_submission_id])
                    | Q(target_submission=submission)
                ).values_list("pk", flat=True)
            ),
        ),
        (
            "admin:webhooks_webhookattempt_changelist",
            attempt.delivery_id,
            {attempt.pk},
        ),
        (
            "admin:steve_idempotencykey_changelist",
            rows["idempotency"][n].key,
            {rows["idempotency"][n].pk},
        ),
    ]


def listed(admin_client, changelist: str, q: str):
    page = admin_client.get(reverse(changelist), {"q": q})
    assert page.status_code == 200, changelist
    return page


def found(admin_client, changelist: str, q: str) -> set:
    return {row.pk for row in listed(admin_client, changelist, q).context["cl"].result_list}


def test_each_list_finds_its_rows_by_whole_ids_never_by_a_part(admin_client):
    rows = rows_at_scale(30)
    for changelist, q, expected in searches(rows, 1):
        assert found(admin_client, changelist, q) == expected, changelist
    first = rows["submissions"][1]
    # A part of an id is none: "client-1" named client-1, client-10 … client-19 and more,
    # and "sub" every submission.
    for changelist, q, _expected in searches(rows, 1):
        for term in [first.pk, *q.replace("'", "").split()]:
            for part in (term[:-1], term[4:], term[:3]):
                assert found(admin_client, changelist, part) == set(), (changelist, part)
        # Nor is a term longer than any id (it was left out, and then nothing searched).
        assert found(admin_client, changelist, "x" * (MAX_SEARCH_TERM + 1)) == set(), changelist
    session_list = "admin:jobs_workflowsession_changelist"
    assert found(admin_client, session_list, first.client_submission_id) == {rows["sessions"][1].pk}


def test_a_search_of_many_terms_looks_up_the_first_few_and_says_so(admin_client):
    submissions = rows_at_scale(10)["submissions"]
    terms = [s.client_submission_id for s in submissions[: MAX_SEARCH_TERMS + 3]]
    page = listed(admin_client, "admin:submissions_submission_changelist", " ".join(terms))
    assert {row.pk for row in page.context["cl"].result_list} == {
        s.pk for s in submissions[:MAX_SEARCH_TERMS]
    }
    said = [str(m) for m in get_messages(page.wsgi_request)]
    assert f"Searched for the first {MAX_SEARCH_TERMS} of {len(terms)} terms only." in said


@pytest.mark.postgres_only
def test_each_search_reads_the_rows_it_names_through_indexes_never_the_whole_table(
    admin_client, analyse
):
    rows = rows_at_scale(3000)
    tables = [Submission, SubmissionEvent, SubmissionFile, FraudMatch, WorkflowSession]
    tables += [IdempotencyKey, WebhookDelivery, WebhookAttempt]
    for model in tables:
        analyse(model._meta.db_table)
    for changelist, q, expected in searches(rows, 1234):
        page = listed(admin_client, changelist, q)
        assert {row.pk for row in page.context["cl"].result_list} == expected, changelist
        # The list's own table, as searched (the joins of what a row shows left out).
        queryset = page.context["cl"].queryset
        plan = queryset.values("pk").explain()
        # Each column through its index, the table read only at the rows they name: a
        # "contains" had no index to use, and read every row ever made.
        assert "Seq Scan" not in plan and "Filter:" not in plan, (changelist, plan)
        assert re.search(r"Index (Only )?Scan", plan), (changelist, plan)
        assert "UPPER" not in str(queryset.query), changelist
