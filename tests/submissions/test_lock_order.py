"""Every path locks a workflow session before its submission, and the correction memory
under one lock per company, so two requests at once wait for each other: none deadlocks
(a 500 to an integrator doing nothing wrong)."""

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from fraud.models import FalsePositivePair, FraudMatch, KnownFraud
from fraud.services import (
    false_positive_pairs_remove,
    fraud_matches_resolve,
    known_frauds_remove,
)
from jobs.models import SessionState, WorkflowSession
from submissions.models import EventType, Submission, SubmissionStatus
from submissions.services import Actor, locked_submission, submission_claim
from tests.factories import SubmissionFactory, member

pytestmark = pytest.mark.django_db(transaction=True)
HEADER = "GST ID: 000123456789\nTEL: 03-7781 2345\nKEDAI MAJU\nNO 1 JALAN SATU"


def in_review_with_session(api_key) -> Submission:
    submission = SubmissionFactory(company=api_key.api_key.company)
    WorkflowSession.objects.create(
        company=submission.company,
        api_key=api_key.api_key,
        environment=api_key.api_key.environment,
        workflow_version=submission.workflow_version,
        submission=submission,
        state=SessionState.SUBMITTED,
        client_submission_id=f"c-{submission.pk}",
        file_count=1,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return submission


def unresolved_match(submission: Submission) -> FraudMatch:
    return FraudMatch.objects.create(
        company=submission.company,
        submission=submission,
        check_type=FraudMatch.CheckType.DATA,
        score=90.0,
        similarity=0.9,
    )


def run_while_the_session_is_locked(submission: Submission, action: Callable[[], object]) -> bool:
    """Run ``action`` in another thread while this one holds the submission's session
    row; True when the submission stayed unlocked meanwhile (the action waits for the
    session first, as every path must)."""
    errors: list[BaseException] = []

    def act() -> None:
        try:
            action()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    with transaction.atomic():
        WorkflowSession.objects.select_for_update().get(submission=submission)
        thread = threading.Thread(target=act)
        thread.start()
        time.sleep(0.5)  # the action reaches its first lock
        try:
            with transaction.atomic():
                Submission.objects.select_for_update(nowait=True).get(pk=submission.pk)
            free = True
        except DatabaseError:
            free = False
    thread.join(timeout=30)
    assert not errors, errors
    return free


def test_confirming_fraud_takes_the_session_lock_before_the_submission(api_key):
    submission = in_review_with_session(api_key)
    match = unresolved_match(submission)

    def confirm() -> None:
        fraud_matches_resolve(
            submission_id=submission.pk,
            match_ids=[match.pk],
            resolution="confirmed_fraud",
            actor=Actor.for_api_key(api_key.api_key),
        )

    assert run_while_the_session_is_locked(submission, confirm)
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.REJECTED


def waits_for_the_session(submission: Submission, action: Callable[[], object]) -> bool:
    """Run ``action`` in another thread while this one holds the submission's session
    row; True when it was still waiting when this one let go (it queued behind the
    session: a quick action that locked the submission alone was done by then)."""
    errors: list[BaseException] = []

    def act() -> None:
        try:
            action()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    with transaction.atomic():
        WorkflowSession.objects.select_for_update().get(submission=submission)
        thread = threading.Thread(target=act)
        thread.start()
        thread.join(timeout=1.0)
        waiting = thread.is_alive()
    thread.join(timeout=30)
    assert not errors, errors
    return waiting


def test_an_admins_known_fraud_removal_takes_the_session_lock_before_the_submission(api_key):
    # Its event's time is read under the submission's lock (record_event), taken in the
    # one order every path takes: it took the submission's alone.
    submission = in_review_with_session(api_key)
    row = KnownFraud.objects.create(company=submission.company, submission=submission)

    def remove() -> None:
        known_frauds_remove(known_fraud_ids=[row.pk], actor=Actor.system())

    assert waits_for_the_session(submission, remove)
    assert submission.events.filter(type=EventType.KNOWN_FRAUD_REMOVED).count() == 1


def test_an_admins_false_positive_removal_takes_the_session_lock_before_the_submission(api_key):
    submission = in_review_with_session(api_key)
    other = SubmissionFactory(company=submission.company)
    first, second = sorted([submission, other], key=lambda s: s.pk, reverse=True)
    pair = FalsePositivePair.objects.create(company=submission.company, first=first, second=second)

    def remove() -> None:
        false_positive_pairs_remove(pair_ids=[pair.pk], actor=Actor.system())

    assert waits_for_the_session(submission, remove)
    assert submission.events.filter(type=EventType.FALSE_POSITIVE_REMOVED).count() == 1
    assert other.events.filter(type=EventType.FALSE_POSITIVE_REMOVED).count() == 1


def test_fraud_confirmed_while_approving_rejects_and_refuses_the_approval(api_key):
    for _ in range(4):
        submission = in_review_with_session(api_key)
        match = unresolved_match(submission)
        base = f"/api/v1/submissions/{submission.pk}"
        statuses = at_once(
            api_key,
            [
                (f"{base}/fraud-matches/{match.pk}/resolve", {"resolution": "confirmed_fraud"}),
                (f"{base}/approve", {}),
            ],
        )
        assert statuses == [200, 409], statuses
        submission.refresh_from_db()
        assert submission.status == SubmissionStatus.REJECTED


def test_correcting_two_receipts_of_one_shop_at_once_never_deadlocks(api_key):
    first, second = (
        SubmissionFactory(company=api_key.api_key.company, pages_text=[HEADER]) for _ in range(2)
    )
    for round_ in range(6):
        name, address = f"KEDAI MAJU {round_}", f"NO {round_} JALAN SATU"
        statuses = at_once(
            api_key,
            [
                (
                    f"/api/v1/submissions/{first.pk}/corrections",
                    {"fields": {"merchantName": name, "merchantAddress": address}},
                ),
                (
                    f"/api/v1/submissions/{second.pk}/corrections",
                    {"fields": {"merchantAddress": address, "merchantName": name}},
                ),
            ],
        )
        assert statuses == [200, 200], statuses


def at_once(api_key, requests: list[tuple[str, dict]]) -> list[int]:
    """POST each request from its own thread at the same moment; the status codes."""
    return [response.status_code for response in responses_at_once(api_key, requests)]


def responses_at_once(
    api_key, requests: list[tuple[str, dict]], *, signed_in: Any = None
) -> list[Any]:
    """POST each request from its own thread at the same moment; the responses. With
    `signed_in` (a user), as that user's page forms do, else as JSON with the API key."""
    responses: list[Any] = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def post(index: int, path: str, body: dict) -> None:
        client = Client() if signed_in else APIClient()
        if signed_in:
            client.force_login(signed_in)
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
        barrier.wait()
        try:
            if signed_in:
                responses[index] = client.post(path, body, HTTP_HX_REQUEST="true")
            else:
                responses[index] = client.post(path, body, format="json")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(i, path, body))
        for i, (path, body) in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def test_deleting_a_user_in_the_admin_while_they_resolve_fraud_does_not_deadlock(company):
    """The admin's deletion locked the user's row (FOR UPDATE, from the count of what it
    keeps to the deletion) and then each submission they hold, to release its claim. A
    resolution by that user holds the submission and then writes a row naming them
    (FraudMatch.resolved_by_user: FOR KEY SHARE on their row): each waited for the other,
    and PostgreSQL answered one of them 'deadlock detected' (the operator a 500). The
    submissions they hold are locked first, in the order every path takes."""
    operator = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-ops-1234")
    alice = member(company)
    submission = SubmissionFactory(company=company)
    submission_claim(submission_id=submission.pk, user=alice)
    match = unresolved_match(submission)
    holding = threading.Event()
    outcomes: list[object] = []

    def resolve_as_alice() -> None:
        try:
            with transaction.atomic():
                locked_submission(submission_id=submission.pk)
                holding.set()
                time.sleep(1.0)  # the deletion reaches its locks meanwhile
                FraudMatch.objects.filter(pk=match.pk).update(resolved_by_user=alice)
            outcomes.append("resolved")
        except DatabaseError as error:
            outcomes.append(error)
        finally:
            connection.close()

    def delete_alice() -> None:
        try:
            client = Client()
            client.force_login(operator)
            holding.wait(timeout=10)
            page = reverse("admin:auth_user_delete", args=[alice.pk])
            outcomes.append(client.post(page, {"post": "yes"}).status_code)
        except DatabaseError as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=resolve_as_alice), threading.Thread(target=delete_alice)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(map(str, outcomes)) == ["302", "resolved"]
    submission.refresh_from_db()
    assert submission.claimed_by_id is None
    assert submission.events.filter(type=EventType.CLAIM_RELEASED).count() == 1
