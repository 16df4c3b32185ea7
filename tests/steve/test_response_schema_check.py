"""The check every API test runs (tests/openapi.py) refuses what the schema does not say."""

import json

import pytest

from tests.openapi import SchemaMismatch, check_response

pytestmark = pytest.mark.django_db

JSON = "application/json"


def pending_job(**changes) -> dict:
    job = {
        "sessionId": "ses_1",
        "submissionId": "sub_1",
        "workflow": {"slug": "receipt-ocr", "version": 1},
        "companyId": "cmp_1",
        "state": "pending",
        "submissionStatus": "created",
        "result": None,
        "failedReason": None,
        "clientSubmissionId": "order-1",
        "metadata": {},
        "processedAt": None,
        "webhookDeliveryStatus": None,
    }
    return {**job, **changes}


def check_job(body: dict, status: int = 200) -> None:
    check_response("GET", "/api/v1/jobs/ses_1", status, JSON, json.dumps(body).encode())


def test_a_pending_job_with_null_result_and_status_fields_is_accepted():
    check_job(pending_job())


def test_a_completed_job_with_a_null_fraud_status_is_accepted():
    result = {"extractedData": {}, "confidence": None, "fraudStatus": None}
    check_job(pending_job(state="completed", result=result))


def test_an_undocumented_field_is_refused():
    with pytest.raises(SchemaMismatch, match="surprise"):
        check_job(pending_job(surprise=1))


def test_a_missing_required_field_is_refused():
    body = pending_job()
    del body["state"]
    with pytest.raises(SchemaMismatch, match="'state' is a required property"):
        check_job(body)


def test_a_value_outside_the_enum_is_refused():
    with pytest.raises(SchemaMismatch, match="canceled"):
        check_job(pending_job(submissionStatus="canceled"))


def test_an_undocumented_status_is_refused():
    with pytest.raises(SchemaMismatch, match="status 418 is not documented"):
        check_job(pending_job(), status=418)


def test_a_problem_code_the_operation_does_not_document_is_refused():
    problem = {
        "type": "https://steve.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "x",
        "instance": "/api/v1/jobs/ses_1",
        "code": "SUBMISSION_NOT_FOUND",
        "requestId": "req_1",
    }
    body = json.dumps(problem).encode()
    with pytest.raises(SchemaMismatch, match="'SUBMISSION_NOT_FOUND' is not documented"):
        check_response("GET", "/api/v1/jobs/ses_1", 404, "application/problem+json", body)
    body = json.dumps({**problem, "code": "JOB_NOT_FOUND"}).encode()
    check_response("GET", "/api/v1/jobs/ses_1", 404, "application/problem+json", body)


def test_an_unknown_route_may_only_answer_a_404_problem():
    problem = {
        "type": "https://steve.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "x",
        "instance": "/api/v1/nope",
        "code": "NOT_FOUND",
        "requestId": "req_1",
    }
    body = json.dumps(problem).encode()
    check_response("GET", "/api/v1/nope", 404, "application/problem+json", body)
    with pytest.raises(SchemaMismatch):
        check_response("GET", "/api/v1/nope", 200, JSON, b"{}")


def test_the_api_fixture_runs_the_check(api, monkeypatch):
    seen = []
    monkeypatch.setattr("tests.openapi.check_response", lambda *args: seen.append(args[:3]))
    api.get("/api/v1/workflows")
    assert seen == [("GET", "/api/v1/workflows", 200)]


def test_a_contract_header_the_schema_does_not_document_for_the_status_is_refused():
    body = json.dumps({"data": []}).encode()
    with pytest.raises(SchemaMismatch, match="X-Idempotent-Replay"):
        check_response("GET", "/api/v1/workflows", 200, JSON, body, {"X-Idempotent-Replay": "true"})


def test_a_running_jobs_retry_after_hint_is_a_documented_header():
    body = json.dumps(pending_job()).encode()
    check_response("GET", "/api/v1/jobs/ses_1", 200, JSON, body, {"Retry-After": "5"})
