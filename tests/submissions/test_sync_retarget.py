"""A workflow version published with another sync_url (a mistyped one corrected, the
target moved) moves the posts not delivered yet: a waiting one is resent there at once
with a fresh budget, one given up is redelivered there, as an endpoint's retries follow
its edited URL. Before, they kept the URL they were queued with, and "Redeliver now"
went on posting to the typo."""

from datetime import timedelta

import pytest
from django.utils import timezone

from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory, default_workflows
from tests.receiver import http_receiver
from tests.submissions.test_sync import (
    approved_with_target,
    event_types,
    sync_of,
    with_sync_target,
)
from webhooks.delivery import MAX_ATTEMPTS, budget_used, deliver
from webhooks.models import WebhookDelivery
from webhooks.services import delivery_redeliver

pytestmark = pytest.mark.django_db


def host(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


def retargeted(submission: Submission) -> dict:
    return SubmissionEvent.objects.get(submission=submission, type="sync_retargeted").details


def test_a_waiting_post_is_resent_at_once_to_the_new_sync_url_with_a_fresh_budget():
    with http_receiver() as typo, http_receiver() as fixed:
        typo.statuses = [404]
        submission, delivery = approved_with_target(f"{typo.url}/erp?token=s3cret")
        deliver(delivery.pk)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
        with_sync_target(SubmissionFactory(company=submission.company), f"{fixed.url}/erp")
        moved = WebhookDelivery.objects.get(pk=delivery.pk)
        assert (moved.url, moved.status) == (f"{fixed.url}/erp", "pending")
        assert budget_used(moved) == 0 and moved.next_attempt_at <= timezone.now()
        assert moved.last_error == ""  # the old target's failure says nothing of this one
        assert Submission.objects.get(pk=submission.pk).sync_next_attempt_at == (
            moved.next_attempt_at
        )
        assert deliver(delivery.pk).status_code == 200
    assert len(typo.requests) == 1 and len(fixed.requests) == 1
    synced = Submission.objects.get(pk=submission.pk)
    assert synced.status == "synced"
    assert event_types(synced) == ["approved", "sync_failed", "sync_retargeted", "synced"]
    # Hosts only: the path and query (here a token) are often the target's credential.
    assert retargeted(synced) == {
        "fromHost": host(typo.url),
        "toHost": host(fixed.url),
        "deliveryId": delivery.pk,
        "deliveryStatus": "pending",
        "nextAttemptAt": retargeted(synced)["nextAttemptAt"],
    }
    assert retargeted(synced)["nextAttemptAt"] is not None


def test_a_given_up_post_is_moved_unsent_and_redelivered_to_the_new_sync_url():
    with http_receiver() as typo, http_receiver() as fixed:
        typo.statuses = [404]
        submission, delivery = approved_with_target(f"{typo.url}/erp")
        WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
        deliver(delivery.pk)
        assert event_types(submission)[-1] == "sync_abandoned"
        with_sync_target(SubmissionFactory(company=submission.company), f"{fixed.url}/erp")
        moved = WebhookDelivery.objects.get(pk=delivery.pk)
        assert (moved.url, moved.status) == (f"{fixed.url}/erp", "failed")
        assert deliver(delivery.pk) is None  # moved, not sent: given up is given up
        assert Submission.objects.get(pk=submission.pk).sync_next_attempt_at is None
        assert retargeted(submission)["deliveryStatus"] == "failed"
        assert retargeted(submission)["nextAttemptAt"] is None
        delivery_redeliver(delivery_id=delivery.pk)  # "Redeliver now": the fixed URL
        assert deliver(delivery.pk).status_code == 200
    assert len(typo.requests) == 1 and len(fixed.requests) == 1
    assert Submission.objects.get(pk=submission.pk).status == "synced"


def test_a_delivered_post_and_a_post_of_another_workflow_stay_where_they_are():
    submission, delivery = approved_with_target("https://erp.example.com/in")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="delivered")
    elsewhere, other = approved_with_target_of_another_workflow(submission)
    with_sync_target(SubmissionFactory(company=submission.company), "https://new.example.com/in")
    assert WebhookDelivery.objects.get(pk=delivery.pk).url == "https://erp.example.com/in"
    assert WebhookDelivery.objects.get(pk=other.pk).url == "https://erp.example.com/other"
    assert "sync_retargeted" not in event_types(submission) + event_types(elsewhere)


def approved_with_target_of_another_workflow(
    submission: Submission,
) -> tuple[Submission, WebhookDelivery]:
    another = default_workflows(submission.company)[1]
    other = with_sync_target(
        SubmissionFactory(company=submission.company, workflow_version=another),
        "https://erp.example.com/other",
    )
    submission_approve(submission_id=other.pk, actor=Actor.system())
    return other, sync_of(other)


def test_a_version_keeping_its_sync_url_moves_nothing():
    submission, delivery = approved_with_target("https://erp.example.com/in")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(hours=1), attempts=3
    )
    with_sync_target(SubmissionFactory(company=submission.company), "https://erp.example.com/in")
    kept = WebhookDelivery.objects.get(pk=delivery.pk)
    assert kept.attempts_before_redelivery == 0 and kept.next_attempt_at > timezone.now()
    assert "sync_retargeted" not in event_types(submission)
