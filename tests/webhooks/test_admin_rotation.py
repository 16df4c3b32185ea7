"""The admin's Rotate secret: all the selected rows or none, and at most so many at once.

A rotation's new secret is shown only on the page answering the request: rotated one row
at a time, a request that died part way (the web server's timeout, an error on one row)
left the rows it had rotated with secrets nobody saw, and rotating them again pushed out
the old secret still in its grace, so their receivers broke at once."""

from collections.abc import Callable

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from steve.models import Company
from tests import factories
from tests.webhooks.conftest import Receiver
from webhooks import admin as webhooks_admin
from webhooks import services as webhooks_services
from webhooks.models import (
    CompanySecret,
    SessionWebhookSecret,
    SyncSigningSecret,
    WebhookEndpoint,
    WebhookEndpointNotice,
)
from webhooks.services import (
    endpoint_create,
    session_secret_get_or_create,
    sync_secret_get_or_create,
)

pytestmark = pytest.mark.django_db
ENDPOINTS = reverse("admin:webhooks_webhookendpoint_changelist")


class RowFailed(Exception):
    """The error one row's rotation meets (a dropped connection, a bug)."""


def failing_at_second_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second rotation of the request fails, after the first one has been made."""
    made = webhooks_services.new_secret
    calls: list[str] = []

    def new_secret() -> str:
        calls.append("made")
        if len(calls) == 2:
            raise RowFailed
        return made()

    monkeypatch.setattr(webhooks_services, "new_secret", new_secret)


def secrets_of(model: type[WebhookEndpoint | CompanySecret]) -> dict:
    return {
        row.pk: (row.secret, row.previous_secret, row.previous_secret_expires_at)
        for row in model.objects.all()
    }


def endpoints(company: Company, receiver: Receiver, count: int) -> list[WebhookEndpoint]:
    return [endpoint_create(company=company, url=f"{receiver.url}/{n}")[0] for n in range(count)]


def test_an_error_rotating_one_endpoint_leaves_every_selected_endpoints_secret_as_it_was(
    admin_client, company, receiver, monkeypatch
):
    picked = [endpoint.pk for endpoint in endpoints(company, receiver, 3)]
    before = secrets_of(WebhookEndpoint)
    failing_at_second_secret(monkeypatch)
    with pytest.raises(RowFailed):
        admin_client.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": picked})
    assert secrets_of(WebhookEndpoint) == before
    assert not WebhookEndpointNotice.objects.exists()  # no notice of a rotation undone


@pytest.mark.parametrize(
    ("model", "made"),
    [
        (
            SessionWebhookSecret,
            lambda company: session_secret_get_or_create(
                company_id=company.pk, environment="production"
            ),
        ),
        (SyncSigningSecret, lambda company: sync_secret_get_or_create(company_id=company.pk)),
    ],
)
def test_an_error_rotating_one_company_secret_leaves_every_selected_secret_as_it_was(
    admin_client, monkeypatch, model: type[CompanySecret], made: Callable
):
    picked = [made(factories.CompanyFactory()).pk for _ in range(3)]
    before = secrets_of(model)
    failing_at_second_secret(monkeypatch)
    changelist = reverse(f"admin:webhooks_{model._meta.model_name}_changelist")
    with pytest.raises(RowFailed):
        admin_client.post(changelist, {"action": "rotate_secret", "_selected_action": picked})
    assert secrets_of(model) == before


def test_every_selected_endpoint_is_rotated_and_each_new_secret_shown_on_the_page(
    admin_client, company, receiver
):
    picked = endpoints(company, receiver, 3)
    old = {endpoint.pk: endpoint.secret for endpoint in picked}
    response = admin_client.post(
        ENDPOINTS, {"action": "rotate_secret", "_selected_action": [e.pk for e in picked]}
    )
    page = response.content.decode()
    for endpoint in WebhookEndpoint.objects.all():
        assert endpoint.previous_secret == old[endpoint.pk] and endpoint.secret in page
    assert WebhookEndpointNotice.objects.filter(kind="secret_rotated").count() == 3


def test_a_rotation_of_more_endpoints_than_it_takes_is_refused_and_rotates_none(
    admin_client, company, receiver, monkeypatch
):
    monkeypatch.setattr(webhooks_admin, "ROTATE_AT_MOST", 2)
    picked = [endpoint.pk for endpoint in endpoints(company, receiver, 3)]
    before = secrets_of(WebhookEndpoint)
    response = admin_client.post(
        ENDPOINTS, {"action": "rotate_secret", "_selected_action": picked}, follow=True
    )
    said = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert said == [
        (
            "error",
            "More than 2 endpoints selected: no secret was rotated. Select fewer: each new "
            "secret is shown once, on the page this answers.",
        )
    ]
    assert secrets_of(WebhookEndpoint) == before


def test_a_rotation_of_more_company_secrets_than_it_takes_is_refused_and_rotates_none(
    admin_client, monkeypatch
):
    monkeypatch.setattr(webhooks_admin, "ROTATE_AT_MOST", 2)
    picked = [sync_secret_get_or_create(company_id=factories.CompanyFactory().pk).pk for _ in "abc"]
    before = secrets_of(SyncSigningSecret)
    response = admin_client.post(
        reverse("admin:webhooks_syncsigningsecret_changelist"),
        {"action": "rotate_secret", "_selected_action": picked},
        follow=True,
    )
    said = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert said == [
        (
            "error",
            "More than 2 secrets selected: no secret was rotated. Select fewer: each new "
            "secret is shown once, on the page this answers.",
        )
    ]
    assert secrets_of(SyncSigningSecret) == before
