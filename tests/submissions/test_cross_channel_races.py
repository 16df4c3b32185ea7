"""One submission worked from two channels at the same moment: an integrator over the API
(seed 001) and a reviewer at the desk, each request on its own connection, both waiting
on the submission's row and then going on together. Each race ends in one clear outcome:
one winner, the loser told with the documented code (the API's 409, the desk's refusal),
one event and one webhook per change, one version step per event, the correction memory
taught once."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from fraud.models import FraudMatch
from submissions.models import MerchantMemory, Submission, SubmissionStatus
from submissions.views.detail import REFUSAL_KEY
from tests.factories import SubmissionFactory, member
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db(transaction=True)
S = SubmissionStatus
HEADER = "GST ID: 000123456789\nTEL: 03-7781 2345\nKEDAI MAJU\nNO 1 JALAN SATU"


@pytest.fixture
def hook(company) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        company=company, url="https://example.com/hook", secret="x"
    )


@pytest.fixture
def alice(company):
    return member(company)


def at_the_same_moment(submission: Submission, *calls: Callable[[], Any]) -> list[Any]:
    """Run each call on its own thread and connection while this thread holds the
    submission's row, so every one of them is waiting for it; then let them go. They
    reach the row in call order (PostgreSQL grants a row's lock to its waiters in turn),
    so a test can say who wins: each is started once the one before waits (or is done).
    The calls' results (or what they raised), in call order."""
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except Exception as error:  # the test reads it
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    with transaction.atomic():
        Submission.objects.select_for_update().get(pk=submission.pk)
        for waiting, thread in enumerate(threads, start=1):
            thread.start()
            deadline = time.monotonic() + 10
            while thread.is_alive() and waiting_for_a_lock() < waiting:
                assert time.monotonic() < deadline, "the call never reached the row"
                time.sleep(0.02)
    for thread in threads:
        thread.join(30)
    return results


def waiting_for_a_lock() -> int:
    """How many of this database's connections are waiting for a lock."""
    with connection.cursor() as cursor:
        # Read inside a transaction, the statistics are a snapshot taken at their first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def api_and_desk(
    submission: Submission, api: Callable[[], Any], desk: Callable[[], Any], *, api_first: bool
) -> tuple[Any, Any]:
    """The API's and the desk's answers, the one named first reaching the row first."""
    if api_first:
        return tuple(at_the_same_moment(submission, api, desk))
    desk_answer, api_answer = at_the_same_moment(submission, desk, api)
    return api_answer, desk_answer


def api_post(api_key, path: str, body: dict, **headers: str) -> Callable[[], Any]:
    def post() -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}", **headers)
        return client.post(f"/api/v1/submissions/{path}", body, format="json")

    return post


def desk_post(
    user, name: str, submission: Submission, body: dict, *, htmx: bool = False, **kwargs: str
):
    """A desk form's POST, as the reviewer's browser sends it (a plain form post, or
    htmx's); a plain post's refusal is what the page it is sent back to shows."""

    def post() -> Any:
        client = Client()
        client.force_login(user)
        path = reverse(name, args=[submission.pk, *kwargs.values()])
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = client.post(path, body, **headers)
        response.refusal = client.session.get(REFUSAL_KEY)
        return response

    return post


def deliveries(submission: Submission, event_type: str) -> int:
    return WebhookDelivery.objects.filter(
        payload__submissionId=submission.pk, event_type=event_type
    ).count()


def events(submission: Submission, kind: str) -> int:
    return submission.events.filter(type=kind).count()


def one_version_per_event(submission: Submission, opened: int) -> None:
    submission.refresh_from_db()
    recorded = submission.events.exclude(type="comment").count()
    assert submission.version - opened == recorded, (submission.version, opened, recorded)


# --- Decisions -------------------------------------------------------------------------


