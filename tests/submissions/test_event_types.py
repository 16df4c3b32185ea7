"""Event types are one enumeration: an unknown one is never written, an unknown webhook
event is never announced, and the webhook names integrators subscribe to stay as they are."""

import pytest
from django.db import IntegrityError, transaction

from submissions.events import announce
from submissions.models import EventType, SubmissionEvent
from submissions.services import Actor, record_event
from tests import factories
from webhooks.catalogue import EVENT_TYPES
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


def test_record_event_refuses_an_unknown_type(company):
    submission = factories.SubmissionFactory(company=company)
    with pytest.raises(ValueError, match="approvd"):
        record_event(submission=submission, type="approvd", actor=Actor.system())
    assert not SubmissionEvent.objects.filter(submission=submission).exists()


def test_the_database_refuses_an_unknown_type_written_around_the_service(company):
    submission = factories.SubmissionFactory(company=company)
    with pytest.raises(IntegrityError), transaction.atomic():
        SubmissionEvent.objects.create(submission=submission, type="approvd")
    SubmissionEvent.objects.create(submission=submission, type=EventType.APPROVED)
    assert list(submission.events.values_list("type", flat=True)) == ["approved"]


def test_a_known_type_given_as_its_name_is_stored_as_that_type(company):
    submission = factories.SubmissionFactory(company=company)
    event = record_event(submission=submission, type="comment", actor=Actor.system())
    event.refresh_from_db()
    assert event.type == EventType.COMMENT


def test_announce_refuses_an_event_outside_the_catalogue(company):
    submission = factories.SubmissionFactory(company=company)
    event = record_event(submission=submission, type=EventType.APPROVED, actor=Actor.system())
    with pytest.raises(ValueError, match="submission.aproved"):
        announce(submission=submission, event_type="submission.aproved", event=event)
    assert not WebhookDelivery.objects.exists()


def test_the_webhook_catalogue_keeps_its_public_names():
    assert EVENT_TYPES == (
        "session.completed",
        "session.failed",
        "session.review_required",
        "session.expired",
        "submission.approved",
        "submission.synced",
        "submission.rejected",
        "submission.cancelled",
        "submission.fraud_match_resolved",
        "submission.fraud_resolution_undone",
        "submission.fraud_match_withdrawn",
    )


def test_docs_api_lists_every_event_type():
    """docs/api.md names each type a submission's `events` can hold, the sync ones too
    (sync_failed, sync_abandoned, sync_dropped were written but listed nowhere)."""
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    section = docs.split("## A submission's events")[1].split("\n## ")[0]
    listed = {name for name in EventType.values if f"`{name}`" in section}
    assert set(EventType.values) - listed == set()
