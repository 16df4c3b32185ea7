"""A query parameter the session, poll, upload and extraction-job calls do not take is
refused, never ignored (docs/api.md "Query parameters"); the poll's fast path answers it
as DRF's path does."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import WorkflowSession
from submissions.models import SubmissionFile
from tests.jobs.fixtures_docs import invoice_pdf
from tests.jobs.test_extraction_jobs_api import create as create_job
from tests.jobs.test_sessions_api import create as create_session
from tests.jobs.test_sessions_api import jpeg_bytes, put

pytestmark = pytest.mark.django_db

SESSIONS = "/api/v1/workflows/receipt-ocr/sessions"
TAKES_NONE = "Not a query parameter of this operation; it takes no query parameters."


def unknown_param(response) -> tuple[str, list[tuple[str, str, str]]]:
    assert response.status_code == 400, response.content
    body = response.json()
    return body["code"], [(e["field"], e["message"], e["code"]) for e in body["errors"]]


# "application/json" is answered by the fast path (jobs.api.views.poll_fast_path),
# "text/html" by DRF's.
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_poll_with_an_unknown_parameter_is_a_400_on_either_path(api, workflows, accept):
    _, body, _ = create_session(api)
    url = f"/api/v1/jobs/{body['sessionId']}"
    response = api.get(f"{url}?wait=30", HTTP_ACCEPT=accept)
    assert unknown_param(response) == (
        "INVALID_PARAMETER",
        [("wait", TAKES_NONE, "unknown_field")],
    )
    assert response["Content-Type"] == "application/problem+json"
    # Still counted, as any refused call after the key: the poll bucket says so.
    assert "X-RateLimit-Remaining" in response


def test_the_poll_answers_the_same_problem_on_both_paths(api, workflows):
    _, body, _ = create_session(api)
    url = f"/api/v1/jobs/{body['sessionId']}?wait=30&since=1"
    fast = api.get(url, HTTP_ACCEPT="application/json").json()
    regular = api.get(url, HTTP_ACCEPT="text/html").json()
    assert {**fast, "requestId": None} == {**regular, "requestId": None}


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_a_poll_with_format_is_still_answered(api, workflows, accept):
    # ?format= is disregarded, as Accept is (steve.api.negotiation), on both paths.
    _, body, _ = create_session(api)
    response = api.get(f"/api/v1/jobs/{body['sessionId']}?format=json", HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response.json()["state"] == "pending"


def test_a_session_create_given_a_query_parameter_makes_no_session(api, workflows):
    # A client putting clientSubmissionId in the URL made a session without it.
    body = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c-1"}
    response = api.post(f"{SESSIONS}?webhookUrl=https://example.com/h", body, format="json")
    assert unknown_param(response)[1][0][0] == "webhookUrl"
    assert not WorkflowSession.objects.exists()


def test_a_submit_given_a_query_parameter_submits_nothing(api, workflows):
    _, body, _ = create_session(api)
    response = api.post(f"{SESSIONS}/{body['sessionId']}/submit?force=true")
    assert unknown_param(response)[1][0][0] == "force"
    assert WorkflowSession.objects.get().state == "pending"


def test_extraction_job_calls_refuse_an_unknown_parameter_in_the_peers_envelope(api, workflows):
    # The peers' fields belong in the body: one in the URL was never read.
    refused = api.post(
        "/api/v1/extraction-jobs?deliveryMode=webhook",
        {"templateName": "invoice", "file": SimpleUploadedFile("i.pdf", invoice_pdf())},
        format="multipart",
    )
    assert unknown_param(refused)[0] == "INVALID_PARAMETER"
    assert refused.json()["success"] is False
    assert not WorkflowSession.objects.exists()
    job_id = create_job(api).json()["job"]["id"]
    for path in (f"/api/v1/extraction-jobs/{job_id}", f"/api/v1/extraction-jobs/{job_id}/result"):
        body = api.get(f"{path}?includeText=true").json()
        assert body["code"] == "INVALID_PARAMETER"
        assert body["success"] is False and body["error"]["code"] == "INVALID_PARAMETER"
        assert body["errors"][0]["field"] == "includeText"


def test_an_upload_given_a_query_parameter_stores_nothing_and_its_url_stays_usable(api, workflows):
    # A URL Steve handed out takes no query, as an S3 pre-signed one (SigV4 signs its
    # whole query) takes none added: a client appending one would work here, fail on S3.
    _, body, _ = create_session(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    response = put(api, f"{url}?partNumber=1", jpeg_bytes())
    assert unknown_param(response) == (
        "INVALID_PARAMETER",
        [("partNumber", TAKES_NONE, "unknown_field")],
    )
    assert response["Content-Type"] == "application/problem+json"
    assert "X-RateLimit-Remaining" in response  # the session key's upload bucket
    assert SubmissionFile.objects.get().uploaded_at is None
    # ?format is disregarded there too, as on every /api/v1/ operation.
    assert put(api, f"{url}?format=json", jpeg_bytes()).status_code == 200


def test_an_upload_url_refused_as_such_says_so_before_its_query_is_looked_at(api, workflows):
    _, body, _ = create_session(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    assert put(api, url, jpeg_bytes()).status_code == 200
    assert put(api, f"{url}?x=1", jpeg_bytes()).json()["code"] == "UPLOAD_URL_USED"
