"""A refused request names every invalid member once, in the order the request sent
them (docs/api.md "Validation errors"), and keeps the top-level code it always had."""

import pytest

from jobs.models import WorkflowSession
from tests.factories import SubmissionFactory
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

SESSIONS = "/api/v1/workflows/receipt-ocr/sessions"
LOCAL_URL = "http://127.0.0.1:9/hook"  # tests allow private targets


def refused(response) -> tuple[int, str, list[tuple[str, str]]]:
    body = response.json()
    return response.status_code, body["code"], [(e["field"], e["code"]) for e in body["errors"]]


@pytest.fixture
def submission(company):
    return SubmissionFactory(company=company)


@pytest.fixture
def endpoint(company) -> WebhookEndpoint:
    return endpoint_create(company=company, url=LOCAL_URL)[0]


def test_session_create_names_a_bad_file_count_and_a_bad_content_type_together(api, workflows):
    body = {"fileCount": 99, "contentTypes": ["image/jpeg", "text/x"], "clientSubmissionId": "c"}
    assert refused(api.post(SESSIONS, body, format="json")) == (
        422,
        "VALIDATION_ERROR",
        [("fileCount", "range"), ("contentTypes[1]", "format")],
    )
    assert not WorkflowSession.objects.exists()


def test_session_create_names_a_misspelt_member_beside_the_other_invalid_ones(api, workflows):
    body = {"fileCount": 99, "webhookURL": "https://example.com/h", "clientSubmissionId": "c"}
    body["contentTypes"] = ["text/x"]
    assert refused(api.post(SESSIONS, body, format="json"))[2] == [
        ("fileCount", "range"),
        ("webhookURL", "unknown_field"),
        ("contentTypes[0]", "format"),
    ]
    valid = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c"}
    assert refused(api.post(SESSIONS, {**valid, "webhookURL": "x"}, format="json"))[2] == [
        ("webhookURL", "unknown_field")
    ]
    assert not WorkflowSession.objects.exists()


def test_session_create_checks_the_workflow_rules_of_members_beside_a_wrongly_typed_one(
    api, workflows
):
    body = {
        "metadata": [1],
        "contentTypes": ["image/jpeg", "text/x"],
        "fileCount": "two",
        "clientSubmissionId": "c",
    }
    assert refused(api.post(SESSIONS, body, format="json"))[2] == [
        ("metadata", "invalid_type"),
        ("contentTypes[1]", "format"),
        ("fileCount", "invalid"),
    ]
