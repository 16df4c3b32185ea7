"""A query parameter the webhook API does not take is refused, never ignored
(docs/api.md "Query parameters"): `?since=` on the deliveries listed them all."""

import pytest

from tests.webhooks.helpers import emit
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

LOCAL_URL = "http://127.0.0.1:9/hook"  # tests allow private targets


@pytest.fixture
def endpoint(company) -> WebhookEndpoint:
    return endpoint_create(company=company, url=LOCAL_URL)[0]


def unknown(response) -> list:
    assert response.status_code == 400, response.content
    body = response.json()
    return [body["code"]] + [(e["field"], e["message"]) for e in body["errors"]]


def test_a_guessed_filter_on_the_deliveries_is_a_400_naming_what_they_take(api, company, endpoint):
    emit(company)
    deliveries = f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries"
    assert unknown(api.get(f"{deliveries}?since=2026-01-01&status=failed")) == [
        "INVALID_PARAMETER",
        ("since", "Not a query parameter of this operation; it takes status, cursor, limit."),
    ]
    assert len(api.get(f"{deliveries}?status=pending&limit=5").json()["data"]) == 1


def test_the_deliveries_name_an_unknown_parameter_beside_a_bad_status(api, endpoint):
    deliveries = f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries"
    body = api.get(f"{deliveries}?event=x&status=lost").json()
    assert body["code"] == "INVALID_FILTER"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("event", "unknown_field"),
        ("status", "invalid_choice"),
    ]


def test_the_endpoint_list_takes_only_its_page_parameters(api, endpoint):
    assert unknown(api.get("/api/v1/webhook-endpoints?enabled=true")) == [
        "INVALID_PARAMETER",
        ("enabled", "Not a query parameter of this operation; it takes cursor, limit."),
    ]
    assert api.get("/api/v1/webhook-endpoints?limit=1").json()["data"][0]["id"] == endpoint.pk


def test_a_write_given_a_query_parameter_is_refused_and_changes_nothing(api, endpoint):
    # A PATCH's members belong in its body: `?enabled=false` did not disable anything,
    # and the caller was told 200.
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}"
    response = api.patch(f"{url}?enabled=false", {"description": "x"}, format="json")
    assert unknown(response) == [
        "INVALID_PARAMETER",
        ("enabled", "Not a query parameter of this operation; it takes no query parameters."),
    ]
    created = api.post("/api/v1/webhook-endpoints?url=x", {"url": LOCAL_URL}, format="json")
    assert unknown(created)[1][0] == "url"
    assert unknown(api.delete(f"{url}?force=1"))[1][0] == "force"
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.description) == (True, "")
    assert WebhookEndpoint.objects.count() == 1
