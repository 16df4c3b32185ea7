"""Publishing another or no sync_url moves or drops the workflow's posts not delivered
yet, in the publish's transaction, which holds the workflow's lock. It read every
approved submission the workflow ever had and sent their ids in one IN (...) list: on a
workflow with years of history, a query of thousands of parameters (over SQLite's limit,
scripts/dev's database) with the lock held. The work is the posts not delivered yet."""

import re

import pytest

from steve.services import workflow_publish
from submissions.models import Submission, SubmissionEvent
from submissions.services import Actor, submission_approve
from submissions.sync import sync_event_id
from tests.factories import SubmissionFactory
from tests.submissions.test_sync import event_types, sync_of, with_sync_target
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

HISTORY = 2000
# Quoted ids in one statement: a batch of posts is fine, the workflow's history is not.
MAX_IDS_PER_QUERY = 100


def workflow_with_history(url: str) -> tuple[list[Submission], list[Submission]]:
    """A workflow with HISTORY approved submissions whose posts were delivered, HISTORY
    approved before it had a sync target (no post), and two whose posts wait."""
    waiting = [with_sync_target(SubmissionFactory(), url)]
    company = waiting[0].company
    waiting.append(with_sync_target(SubmissionFactory(company=company), url))
    for submission in waiting:
        submission_approve(submission_id=submission.pk, actor=Actor.system())
    template = sync_of(waiting[0])
    synced = bulk_approved(waiting[0], HISTORY, status="synced")
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            company_id=company.pk,
            environment=template.environment,
            purpose=template.purpose,
            event_type=template.event_type,
            event_id=sync_event_id(submission.pk),
            url=url,
            payload={},
            status=WebhookDelivery.Status.DELIVERED,
        )
        for submission in synced
    )
    bulk_approved(waiting[0], HISTORY, status="approved")
    return waiting, synced


def bulk_approved(like: Submission, count: int, *, status: str) -> list[Submission]:
    return Submission.objects.bulk_create(
        SubmissionFactory.build(
            company=like.company,
            workflow=like.workflow,
            workflow_version=like.workflow_version,
            status=status,
        )
        for _ in range(count)
    )


def biggest_id_list(queries: list[dict]) -> int:
    return max(len(re.findall(r"'(?:sync_)?sub_", query["sql"])) for query in queries)


@pytest.mark.parametrize(
    ("new_url", "event"), [("https://new.example.com/in", "sync_retargeted"), ("", "sync_dropped")]
)
def test_a_new_sync_url_on_a_long_history_moves_the_waiting_posts_in_a_few_small_queries(
    django_assert_max_num_queries, new_url, event
):
    waiting, synced = workflow_with_history("https://erp.example.com/in")
    submission = waiting[0]
    with django_assert_max_num_queries(40) as captured:
        workflow_publish(
            company=submission.company,
            slug=submission.workflow.slug,
            name=submission.workflow.name,
            sync_url=new_url,
        )
    assert biggest_id_list(captured.captured_queries) <= MAX_IDS_PER_QUERY
    for moved in waiting:
        assert event_types(moved) == ["approved", event]
    assert not SubmissionEvent.objects.filter(submission__in=synced, type=event).exists()
    delivered = WebhookDelivery.objects.filter(status="delivered")
    assert delivered.count() == HISTORY
    assert set(delivered.values_list("url", flat=True)) == {"https://erp.example.com/in"}


@pytest.mark.parametrize(
    ("new_url", "event"), [("https://new.example.com/in", "sync_retargeted"), ("", "sync_dropped")]
)
def test_posts_are_moved_batch_by_batch_each_once(monkeypatch, new_url, event):
    monkeypatch.setattr("submissions.sync.UNSENT_BATCH", 1)
    first = with_sync_target(SubmissionFactory(), "https://erp.example.com/in")
    waiting = [first] + [
        with_sync_target(SubmissionFactory(company=first.company), "https://erp.example.com/in")
        for _ in range(2)
    ]
    for submission in waiting:
        submission_approve(submission_id=submission.pk, actor=Actor.system())
    workflow_publish(
        company=first.company, slug=first.workflow.slug, name=first.workflow.name, sync_url=new_url
    )
    for moved in waiting:
        assert event_types(moved) == ["approved", event]
    expected = [new_url] * 3 if new_url else []
    assert list(WebhookDelivery.objects.values_list("url", flat=True)) == expected
