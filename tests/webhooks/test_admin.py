"""Admin: creation shows the secret once, rotate, redeliver failed since…, redeliver one."""

import re
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.db import connection, connections, transaction
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from steve.errors import ServiceError
from tests.factories import many_submissions
from tests.secret_checks import assert_only_in_the_body
from tests.webhooks.helpers import emit
from webhooks import admin as webhooks_admin
from webhooks import targets as webhooks_targets
from webhooks.admin import WebhookEndpointAdmin
from webhooks.delivery import deliver
from webhooks.models import (
    SessionWebhookSecret,
    SessionWebhookTarget,
    SessionWebhookTargetNotice,
    SyncSigningSecret,
    SyncTarget,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointNotice,
)
from webhooks.services import (
    EndpointChanges,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_update,
    session_secret_get_or_create,
    session_secret_rotate,
    session_target_suspend,
    sync_secret_get_or_create,
    sync_secret_rotate,
)
from webhooks.verify import verify_webhook

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/webhooks/webhookendpoint/"


def test_adding_an_endpoint_shows_its_secret_once_never_in_a_cookie(
    admin_client, company, receiver
):
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "company": company.pk,
            "url": receiver.url,
            "description": "ERP",
            "events": ["session.completed"],
            "environment": "production",
            "notices-TOTAL_FORMS": "0",
            "notices-INITIAL_FORMS": "0",
        },
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["session.completed"]
    assert_only_in_the_body(response, endpoint.secret)
    page = admin_client.get(f"{CHANGELIST}{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in page


def test_a_private_url_is_refused_in_the_admin(admin_client, company, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    response = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "company": company.pk,
            "url": "https://10.0.0.1/hook",
            "environment": "production",
            "notices-TOTAL_FORMS": "0",
            "notices-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200 and b"non-public address" in response.content
    assert not WebhookEndpoint.objects.exists()


def test_rotate_action_shows_the_new_secret_never_in_a_cookie(admin_client, endpoint_with_secret):
    endpoint, old = endpoint_with_secret
    response = admin_client.post(
        CHANGELIST, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}
    )
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert_only_in_the_body(response, endpoint.secret)


def test_session_secret_rotate_action_shows_it_once(admin_client, company):
    session_secret_rotate(company_id=company.pk, environment="sandbox", grace=timedelta(0))
    owner = SessionWebhookSecret.objects.get(company=company, environment="sandbox")
    response = admin_client.post(
        "/admin/webhooks/sessionwebhooksecret/",
        {"action": "rotate_secret", "_selected_action": [owner.pk]},
    )
    owner.refresh_from_db()
    assert_only_in_the_body(response, owner.secret)
    assert not SessionWebhookSecret.objects.filter(company=company, environment="production")


def test_redeliver_failed_since_asks_for_the_time_then_requeues(
    admin_client, company, endpoint, receiver
):
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    selection = {"action": "redeliver_failed_since", "_selected_action": [endpoint.pk]}
    form = admin_client.post(CHANGELIST, selection)
    assert form.status_code == 200 and b"Redeliver" in form.content
    # The time is read in TIME_ZONE (UTC): an operator typing their own clock's time
    # would redeliver hours more or fewer than they meant.
    assert b"Failed deliveries made since then, in UTC." in form.content
    since = timezone.now() - timedelta(hours=1)
    done = admin_client.post(
        CHANGELIST,
        {
            **selection,
            "apply": "1",
            "since_0": since.strftime("%Y-%m-%d"),
            "since_1": since.strftime("%H:%M:%S"),
        },
        follow=True,
    )
    assert any("1 delivery(ies) queued again" in str(m) for m in get_messages(done.wsgi_request))
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"


def test_the_actions_messages_show_an_endpoints_url_as_written(
    admin_client, company, endpoint, receiver
):
    # The admin writes each message with its first letter capitalised: one that began
    # with the URL showed "Https://…", an address that is not the endpoint's.
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    selection = {"_selected_action": [endpoint.pk]}
    done = admin_client.post(
        CHANGELIST, {**selection, "action": "redeliver_failed_since_last_success"}, follow=True
    )
    admin_client.post(CHANGELIST, {**selection, "action": "disable"})
    refused = admin_client.post(
        CHANGELIST, {**selection, "action": "redeliver_failed_since_last_success"}, follow=True
    )
    for page, says in [(done, "1 delivery(ies) queued again"), (refused, "Enable the endpoint")]:
        shown = re.findall(r'<li class="(?:success|error)">(.*?)</li>', page.content.decode())
        assert [m for m in shown if says in m and endpoint.url in m], shown


def test_redeliver_what_failed_since_the_last_success_needs_no_time(
    admin_client, company, endpoint, receiver
):
    # The operator re-enabling an endpoint had to guess a time "some minutes before the
    # failing began", which enabling had just cleared from the endpoint.
    receiver.script = [500]
    (before,) = emit(company)
    deliver(before.pk)
    WebhookDelivery.objects.filter(pk=before.pk).update(status="failed")  # no failed_at: kept
    (worked,) = emit(company)
    deliver(worked.pk)
    receiver.script = [410]
    (gone,) = emit(company)
    deliver(gone.pk)
    (while_off,) = emit(company)
    selection = {"_selected_action": [endpoint.pk]}
    admin_client.post(CHANGELIST, {**selection, "action": "enable"})
    done = admin_client.post(
        CHANGELIST, {**selection, "action": "redeliver_failed_since_last_success"}, follow=True
    )
    said = [str(m) for m in get_messages(done.wsgi_request)]
    assert any("3 delivery(ies) queued again" in m for m in said), said
    pending = WebhookDelivery.objects.filter(status="pending").values_list("pk", flat=True)
    assert set(pending) == {before.pk, gone.pk, while_off.pk}


def test_redeliver_one_delivery_from_the_admin(
    admin_client, company, endpoint_with_secret, receiver
):
    endpoint, secret = endpoint_with_secret
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    admin_client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "pending"
    page = admin_client.get(f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    deliver(delivery.pk)
    request = receiver.requests[0]
    assert verify_webhook(secret, request.headers, request.body)


def test_admin_pages_render(admin_client, company, endpoint):
    (delivery,) = emit(company)
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    session_secret_rotate(company_id=company.pk, environment="production", grace=timedelta(0))
    pages = [
        CHANGELIST,
        f"{CHANGELIST}{endpoint.pk}/change/",
        "/admin/webhooks/webhookdelivery/",
        f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/",
        "/admin/webhooks/sessionwebhooksecret/",
        "/admin/webhooks/sessionwebhooksecret/add/",
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page
    detail = admin_client.get(f"{CHANGELIST}{endpoint.pk}/change/").content.decode()
    assert "Disabled by the integrator." in detail  # the notice an admin sees


def test_sync_secret_rotate_action_shows_the_new_secret_once_and_keeps_the_old_in_grace(
    admin_client, company
):
    owner = sync_secret_get_or_create(company_id=company.pk)
    old = owner.secret
    response = admin_client.post(
        "/admin/webhooks/syncsigningsecret/",
        {"action": "rotate_secret", "_selected_action": [owner.pk]},
    )
    owner = SyncSigningSecret.objects.get(pk=owner.pk)
    assert owner.secret != old and owner.previous_secret == old
    assert owner.previous_secret_expires_at is not None
    assert_only_in_the_body(response, owner.secret)
    page = admin_client.get(f"/admin/webhooks/syncsigningsecret/{owner.pk}/change/")
    assert owner.secret not in page.content.decode()  # never shown again


def test_a_sync_secret_rotation_replacing_one_in_its_grace_warns_the_operator(
    admin_client, company
):
    # The endpoint's Rotate secret warned of a rotation made moments before (docs/webhooks.md,
    # "Rotating a secret"); the company secrets' said nothing.
    owner = sync_secret_get_or_create(company_id=company.pk)
    sync_secret_rotate(company_id=company.pk, grace=timedelta(hours=1))
    response = admin_client.post(
        "/admin/webhooks/syncsigningsecret/",
        {"action": "rotate_secret", "_selected_action": [owner.pk]},
        follow=True,
    )
    said = [str(m) for m in response.context["messages"]]
    assert any("This rotation replaced the secret a rotation at" in m for m in said), said


def test_redeliver_to_a_disabled_endpoint_says_why_and_claims_nothing_queued(
    admin_client, company, endpoint
):
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    response = admin_client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [delivery.pk]},
        follow=True,
    )
    said = [str(m) for m in response.context["messages"]]
    assert said and not any("queued" in m for m in said), said
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == "failed"


def change_form(endpoint: WebhookEndpoint, **overrides: object) -> dict:
    return {
        "company": endpoint.company_id,
        "url": endpoint.url,
        "description": endpoint.description,
        "environment": endpoint.environment,
        "notices-TOTAL_FORMS": "0",
        "notices-INITIAL_FORMS": "0",
        **overrides,
    }


def test_the_admin_holds_a_description_to_the_apis_rules(admin_client, endpoint):
    page = f"{CHANGELIST}{endpoint.pk}/change/"
    response = admin_client.post(page, change_form(endpoint, description="ERP \u202eexe"))
    assert response.status_code == 200 and b"bidi formatting" in response.content
    endpoint.refresh_from_db()
    assert "\u202e" not in endpoint.description


def test_an_endpoint_stays_with_its_company_and_environment(admin_client, endpoint, other_company):
    page = f"{CHANGELIST}{endpoint.pk}/change/"
    moved = change_form(endpoint, company=other_company.pk, environment="sandbox")
    assert admin_client.post(page, moved).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.company_id != other_company.pk and endpoint.environment == "production"


def test_deliveries_cannot_be_deleted_in_the_admin(admin_client, endpoint):
    emit(endpoint.company)
    delivery = WebhookDelivery.objects.get()
    page = f"/admin/webhooks/webhookdelivery/{delivery.pk}/delete/"
    assert admin_client.post(page, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [delivery.pk], "post": "yes"}
    admin_client.post("/admin/webhooks/webhookdelivery/", bulk)
    assert WebhookDelivery.objects.filter(pk=delivery.pk).exists()


def test_disabling_in_the_admin_says_so_and_names_staff(admin_client, endpoint):
    picked = {"action": "disable", "_selected_action": [endpoint.pk]}
    response = admin_client.post(CHANGELIST, picked, follow=True)
    assert "Disabled 1 endpoint(s)." in [str(m) for m in get_messages(response.wsgi_request)]
    endpoint.refresh_from_db()
    assert (
        not endpoint.enabled and endpoint.disabled_reason == "Disabled in Steve's admin by admin."
    )


def test_editing_an_endpoint_keeps_a_secret_rotated_meanwhile(admin_client, endpoint, monkeypatch):
    posted = WebhookEndpointAdmin.save_form
    rotated = {}

    def rotated_by_another_operator_meanwhile(admin_, request, form, change):
        rotated["secret"] = endpoint_rotate_secret(
            endpoint_id=endpoint.pk, grace=timedelta(0)
        ).secret
        return posted(admin_, request, form, change)

    # The edit's form holds the endpoint as read before the rotation: a plain save wrote
    # the old secret back, and receivers holding the new one refused every delivery.
    monkeypatch.setattr(WebhookEndpointAdmin, "save_form", rotated_by_another_operator_meanwhile)
    page = f"{CHANGELIST}{endpoint.pk}/change/"
    assert admin_client.post(page, change_form(endpoint, description="ERP")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.description == "ERP" and endpoint.secret == rotated["secret"]


def test_enabling_counts_only_the_endpoints_it_enabled_and_names_the_others(
    admin_client, endpoint, company
):
    endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    running, _ = endpoint_create(company=company, url=f"{endpoint.url.rstrip('/')}/running")
    picked = {"action": "enable", "_selected_action": [endpoint.pk, running.pk]}
    response = admin_client.post(CHANGELIST, picked, follow=True)
    said = [str(m) for m in get_messages(response.wsgi_request)]
    # Was "Enabled 2 endpoint(s).": one of them had never been disabled.
    assert said == [
        "Enabled 1 endpoint(s).",
        f"Already enabled, left as they were: {running.url}.",
    ]
    endpoint.refresh_from_db()
    assert endpoint.enabled


@pytest.mark.parametrize("action", ["enable", "disable"])
def test_an_endpoint_deleted_meanwhile_is_reported_per_row_not_a_500(
    admin_client, endpoint, receiver, monkeypatch, action
):
    # Disabled first, so that Enable has something to switch too.
    gone = endpoint_create(company=endpoint.company, url=f"{receiver.url}?gone", events=[])[0]
    if action == "enable":
        for each in (endpoint, gone):
            endpoint_update(endpoint_id=each.pk, changes=EndpointChanges(enabled=False))
    switch = webhooks_admin.endpoints_switch

    def deleted_by_another_operator_meanwhile(*, endpoint_ids, **kwargs):
        # The action read its rows; the other operator deletes one before it is switched.
        assert gone.pk in endpoint_ids
        WebhookEndpoint.objects.filter(pk=gone.pk).delete()
        return switch(endpoint_ids=endpoint_ids, **kwargs)

    monkeypatch.setattr(webhooks_admin, "endpoints_switch", deleted_by_another_operator_meanwhile)
    picked = {"action": action, "_selected_action": [endpoint.pk, gone.pk]}
    response = admin_client.post(CHANGELIST, picked, follow=True)
    assert response.status_code == 200
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert f"{action.capitalize()}d 1 endpoint(s)." in said
    assert any(gone.url in m and "no longer exists" in m for m in said), said
    endpoint.refresh_from_db()
    assert endpoint.enabled is (action == "enable")


def test_rotating_an_endpoint_deleted_meanwhile_reports_it_and_rotates_the_others(
    admin_client, endpoint, receiver, monkeypatch
):
    gone = endpoint_create(company=endpoint.company, url=f"{receiver.url}gone", events=[])[0]
    rotate = webhooks_admin.endpoints_rotate_secret

    def deleted_by_another_operator_meanwhile(*, endpoint_ids, **kwargs):
        WebhookEndpoint.objects.filter(pk=gone.pk).delete()
        return rotate(endpoint_ids=endpoint_ids, **kwargs)

    monkeypatch.setattr(
        webhooks_admin, "endpoints_rotate_secret", deleted_by_another_operator_meanwhile
    )
    before = endpoint.secret
    picked = {"action": "rotate_secret", "_selected_action": [endpoint.pk, gone.pk]}
    response = admin_client.post(CHANGELIST, picked)
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.secret != before and endpoint.secret in response.content.decode()
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(gone.url in m and "no longer exists" in m for m in said), said


def test_deleting_an_endpoint_with_deliveries_says_to_disable_it(admin_client, endpoint, receiver):
    emit(endpoint.company)
    unused = endpoint_create(company=endpoint.company, url=f"{receiver.url}unused", events=[])[0]
    WebhookDelivery.objects.filter(endpoint=unused).delete()  # never sent anything
    page = admin_client.post(f"{CHANGELIST}{endpoint.pk}/delete/", {"post": "yes"})
    said = " ".join(page.content.decode().split())
    assert page.status_code == 200 and "permission" not in said
    assert "This webhook endpoint has 1 webhook delivery; it cannot be deleted." in said
    assert "Disable it instead" in said
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    gone = admin_client.post(f"{CHANGELIST}{unused.pk}/delete/", {"post": "yes"})
    assert gone.status_code == 302 and not WebhookEndpoint.objects.filter(pk=unused.pk).exists()


def test_a_delivery_purged_meanwhile_is_reported_and_the_others_are_redelivered(
    admin_client, company, endpoint, monkeypatch
):
    kept, gone = emit(company)[0], emit(company)[0]
    WebhookDelivery.objects.filter(pk__in=[kept.pk, gone.pk]).update(status="failed")
    redeliver = webhooks_admin.deliveries_redeliver

    def purged_meanwhile(*, delivery_ids):
        # The action read its rows; retention deletes one before it is redelivered.
        WebhookDelivery.objects.filter(pk=gone.pk).delete()
        return redeliver(delivery_ids=delivery_ids)

    monkeypatch.setattr(webhooks_admin, "deliveries_redeliver", purged_meanwhile)
    picked = {"action": "redeliver", "_selected_action": [kept.pk, gone.pk]}
    response = admin_client.post("/admin/webhooks/webhookdelivery/", picked, follow=True)
    assert response.status_code == 200  # was a 500: the service's .get() raised
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert "1 redelivery(ies) queued." in said
    assert any(gone.pk in m and "no longer exists" in m for m in said), said
    assert WebhookDelivery.objects.get(pk=kept.pk).status == "pending"


def test_redelivering_thousands_of_deliveries_takes_a_bounded_number_of_queries(
    admin_client, company, endpoint, django_assert_max_num_queries
):
    # One transaction of four queries per delivery: 5,000 took about 50 s, past the web
    # server's timeout, which stopped the action part way and answered nothing.
    (first,) = emit(company)
    columns = {f.attname: getattr(first, f.attname) for f in WebhookDelivery._meta.concrete_fields}
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(**{**columns, "id": f"whd_many{i:04d}", "event_id": f"evt_many{i}"})
        for i in range(300)
    )
    WebhookDelivery.objects.update(status="failed", next_attempt_at=None, queued_until=None)
    selection = {"select_across": "1", "index": "0", "_selected_action": [first.pk]}
    with django_assert_max_num_queries(30):
        response = admin_client.post(
            "/admin/webhooks/webhookdelivery/", {"action": "redeliver", **selection}, follow=False
        )
    assert response.status_code == 302
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == ["301 redelivery(ies) queued."]
    assert LogEntry.objects.filter(object_id__startswith="whd_").count() == 301


def _logged(model) -> list[tuple[str, str, int, str]]:
    """The admin's history of `model`'s rows: (object, who, flag, what)."""
    entries = LogEntry.objects.filter(content_type__model=model._meta.model_name)
    return sorted(
        (e.object_id, e.user.username, e.action_flag, e.get_change_message()) for e in entries
    )


@pytest.mark.parametrize(("action", "said"), [("enable", "enabled"), ("disable", "disabled")])
def test_switching_an_endpoint_in_the_admin_logs_and_notices_the_operator(
    admin_client, endpoint, action, said
):
    if action == "enable":
        endpoint_update(endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False))
    admin_client.post(CHANGELIST, {"action": action, "_selected_action": [endpoint.pk]})
    # Was no entry, and a notice that named no one ("Disabled by Steve's staff.").
    assert _logged(WebhookEndpoint) == [(endpoint.pk, "admin", CHANGE, f"{said.capitalize()}.")]
    notice = endpoint.notices.order_by("-created_at", "-pk").first()
    assert notice.kind == said and notice.message.endswith(" by admin.")


