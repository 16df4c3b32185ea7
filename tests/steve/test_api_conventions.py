"""One test per rule of docs/api.md: status codes, replays, spelling, rate-limit headers."""

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fraud.models import FraudMatch
from jobs import pipeline
from steve.api.schema import PROBLEM_CODES
from steve.services import api_key_revoke
from submissions.models import Submission
from submissions.services import Actor, submission_cancel
from tests import factories
from tests.jobs.fixtures_docs import invoice_pdf
from tests.jobs.test_sessions_api import jpeg_bytes
from tests.openapi import published_schema
from tests.webhooks.helpers import emit
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
SESSIONS = "/api/v1/workflows/receipt-ocr/sessions"
SESSION_BODY = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c-1"}
HOOK = {"url": "https://93.184.215.14/hook"}


def in_review(company) -> Submission:
    return factories.SubmissionFactory(company=company)


def flag(submission: Submission) -> FraudMatch:
    target = factories.SubmissionFactory(company=submission.company)
    return FraudMatch.objects.create(
        company=submission.company,
        submission=submission,
        target_submission=target,
        check_type="visual",
        score=72.5,
        similarity=0.88,
    )


# ---- 400: the request cannot be read as the operation's input ----


def test_unparseable_json_is_400_invalid_json(api, workflows):
    response = api.post(SESSIONS, "{", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "INVALID_JSON"


def test_a_json_body_led_by_a_utf8_byte_order_mark_is_read_as_without_it(api, company):
    # RFC 8259 8.1 lets a parser ignore a BOM; .NET and PowerShell writers send one, and
    # the body was a 400 INVALID_JSON that did not say why.
    submission = in_review(company)
    url = f"/api/v1/submissions/{submission.pk}/reject"
    body = '{"reason": "Illegible – cannot verify."}'.encode()
    response = api.post(url, b"\xef\xbb\xbf" + body, content_type="application/json")
    assert response.status_code == 200, response.content
    submission.refresh_from_db()
    assert submission.reject_reason == "Illegible – cannot verify."


def test_a_byte_order_mark_anywhere_but_first_is_still_invalid_json(api, company):
    url = f"/api/v1/submissions/{in_review(company).pk}/reject"
    for body in (b' \xef\xbb\xbf{"reason": "x"}', b'\xef\xbb\xbf\xef\xbb\xbf{"reason": "x"}'):
        response = api.post(url, body, content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "INVALID_JSON"


@pytest.mark.parametrize(
    "target",
    ["session", "reject", "resolve", "webhook endpoint"],
)
def test_a_body_that_is_not_a_json_object_is_400_invalid_body(api, company, workflows, target):
    submission = in_review(company)
    url = {
        "session": SESSIONS,
        "reject": f"/api/v1/submissions/{submission.pk}/reject",
        "resolve": f"/api/v1/submissions/{submission.pk}/fraud-matches/fm_x/resolve",
        "webhook endpoint": "/api/v1/webhook-endpoints",
    }[target]
    if target == "resolve":
        url = url.replace("fm_x", flag(submission).pk)
    response = api.post(url, ["not", "an", "object"], format="json")
    assert response.status_code == 400 and response.json()["code"] == "INVALID_BODY"


def test_a_body_of_a_type_the_call_does_not_read_is_415_naming_what_it_reads(api, workflows):
    refused = api.generic(
        "POST",
        "/api/v1/workflows/receipt-ocr/sessions",
        "fileCount=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert refused.status_code == 415
    assert refused.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "send application/json" in refused.json()["detail"]
    assert "application/x-www-form-urlencoded" in refused.json()["detail"]


def test_a_malformed_query_parameter_is_400(api, workflows):
    response = api.get("/api/v1/submissions?limit=many")
    assert response.status_code == 400 and response.json()["code"] == "INVALID_LIMIT"


@pytest.mark.parametrize("limit", ["%D9%A3", "%EF%BC%93", "%C2%B3", "+3", "%203", "3%20", "1_0"])
def test_a_limit_written_other_than_in_ascii_digits_is_400_not_read_as_a_number(
    api, workflows, limit
):
    """Python's int() reads an Arabic-Indic three, a full-width three, a sign, spaces and
    an underscore: such a limit was taken as a page size. Only digits (with a leading
    minus, clamped as the seed says) are a whole number."""
    response = api.get(f"/api/v1/submissions?limit={limit}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "INVALID_LIMIT"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("limit", "invalid")]


def test_a_limit_out_of_range_is_clamped_as_the_seed_says(api, workflows):
    for limit in ("-1", "0", "100000", "007"):
        assert api.get(f"/api/v1/submissions?limit={limit}").status_code == 200, limit


# ---- 422: a readable JSON object whose content breaks a rule ----


def test_a_field_of_the_wrong_json_type_is_422_naming_it(api, workflows):
    response = api.post(SESSIONS, {**SESSION_BODY, "fileCount": "two"}, format="json")
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["fileCount"]


def test_a_missing_or_wrong_reject_reason_is_422(api, company):
    url = f"/api/v1/submissions/{in_review(company).pk}/reject"
    for body in ({}, {"reason": 5}, {"reason": "x" * 2001}):
        response = api.post(url, body, format="json")
        assert response.status_code == 422, body


def test_an_unknown_resolution_is_422(api, company):
    submission = in_review(company)
    url = f"/api/v1/submissions/{submission.pk}/fraud-matches/{flag(submission).pk}/resolve"
    response = api.post(url, {"resolution": "maybe"}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "INVALID_RESOLUTION"


def unknown_member_target(api, company, target: str) -> tuple[str, dict]:
    """A write call's URL and a body it would accept, for `target`."""
    submission = in_review(company)
    review = f"/api/v1/submissions/{submission.pk}"
    if target in ("endpoint rotate", "endpoint redeliver"):
        endpoint_id = api.post("/api/v1/webhook-endpoints", HOOK, format="json").json()["id"]
        action = "rotate-secret" if target == "endpoint rotate" else "redeliver"
        body = {} if action == "rotate-secret" else {"since": "2026-01-01T00:00:00Z"}
        return f"/api/v1/webhook-endpoints/{endpoint_id}/{action}", body
    if target == "delivery redeliver":
        api.post("/api/v1/webhook-endpoints", HOOK, format="json")
        (delivery,) = emit(company)
        return f"/api/v1/webhook-deliveries/{delivery.pk}/redeliver", {}
    if target == "submit":
        session_id = api.post(SESSIONS, SESSION_BODY, format="json").json()["sessionId"]
        return f"{SESSIONS}/{session_id}/submit", {}
    return {
        "approve": (f"{review}/approve", {}),
        "reject": (f"{review}/reject", {"reason": "Illegible."}),
        "cancel": (f"{review}/cancel", {}),
        "corrections": (f"{review}/corrections", {"fields": {"merchantName": "X"}}),
        "resolve": (
            f"{review}/fraud-matches/{flag(submission).pk}/resolve",
            {"resolution": "false_positive"},
        ),
        "webhook test": ("/api/v1/webhooks/test", {"url": HOOK["url"]}),
        "session secret rotate": ("/api/v1/webhook-endpoints/session-secret/rotate", {}),
    }[target]


@pytest.mark.parametrize(
    "target",
    [
        "approve",
        "reject",
        "cancel",
        "corrections",
        "resolve",
        "webhook test",
        "session secret rotate",
        "endpoint rotate",
        "endpoint redeliver",
        "delivery redeliver",
        "submit",
    ],
)
def test_a_write_call_refuses_a_member_it_does_not_read(api, company, workflows, target):
    url, body = unknown_member_target(api, company, target)
    response = api.post(url, {**body, "expectedVersoin": 1}, format="json")
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert problem["errors"] == [
        {
            "field": "expectedVersoin",
            "message": "Not a field of this request.",
            "code": "unknown_field",
        }
    ]


def test_approve_with_corrections_in_its_body_is_refused_and_approves_nothing(api, company):
    """The integrator believed they corrected the merchant before approving."""
    submission = in_review(company)
    response = api.post(
        f"/api/v1/submissions/{submission.pk}/approve",
        {"fields": {"merchantName": "X"}},
        format="json",
    )
    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("fields", "unknown_field")
    ]
    submission.refresh_from_db()
    assert submission.status == "review"
    assert submission.extracted_data["merchantName"] == "Kedai Runcit"


def test_a_body_of_thousands_of_unknown_members_lists_a_bounded_number(api, company):
    url = f"/api/v1/submissions/{in_review(company).pk}/cancel"
    response = api.post(url, {f"m{n}": 1 for n in range(5000)}, format="json")
    assert response.status_code == 422 and len(response.json()["errors"]) == 50


def test_every_json_request_body_in_the_schema_is_closed():
    """Each refuses a member it does not list, so the schema says so (seed 003's
    extraction jobs excepted: the peers' API is the contract there)."""
    open_bodies = [
        f"{method} {path}"
        for path, operations in published_schema()["paths"].items()
        for method, operation in operations.items()
        if not path.startswith("/api/v1/extraction-jobs")
        and "application/json" in operation.get("requestBody", {}).get("content", {})
        and _body_schema(operation).get("additionalProperties") is not False
    ]
    assert open_bodies == []


def _body_schema(operation: dict) -> dict:
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return published_schema()["components"]["schemas"][name]
    return schema


# ---- the seeds' exceptions ----


def test_extraction_job_refusals_are_400_as_seed_003_says(api, workflows):
    unsupported = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": "invoice", "file": SimpleUploadedFile("a.gif", b"GIF89a nope")},
        format="multipart",
    )
    assert unsupported.status_code == 400 and unsupported.json()["code"] == "UNSUPPORTED_FILE"
    mode = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": "invoice", "file": "eA==", "deliveryMode": "email"},
        format="json",
    )
    assert mode.status_code == 400 and mode.json()["code"] == "INVALID_DELIVERY_MODE"


def test_every_operation_documents_each_code_under_its_catalogue_status():
    wrong = []
    for path, methods in published_schema()["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                for media in response.get("content", {}).values():
                    for code in media.get("examples", {}):
                        if code in PROBLEM_CODES and str(PROBLEM_CODES[code][0]) != status:
                            wrong.append((method, path, status, code))
    assert wrong == []


# ---- replays answer what the original answered ----


def test_an_idempotency_key_replay_answers_the_original_status(api, workflows):
    for url, body in ((SESSIONS, SESSION_BODY), ("/api/v1/webhook-endpoints", HOOK)):
        key = {"HTTP_IDEMPOTENCY_KEY": f"key-for-{url}"}
        first = api.post(url, body, format="json", **key)
        replay = api.post(url, body, format="json", **key)
        assert first.status_code == replay.status_code == 201, url
        assert replay["X-Idempotent-Replay"] == "true"
        # A replay never shows a secret again (issue 11): the rest is the original.
        redacted = {"secret": None, "secretRedacted": True} if "secret" in first.json() else {}
        assert replay.json() == {**first.json(), **redacted}


def test_a_client_submission_id_replay_answers_201_like_the_create(api, workflows):
    first = api.post(SESSIONS, SESSION_BODY, format="json")
    replay = api.post(SESSIONS, SESSION_BODY, format="json")
    assert (first.status_code, replay.status_code) == (201, 201)
    assert "X-Idempotent-Replay" not in first and replay["X-Idempotent-Replay"] == "true"


def test_an_extraction_job_replay_is_200_as_seed_003_says(api, workflows):
    body = {"templateName": "invoice", "file": SimpleUploadedFile("i.pdf", invoice_pdf())}
    key = {"HTTP_IDEMPOTENCY_KEY": "inv-1"}
    first = api.post("/api/v1/extraction-jobs", body, format="multipart", **key)
    body["file"].seek(0)
    replay = api.post("/api/v1/extraction-jobs", body, format="multipart", **key)
    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay["X-Idempotent-Replay"] == "true"


# ---- cancelled (seeds 000/001) and canceled (seeds 002/003) ----


def test_submissions_say_cancelled_and_extraction_jobs_say_canceled(api, workflows):
    schemas = published_schema()["components"]["schemas"]
    assert "cancelled" in schemas["SubmissionStatus"]["enum"]
    assert "canceled" in schemas["ExtractionJob"]["properties"]["status"]["enum"]
    body = {"templateName": "invoice", "file": SimpleUploadedFile("i.pdf", invoice_pdf())}
    job_id = api.post("/api/v1/extraction-jobs", body, format="multipart").json()["job"]["id"]
    submission = Submission.objects.get(session__pk=job_id)
    submission_cancel(submission_id=submission.pk, actor=Actor.system(), reason="duplicate")
    job = api.get(f"/api/v1/extraction-jobs/{job_id}").json()["job"]
    assert job["status"] == "canceled" and "canceledAt" in job
    detail = api.get(f"/api/v1/submissions/{submission.pk}").json()
    assert detail["submissionStatus"] == "cancelled"
    result = api.get(f"/api/v1/extraction-jobs/{job_id}/result").json()
    assert result["code"] == "JOB_CANCELED"


# ---- X-RateLimit-* on every /api/v1/ response, naming the bucket applied ----


def test_every_api_response_carries_the_rate_limit_headers_of_its_bucket(
    api, anon_api, api_key, company, workflows
):
    created = api.post(SESSIONS, SESSION_BODY, format="json")
    upload = created.json()["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    session_id = created.json()["sessionId"]
    answers = {
        "201 create": (created, "session"),
        "200 read": (api.get("/api/v1/workflows"), "read"),
        "200 poll": (api.get(f"/api/v1/jobs/{session_id}"), "poll"),
        "404 known route": (api.get("/api/v1/submissions/sub_nope"), "read"),
        "405 wrong method": (api.delete("/api/v1/workflows"), "write"),
        "422 invalid": (api.post(SESSIONS, {}, format="json"), "session"),
        "200 upload": (api.generic("PUT", upload, jpeg_bytes()), "upload"),
        "403 bad upload URL": (api.generic("PUT", "/api/v1/uploads/nope", b"x"), "anonymous"),
        "404 unknown route": (api.get("/api/v1/nope"), "anonymous"),
        "401 no key": (anon_api.get("/api/v1/workflows"), "anonymous"),
        "200 schema": (anon_api.get("/api/v1/schema"), "anonymous"),
    }
    api_key_revoke(api_key=api_key.api_key)
    answers["403 revoked key"] = (api.get("/api/v1/workflows"), "revoked")
    for name, (response, bucket) in answers.items():
        assert str(response.status_code) == name.split()[0], name
        assert response["X-RateLimit-Bucket"] == bucket, name
        for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert response[header].isdigit(), (name, header)


# ---- the docs say what the webhooks carry ----


def test_the_docs_say_an_auto_approval_carries_state_completed(api, workflows, company):
    section = (REPO / "docs" / "webhooks.md").read_text().split("### `submission.approved`")[1]
    section = section.split("\n### ")[0]
    assert 'state: "completed"' in section and '"submitted"' not in section
    WebhookEndpoint.objects.create(company=company, url="https://93.184.215.14/h", secret="x")
    body = {"templateName": "invoice", "file": SimpleUploadedFile("i.pdf", invoice_pdf())}
    pipeline.run(api.post("/api/v1/extraction-jobs", body, format="multipart").json()["job"]["id"])
    approved = WebhookDelivery.objects.get(event_type="submission.approved")
    assert approved.payload["state"] == re.search(r'state: "(\w+)"', section).group(1)


@pytest.mark.parametrize("accept", ["application/problem+json", "text/html", "image/png"])
def test_any_accept_header_gets_the_json_answer_not_406(api, accept):
    missing = api.get("/api/v1/submissions/sub_nope", HTTP_ACCEPT=accept)
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert missing.json()["code"] == "SUBMISSION_NOT_FOUND"

    invalid = api.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": "two"},
        format="json",
        HTTP_ACCEPT=accept,
    )
    assert invalid.status_code in (400, 404, 422) and invalid.json()["code"] != "NOT_ACCEPTABLE"

    listed = api.get("/api/v1/workflows", HTTP_ACCEPT=accept)
    assert listed.status_code == 200 and listed["Content-Type"] == "application/json"


@pytest.mark.parametrize("value", ["xml", "csv", "api"])
def test_a_format_query_parameter_is_ignored_not_a_404(api, company, value):
    # DRF read ?format= as a renderer's name and answered 404 NOT_FOUND when none had
    # it: a caller who sent format=csv was told the submission did not exist.
    submission = in_review(company)
    listed = api.get(f"/api/v1/workflows?format={value}")
    assert listed.status_code == 200 and listed["Content-Type"] == "application/json"
    read = api.get(f"/api/v1/submissions/{submission.pk}?format={value}")
    assert read.status_code == 200 and read.json()["id"] == submission.pk


@pytest.mark.parametrize("accept", ["*/*", "application/json", "application/vnd.oai.openapi"])
def test_a_problem_from_the_schema_endpoint_is_compact_json_too(anon_api, accept):
    # The schema view renders YAML (or indented JSON): its 405 was YAML labelled
    # application/problem+json.
    response = anon_api.post("/api/v1/schema", HTTP_ACCEPT=accept)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response.content.startswith(b'{"type":')
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_a_problem_from_a_plain_django_view_is_compact_json_too(anon_api):
    # An unknown route (such as /api/v1/ itself) and an upload URL Steve did not sign
    # are answered outside DRF: Django's JsonResponse wrote {"type": "...", "title": ...}
    # with spaces, unlike every other problem.
    unknown = anon_api.get("/api/v1/")
    upload = anon_api.put("/api/v1/uploads/not-a-token", b"x", content_type="image/jpeg")
    assert (unknown.json()["code"], upload.json()["code"]) == ("NOT_FOUND", "UPLOAD_URL_INVALID")
    for response in (unknown, upload):
        assert response["Content-Type"] == "application/problem+json"
        assert response.content.startswith(b'{"type":"')
        assert b'", "' not in response.content


def test_a_host_steve_does_not_serve_is_a_400_problem_under_the_api(api, settings):
    # Django refuses it before any view, with its HTML "Bad Request (400)" page.
    settings.ALLOWED_HOSTS = ["steve.example"]
    response = api.get("/api/v1/workflows", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "INVALID_HOST"
    assert response.json()["requestId"] == response["Request-Id"]


def test_options_on_every_documented_path_is_204_with_the_schemas_methods(anon_api, api):
    # tests/openapi.check_options holds each answer's Allow against the schema's methods
    # for the path; DRF answered a 200 metadata body the schema does not describe.
    for template in published_schema()["paths"]:
        path = re.sub(r"\{[^}]+\}", "x_1", template)
        for client in (anon_api, api):  # no key needed, and none spent
            response = client.options(path)
            assert response.status_code == 204, (path, response.content)
            assert "X-RateLimit-Bucket" not in response


def test_options_on_an_upload_url_says_it_takes_put(anon_api):
    response = anon_api.options("/api/v1/uploads/not-a-token")
    assert response.status_code == 204 and response["Allow"] == "PUT, OPTIONS"
