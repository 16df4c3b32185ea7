"""The delivery list's search looks up whole ids through an index each: Django's
case-insensitive "contains" of every term in seven columns (three of them payload paths)
read the whole table, the largest, once per term."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory
from tests.submissions.test_sync import sync_of, with_sync_target
from webhooks.admin import MAX_SEARCH_TERMS
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db
LISTED = reverse("admin:webhooks_webhookdelivery_changelist")


def event_of(company, n: int, **payload) -> WebhookDelivery:
    return WebhookDelivery(
        company=company,
        url=f"https://hooks-{n}.example.com/steve",
        event_id=f"evt_{n:06d}",
        session_id=f"ses_{n:06d}",
        event_type="submission.approved",
        payload={"submissionId": f"sub_{n:06d}", "clientSubmissionId": f"order-{n}", **payload},
    )


@pytest.fixture
def deliveries(company) -> list[WebhookDelivery]:
    return WebhookDelivery.objects.bulk_create(event_of(company, n) for n in range(50))


def found(admin_client, q: str) -> set[str]:
    listed = admin_client.get(LISTED, {"q": q})
    assert listed.status_code == 200
    return {row.pk for row in listed.context["cl"].result_list}


def test_each_id_support_is_given_finds_its_deliveries_whole_never_a_part(admin_client, deliveries):
    seventh = deliveries[7]
    for q in ("evt_000007", "ses_000007", "sub_000007", "order-7", seventh.pk):
        assert found(admin_client, q) == {seventh.pk}, q
    # A part of one is no id: "order-1" named order-1, order-10 … order-19 and more.
    assert found(admin_client, "order-1") == {deliveries[1].pk}
    assert found(admin_client, "sub_00000") == set()
    assert found(admin_client, "hooks-7.example.com") == set()
    # Any of several terms, as support pastes a few ids.
    assert found(admin_client, "order-3 'sub_000004' ses_000005") == {
        deliveries[n].pk for n in (3, 4, 5)
    }


def test_a_submissions_sync_post_is_found_by_its_submission_id_and_client_id(admin_client, company):
    submission = with_sync_target(
        SubmissionFactory(company=company, client_submission_id="erp-order-4711"),
        "https://erp.example.com/steve",
    )
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    sync = sync_of(submission)
    for q in (submission.pk, "erp-order-4711", sync.event_id):
        assert found(admin_client, q) == {sync.pk}, q


def test_a_search_of_many_terms_looks_up_the_first_few_and_says_so(admin_client, deliveries):
    terms = [f"order-{n}" for n in range(MAX_SEARCH_TERMS + 3)]
    listed = admin_client.get(LISTED, {"q": " ".join(terms)})
    assert {row.pk for row in listed.context["cl"].result_list} == {
        deliveries[n].pk for n in range(MAX_SEARCH_TERMS)
    }
    said = [str(m) for m in get_messages(listed.wsgi_request)]
    assert f"Searched for the first {MAX_SEARCH_TERMS} of {len(terms)} terms only." in said


@pytest.mark.postgres_only
def test_a_search_reads_the_deliveries_it_names_through_indexes_never_the_whole_table(
    admin_client, company, analyse
):
    WebhookDelivery.objects.bulk_create(event_of(company, n) for n in range(3000))
    sync = event_of(company, 9999, submissionId=None, clientSubmissionId=None)
    sync.payload = {"submission": {"id": "sub_sync", "clientSubmissionId": "erp-9"}}
    sync.save()
    analyse("webhooks_webhookdelivery")
    q = f"evt_000001 ses_000002 sub_000003 order-4 {sync.pk}"
    listed = admin_client.get(LISTED, {"q": q})
    assert len(listed.context["cl"].result_list) == 5
    assert found(admin_client, "sub_sync erp-9") == {sync.pk}
    plan = listed.context["cl"].queryset.explain()
    # Each column through its index (bitmap scans OR-ed), the table read only at the rows
    # they name: a "contains" had no index to use, and read every delivery ever made.
    assert "Seq Scan" not in plan and "Filter:" not in plan, plan
    scans = re.findall(r"Bitmap Index Scan on (\w+)", plan)
    assert len(scans) == 5, plan  # id, event id, session id, submission id, client id
    assert {"delivery_submission_id", "delivery_client_submission_id"} <= set(scans), plan
    assert "UPPER" not in str(listed.context["cl"].queryset.query)
