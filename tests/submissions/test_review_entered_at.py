"""A submission keeps when it moved into review (Submission.review_entered_at), set by the
transition that moves it there, in its transaction, to the time of the event that says so:
the queue's age order, its paging and poll, the SLA count and the overview's oldest
waiting read that column through an index instead of each row's events on every poll."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from submissions.models import EventType, Submission, SubmissionEvent, SubmissionStatus
from submissions.services import (
    Actor,
    submission_approve,
    submission_finish_processing,
    submission_reject,
    submission_start_processing,
)
from tests import factories
from tests.jobs.fixtures_docs import receipt_pdf
from tests.jobs.test_multi_file_merge import auto_approve, processed  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db
S = SubmissionStatus


def move_into_review(submission: Submission) -> SubmissionEvent:
    """The event of the submission's move into review: its only one (processing's)."""
    return SubmissionEvent.objects.get(submission=submission, to_status=S.REVIEW)


def finished(submission: Submission, to_status: str) -> Submission:
    submission_finish_processing(
        submission_id=submission.pk, to_status=to_status, results={}, details={}
    )
    return Submission.objects.get(pk=submission.pk)


def test_processing_that_sends_a_submission_to_review_stores_the_moves_time(company):
    submission = factories.SubmissionFactory(company=company, status=S.CREATED, fraud_status=None)
    submission_start_processing(submission_id=submission.pk)
    submission = finished(submission, S.REVIEW)
    assert submission.status == S.REVIEW
    assert submission.review_entered_at == move_into_review(submission).occurred_at


def test_an_approval_sent_to_review_by_a_match_found_meanwhile_stores_the_moves_time(company):
    # Processing decided to approve, but a twin checked since flagged it: the transition
    # goes to review instead (submission_finish_processing), and is a move into review.
    submission = factories.SubmissionFactory(
        company=company, status=S.PROCESSING, fraud_status="flagged"
    )
    submission = finished(submission, S.APPROVED)
    assert submission.status == S.REVIEW
    assert submission.review_entered_at == move_into_review(submission).occurred_at


def test_the_whole_pipeline_sending_a_receipt_to_review_stores_the_moves_time(
    api,
    auto_approve,  # noqa: F811
):
    two_shops = processed(
        api,
        receipt_pdf("KEDAI BUKU MAJU SDN BHD"),
        receipt_pdf("RESTORAN NASI KANDAR SRI"),
        client_id="two",
    )
    assert two_shops.status == S.REVIEW
    assert two_shops.review_entered_at == move_into_review(two_shops).occurred_at


def test_a_submission_never_in_review_has_no_time_in_review(company):
    submission = factories.SubmissionFactory(
        company=company, status=S.PROCESSING, fraud_status="clean"
    )
    submission = finished(submission, S.APPROVED)
    assert (submission.status, submission.review_entered_at) == (S.APPROVED, None)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_decision_keeps_the_time_it_moved_into_review(company, reviewer, decision):
    # The column is that move's time, history as its event is: nothing reads it of a
    # decided submission (its age counts from its creation), and nothing rewrites it.
    submission = factories.SubmissionFactory(company=company, status=S.PROCESSING)
    entered = finished(submission, S.REVIEW).review_entered_at
    actor = Actor.for_user(reviewer)
    if decision == "approve":
        submission_approve(submission_id=submission.pk, actor=actor)
    else:
        submission_reject(submission_id=submission.pk, actor=actor, reason="Blurred.")
    submission.refresh_from_db()
    assert submission.status in (S.APPROVED, S.REJECTED)
    assert submission.review_entered_at == entered is not None


def backfill() -> None:
    migration = importlib.import_module("submissions.migrations.0020_submission_review_entered_at")
    migration.backfill_review_entered_at(apps, None)


def test_the_migration_fills_in_the_submissions_in_review_from_their_events(company):
    now = timezone.now()
    waiting, bare, decided = (
        factories.SubmissionFactory(company=company, status=status)
        for status in (S.REVIEW, S.REVIEW, S.APPROVED)
    )
    for submission, hours in ((waiting, 3), (decided, 9)):
        for kind, to_status, ago in (
            (EventType.PROCESSING_STARTED, S.PROCESSING, hours + 1),
            (EventType.READY_FOR_REVIEW, S.REVIEW, hours),
            (EventType.CLAIMED, "", hours - 1),
        ):
            event = SubmissionEvent.objects.create(
                submission=submission, type=kind, to_status=to_status
            )
            SubmissionEvent.objects.filter(pk=event.pk).update(
                occurred_at=now - timedelta(hours=ago)
            )
    Submission.objects.update(review_entered_at=None)  # as before the column
    backfill()
    stored = dict(Submission.objects.values_list("pk", "review_entered_at"))
    # The one in review has its move's time; one with no such event (made in review
    # before events kept statuses) keeps waiting since it was made, as the queue counts
    # it; a decided one is none of the queue's concern and is left alone.
    assert stored == {
        waiting.pk: now - timedelta(hours=3),
        bare.pk: None,
        decided.pk: None,
    }