def test_rotating_an_endpoints_secret_in_the_admin_logs_and_notices_the_operator(
    admin_client, endpoint
):
    admin_client.post(CHANGELIST, {"action": "rotate_secret", "_selected_action": [endpoint.pk]})
    assert _logged(WebhookEndpoint) == [(endpoint.pk, "admin", CHANGE, "Rotated the secret.")]
    assert endpoint.notices.get().message == "The secret was rotated by admin."


def test_rotating_a_session_secret_in_the_admin_logs_the_operator(admin_client, company):
    owner, _, _ = session_secret_rotate(
        company_id=company.pk, environment="sandbox", grace=timedelta(0)
    )
    admin_client.post(
        "/admin/webhooks/sessionwebhooksecret/",
        {"action": "rotate_secret", "_selected_action": [owner.pk]},
    )
    assert _logged(SessionWebhookSecret) == [
        (str(owner.pk), "admin", CHANGE, "Rotated the secret.")
    ]


def test_redelivering_failed_since_in_the_admin_logs_the_operator(admin_client, company, endpoint):
    (delivery,) = emit(company)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed")
    since = timezone.now() - timedelta(hours=1)
    admin_client.post(
        CHANGELIST,
        {
            "action": "redeliver_failed_since",
            "_selected_action": [endpoint.pk],
            "apply": "1",
            "since_0": since.strftime("%Y-%m-%d"),
            "since_1": since.strftime("%H:%M:%S"),
        },
    )
    assert _logged(WebhookEndpoint) == [
        (endpoint.pk, "admin", CHANGE, "Queued again 1 failed delivery(ies).")
    ]


