"""A write call's body sent chunked (no Content-Length) is refused, 411, by every write.

The WSGI server hands Django such a body as empty: the call was answered as if the caller
had sent nothing ("reason is required"), or, for a call whose every member is optional
(approve, cancel, a secret rotation), carried out without what the caller sent.
"""

import base64
import json
import re

import pytest

from jobs.models import WorkflowSession
from tests import factories
from tests.jobs.fixtures_docs import invoice_pdf
from tests.openapi import published_schema
from tests.steve import test_environments as environments
from webhooks.models import SessionWebhookSecret, SyncSigningSecret

pytestmark = pytest.mark.django_db

# One of every object a write reaches, made through the API (the sandbox tests' fixtures).
production_objects = environments.production_objects
receiver_url = environments.receiver_url
WRITES = environments.WRITES

WRITE_METHODS = {"post", "put", "patch", "delete"}
# The writes the sandbox test leaves out (they make objects rather than reach one).
CREATES = [
    (
        "post",
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "order-2"},
    ),
    ("post", "/api/v1/extraction-jobs", {"templateName": "invoice", "file": "{pdf}"}),
    ("post", "/api/v1/webhook-endpoints", {"url": "https://93.184.215.14/hook"}),
    ("post", "/api/v1/submissions/{submission}/corrections", {"fields": {"merchantName": "X"}}),
    ("post", "/api/v1/webhook-endpoints/session-secret/rotate", {"gracePeriodHours": 0}),
    ("post", "/api/v1/webhook-endpoints/sync-secret/rotate", {"gracePeriodHours": 0}),
]
ALL_WRITES = WRITES + CREATES


def shape(path: str) -> str:
    """A path with its parameters blanked: /api/v1/submissions/{}/approve."""
    return re.sub(r"\{[^}]*\}", "{}", path.replace("receipt-ocr", "{slug}"))


def test_the_list_below_is_every_write_operation_of_the_schema():
    documented = {
        (method, shape(path))
        for path, operations in published_schema()["paths"].items()
        for method in operations
        if method in WRITE_METHODS
    }
    assert {(method, shape(path)) for method, path, _ in ALL_WRITES} == documented


def everything() -> list:
    return [
        *environments.snapshot(),
        list(WorkflowSession.objects.order_by("pk").values_list("pk")),
        list(SessionWebhookSecret.objects.values_list("pk", "secret")),
        list(SyncSigningSecret.objects.values_list("pk", "secret")),
    ]


@pytest.mark.parametrize(("method", "path", "body"), ALL_WRITES)
def test_a_chunked_write_body_is_411_length_required_and_changes_nothing(
    api, production_objects, method, path, body
):
    objects = {**production_objects, "pdf": base64.b64encode(invoice_pdf()).decode()}
    payload = {k: v.format(**objects) if isinstance(v, str) else v for k, v in (body or {}).items()}
    before = everything()
    response = api.generic(
        method.upper(),
        path.format(**objects),
        json.dumps(payload).encode(),
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411, response.content
    problem = response.json()
    assert problem["code"] == "LENGTH_REQUIRED"
    assert problem["type"] == "https://steve.dev/problems/length-required"
    assert everything() == before


def test_a_write_body_with_its_content_length_is_not_refused(api, production_objects):
    url = f"/api/v1/submissions/{production_objects['submission']}/reject"
    response = api.post(url, {"reason": "Illegible."}, format="json")
    assert response.status_code == 200, response.content


def test_every_write_operation_documents_411_length_required():
    missing = [
        (method, path)
        for path, operations in published_schema()["paths"].items()
        for method, operation in operations.items()
        if method in WRITE_METHODS
        and "LENGTH_REQUIRED"
        not in operation["responses"]
        .get("411", {})
        .get("content", {})
        .get("application/problem+json", {})
        .get("examples", {})
    ]
    assert missing == []


def chunked_cancel(client, submission: str):
    return client.generic(
        "POST",
        f"/api/v1/submissions/{submission}/cancel",
        b"{}",
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )


def test_a_chunked_write_without_a_key_is_still_401(anon_api, production_objects):
    response = chunked_cancel(anon_api, production_objects["submission"])
    assert response.status_code == 401 and response.json()["code"] == "UNAUTHORIZED"


def test_a_chunked_write_past_its_bucket_is_still_429(api, company, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "write": 1}
    submission = factories.SubmissionFactory(company=company).pk
    assert chunked_cancel(api, submission).status_code == 411
    response = chunked_cancel(api, submission)
    assert response.status_code == 429 and response.json()["code"] == "RATE_LIMIT_EXCEEDED"
