"""Approval starts the downstream sync; failures retry with backoff, events for each."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from steve.services import workflow_publish
from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from submissions.sync import due_syncs, submission_sync
from tests.factories import SubmissionFactory
from tests.receiver import http_receiver

pytestmark = pytest.mark.django_db


def with_sync_target(submission: Submission, url: str) -> Submission:
    version = workflow_publish(
        company=submission.company,
        slug=submission.workflow.slug,
        name=submission.workflow.name,
        sync_url=url,
    )
    Submission.objects.filter(pk=submission.pk).update(workflow_version=version)
    submission.refresh_from_db()
    return submission


def test_approval_without_a_target_ends_at_approved(django_capture_on_commit_callbacks):
    submission = SubmissionFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        submission_approve(submission_id=submission.pk, actor=Actor.system())
    assert Submission.objects.get(pk=submission.pk).status == "approved"
    assert not [c for c in callbacks if "sync" in repr(c)]


def test_sync_retries_with_backoff_then_marks_synced(django_capture_on_commit_callbacks):
    with http_receiver() as receiver:
        receiver.statuses = [503]
        submission = with_sync_target(SubmissionFactory(), f"{receiver.url}/erp")
        with django_capture_on_commit_callbacks() as callbacks:
            submission_approve(submission_id=submission.pk, actor=Actor.system())
        assert len(callbacks) == 1  # the sync task, queued after commit
        submission_sync(submission_id=submission.pk)
        failed = Submission.objects.get(pk=submission.pk)
        assert failed.status == "approved" and failed.sync_attempts == 1
        assert failed.sync_next_attempt_at > timezone.now()
        assert due_syncs() == []
        Submission.objects.filter(pk=submission.pk).update(
            sync_next_attempt_at=timezone.now() - timedelta(seconds=1)
        )
        assert due_syncs() == [submission.pk]
        submission_sync(submission_id=submission.pk)
    synced = Submission.objects.get(pk=submission.pk)
    assert synced.status == "synced"
    types = list(
        SubmissionEvent.objects.filter(submission=synced)
        .order_by("id")
        .values_list("type", flat=True)
    )
    assert types == ["approved", "sync_failed", "synced"]
    payload = json.loads(receiver.requests[-1].body)
    assert payload["submission"]["id"] == submission.pk
    assert receiver.requests[-1].headers["X-Webhook-Signature"].startswith("sha256=")
