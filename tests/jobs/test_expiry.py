"""The expiry sweep of pending sessions past their TTL, and the reads that catch up with it
when beat is behind: the API's, the review UI's and the admin's."""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from jobs.models import SessionState, WorkflowSession
from jobs.services import (
    SessionRequest,
    session_create,
    session_expire,
    sessions_expire_stale,
)
from submissions.models import SubmissionEvent, SubmissionStatus
from submissions.services import CATCH_UP_PER_PAGE
from webhooks.models import WebhookDelivery


def make_sessions(api_key, version, count: int) -> list[WorkflowSession]:
    sessions = []
    for index in range(count):
        session, _ = session_create(
            api_key=api_key.api_key,
            version=version,
            request=SessionRequest(1, ["image/jpeg"], f"exp-{index}", {}, None, ""),
        )
        sessions.append(session)
    return sessions


@pytest.mark.django_db
def test_sweep_expires_only_pending_sessions_past_their_ttl(api_key, receipt_workflow):
    stale, fresh = make_sessions(api_key, receipt_workflow, 2)
    WorkflowSession.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(1))
    assert sessions_expire_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.state == SessionState.EXPIRED
    assert stale.submission.status == SubmissionStatus.CANCELLED
    assert fresh.state == SessionState.PENDING
    types = list(
        SubmissionEvent.objects.filter(submission=stale.submission)
        .order_by("id")
        .values_list("type", flat=True)
    )
    assert types == ["created", "session_expired", "cancelled"]
    assert sessions_expire_stale() == 0


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_expire_each_session_once(api_key, receipt_workflow):
    make_sessions(api_key, receipt_workflow, 20)
    WorkflowSession.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    counts: list[int] = []

    def sweep() -> None:
        try:
            counts.append(sessions_expire_stale())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 20
    assert WorkflowSession.objects.filter(state=SessionState.EXPIRED).count() == 20
    assert SubmissionEvent.objects.filter(type="session_expired").count() == 20