@pytest.mark.parametrize("api_first", [True, False])
def test_an_api_approval_and_a_desk_approval_at_once_approve_once(api_key, alice, hook, api_first):
    submission = SubmissionFactory(company=alice.memberships.first().company)
    opened = submission.version
    api, desk = api_and_desk(
        submission,
        api_post(api_key, f"{submission.pk}/approve", {}),
        desk_post(alice, "review:approve", submission, {"version": opened}),
        api_first=api_first,
    )
    if api_first:
        assert api.status_code == 200, api.content
        assert desk.refusal["code"] == "SUBMISSION_CHANGED", desk.refusal
        assert "API key" in desk.refusal["message"]
    else:
        assert api.status_code == 409 and api.json()["code"] == "SUBMISSION_IS_APPROVED"
        assert api.json()["currentStatus"] == "approved"
        assert desk.refusal is None and desk.status_code == 303
    submission.refresh_from_db()
    assert submission.status == S.APPROVED
    assert events(submission, "approved") == 1
    assert deliveries(submission, "submission.approved") == 1
    one_version_per_event(submission, opened)


@pytest.mark.parametrize("api_first", [True, False])
def test_a_desk_claim_does_not_bind_the_api_which_approves_either_way(
    api_key, alice, hook, api_first
):
    """docs/review.md: claims coordinate people at the desk; the API is not refused by
    one. The claim lands first and the approval clears it, or the approval lands first
    and the claim is refused as pressed on a page the API decided."""
    submission = SubmissionFactory(company=alice.memberships.first().company)
    opened = submission.version
    api, desk = api_and_desk(
        submission,
        api_post(api_key, f"{submission.pk}/approve", {}),
        desk_post(alice, "review:claim", submission, {"version": opened}),
        api_first=api_first,
    )
    assert api.status_code == 200, api.content
    submission.refresh_from_db()
    assert submission.status == S.APPROVED and submission.claimed_by_id is None
    assert events(submission, "claimed") == (0 if api_first else 1)
    if api_first:
        assert desk.refusal["code"] == "SUBMISSION_CHANGED", desk.refusal
    assert events(submission, "approved") == 1
    assert deliveries(submission, "submission.approved") == 1
    one_version_per_event(submission, opened)