def test_redelivering_in_the_admin_logs_each_delivery_queued_not_those_refused(
    admin_client, company, endpoint
):
    queued, delivered = emit(company)[0], emit(company)[0]
    WebhookDelivery.objects.filter(pk=queued.pk).update(status="failed")
    WebhookDelivery.objects.filter(pk=delivered.pk).update(status="delivered", purpose="sync")
    picked = {"action": "redeliver", "_selected_action": [queued.pk, delivered.pk]}
    admin_client.post("/admin/webhooks/webhookdelivery/", picked)
    assert _logged(WebhookDelivery) == [(queued.pk, "admin", CHANGE, "Queued for redelivery.")]


def test_a_suspended_session_target_is_listed_and_resumed_in_the_admin(
    admin_client, company, receiver
):
    (delivery,) = emit(company, session_url=receiver.url)
    session_target_suspend(target_id=delivery.session_target_id, reason="Down for days.")
    changelist = "/admin/webhooks/sessionwebhooktarget/"
    listed = admin_client.get(changelist, {"suspended_at__isempty": "0"})
    assert "Down for days." in listed.content.decode()
    picked = {"action": "resume", "_selected_action": [delivery.session_target_id]}
    response = admin_client.post(changelist, picked, follow=True)
    assert "Resumed 1 suspended target(s)." in [str(m) for m in get_messages(response.wsgi_request)]
    target = SessionWebhookTarget.objects.get(pk=delivery.session_target_id)
    assert target.suspended_at is None
    assert target.notices.get(kind="resumed").message == "Deliveries resumed by admin."
    page = admin_client.get(f"{changelist}{target.pk}/change/")
    assert page.status_code == 200 and "Down for days." in page.content.decode()


