"""An operator on a bad day switches many endpoints, or resumes many session webhook
hosts, with one action: bounded in queries, each change noticed and logged once.

Each was switched in its own transaction (six queries an endpoint or a target): a
platform-wide outage that suspended every session host left thousands to resume, and
1,000 took 6,000 queries, past the web server's timeout, stopped part way with the
rest neither resumed nor logged."""

import logging
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from webhooks.models import (
    SessionWebhookTarget,
    SessionWebhookTargetNotice,
    WebhookEndpoint,
    WebhookEndpointNotice,
)
from webhooks.services import endpoints_switch, session_targets_resume

pytestmark = pytest.mark.django_db
MANY = 1000
# The whole list selected (select_across): 1,000 ids posted are more fields than Django
# takes in one request.
WHOLE_LIST = {"select_across": "1", "index": "0", "_selected_action": ["x"]}


def _many_endpoints(company, *, enabled: bool) -> list[WebhookEndpoint]:
    disabled = {} if enabled else {"disabled_reason": "Gone.", "disabled_at": timezone.now()}
    return WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(
            company=company,
            url=f"https://erp-{n}.example.com/hooks",
            secret="whsec_x",
            enabled=enabled,
            **disabled,
        )
        for n in range(MANY)
    )


def _logged(model, message: str) -> set[str]:
    entries = LogEntry.objects.filter(
        content_type__model=model._meta.model_name,
        action_flag=CHANGE,
        change_message=message,
        user__username="admin",
    )
    return set(entries.values_list("object_id", flat=True))


@pytest.mark.parametrize(
    ("action", "enabled", "kind"), [("disable", True, "disabled"), ("enable", False, "enabled")]
)
def test_switching_a_thousand_endpoints_takes_a_bounded_number_of_queries_and_logs_each(
    admin_client, company, django_assert_max_num_queries, action, enabled, kind
):
    endpoints = _many_endpoints(company, enabled=enabled)
    changelist = reverse("admin:webhooks_webhookendpoint_changelist")
    with django_assert_max_num_queries(30):
        response = admin_client.post(changelist, {"action": action, **WHOLE_LIST})
    assert response.status_code == 302
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [f"{action.capitalize()}d {MANY} endpoint(s)."]
    assert set(WebhookEndpoint.objects.values_list("enabled", flat=True)) == {not enabled}
    ids = {endpoint.pk for endpoint in endpoints}
    assert _logged(WebhookEndpoint, f"{kind.capitalize()}.") == ids
    notices = WebhookEndpointNotice.objects.filter(kind=kind)
    assert sorted(notices.values_list("endpoint_id", flat=True)) == sorted(ids)
    assert all(
        message.endswith(" by admin.") for message in notices.values_list("message", flat=True)
    )
    if action == "disable":
        reasons = set(WebhookEndpoint.objects.values_list("disabled_reason", flat=True))
        assert reasons == {"Disabled in Steve's admin by admin."}
        assert not WebhookEndpoint.objects.filter(disabled_at__isnull=True).exists()
    else:
        assert set(WebhookEndpoint.objects.values_list("disabled_reason", flat=True)) == {""}
        assert not WebhookEndpoint.objects.filter(disabled_at__isnull=False).exists()


def test_switching_endpoints_already_so_names_a_bounded_few_and_switches_the_rest(
    admin_client, company
):
    _many_endpoints(company, enabled=False)
    switched = WebhookEndpoint.objects.order_by("pk").first()
    WebhookEndpoint.objects.exclude(pk=switched.pk).update(enabled=True, disabled_reason="")
    changelist = reverse("admin:webhooks_webhookendpoint_changelist")
    response = admin_client.post(changelist, {"action": "enable", **WHOLE_LIST})
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said[0] == "Enabled 1 endpoint(s)."
    # All 999 URLs were named in one message.
    assert said[1].startswith("Already enabled, left as they were: https://")
    assert said[1].endswith(" and others.") and said[1].count("https://") == 10
    assert _logged(WebhookEndpoint, "Enabled.") == {switched.pk}
    assert WebhookEndpointNotice.objects.get().endpoint_id == switched.pk


def test_resuming_a_thousand_session_targets_takes_a_bounded_number_of_queries_and_logs_each(
    admin_client, company, django_assert_max_num_queries
):
    now = timezone.now()
    targets = SessionWebhookTarget.objects.bulk_create(
        SessionWebhookTarget(
            company=company,
            origin=f"https://shop-{n}.example.com",
            suspended_at=now,
            suspended_reason="Failed for days.",
            failing_since=now,
            last_failure_at=now,
        )
        for n in range(MANY)
    )
    changelist = reverse("admin:webhooks_sessionwebhooktarget_changelist")
    with django_assert_max_num_queries(30):
        response = admin_client.post(changelist, {"action": "resume", **WHOLE_LIST})
    assert response.status_code == 302
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [f"Resumed {MANY} suspended target(s)."]
    resumed = SessionWebhookTarget.objects.values_list(
        "suspended_at", "suspended_reason", "failing_since", "last_failure_at"
    )
    assert set(resumed) == {(None, "", None, None)}
    ids = {target.pk for target in targets}
    assert _logged(SessionWebhookTarget, "Resumed deliveries.") == ids
    notices = SessionWebhookTargetNotice.objects.filter(kind="resumed")
    assert sorted(notices.values_list("target_id", flat=True)) == sorted(ids)
    assert set(notices.values_list("message", flat=True)) == {"Deliveries resumed by admin."}


def test_a_switch_or_a_resume_rolled_back_logs_nothing_and_the_one_committed_logs_once(
    company, caplog
):
    """Each endpoint's "disabled" line (and each target's "resumed") was written before
    the commit: a switch whose transaction rolled back logged them all for nothing, and
    again at the next try."""
    endpoints = _many_endpoints(company, enabled=True)[:3]
    ids = [endpoint.pk for endpoint in endpoints]
    target = SessionWebhookTarget.objects.create(
        company=company, origin="https://shop.example.com", suspended_at=timezone.now()
    )

    def switch_and_resume() -> None:
        endpoints_switch(endpoint_ids=ids, enabled=False, reason="Gone.")
        session_targets_resume(target_ids=[target.pk], why="by ops")

    def logged() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "webhooks.services"]

    caplog.set_level(logging.INFO, "webhooks.services")
    with (
        TestCase.captureOnCommitCallbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        switch_and_resume()
        raise RuntimeError("the commit failed")
    assert logged() == []
    assert WebhookEndpoint.objects.filter(pk__in=ids, enabled=True).count() == 3
    with TestCase.captureOnCommitCallbacks(execute=True):
        switch_and_resume()
    lines = logged()
    assert sorted(line for line in lines if " disabled: Gone." in line) == sorted(lines[:3])
    assert all(any(pk in line for line in lines[:3]) for pk in ids)
    assert len(lines) == 4 and "resumed by ops" in lines[3]


def test_resuming_a_session_host_ends_its_receivers_retry_after_hold(company):
    """As enabling an endpoint does (494c802): resuming is the operator's word that the
    host takes events again, and the 503's Retry-After that came with its suspension held
    back every event after the resume (up to a day)."""
    target = SessionWebhookTarget.objects.create(
        company=company,
        origin="https://shop.example.com",
        suspended_at=timezone.now(),
        held_until=timezone.now() + timedelta(hours=20),
    )
    session_targets_resume(target_ids=[target.pk], why="by ops")
    target.refresh_from_db()
    assert target.suspended_at is None and target.held_until is None