def test_two_api_approvals_without_expected_version_approve_once(api_key, hook):
    submission = SubmissionFactory(company=api_key.api_key.company)
    opened = submission.version
    answers = at_the_same_moment(
        submission,
        api_post(api_key, f"{submission.pk}/approve", {}),
        api_post(api_key, f"{submission.pk}/approve", {}),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    [loser] = [a for a in answers if a.status_code == 409]
    assert loser.json()["code"] == "SUBMISSION_IS_APPROVED"
    assert events(submission, "approved") == 1
    assert deliveries(submission, "submission.approved") == 1
    one_version_per_event(submission, opened)


# --- Corrections -----------------------------------------------------------------------


@pytest.mark.parametrize("api_first", [True, False])
def test_an_api_and_a_desk_correction_of_the_same_field_lose_nothing_silently(
    api_key, alice, api_first
):
    """The API (no expectedVersion) is strict only when asked: after the desk's save it
    overwrites, and says so in its own event; before it, the desk is refused naming it.
    Either way the stored value is the last event's, each change one version."""
    submission = SubmissionFactory(company=alice.memberships.first().company, pages_text=[HEADER])
    opened = submission.version
    api, desk = api_and_desk(
        submission,
        api_post(api_key, f"{submission.pk}/corrections", {"fields": {"merchantName": "KEDAI A"}}),
        desk_post(
            alice,
            "review:correct",
            submission,
            {"version": opened, "field": "merchantName", "value": "KEDAI B"},
        ),
        api_first=api_first,
    )
    assert api.status_code == 200, api.content
    submission.refresh_from_db()
    corrections = list(submission.events.filter(type="field_corrected").order_by("occurred_at"))
    if api_first:
        assert desk.refusal["code"] == "SUBMISSION_CHANGED", desk.refusal
        assert "Merchant" in desk.refusal["message"], desk.refusal
        assert [c.details["new"] for c in corrections] == ["KEDAI A"]
    else:
        assert desk.refusal is None, desk.refusal
        assert [c.details["new"] for c in corrections] == ["KEDAI B", "KEDAI A"]
    assert submission.extracted_data["merchantName"] == corrections[-1].details["new"]
    one_version_per_event(submission, opened)
    memory = MerchantMemory.objects.filter(field="merchantName")
    assert {m.value for m in memory} == {submission.extracted_data["merchantName"]}
    assert all(m.times_right == 1 for m in memory)


@pytest.mark.parametrize("api_first", [True, False])
def test_an_api_and_a_desk_correction_of_different_fields_both_land(api_key, alice, api_first):
    submission = SubmissionFactory(company=alice.memberships.first().company)
    opened = submission.version
    api, desk = api_and_desk(
        submission,
        api_post(api_key, f"{submission.pk}/corrections", {"fields": {"totalAmount": 99.5}}),
        desk_post(
            alice,
            "review:correct",
            submission,
            {"version": opened, "field": "merchantName", "value": "KEDAI B"},
        ),
        api_first=api_first,
    )
    assert api.status_code == 200, api.content
    assert desk.refusal is None, desk.refusal
    submission.refresh_from_db()
    assert submission.extracted_data["totalAmount"] == 99.5
    assert submission.extracted_data["merchantName"] == "KEDAI B"
    assert events(submission, "field_corrected") == 2
    one_version_per_event(submission, opened)


def test_one_correction_sent_twice_at_once_with_one_key_is_made_once(api_key):
    submission = SubmissionFactory(company=api_key.api_key.company, pages_text=[HEADER])
    opened = submission.version
    body = {"fields": {"merchantName": "KEDAI MAJU JAYA"}}
    send = api_post(api_key, f"{submission.pk}/corrections", body, HTTP_IDEMPOTENCY_KEY="k-1")
    answers = at_the_same_moment(submission, send, send, send)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409, 409], statuses
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT"
        assert refused["Retry-After"]
    replay = send()
    assert replay.status_code == 200 and replay["X-Idempotent-Replay"] == "true"
    assert events(submission, "field_corrected") == 1
    one_version_per_event(submission, opened)
    memory = MerchantMemory.objects.filter(field="merchantName")
    assert memory.exists()
    assert all(m.value == "KEDAI MAJU JAYA" and m.times_right == 1 for m in memory)


def test_two_api_corrections_of_one_field_without_expected_version_both_land_in_order(api_key):
    submission = SubmissionFactory(company=api_key.api_key.company, pages_text=[HEADER])
    opened = submission.version
    answers = at_the_same_moment(
        submission,
        api_post(api_key, f"{submission.pk}/corrections", {"fields": {"merchantName": "KEDAI A"}}),
        api_post(api_key, f"{submission.pk}/corrections", {"fields": {"merchantName": "KEDAI B"}}),
    )
    assert [a.status_code for a in answers] == [200, 200]
    submission.refresh_from_db()
    corrections = list(submission.events.filter(type="field_corrected").order_by("occurred_at"))
    assert len(corrections) == 2
    assert corrections[0].details["new"] == corrections[1].details["old"]
    assert submission.extracted_data["merchantName"] == corrections[1].details["new"]
    one_version_per_event(submission, opened)
    memory = MerchantMemory.objects.filter(field="merchantName")
    assert {m.value for m in memory} == {corrections[1].details["new"]}
    assert all(m.times_right == 1 for m in memory)


# --- Fraud -----------------------------------------------------------------------------