def test_the_lists_of_endpoints_and_session_targets_show_a_receivers_retry_after_hold(
    admin_client, company, endpoint, receiver
):
    receiver.script = [429, 429]
    receiver.extra_headers = {"Retry-After": "600"}
    for delivery in emit(company, session_url=receiver.url):  # to the endpoint and the URL
        deliver(delivery.pk)
    endpoint.refresh_from_db()
    target = SessionWebhookTarget.objects.get(company=company)
    for changelist, owner in (
        (CHANGELIST, endpoint),
        ("/admin/webhooks/sessionwebhooktarget/", target),
    ):
        page = admin_client.get(changelist).content.decode()
        assert "Held until" in page
        assert owner.held_until.strftime("%Y-%m-%d %H:%M:%S UTC") in page


@pytest.mark.parametrize(
    "table",
    ["webhooks_webhookdelivery", "submissions_submissionfile", "fraud_fraudmatch"],
)
def test_a_list_of_a_table_that_grows_with_traffic_reads_it_once_for_its_count(admin_client, table):
    # More rows than a page holds: a single page is read whole, without a LIMIT.
    submissions = many_submissions(150, companies=2)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            company=s.company,
            url="https://hooks.example.com/steve",
            event_id=f"evt_{s.pk}",
            event_type="submission.approved",
            payload={"submissionId": s.pk},
        )
        for s in submissions
    )
    # Every page counted the whole table twice (the page's count, then the unfiltered
    # total beside a search), and the delivery list read every delivery's event type
    # for its filter: three scans of the largest tables on each page load.
    with CaptureQueriesContext(connection) as done:
        page = admin_client.get(reverse(f"admin:{table}_changelist"))
    assert page.status_code == 200
    scans = [q["sql"] for q in done if f'FROM "{table}"' in q["sql"] and "LIMIT" not in q["sql"]]
    assert len(scans) == 1, scans


def test_the_delivery_list_filters_by_each_event_type_of_the_catalogue(
    admin_client, company, endpoint
):
    (delivery,) = emit(company)
    other = "webhook.test" if delivery.event_type != "webhook.test" else "submission.sync"
    listed = reverse("admin:webhooks_webhookdelivery_changelist")
    page = admin_client.get(listed, {"event_type": delivery.event_type}).content.decode()
    assert delivery.pk in page and f"?event_type={other}" in page
    assert delivery.pk not in admin_client.get(listed, {"event_type": other}).content.decode()


