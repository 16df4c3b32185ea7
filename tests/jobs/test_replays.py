"""Replays check what they replay: a clientSubmissionId replay asking for another
workflow or other files is a 409 naming the difference, and an Idempotency-Key replay
never shows a secret again."""

import pytest

from jobs.models import WorkflowSession
from tests.jobs.test_sessions_api import create

pytestmark = pytest.mark.django_db


def test_replay_with_the_same_request_returns_the_pending_session(api, workflows):
    _, first, _ = create(api)
    status, again, _ = create(api)
    assert status == 201 and again["sessionId"] == first["sessionId"]


def test_replay_on_another_workflow_is_a_409_naming_it(api, workflows):
    create(api)
    response = api.post(
        "/api/v1/workflows/invoice/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "order-1"},
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "CLIENT_SUBMISSION_ID_CONFLICT"
    assert [e["field"] for e in body["errors"]] == ["workflow"]
    assert "receipt-ocr" in body["errors"][0]["message"]


def test_replay_with_another_file_count_is_a_409_naming_it(api, workflows):
    create(api)
    status, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/png"])
    assert status == 409
    assert body["code"] == "CLIENT_SUBMISSION_ID_CONFLICT"
    assert [e["field"] for e in body["errors"]] == ["fileCount", "contentTypes"]


def test_replay_with_other_content_types_is_a_409_naming_them(api, workflows):
    create(api)
    status, body, _ = create(api, contentTypes=["image/png"])
    assert status == 409
    assert [e["field"] for e in body["errors"]] == ["contentTypes"]


def test_idempotent_replay_of_an_endpoint_create_never_shows_the_secret(api, company, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOKS_ALLOW_HTTP = True
    request = {"url": "http://127.0.0.1:9/hook"}
    first = api.post(
        "/api/v1/webhook-endpoints", request, format="json", HTTP_IDEMPOTENCY_KEY="ep-1"
    )
    assert first.status_code == 201
    assert first.json()["secret"].startswith("whsec_")
    again = api.post(
        "/api/v1/webhook-endpoints", request, format="json", HTTP_IDEMPOTENCY_KEY="ep-1"
    )
    assert again["X-Idempotent-Replay"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["secret"] is None
    assert again.json()["secretRedacted"] is True
    assert "whsec_" not in again.content.decode()


HOOK = "https://93.184.215.14/hook"


@pytest.mark.parametrize(
    "first, replay, differing",
    [
        ({"webhookUrl": HOOK}, {"webhookUrl": HOOK + "-new"}, ["webhookUrl"]),
        ({}, {"webhookUrl": HOOK}, ["webhookUrl"]),
        ({"metadata": {"orderId": "1"}}, {"metadata": {"orderId": "2"}}, ["metadata"]),
        # A number is not its boolean, though Python takes True == 1.
        ({"metadata": {"paid": 1}}, {"metadata": {"paid": True}}, ["metadata"]),
        ({"externalUser": {"id": "u1"}}, {"externalUser": {"id": "u2"}}, ["externalUser"]),
        (
            {"webhookUrl": HOOK, "metadata": {"a": "x"}},
            {"metadata": {"a": "y"}, "externalUser": {"id": "u1"}},
            ["metadata", "externalUser", "webhookUrl"],
        ),
    ],
)
def test_a_replay_with_another_webhook_metadata_or_user_is_a_409_naming_them(
    api, workflows, first, replay, differing
):
    """Such a replay was answered 201 with the first session, and the new values were
    dropped: an integrator that moved its webhook believed the new URL was in force."""
    status, made, _ = create(api, **first)
    assert status == 201
    status, body, _ = create(api, **replay)
    assert status == 409, body
    assert body["code"] == "CLIENT_SUBMISSION_ID_CONFLICT"
    assert [e["field"] for e in body["errors"]] == differing
    assert made["sessionId"] in body["detail"]
    session = WorkflowSession.objects.get(pk=made["sessionId"])
    assert session.webhook_url == first.get("webhookUrl", "")
    assert session.metadata == first.get("metadata", {})


@pytest.mark.parametrize(
    "first, replay",
    [
        ({}, {"metadata": None, "externalUser": None, "webhookUrl": None}),
        ({}, {"metadata": {}, "webhookUrl": ""}),
        ({"externalUser": {"id": "u1"}}, {"externalUser": {"id": "u1", "name": None}}),
        (
            {"metadata": {"a": {"b": 1, "c": "x"}, "n": 2.5}, "webhookUrl": HOOK},
            {"webhookUrl": HOOK, "metadata": {"n": 2.5, "a": {"c": "x", "b": 1}}},
        ),
        # Kept as PostgreSQL keeps it: 1e308 comes back as a 309-digit integer.
        ({"metadata": {"big": 1e308, "one": 1.0}}, {"metadata": {"big": 1e308, "one": 1.0}}),
    ],
)
def test_a_replay_of_the_same_request_however_written_returns_the_session(
    api, workflows, first, replay
):
    status, made, _ = create(api, **first)
    assert status == 201
    status, again, response = create(api, **replay)
    assert status == 201, again
    assert again["sessionId"] == made["sessionId"]
    assert response["X-Idempotent-Replay"] == "true"