@pytest.mark.parametrize("api_first", [True, False])
def test_an_api_rejection_and_a_desk_fraud_resolution_at_once(api_key, alice, hook, api_first):
    company = alice.memberships.first().company
    submission = SubmissionFactory(company=company, fraud_status="flagged", fraud_score=80.0)
    earlier = SubmissionFactory(company=company, status=S.APPROVED)
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        target_submission=earlier,
        check_type=FraudMatch.CheckType.VISUAL,
        score=80.0,
        similarity=0.9,
    )
    opened = submission.version
    api, desk = api_and_desk(
        submission,
        api_post(api_key, f"{submission.pk}/reject", {"reason": "duplicate"}),
        desk_post(
            alice,
            "fraud:resolve",
            submission,
            {"version": opened, "resolution": "false_positive"},
            htmx=True,
            match_id=match.pk,
        ),
        api_first=api_first,
    )
    assert api.status_code == 200, api.content
    submission.refresh_from_db()
    match.refresh_from_db()
    assert submission.status == S.REJECTED
    resolved = events(submission, "fraud_match_resolved")
    assert (match.resolution is None) is api_first
    if api_first:
        assert resolved == 0
        assert desk.status_code == 409 and b"SUBMISSION_CHANGED" in desk.content
    else:
        assert resolved == 1 and match.resolution == "false_positive"
    assert deliveries(submission, "submission.fraud_match_resolved") == resolved
    assert events(submission, "rejected") == 1
    assert deliveries(submission, "submission.rejected") == 1
    one_version_per_event(submission, opened)


@pytest.mark.parametrize("api_first", [True, False])
def test_an_api_rejection_takes_back_what_a_desk_correction_at_once_taught(
    api_key, alice, hook, api_first
):
    """A rejected receipt teaches nothing: whichever lands first, the memory ends empty."""
    submission = SubmissionFactory(company=alice.memberships.first().company, pages_text=[HEADER])
    opened = submission.version
    api, desk = api_and_desk(
        submission,
        api_post(api_key, f"{submission.pk}/reject", {"reason": "duplicate"}),
        desk_post(
            alice,
            "review:correct",
            submission,
            {"version": opened, "field": "merchantName", "value": "KEDAI B"},
        ),
        api_first=api_first,
    )
    assert api.status_code == 200, api.content
    if api_first:
        assert desk.refusal["code"] == "SUBMISSION_CHANGED", desk.refusal
    else:
        assert desk.refusal is None, desk.refusal
    assert events(submission, "field_corrected") == (0 if api_first else 1)
    assert events(submission, "rejected") == 1
    assert deliveries(submission, "submission.rejected") == 1
    assert not MerchantMemory.objects.filter(value="KEDAI B").exists()
    one_version_per_event(submission, opened)


@pytest.mark.parametrize("api_first", [True, False])
def test_a_desk_approval_and_an_api_correction_at_once_end_in_one_of_them(
    api_key, alice, hook, api_first
):
    submission = SubmissionFactory(company=alice.memberships.first().company, pages_text=[HEADER])
    opened = submission.version
    api, desk = api_and_desk(
        submission,
        api_post(api_key, f"{submission.pk}/corrections", {"fields": {"merchantName": "KEDAI A"}}),
        desk_post(alice, "review:approve", submission, {"version": opened}),
        api_first=api_first,
    )
    submission.refresh_from_db()
    memory = MerchantMemory.objects.filter(field="merchantName")
    if api_first:
        assert api.status_code == 200, api.content
        assert desk.refusal["code"] == "SUBMISSION_CHANGED", desk.refusal
        assert submission.status == S.REVIEW
        assert {m.value for m in memory} == {"KEDAI A"}
    else:
        assert api.status_code == 409 and api.json()["code"] == "SUBMISSION_IS_APPROVED"
        assert desk.refusal is None, desk.refusal
        assert submission.status == S.APPROVED
        assert submission.extracted_data["merchantName"] == "Kedai Runcit"
        assert {m.value for m in memory} == {"Kedai Runcit"}
    assert memory.exists() and all(m.times_right == 1 for m in memory)
    assert deliveries(submission, "submission.approved") == (0 if api_first else 1)
    one_version_per_event(submission, opened)