def test_a_companys_signing_secrets_cannot_be_deleted_in_the_admin(admin_client, company):
    # Deleting one made the next webhook or sync mint a new secret that nobody was shown,
    # with no grace for the old: every receiver's signature check failed from then on.
    session = session_secret_rotate(
        company_id=company.pk, environment="production", grace=timedelta(0)
    )[0]
    sync = sync_secret_get_or_create(company_id=company.pk)
    for owner in (session, sync):
        page = f"/admin/webhooks/{owner._meta.model_name}/{owner.pk}/delete/"
        assert admin_client.post(page, {"post": "yes"}).status_code == 403
        bulk = {"action": "delete_selected", "_selected_action": [owner.pk], "post": "yes"}
        admin_client.post(f"/admin/webhooks/{owner._meta.model_name}/", bulk)
        kept = type(owner).objects.get(pk=owner.pk)
        assert kept.secret == owner.secret


def _rows_and_rest(admin_client, page: str, prefix: str) -> tuple[int, list[str]]:
    """How many rows of the inline `prefix` a change page draws, and its link to the rest."""
    shown = admin_client.get(page).content.decode()
    rest = re.findall(r'are below: <a href="([^"]+)">', shown)
    return len(re.findall(rf'<tr [^>]*id="{prefix}-\d+"', shown)), rest


def test_a_page_shows_the_newest_attempts_and_notices_and_links_to_the_rest(
    admin_client, company, endpoint, receiver
):
    (delivery,) = emit(company)
    to_session = next(d for d in emit(company, session_url=receiver.url) if d.session_target_id)
    session_target_suspend(target_id=to_session.session_target_id, reason="Down for days.")
    target = SessionWebhookTarget.objects.get(pk=to_session.session_target_id)
    WebhookAttempt.objects.bulk_create(
        WebhookAttempt(delivery=delivery, number=n, response_body="busy " * 400) for n in range(300)
    )
    WebhookEndpointNotice.objects.bulk_create(
        WebhookEndpointNotice(endpoint=endpoint, kind="disabled", message=f"notice {n}")
        for n in range(300)
    )
    SessionWebhookTargetNotice.objects.bulk_create(
        SessionWebhookTargetNotice(target=target, kind="suspended", message=f"notice {n}")
        for n in range(300)
    )
    # Every row was drawn on its owner's page: a delivery retried thousands of times
    # made a page of megabytes that took seconds, and the newest rows were lost in it.
    for page, prefix, rows in (
        (f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/", "log", delivery.log),
        (f"{CHANGELIST}{endpoint.pk}/change/", "notices", endpoint.notices),
        (f"/admin/webhooks/sessionwebhooktarget/{target.pk}/change/", "notices", target.notices),
    ):
        drawn, links = _rows_and_rest(admin_client, page, prefix)
        assert drawn == 20, (page, drawn)
        (rest,) = links
        listed = admin_client.get(rest)
        assert listed.status_code == 200, rest
        assert listed.context["cl"].result_count == rows.count(), rest


def test_the_list_of_sync_targets_shows_a_targets_retry_after_hold_and_its_pending_posts(
    admin_client, receiver
):
    """A sync target's Retry-After holds every approval's post: the operator sees till
    when, and reaches the posts whose "Redeliver now" ends it."""
    from tests.submissions.test_sync import approved_with_target

    receiver.script = [503]
    receiver.extra_headers = {"Retry-After": "600"}
    submission, delivery = approved_with_target(receiver.url)
    deliver(delivery.pk)
    target = SyncTarget.objects.get(company=submission.company, url=receiver.url)
    page = admin_client.get("/admin/webhooks/synctarget/").content.decode()
    assert "Held until" in page
    assert target.held_until.strftime("%Y-%m-%d %H:%M:%S UTC") in page
    (link,) = re.findall(r'href="([^"]*webhookdelivery/\?[^"]*)">pending posts', page)
    posts = admin_client.get(link.replace("&amp;", "&")).content.decode()
    assert delivery.pk in posts
    assert admin_client.get(f"/admin/webhooks/synctarget/{target.pk}/change/").status_code == 200


def _add_form(company, url: str, **overrides: object) -> dict:
    return {
        "company": company.pk,
        "url": url,
        "description": "",
        "environment": "production",
        "notices-TOTAL_FORMS": "0",
        "notices-INITIAL_FORMS": "0",
        **overrides,
    }


def test_an_endpoint_added_in_the_admin_lists_its_events_as_the_apis_do(
    admin_client, company, receiver
):
    # Saved directly, the admin stored the ticked types as posted (a repeat included):
    # the API's create stores each once, in the catalogue's order, which its reads show.
    posted = ["submission.approved", "session.completed", "submission.approved"]
    response = admin_client.post(
        f"{CHANGELIST}add/", _add_form(company, receiver.url, events=posted)
    )
    assert response.status_code == 200  # the page showing the secret
    made, _ = endpoint_create(company=company, url=f"{receiver.url}/api", events=posted)
    added = WebhookEndpoint.objects.exclude(pk=made.pk).get()
    assert added.events == made.events == ["session.completed", "submission.approved"]


def _typed(page: str, name: str) -> list[str]:
    """The values the page's inputs named `name` hold (the ticked ones, for boxes)."""
    inputs = re.findall(rf"<input[^>]*name=\"{name}\"[^>]*>", page)
    shown = [tag for tag in inputs if 'type="checkbox"' not in tag or "checked" in tag]
    return [re.search(r'value="([^"]*)"', tag).group(1) for tag in shown]


def _refused_page(response) -> str:
    """A refused save's answer: the form again, its error said as a validation one's."""
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not [str(m) for m in get_messages(response.wsgi_request)]  # said once, on the form
    return response.content.decode()


def test_an_endpoint_the_service_refuses_at_the_add_is_the_form_again_as_typed(
    admin_client, company, receiver, monkeypatch
):
    # The form resolved the host; by the save it no longer resolves (the service checks
    # the target again, as the API's create does). The refusal was a message over an
    # empty add form: the URL, events and description typed were lost.
    monkeypatch.setattr("webhooks.services.target_error", lambda url: "The host does not resolve.")
    typed = _add_form(
        company, f"{receiver.url}/erp", description="ERP", events=["session.completed"]
    )
    page = _refused_page(admin_client.post(f"{CHANGELIST}add/", typed))
    assert "The host does not resolve." in page
    assert _typed(page, "url") == [f"{receiver.url}/erp"]
    assert _typed(page, "description") == ["ERP"]
    assert _typed(page, "events") == ["session.completed"]
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_change_the_service_refuses_is_the_form_again_as_typed(
    admin_client, endpoint, receiver, monkeypatch
):
    # It was a message over the change form as stored: the edits were lost.
    before = (endpoint.url, endpoint.description, endpoint.events)
    monkeypatch.setattr("webhooks.services.target_error", lambda url: "The host does not resolve.")
    typed = {
        "url": f"{receiver.url}/moved",
        "description": "Moved",
        "events": ["submission.approved"],
        "notices-TOTAL_FORMS": "0",
        "notices-INITIAL_FORMS": "0",
    }
    page = _refused_page(admin_client.post(f"{CHANGELIST}{endpoint.pk}/change/", typed))
    assert "The host does not resolve." in page
    assert _typed(page, "url") == [f"{receiver.url}/moved"]
    assert _typed(page, "description") == ["Moved"]
    assert _typed(page, "events") == ["submission.approved"]
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.events) == before


