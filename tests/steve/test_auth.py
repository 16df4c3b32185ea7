"""API key authentication, scoping and the problem+json error shape."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from steve.models import ApiKey
from steve.services import api_key_digest, api_key_revoke
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "header",
    [
        ("HTTP_AUTHORIZATION", "Bearer {key}"),
        ("HTTP_AUTHORIZATION", "api-key {key}"),
        ("HTTP_X_API_KEY", "{key}"),
    ],
)
def test_each_header_form_authenticates(api_key, workflows, header):
    client = APIClient()
    client.credentials(**{header[0]: header[1].format(key=api_key.secret)})
    response = client.get("/api/v1/workflows")
    assert response.status_code == 200
    assert [w["slug"] for w in response.json()["data"]] == ["invoice", "receipt-ocr"]


def test_missing_key_is_401_problem(anon_api):
    response = anon_api.get("/api/v1/workflows")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/unauthorized")
    assert body["code"] == "UNAUTHORIZED"
    assert body["status"] == 401
    assert body["instance"] == "/api/v1/workflows"
    assert body["requestId"] == response["Request-Id"]


@pytest.mark.parametrize("value", ["Bearer aok_" + "0" * 64, "Bearer nonsense", "Basic abc"])
def test_unknown_or_malformed_key_is_401(anon_api, company, value):
    anon_api.credentials(HTTP_AUTHORIZATION=value)
    response = anon_api.get("/api/v1/workflows")
    assert response.status_code == 401
    assert response.json()["code"] in {"INVALID_API_KEY", "UNAUTHORIZED"}


def test_revoked_key_is_403_at_once(api, api_key):
    assert api.get("/api/v1/workflows").status_code == 200
    api_key_revoke(api_key=api_key.api_key)
    response = api.get("/api/v1/workflows")
    assert response.status_code == 403
    assert response.json()["code"] == "API_KEY_REVOKED"


def test_key_is_stored_only_as_a_digest_with_a_visible_prefix(api_key):
    stored = ApiKey.objects.get(pk=api_key.api_key.pk)
    assert api_key.secret.startswith("aok_") and len(api_key.secret) == 68
    assert api_key.secret[4:] == api_key.secret[4:].lower()
    assert stored.digest == api_key_digest(api_key.secret)
    assert stored.prefix == api_key.secret[:12]
    assert api_key.secret not in str(ApiKey.objects.filter(pk=stored.pk).values().first())


def test_submission_of_another_company_is_404_like_a_missing_one(api, workflows):
    other = factories.SubmissionFactory()
    missing = api.get("/api/v1/submissions/sub_doesnotexist")
    foreign = api.get(f"/api/v1/submissions/{other.pk}")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"] == "SUBMISSION_NOT_FOUND"


def test_unknown_api_path_and_wrong_method_are_problems(api):
    not_found = api.get("/api/v1/nothing-here")
    assert not_found.status_code == 404
    assert not_found["Content-Type"] == "application/problem+json"
    assert not_found.json()["code"] == "NOT_FOUND"
    wrong_method = api.delete("/api/v1/workflows")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_request_id_is_echoed_or_generated(api):
    echoed = api.get("/api/v1/workflows", HTTP_X_REQUEST_ID="trace-123")
    assert echoed["Request-Id"] == "trace-123"
    generated = api.get("/api/v1/workflows")
    assert generated["Request-Id"].startswith("req_")


def test_malformed_json_is_a_400_problem(api, workflows):
    response = api.generic(
        "POST",
        "/api/v1/workflows/receipt-ocr/sessions",
        "{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_JSON"


def test_create_api_key_command_creates_the_company_and_prints_the_key_once(capsys):
    call_command("create_api_key", "--company", "acme", "--name", "ci")
    secret = capsys.readouterr().out.strip()
    key = ApiKey.objects.get(digest=api_key_digest(secret))
    assert key.company.slug == "acme" and key.name == "ci"


def test_workflow_version_contract_has_upload_rules_and_schema(api, workflows):
    body = api.get("/api/v1/workflows/receipt-ocr/versions/1").json()
    assert body["upload"]["acceptedFormats"] == ["jpeg", "png", "webp", "pdf"]
    assert body["outputJsonSchema"]["properties"]["totalAmount"]
    assert api.get("/api/v1/workflows/receipt-ocr/versions/7").status_code == 404
    assert api.get("/api/v1/workflows/nope").json()["code"] == "WORKFLOW_NOT_FOUND"