def lapsed_session(api, client_submission_id: str = "order-1") -> dict:
    """A session past its TTL that the sweep has not reached (beat is down)."""
    body = api.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {
            "fileCount": 1,
            "contentTypes": ["image/jpeg"],
            "clientSubmissionId": client_submission_id,
            "webhookUrl": "https://93.184.215.14/hook",
        },
        format="json",
    ).json()
    WorkflowSession.objects.filter(pk=body["sessionId"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    return body


def history(session_id: str) -> tuple[list[str], list[str]]:
    session = WorkflowSession.objects.get(pk=session_id)
    events = SubmissionEvent.objects.filter(submission_id=session.submission_id).order_by("id")
    hooks = WebhookDelivery.objects.filter(session_id=session_id).order_by("created_at", "id")
    return (
        list(events.values_list("type", flat=True)),
        list(hooks.values_list("event_type", flat=True)),
    )


EXPIRY = (["created", "session_expired", "cancelled"], ["session.expired", "submission.cancelled"])


@pytest.mark.parametrize("accept", ["application/json", "text/html"])  # fast path, DRF's
def test_a_poll_after_the_ttl_expires_the_session_as_the_sweep_would(api, workflows, accept):
    body = lapsed_session(api)
    job = api.get(f"/api/v1/jobs/{body['sessionId']}", HTTP_ACCEPT=accept).json()
    assert (job["state"], job["submissionStatus"]) == ("expired", "cancelled")
    assert "retryAfterMs" not in job
    assert history(body["sessionId"]) == EXPIRY
    assert api.get(f"/api/v1/jobs/{body['sessionId']}").json()["state"] == "expired"
    assert sessions_expire_stale() == 0
    assert history(body["sessionId"]) == EXPIRY


def test_submission_reads_after_the_ttl_show_the_expiry_as_the_poll_does(api, workflows):
    body = lapsed_session(api)
    listed = api.get("/api/v1/submissions").json()["data"]
    assert [s["submissionStatus"] for s in listed] == ["cancelled"]
    assert history(body["sessionId"]) == EXPIRY
    detail = api.get(f"/api/v1/submissions/{body['submissionId']}").json()
    assert detail["submissionStatus"] == "cancelled"
    assert api.get(f"/api/v1/jobs/{body['sessionId']}").json()["state"] == "expired"


def test_a_created_filter_finds_no_submission_whose_session_lapsed(api, workflows):
    lapsed_session(api)
    assert api.get("/api/v1/submissions", {"status": "created"}).json()["data"] == []


def test_the_detail_of_a_submission_whose_session_lapsed_shows_it_cancelled(api, workflows):
    body = lapsed_session(api)
    detail = api.get(f"/api/v1/submissions/{body['submissionId']}").json()
    assert detail["submissionStatus"] == "cancelled"
    assert [e["type"] for e in detail["events"]] == ["cancelled", "session_expired", "created"]
    assert history(body["sessionId"]) == EXPIRY


def sweep_holding(session_id: str, seconds: float) -> threading.Thread:
    """The sweep in the middle of expiring the session: its row locked for `seconds`."""
    locked = threading.Event()

    def sweep() -> None:
        try:
            with transaction.atomic():
                list(WorkflowSession.objects.select_for_update().filter(pk=session_id))
                locked.set()
                time.sleep(seconds)
                session_expire(session_id=session_id)
        finally:
            connection.close()

    thread = threading.Thread(target=sweep)
    thread.start()
    locked.wait(5)
    return thread


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("accept", ["application/json", "text/html"])  # fast path, DRF's
def test_a_poll_racing_the_sweep_waits_for_the_expiry_not_answers_pending(api, workflows, accept):
    body = lapsed_session(api)
    sweep = sweep_holding(body["sessionId"], 0.5)
    job = api.get(f"/api/v1/jobs/{body['sessionId']}", HTTP_ACCEPT=accept).json()
    sweep.join()
    assert (job["state"], job["submissionStatus"]) == ("expired", "cancelled")
    assert "retryAfterMs" not in job
    assert history(body["sessionId"]) == EXPIRY


@pytest.mark.django_db(transaction=True)
def test_a_submission_read_racing_the_sweep_shows_it_cancelled(api, workflows):
    body = lapsed_session(api)
    sweep = sweep_holding(body["sessionId"], 0.5)
    detail = api.get(f"/api/v1/submissions/{body['submissionId']}").json()
    sweep.join()
    assert detail["submissionStatus"] == "cancelled"
    assert history(body["sessionId"]) == EXPIRY


@pytest.mark.django_db
def test_a_list_read_expires_a_bounded_number_of_lapsed_sessions_newest_first(
    api, api_key, workflows
):
    """Hundreds lapsed (beat down for hours) held one GET for 40 s; it expires a few, the
    ones its first page shows, and leaves the rest to the sweep."""
    make_sessions(api_key, workflows[0], CATCH_UP_PER_PAGE + 5)
    now = timezone.now()
    for age, session in enumerate(WorkflowSession.objects.order_by("-id")):
        WorkflowSession.objects.filter(pk=session.pk).update(
            expires_at=now - timedelta(seconds=age + 1)
        )
    listed = api.get("/api/v1/submissions", {"limit": CATCH_UP_PER_PAGE}).json()["data"]
    assert {s["submissionStatus"] for s in listed} == {"cancelled"}
    expired = WorkflowSession.objects.filter(state=SessionState.EXPIRED)
    assert expired.count() == CATCH_UP_PER_PAGE
    assert sessions_expire_stale() == 5


# --- The review UI and the admin: what a reviewer or an admin reads catches up too --------


def status_tabs(html: str) -> dict[str, int]:
    tabs = re.findall(r'class="tab[^"]*"[^>]*>(\w+) <span class="count">(\d+)</span>', html)
    return {label: int(n) for label, n in tabs}


def test_the_review_queue_and_its_counts_show_a_lapsed_sessions_submission_cancelled(
    api, workflows, ui
):
    body = lapsed_session(api)
    page = ui.get(reverse("review:queue"), {"status": "created"}).content.decode()
    assert body["submissionId"] not in page
    assert status_tabs(page)["Created"] == 0  # the decided and cancelled are not counted
    cancelled = ui.get(reverse("review:queue"), {"status": "cancelled"}).content.decode()
    assert f'data-id="{body["submissionId"]}"' in cancelled
    assert history(body["sessionId"]) == EXPIRY


def test_the_queues_poll_catches_up_too(api, workflows, ui):
    body = lapsed_session(api)
    rows = ui.get(reverse("review:queue_rows"), {"status": "created"}, HTTP_HX_REQUEST="true")
    assert body["submissionId"] not in rows.content.decode()
    assert history(body["sessionId"]) == EXPIRY


def test_the_review_page_of_a_lapsed_sessions_submission_shows_it_cancelled(api, workflows, ui):
    body = lapsed_session(api)
    page = ui.get(reverse("review:detail", args=[body["submissionId"]])).content.decode()
    assert 'data-status="cancelled"' in page
    assert "The session expired before it was submitted." in page
    assert history(body["sessionId"]) == EXPIRY


def test_a_page_view_catches_up_a_bounded_number_of_lapsed_sessions(api_key, receipt_workflow, ui):
    make_sessions(api_key, receipt_workflow, CATCH_UP_PER_PAGE + 1)
    WorkflowSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    ui.get(reverse("review:queue"))
    expired = WorkflowSession.objects.filter(state=SessionState.EXPIRED)
    assert expired.count() == CATCH_UP_PER_PAGE
    ui.get(reverse("review:queue"))  # the next view (or poll, or the sweep) does the rest
    assert expired.count() == CATCH_UP_PER_PAGE + 1


def test_the_admin_shows_a_lapsed_sessions_submission_and_session_as_the_sweep_leaves_them(
    api, workflows, admin_client
):
    body = lapsed_session(api)
    listed = admin_client.get(reverse("admin:submissions_submission_changelist")).content.decode()
    assert re.findall(r'<td class="field-status">(\w+)</td>', listed) == ["Cancelled"]
    assert history(body["sessionId"]) == EXPIRY
    other = lapsed_session(api, "order-2")
    url = reverse("admin:submissions_submission_change", args=[other["submissionId"]])
    admin_client.get(url)
    assert history(other["sessionId"]) == EXPIRY
    third = lapsed_session(api, "order-3")
    sessions = admin_client.get(reverse("admin:jobs_workflowsession_changelist")).content
    assert re.findall(r'<td class="field-state">(\w+)</td>', sessions.decode()) == ["Expired"] * 3
    assert history(third["sessionId"]) == EXPIRY
    fourth = lapsed_session(api, "order-4")
    admin_client.get(reverse("admin:jobs_workflowsession_change", args=[fourth["sessionId"]]))
    assert history(fourth["sessionId"]) == EXPIRY