def test_a_save_refused_after_it_wrote_keeps_nothing_of_it(
    admin_client, company, receiver, monkeypatch
):
    # A service may write before it refuses (or the admin save call two): the refusal
    # rolls back all of the save, as the form's page is drawn again.
    def refused_once_written(admin_, request, obj, form, change):
        endpoint_create(company=company, url=f"{receiver.url}/written")
        raise ServiceError("REFUSED", "Refused after writing.")

    monkeypatch.setattr(WebhookEndpointAdmin, "save_model", refused_once_written)
    page = _refused_page(admin_client.post(f"{CHANGELIST}add/", _add_form(company, receiver.url)))
    assert "Refused after writing." in page
    assert _typed(page, "url") == [receiver.url]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("model_admin", "page", "extra"),
    [
        (
            webhooks_admin.SessionWebhookSecretAdmin,
            "sessionwebhooksecret",
            {"environment": "production"},
        ),
        (webhooks_admin.SyncSigningSecretAdmin, "syncsigningsecret", {}),
    ],
)
def test_adding_a_secret_a_delivery_made_meanwhile_rotates_it_not_a_500(
    admin_client, company, monkeypatch, model_admin, page, extra
):
    posted = model_admin.save_form

    def made_by_a_delivery_meanwhile(admin_, request, form, change):
        # Steve makes one lazily at a delivery's signing (never shown to anyone); the
        # form had checked there was none. Saved directly, the add failed on the unique
        # constraint; through the API's service it is rotated into one the admin shows.
        if model_admin is webhooks_admin.SyncSigningSecretAdmin:
            sync_secret_get_or_create(company_id=company.pk)
        else:
            session_secret_get_or_create(company_id=company.pk, **extra)
        return posted(admin_, request, form, change)

    monkeypatch.setattr(model_admin, "save_form", made_by_a_delivery_meanwhile)
    response = admin_client.post(f"/admin/webhooks/{page}/add/", {"company": company.pk, **extra})
    assert response.status_code == 200
    model = SyncSigningSecret if page == "syncsigningsecret" else SessionWebhookSecret
    owner = model.objects.get(company=company)
    assert_only_in_the_body(response, owner.secret)


def _waits_on_a_lock(pid: int) -> bool:
    with connections["default"].cursor() as cursor:  # this thread's own connection
        cursor.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'", [pid]
        )
        return cursor.fetchone() is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("page", "extra"),
    [("sessionwebhooksecret", {"environment": "production"}), ("syncsigningsecret", {})],
)
def test_adding_a_secret_while_a_delivery_makes_one_rotates_it_not_a_500(
    admin_client, company, page, extra
):
    # A delivery makes the secret lazily, in its own transaction: uncommitted, neither the
    # form nor the service's read sees it, and the service's insert waits on it, then
    # failed on the unique constraint once it committed (a 500). It now rotates that one.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        admin_pid = cursor.fetchone()[0]
    made, delivered = threading.Event(), []

    def delivery() -> None:
        try:
            with transaction.atomic():
                if page == "syncsigningsecret":
                    owner = sync_secret_get_or_create(company_id=company.pk)
                else:
                    owner = session_secret_get_or_create(company_id=company.pk, **extra)
                made.set()
                deadline = time.monotonic() + 10
                while not _waits_on_a_lock(admin_pid) and time.monotonic() < deadline:
                    time.sleep(0.02)  # commits once the admin's insert waits on its row
            delivered.append(owner.secret)
        finally:
            connections.close_all()

    thread = threading.Thread(target=delivery)
    thread.start()
    assert made.wait(10)
    response = admin_client.post(f"/admin/webhooks/{page}/add/", {"company": company.pk, **extra})
    thread.join(10)
    assert response.status_code == 200
    model = SyncSigningSecret if page == "syncsigningsecret" else SessionWebhookSecret
    owner = model.objects.get(company=company)
    assert_only_in_the_body(response, owner.secret)
    assert owner.previous_secret == delivered[0]  # signs on for its grace period


def test_an_endpoint_that_only_has_notices_is_deleted_with_them(admin_client, endpoint):
    endpoint_update(
        endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False), reason="Paused."
    )
    page = f"{CHANGELIST}{endpoint.pk}/delete/"
    asked = " ".join(admin_client.get(page).content.decode().split())
    # The notices are the endpoint's own log, deleted with it (as the API's DELETE does):
    # since they had a read-only list, they refused its deletion as rows to keep.
    assert "cannot be deleted" not in asked and "permission" not in asked
    assert "Are you sure" in asked and "Paused." in asked
    assert admin_client.post(page, {"post": "yes"}).status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookEndpointNotice.objects.exists()


