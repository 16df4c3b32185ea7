"""Taking the sync_url off a workflow (its target retired, or compromised) stops the
posts: those waiting or given up are dropped, and later approvals queue none."""

import pytest

from steve.services import workflow_publish
from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory
from tests.receiver import http_receiver
from tests.submissions.test_sync import approved_with_target, event_types, with_sync_target
from webhooks.delivery import deliver
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def remove_sync_url(submission: Submission) -> None:
    workflow_publish(
        company=submission.company,
        slug=submission.workflow.slug,
        name=submission.workflow.name,
        sync_url="",
    )


def test_removing_the_sync_url_drops_the_waiting_post_with_a_sync_dropped_event():
    with http_receiver() as receiver:
        receiver.statuses = [503]
        submission, delivery = approved_with_target(f"{receiver.url}/erp")
        deliver(delivery.pk)
        remove_sync_url(submission)
        assert deliver(delivery.pk) is None  # nothing left to send
        assert len(receiver.requests) == 1
    assert not WebhookDelivery.objects.filter(pk=delivery.pk).exists()
    dropped = Submission.objects.get(pk=submission.pk)
    assert dropped.status == "approved" and dropped.sync_next_attempt_at is None
    assert event_types(dropped) == ["approved", "sync_failed", "sync_dropped"]
    event = SubmissionEvent.objects.get(submission=dropped, type="sync_dropped")
    assert event.details == {
        "reason": "sync_url_removed",
        "deliveryId": delivery.pk,
        "deliveryStatus": "pending",
        "attempts": 1,
    }


def test_a_submission_created_under_the_old_version_queues_no_post_once_it_is_removed():
    submission = with_sync_target(SubmissionFactory(), "https://erp.example.com/in")
    remove_sync_url(submission)
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    assert Submission.objects.get(pk=submission.pk).status == "approved"
    assert not WebhookDelivery.objects.filter(purpose=WebhookDelivery.Purpose.SYNC).exists()


def test_a_delivered_post_is_kept_when_the_sync_url_is_removed():
    with http_receiver() as receiver:
        submission, delivery = approved_with_target(f"{receiver.url}/erp")
        deliver(delivery.pk)
    remove_sync_url(submission)
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered"
    assert event_types(Submission.objects.get(pk=submission.pk)) == ["approved", "synced"]