def test_a_company_whose_endpoints_only_have_notices_is_deleted_with_them(admin_client, endpoint):
    company = endpoint.company
    endpoint_update(
        endpoint_id=endpoint.pk, changes=EndpointChanges(enabled=False), reason="Paused."
    )
    page = reverse("admin:steve_company_delete", args=[company.pk])
    asked = " ".join(admin_client.get(page).content.decode().split())
    # Was "This company has 1 webhook endpoint notice; it cannot be deleted.": notices
    # nobody may delete by hand, named in place of the endpoint they belong to.
    assert "cannot be deleted" not in asked and "permission" not in asked
    assert "Are you sure" in asked and endpoint.url in asked
    assert admin_client.post(page, {"post": "yes"}).status_code == 302
    assert not type(company).objects.filter(pk=company.pk).exists()
    assert not WebhookEndpointNotice.objects.exists()


def test_a_session_target_that_has_notices_is_deleted_with_them(admin_client, company):
    target = SessionWebhookTarget.objects.create(
        company=company, environment="production", origin="https://hooks.example"
    )
    SessionWebhookTargetNotice.objects.create(target=target, kind="suspended", message="Down.")
    page = reverse("admin:webhooks_sessionwebhooktarget_delete", args=[target.pk])
    asked = " ".join(admin_client.get(page).content.decode().split())
    # Django told the superuser their account lacked the permission to delete notices.
    assert "permission" not in asked and "Are you sure" in asked
    assert admin_client.post(page, {"post": "yes"}).status_code == 302
    assert not SessionWebhookTargetNotice.objects.exists()


def test_adding_an_endpoint_whose_url_the_environment_has_shows_the_refusal_as_typed(
    admin_client, endpoint
):
    page = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "company": endpoint.company.pk,
            "url": endpoint.url,
            "description": "second copy",
            "events": ["session.completed"],
            "environment": endpoint.environment,
            "notices-TOTAL_FORMS": "0",
            "notices-INITIAL_FORMS": "0",
        },
    )
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert form.errors["url"] == [
        f"This environment already has an endpoint with this URL ({endpoint.pk}): "
        "it would receive every event twice. Change that one instead."
    ]
    assert form["description"].value() == "second copy"
    assert WebhookEndpoint.objects.count() == 1


def test_adding_an_endpoint_whose_host_has_the_roots_trailing_dot_is_refused_as_taken(
    admin_client, company, monkeypatch
):
    # "hooks.example.com." is the DNS name "hooks.example.com": the same receiver.
    monkeypatch.setattr(webhooks_targets, "_resolve", lambda host, port: ["93.184.215.14"])
    taken = endpoint_create(company=company, url="https://hooks.example.com/x")[0]
    page = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "company": company.pk,
            "url": "https://hooks.example.com./x",
            "environment": taken.environment,
            "notices-TOTAL_FORMS": "0",
            "notices-INITIAL_FORMS": "0",
        },
    )
    assert page.status_code == 200
    assert f"already has an endpoint with this URL ({taken.pk})" in str(
        page.context["adminform"].form.errors["url"]
    )
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.parametrize("url", ["https://./x", "https://../x", "https://hooks.example.com../x"])
def test_a_host_of_dots_or_with_an_empty_label_is_the_forms_error_in_the_admin(
    admin_client, company, monkeypatch, url
):
    monkeypatch.setattr(webhooks_targets, "_resolve", lambda host, port: ["93.184.215.14"])
    page = admin_client.post(
        f"{CHANGELIST}add/",
        {
            "company": company.pk,
            "url": url,
            "environment": "production",
            "notices-TOTAL_FORMS": "0",
            "notices-INITIAL_FORMS": "0",
        },
    )
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["url"]
    assert not WebhookEndpoint.objects.exists()


def test_switching_an_endpoint_another_operator_deleted_meanwhile_says_nothing_was_done(
    admin_client, endpoint
):
    # The list was read, then the endpoint deleted by another operator: "Disable" said
    # "Disabled 0 endpoint(s)." as a success.
    picked = {"action": "disable", "_selected_action": [endpoint.pk]}
    endpoint.delete()
    response = admin_client.post(CHANGELIST, picked, follow=True)
    said = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert said == [
        (
            "warning",
            "None of the 1 selected webhook endpoints are on this list any more (another "
            "operator deleted or changed them meanwhile): nothing was done.",
        )
    ]


def test_resuming_a_target_another_operator_resumed_meanwhile_says_nothing_was_changed(
    admin_client, company, receiver
):
    # Two operators resume the same host: the second got "Resumed 0 suspended
    # target(s)." as its success, and read the host as resumed by them.
    (delivery,) = emit(company, session_url=receiver.url)
    session_target_suspend(target_id=delivery.session_target_id, reason="Down for days.")
    changelist = "/admin/webhooks/sessionwebhooktarget/"
    picked = {"action": "resume", "_selected_action": [delivery.session_target_id]}
    admin_client.post(changelist, picked, follow=True)
    again = admin_client.post(changelist, picked, follow=True)
    said = [(m.level_tag, str(m)) for m in get_messages(again.wsgi_request)]
    target = SessionWebhookTarget.objects.get(pk=delivery.session_target_id)
    assert said == [
        ("warning", f"Not suspended, left as they were: {target.origin}; nothing was changed.")
    ]
    assert target.notices.filter(kind="resumed").count() == 1


def test_searching_deliveries_by_a_client_submission_id_finds_its_sync_post_too(
    admin_client, company
):
    """Support's "did submission X reach you?" by the integrator's own id found the
    submission's webhook events, which carry it at the top of the payload, and not its
    sync post, which carries it inside the submission it posts."""
    from submissions.services import Actor, submission_approve
    from tests.factories import SubmissionFactory
    from tests.submissions.test_sync import sync_of, with_sync_target

    submission = with_sync_target(
        SubmissionFactory(company=company, client_submission_id="erp-order-4711"),
        "https://erp.example.com/steve",
    )
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    sync = sync_of(submission)
    event = WebhookDelivery.objects.create(
        company=company,
        url="https://hooks.example.com/steve",
        event_id=f"evt_{submission.pk}",
        event_type="submission.approved",
        payload={"submissionId": submission.pk, "clientSubmissionId": "erp-order-4711"},
    )
    listed = reverse("admin:webhooks_webhookdelivery_changelist")
    page = admin_client.get(listed, {"q": "erp-order-4711"}).content.decode()
    assert event.pk in page and sync.pk in page


def test_an_admin_rotation_replacing_a_secret_rotated_in_moments_before_warns_the_operator(
    admin_client, endpoint
):
    endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=timedelta(hours=24))
    response = admin_client.post(
        CHANGELIST, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}
    )
    said = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert [level for level, text in said if "This rotation replaced the secret" in text] == [
        "warning"
    ]
    assert "now signs only until" in endpoint.notices.order_by("-created_at", "-pk")[0].message


def test_deleting_a_suspended_session_target_says_to_resume_it_and_keeps_it_suspended(
    admin_client, company, receiver
):
    (delivery,) = emit(company, session_url=receiver.url)
    session_target_suspend(target_id=delivery.session_target_id, reason="Down for days.")
    page = reverse("admin:webhooks_sessionwebhooktarget_delete", args=[delivery.session_target_id])
    # Its deliveries only lost their target (set null), so the deletion went through: the
    # next event to the host made a new target, neither suspended nor held nor failing,
    # and was sent; a resume with no notice nor the operator's name in its log.
    said = " ".join(admin_client.post(page, {"post": "yes"}).content.decode().split())
    assert "This session webhook target has 1 webhook delivery; it cannot be deleted." in said
    target = SessionWebhookTarget.objects.get(pk=delivery.session_target_id)
    assert target.suspended_at is not None
    (later,) = emit(company, session_url=receiver.url)
    assert later.session_target_id == target.pk


def test_a_secret_cannot_be_read_back_by_filtering_a_list_on_it(admin_client, company, endpoint):
    # Django lets a list be filtered on any of the model's own fields from the query
    # string (?secret__startswith=whsec_A): whether a row was listed told a prefix right
    # from wrong, and a few hundred requests read back a secret never shown again, with
    # nothing in the log, where a rotation says who made it.
    endpoint_rotate_secret(endpoint_id=endpoint.pk, grace=timedelta(hours=1))
    endpoint.refresh_from_db()
    session, _, _ = session_secret_rotate(
        company_id=company.pk, environment="production", grace=timedelta(hours=1)
    )
    session_secret_rotate(company_id=company.pk, environment="production", grace=timedelta(hours=1))
    sync, _, _ = sync_secret_rotate(company_id=company.pk, grace=timedelta(hours=1))
    sync_secret_rotate(company_id=company.pk, grace=timedelta(hours=1))
    session.refresh_from_db()
    sync.refresh_from_db()
    for owner in (endpoint, session, sync):
        meta = owner._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        for field in ("secret", "previous_secret"):
            known = getattr(owner, field)
            assert known.startswith("whsec_")
            for lookup in (f"{field}__startswith", f"{field}__exact", field, f"{field}__gt"):
                right = admin_client.get(
                    changelist, {lookup: known[:12] if "start" in lookup else known}
                )
                assert right.status_code == 400, (changelist, lookup)


def many_endpoints_and_session_targets(company, count: int) -> None:
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(company=company, url=f"https://erp-{n}.example.com/hooks", secret="x")
        for n in range(count)
    )
    SessionWebhookTarget.objects.bulk_create(
        SessionWebhookTarget(company=company, origin=f"https://shop-{n}.example.com")
        for n in range(count)
    )


def test_the_delivery_lists_filters_read_a_bounded_number_of_endpoints_and_targets(
    admin_client, company, django_assert_max_num_queries
):
    # The endpoint and session target filters listed every one of them in the sidebar on
    # each page load: thousands of sessions' hosts read, named and sent every time.
    many_endpoints_and_session_targets(company, 500)
    listed = reverse("admin:webhooks_webhookdelivery_changelist")
    read = Counter()

    def count(sender: type, **kwargs: object) -> None:
        read[sender] += 1

    post_init.connect(count)
    try:
        with django_assert_max_num_queries(15):
            page = admin_client.get(listed)
    finally:
        post_init.disconnect(count)
    assert page.status_code == 200
    body = page.content.decode()
    limit = 100  # of the 500 of each
    assert read[WebhookEndpoint] <= limit + 1 and read[SessionWebhookTarget] <= limit + 1
    assert body.count(".example.com/hooks") <= limit + 1
    assert body.count("https://shop-") <= limit + 1
    assert "Too many to list: open its deliveries" in body  # what to do instead


def test_a_delivery_list_filtered_by_one_of_many_endpoints_names_it_and_lists_its_own(
    admin_client, company
):
    many_endpoints_and_session_targets(company, 500)
    endpoint = WebhookEndpoint.objects.order_by("-url").first()
    target = SessionWebhookTarget.objects.order_by("-origin").first()
    mine = WebhookDelivery.objects.create(
        company=company,
        endpoint=endpoint,
        url=endpoint.url,
        event_id="evt_1",
        event_type="t",
        payload={},
    )
    other = WebhookDelivery.objects.create(
        company=company,
        session_target=target,
        url=target.origin,
        event_id="evt_2",
        event_type="t",
        payload={},
    )
    listed = reverse("admin:webhooks_webhookdelivery_changelist")
    # Reached from the endpoint's own page, as it is no longer listed in the sidebar.
    own = admin_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    assert f"{listed}?endpoint__id__exact={endpoint.pk}" in own.content.decode()
    own = reverse("admin:webhooks_sessionwebhooktarget_change", args=[target.pk])
    assert (
        f"{listed}?session_target__id__exact={target.pk}" in admin_client.get(own).content.decode()
    )

    page = admin_client.get(listed, {"endpoint__id__exact": endpoint.pk})
    assert page.status_code == 200
    assert [row.pk for row in page.context["cl"].result_list] == [mine.pk]
    chosen = [f for f in page.context["cl"].filter_specs if f.title == "endpoint"][0]
    assert chosen.lookup_choices == [(endpoint.pk, endpoint.url)]

    page = admin_client.get(listed, {"session_target__id__exact": target.pk})
    assert [row.pk for row in page.context["cl"].result_list] == [other.pk]

    # A few are listed, as before: nothing to search for.
    WebhookEndpoint.objects.exclude(pk=endpoint.pk).delete()
    page = admin_client.get(listed)
    chosen = [f for f in page.context["cl"].filter_specs if f.title == "endpoint"][0]
    assert chosen.lookup_choices == [(endpoint.pk, endpoint.url)]
