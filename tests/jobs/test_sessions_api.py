"""Session creation, uploads and submit over HTTP (without the worker)."""

import io
import threading
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from jobs import services
from jobs.extraction import readable
from jobs.extraction.document import MAX_PDF_PAGES
from jobs.models import SessionState, WorkflowSession
from steve.models import ApiKey
from steve.services import api_key_cache_key, api_key_revoke, touch_cache_key
from submissions.models import SubmissionEvent, SubmissionFile, SubmissionStatus
from tests.jobs.fixtures_docs import invoice_pdf, malformed_pdf, receipt_pdf, truncated_jpeg
from tests.submissions.test_lock_order import responses_at_once

pytestmark = pytest.mark.django_db


def jpeg_bytes(color: str = "white", size: tuple[int, int] = (60, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def image_bytes(content_type: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (60, 80), "white").save(buffer, content_type.split("/")[1].upper())
    return buffer.getvalue()


def create(api: APIClient, **overrides) -> tuple[int, dict, dict]:
    body = {
        "fileCount": 1,
        "contentTypes": ["image/jpeg"],
        "clientSubmissionId": "order-1",
        **overrides,
    }
    response = api.post("/api/v1/workflows/receipt-ocr/sessions", body, format="json")
    return response.status_code, response.json(), response


def put(api: APIClient, url: str, data: bytes):
    path = url.removeprefix("http://testserver")
    return api.generic("PUT", path, data, content_type="image/jpeg")


def test_create_returns_pending_session_with_upload_urls(api, workflows):
    status, body, _ = create(api, metadata={"orderId": "12345"})
    assert status == 201
    assert body["sessionId"].startswith("ses_")
    assert body["submissionId"].startswith("sub_")
    assert body["state"] == "pending"
    assert body["submissionStatus"] == "created"
    assert body["workflow"] == {"slug": "receipt-ocr", "version": 1}
    [upload] = body["uploadUrls"]
    assert upload["fileIndex"] == 0 and upload["label"] == "receipt"
    assert upload["contentType"] == "image/jpeg"
    assert upload["uploadUrl"].startswith("http://testserver/api/v1/uploads/")
    assert body["expiresAt"].endswith("Z") and body["uploadUrlsExpireAt"].endswith("Z")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"fileCount": 0, "contentTypes": []}, "fileCount"),
        ({"fileCount": 9, "contentTypes": ["image/jpeg"] * 9}, "fileCount"),
        ({"fileCount": 2, "contentTypes": ["image/jpeg", "text/plain"]}, "contentTypes[1]"),
        ({"clientSubmissionId": ""}, "clientSubmissionId"),
        ({"metadata": {"a": {"b": {"c": 1}}}}, "metadata.a.b"),
        ({"metadata": {"blob": "x" * 5000}}, "metadata"),
        ({"metadata": {"list": [1, 2]}}, "metadata.list"),
        ({"webhookUrl": "http://example.com/hook"}, "webhookUrl"),
        ({"webhookUrl": "https://93.184.215.14:0/hook"}, "webhookUrl"),
        ({"externalUser": {"id": 5}}, "externalUser.id"),
    ],
)
def test_each_invalid_field_is_a_422_naming_it(api, workflows, settings, overrides, field):
    settings.WEBHOOKS_ALLOW_HTTP = False
    status, body, response = create(api, **overrides)
    assert status == 422
    assert response["Content-Type"] == "application/problem+json"
    assert body["type"].endswith("/validation-error")
    assert field in [error["field"] for error in body["errors"]]


@pytest.mark.parametrize("entry", ["image/jpeg", "text/plain", 7])
def test_a_content_types_list_longer_than_max_files_is_one_error_not_one_per_entry(
    api, workflows, entry
):
    # Each entry was validated (and refused) one by one before the list's length was
    # held against the workflow: 100,000 entries held a web worker for 15-20 s and
    # answered megabytes of errors; a 25 MB body outlived gunicorn's 30 s timeout.
    status, body, _ = create(api, fileCount=5, contentTypes=[entry] * 2000)
    assert status == 422
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("contentTypes", "max_length")]
    assert "at most 5" in body["errors"][0]["message"]
    assert not WorkflowSession.objects.exists()


def test_content_types_are_case_insensitive_and_stored_in_lower_case(api, workflows):
    # MIME types are case-insensitive (RFC 9110 8.3.1): "IMAGE/JPEG" was refused as
    # "not accepted" while the message listed 'image/jpeg' as accepted.
    status, body, _ = create(api, fileCount=2, contentTypes=["IMAGE/JPEG", "Image/Png"])
    assert status == 201, body
    assert [u["contentType"] for u in body["uploadUrls"]] == ["image/jpeg", "image/png"]
    session = WorkflowSession.objects.get()
    assert session.content_types == ["image/jpeg", "image/png"]
    assert sorted(session.submission.files.values_list("declared_content_type", flat=True)) == [
        "image/jpeg",
        "image/png",
    ]
    # The same session asked for in the canonical spelling is a replay, not a conflict.
    status, again, response = create(api, fileCount=2, contentTypes=["image/jpeg", "image/png"])
    assert status == 201 and response["X-Idempotent-Replay"] == "true"
    assert again["sessionId"] == body["sessionId"]


def test_a_content_type_with_parameters_is_refused_naming_the_bare_type(api, workflows):
    status, body, _ = create(
        api, fileCount=2, contentTypes=["image/jpeg; charset=binary", "IMAGE/PNG;q=1"]
    )
    assert status == 422
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("contentTypes[0]", "parameters"),
        ("contentTypes[1]", "parameters"),
    ]
    assert "'image/jpeg'" in body["errors"][0]["message"]
    assert "'image/png'" in body["errors"][1]["message"]
    assert not WorkflowSession.objects.exists()


def test_webhook_url_on_private_network_is_refused(api, workflows, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    for url in [
        "https://127.0.0.1/h",
        "https://10.1.2.3/h",
        "https://svc.internal/h",
        "https://printer.local/h",
        "https://[::1]/h",
    ]:
        status, body, _ = create(api, webhookUrl=url, clientSubmissionId=url)
        assert status == 422, url
        assert body["errors"][0]["field"] == "webhookUrl"


def test_a_webhook_url_longer_than_an_endpoints_is_a_422_not_a_500(api, workflows):
    # The column holds 2000 characters: a longer URL reached the INSERT and failed there.
    status, body, _ = create(api, webhookUrl="https://93.184.215.14/" + "a" * 2000)
    assert status == 422
    assert [error["field"] for error in body["errors"]] == ["webhookUrl"]
    assert not WorkflowSession.objects.exists()


def test_a_misspelt_field_is_a_422_not_a_session_without_it(api, workflows):
    # `webhookURL` was dropped: the session was made and its events went nowhere.
    status, body, _ = create(api, webhookURL="https://93.184.215.14/hook")
    assert status == 422
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("webhookURL", "unknown_field")]
    assert not WorkflowSession.objects.exists()


def test_a_chunked_create_is_411_length_required_not_three_missing_fields(api, workflows):
    # The server hands a body without Content-Length to Django as empty: the caller who
    # sent fileCount, contentTypes and clientSubmissionId was told all three were missing.
    response = api.generic(
        "POST",
        "/api/v1/workflows/receipt-ocr/sessions",
        b'{"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c-1"}',
        content_type="application/json",
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    assert response.json()["code"] == "LENGTH_REQUIRED"
    assert not WorkflowSession.objects.exists()


def test_same_client_submission_id_returns_the_pending_session(api, workflows):
    _, first, _ = create(api)
    status, second, response = create(api)
    assert status == 201
    assert response["X-Idempotent-Replay"] == "true"
    assert second["sessionId"] == first["sessionId"]
    assert WorkflowSession.objects.count() == 1


def test_a_client_submission_id_is_kept_exactly_as_the_caller_sent_it(api, workflows):
    # Seed 001: "the caller-supplied idempotency key"; docs/webhooks.md: "as you sent
    # them". It was trimmed: the poll and the webhooks echoed "order-7" for " order-7 ",
    # which the caller's own lookup by its key did not find, and " order-7 " replayed the
    # session of "order-7", another key.
    status, padded, _ = create(api, clientSubmissionId=" order-7 ")
    assert status == 201
    job = api.get(f"/api/v1/jobs/{padded['sessionId']}").json()
    assert job["clientSubmissionId"] == " order-7 "
    status, plain, response = create(api, clientSubmissionId="order-7")
    assert status == 201 and "X-Idempotent-Replay" not in response
    assert plain["sessionId"] != padded["sessionId"]
    replay = create(api, clientSubmissionId=" order-7 ")[1]
    assert replay["sessionId"] == padded["sessionId"]


def test_a_client_submission_id_of_only_spaces_is_refused_as_blank(api, workflows):
    status, body, _ = create(api, clientSubmissionId="   ")
    assert status == 422
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("clientSubmissionId", "blank")]
    assert not WorkflowSession.objects.exists()


def test_a_replay_late_in_a_sessions_life_says_its_urls_end_with_the_session(api, workflows):
    first_status, body, _ = create(api)
    ends = timezone.now() + timedelta(seconds=20)
    WorkflowSession.objects.filter(pk=body["sessionId"]).update(expires_at=ends)
    _, replay, _ = create(api)
    assert replay["sessionId"] == body["sessionId"]
    assert replay["uploadUrlsExpireAt"] <= replay["expiresAt"]


def test_a_replay_in_a_sessions_last_second_says_its_urls_end_with_the_session(api, workflows):
    clock = [datetime(2027, 1, 15, 8, 0, tzinfo=UTC)]
    with mock.patch.object(timezone, "now", lambda: clock[0]):
        _, body, _ = create(api)
        clock[0] = datetime.fromisoformat(body["expiresAt"]) - timedelta(milliseconds=400)
        _, replay, _ = create(api)
    assert replay["sessionId"] == body["sessionId"]
    assert replay["uploadUrlsExpireAt"] == replay["expiresAt"]


def test_a_replays_fresh_upload_urls_end_with_the_session_under_the_defaults(api, workflows):
    # docs/api.md, "Replays": upload URLs and sessions both last 30 minutes by default.
    _, first, _ = create(api)
    _, replay, _ = create(api)
    assert first["uploadUrlsExpireAt"] == first["expiresAt"]
    assert replay["uploadUrlsExpireAt"] == replay["expiresAt"] == first["expiresAt"]


@override_settings(UPLOAD_URL_TTL=timedelta(minutes=5))
def test_a_replay_with_short_lived_upload_urls_says_they_last_longer(api, workflows):
    _, first, _ = create(api)
    time.sleep(0.01)  # the expiry is given in milliseconds
    _, replay, _ = create(api)
    assert first["uploadUrlsExpireAt"] < replay["uploadUrlsExpireAt"] < replay["expiresAt"]


def test_client_submission_id_of_a_submitted_session_is_a_409(api, workflows):
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    status, problem, _ = create(api)
    assert status == 409
    assert problem["code"] == "CLIENT_SUBMISSION_ID_IN_USE"
    assert body["sessionId"] in problem["detail"]


def test_a_replay_naming_a_session_past_its_ttl_is_a_409_not_the_dead_session(api, workflows):
    _, body, _ = create(api)
    WorkflowSession.objects.filter(pk=body["sessionId"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )  # lapsed, and the expiry sweep has not run yet
    status, problem, _ = create(api)
    assert status == 409
    assert problem["code"] == "CLIENT_SUBMISSION_ID_IN_USE"
    assert "which is expired; a new session needs a new clientSubmissionId" in problem["detail"]
    assert WorkflowSession.objects.get(pk=body["sessionId"]).state == SessionState.EXPIRED
    assert create(api, clientSubmissionId="order-1-attempt-2")[0] == 201


@pytest.mark.django_db(transaction=True)
def test_racing_creates_with_one_client_submission_id_make_one_session(api_key, workflows):
    results: list[tuple[int, bool]] = []

    def create_once() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
        try:
            status, _, response = create(client, clientSubmissionId="race-1")
            results.append((status, response.has_header("X-Idempotent-Replay")))
        finally:
            connection.close()

    threads = [threading.Thread(target=create_once) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count((201, False)) == 1
    assert set(results) <= {(201, False), (201, True)}
    assert WorkflowSession.objects.filter(client_submission_id="race-1").count() == 1


def test_upload_then_submit_queues_processing_once(
    api, workflows, django_capture_on_commit_callbacks
):
    _, body, _ = create(api)
    assert put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes()).status_code == 200
    url = f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit"
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(url)
    assert response.status_code == 200
    assert response.json()["state"] == "submitted"
    assert response.json()["submissionStatus"] == "processing"
    assert len(callbacks) == 1
    again = api.post(url)
    assert again.status_code == 400
    assert again.json()["code"] == "SESSION_SUBMITTED"


@pytest.mark.django_db(transaction=True)
def test_two_submits_at_once_submit_once_and_the_other_is_a_400(
    api, api_key, workflows, monkeypatch
):
    # Each submit dwells on the file check, so both are inside submit together.
    inspect = services._inspect_file
    monkeypatch.setattr(services, "_inspect_file", lambda *a: time.sleep(0.3) or inspect(*a))
    _, body, _ = create(api)
    assert put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes()).status_code == 200
    url = f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit"
    responses = responses_at_once(api_key, [(url, {}), (url, {})])
    answers = [(r.status_code, r.json().get("code", "")) for r in responses]
    assert sorted(answers) == [(200, ""), (400, "SESSION_SUBMITTED")]
    events = SubmissionEvent.objects.filter(submission_id=body["submissionId"])
    assert events.filter(type="session_submitted").count() == 1
    assert events.filter(type="processing_started").count() == 1


def test_a_stored_upload_answers_json_with_what_was_stored_and_its_rate_limit(api, workflows):
    _, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/jpeg"])
    data = jpeg_bytes()
    response = put(api, body["uploadUrls"][1]["uploadUrl"], data)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"fileIndex": 1, "size": len(data), "contentType": "image/jpeg"}
    # Compact, as every other answer: it was the one JSON body with spaces in it.
    expected = f'{{"fileIndex":1,"size":{len(data)},"contentType":"image/jpeg"}}'
    assert response.content == expected.encode()
    assert response["X-RateLimit-Bucket"] == "upload"
    assert int(response["X-RateLimit-Remaining"]) == int(response["X-RateLimit-Limit"]) - 1


def test_reused_upload_url_is_refused(api, workflows):
    _, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    assert put(api, url, jpeg_bytes()).status_code == 200
    second = put(api, url, jpeg_bytes("black"))
    assert second.status_code == 409
    assert second.json()["code"] == "UPLOAD_URL_USED"
    # The URL is a capability: the problem names the route, not the token.
    assert second.json()["instance"] == "/api/v1/uploads/[redacted]"


def test_a_reused_upload_url_says_what_is_stored_and_how_to_send_another_file(api, workflows):
    # The careless walkthrough: the wrong file (or a cut-off copy) went first. "Already
    # used" alone left the integrator stuck; the refusal names what the URL holds and the
    # way on, since a replay of the same clientSubmissionId answers this very session.
    _, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    first = jpeg_bytes()
    assert put(api, url, first).status_code == 200
    detail = put(api, url, jpeg_bytes("black")).json()["detail"]
    assert f"a file of {len(first)} bytes is stored" in detail
    assert "new session with a new clientSubmissionId" in detail


def test_an_upload_for_a_session_whose_key_was_revoked_is_refused(api, api_key, workflows):
    _, body, _ = create(api)
    api_key_revoke(api_key=api_key.api_key)
    response = put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    assert response.status_code == 403
    assert response.json()["code"] == "API_KEY_REVOKED"
    assert not SubmissionFile.objects.filter(uploaded_at__isnull=False).exists()


def _while_the_body_arrives(monkeypatch, action) -> None:
    """Run ``action`` after the upload's body was read and checked, before it is stored."""
    from jobs.api import views

    accepted = views._accepted_type

    def then_act(data, version):
        mime = accepted(data, version)
        action()
        return mime

    monkeypatch.setattr(views, "_accepted_type", then_act)


@pytest.mark.parametrize("ending", ["submitted", "cancelled", "expired"])
def test_an_upload_in_flight_when_the_session_ends_is_refused_and_stores_nothing(
    api, workflows, monkeypatch, ending
):
    _, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/jpeg"])
    first, second = (u["uploadUrl"] for u in body["uploadUrls"])
    assert put(api, first, jpeg_bytes()).status_code == 200
    session = WorkflowSession.objects.get(pk=body["sessionId"])

    def end() -> None:
        if ending == "submitted":
            assert (
                api.post(f"/api/v1/workflows/receipt-ocr/sessions/{session.pk}/submit").status_code
                == 200
            )
        elif ending == "cancelled":
            url = f"/api/v1/submissions/{session.submission_id}/cancel"
            assert api.post(url, {}, format="json").status_code == 200
        else:
            WorkflowSession.objects.filter(pk=session.pk).update(expires_at=timezone.now())

    _while_the_body_arrives(monkeypatch, end)
    response = put(api, second, jpeg_bytes("black"))
    assert response.status_code == 410
    assert response.json()["code"] == "SESSION_NOT_PENDING"
    stored = SubmissionFile.objects.filter(submission_id=session.submission_id)
    assert [f.file_index for f in stored.exclude(uploaded_at=None)] == [0]


def test_altered_upload_url_is_refused(api, workflows):
    _, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    response = put(api, url[:-3] + ("aaa" if not url.endswith("aaa") else "bbb"), jpeg_bytes())
    assert response.status_code == 403
    assert response.json()["code"] == "UPLOAD_URL_INVALID"


def test_expired_upload_url_is_refused(api, workflows):
    _, body, _ = create(api)
    with override_settings(UPLOAD_URL_TTL=timedelta(seconds=-2)):
        response = put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    assert response.status_code == 410
    assert response.json()["code"] == "UPLOAD_URL_EXPIRED"


def test_an_upload_url_works_until_the_expiry_the_create_announced(api, workflows):
    # Signed stamps are whole seconds: a URL made at .9 s died up to a second before its
    # uploadUrlsExpireAt, and a PUT in that second was refused as expired.
    clock = [1_800_000_000.9]
    at = lambda: datetime.fromtimestamp(clock[0], UTC)  # noqa: E731
    with mock.patch.object(timezone, "now", at), mock.patch("time.time", lambda: clock[0]):
        _, body, _ = create(api)
        announced = datetime.fromisoformat(body["uploadUrlsExpireAt"])
        clock[0] = (announced - timedelta(milliseconds=300)).timestamp()
        response = put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    assert response.status_code == 200, response.json()


def test_upload_larger_than_the_workflow_allows_is_refused(api, workflows):
    _, body, _ = create(api)
    big = b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024 + 1)
    response = put(api, body["uploadUrls"][0]["uploadUrl"], big)
    assert response.status_code == 413
    assert response.json()["code"] == "FILE_TOO_LARGE"


def test_upload_of_bytes_that_are_not_an_accepted_type_leaves_the_url_usable(api, workflows):
    _, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    refused = put(api, url, b"MZ\x90\x00 a Windows executable")
    assert refused.status_code == 400
    assert refused.json()["code"] == "UNSUPPORTED_FILE"
    assert "(jpeg, png, webp, pdf)" in refused.json()["detail"]
    form = put(api, url, b"--boundary\r\nContent-Disposition: form-data; name=file\r\n\r\nx")
    assert "PUT the file's own bytes, not a form" in form.json()["detail"]
    assert put(api, url, jpeg_bytes()).status_code == 200
    submit = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submit.status_code == 200


UNOPENABLE = {
    "16 bytes after a PDF header": (b"%PDF-1.4\n%%EOF\n\n", "application/pdf"),
    "a PDF's first half": (receipt_pdf()[: len(receipt_pdf()) // 2], "application/pdf"),
    "a PDF header, then garbage": (malformed_pdf(), "application/pdf"),
    "a JPEG whose header ends at once": (truncated_jpeg(), "image/jpeg"),
    "a JPEG's magic, then text": (b"\xff\xd8\xff" + b"0" * 64, "image/jpeg"),
    "a PNG's signature alone": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 16, "image/png"),
    "a WebP's RIFF header alone": (b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8, "image/webp"),
}


@pytest.mark.parametrize("name", list(UNOPENABLE))
def test_an_upload_that_cannot_be_opened_is_refused_and_the_url_stays_usable(api, workflows, name):
    data, content_type = UNOPENABLE[name]
    # Its magic bytes were taken for the file: 200, the one-use URL spent, and the file
    # failed later, in processing, when the integrator could no longer send it again.
    _, body, _ = create(api, contentTypes=[content_type])
    url = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    refused = api.generic("PUT", url, data, content_type=content_type)
    assert refused.status_code == 400, name
    assert refused.json()["code"] == "UNSUPPORTED_FILE"
    assert "cannot be opened" in refused.json()["detail"]
    assert "This upload URL can still be used." in refused.json()["detail"]
    assert SubmissionFile.objects.get(submission_id=body["submissionId"]).uploaded_at is None
    good = receipt_pdf() if content_type == "application/pdf" else image_bytes(content_type)
    assert api.generic("PUT", url, good, content_type=content_type).status_code == 200


def test_a_pdf_that_needs_a_password_is_refused_at_upload_and_the_url_stays_usable(api, workflows):
    """A session takes no password, so such a PDF could only fail in processing
    (PASSWORD_REQUIRED): it was stored (200) and spent the one-use URL first."""
    _, body, _ = create(api, contentTypes=["application/pdf"])
    url = body["uploadUrls"][0]["uploadUrl"]
    refused = put(api, url, invoice_pdf(password="s3cret"))
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "PASSWORD_REQUIRED"
    detail = refused.json()["detail"]
    assert "password" in detail and "session" in detail
    assert "extraction job" in detail  # what to do: the route that takes a password
    assert "This upload URL can still be used." in detail
    assert SubmissionFile.objects.get(submission_id=body["submissionId"]).uploaded_at is None
    assert put(api, url, invoice_pdf()).status_code == 200


def test_a_pdf_encrypted_with_an_owner_password_only_is_taken_as_it_opens_without_one(
    api, workflows
):
    _, body, _ = create(api, contentTypes=["application/pdf"])
    data = invoice_pdf(owner_password="owner-only")
    assert b"/Encrypt" in data
    response = put(api, body["uploadUrls"][0]["uploadUrl"], data)
    assert response.status_code == 200, response.content


def test_a_pdf_over_the_page_limit_is_refused_at_upload_and_the_url_stays_usable(api, workflows):
    """Processing refuses it (PAGE_LIMIT_EXCEEDED) before any page is read; the upload's
    check counts its pages already, so it is refused there, not after the URL is spent."""
    _, body, _ = create(api, contentTypes=["application/pdf"])
    url = body["uploadUrls"][0]["uploadUrl"]
    at_limit = invoice_pdf(extra_pages=MAX_PDF_PAGES - 1)
    refused = put(api, url, invoice_pdf(extra_pages=MAX_PDF_PAGES))
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "PAGE_LIMIT_EXCEEDED"
    detail = refused.json()["detail"]
    assert f"{MAX_PDF_PAGES + 1} pages" in detail and f"at most {MAX_PDF_PAGES}" in detail
    assert "This upload URL can still be used." in detail
    assert SubmissionFile.objects.get(submission_id=body["submissionId"]).uploaded_at is None
    assert put(api, url, at_limit).status_code == 200


def test_a_local_upload_is_opened_once_by_its_check_not_again_at_submit(
    api, workflows, monkeypatch
):
    """Steve's own upload view checked it as it was stored: the submit does not fork a
    second check of the same bytes (only an S3 upload, which Steve never saw, is)."""
    checks = []
    bounded = readable.run_bounded
    monkeypatch.setattr(
        readable, "run_bounded", lambda *a, **kw: checks.append(1) or bounded(*a, **kw)
    )
    _, body, _ = create(api, contentTypes=["application/pdf"])
    assert put(api, body["uploadUrls"][0]["uploadUrl"], receipt_pdf()).status_code == 200
    submit = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submit.status_code == 200, submit.content
    assert len(checks) == 1


def test_submit_refuses_a_file_whose_bytes_are_not_an_accepted_type(api, workflows):
    # Bytes that reached storage without Steve's upload view (an S3 pre-signed PUT).
    _, body, _ = create(api)
    file = SubmissionFile.objects.get(submission_id=body["submissionId"])
    default_storage.save(file.storage_key, ContentFile(b"%!PS-Adobe-3.0 not an image"))
    response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "files[0]",
        "message": response.json()["errors"][0]["message"],
        "code": "UNSUPPORTED_FILE",
    }
    assert WorkflowSession.objects.get().state == SessionState.PENDING


def test_a_submit_with_a_body_member_is_refused_and_the_session_stays_pending(api, workflows):
    """Submit reads no body: metadata sent with it was dropped and the session submitted
    without it, where every other write call refuses a member it does not read."""
    _, body, _ = create(api)
    assert put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes()).status_code == 200
    url = f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit"
    response = api.post(url, {"metadata": {"orderId": "7"}}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert response.json()["errors"] == [
        {"field": "metadata", "message": "Not a field of this request.", "code": "unknown_field"}
    ]
    assert WorkflowSession.objects.get(pk=body["sessionId"]).state == SessionState.PENDING
    assert api.post(url, {}, format="json").json()["state"] == "submitted"


def test_a_submit_whose_body_is_not_json_is_a_400_and_submits_nothing(api, workflows):
    _, body, _ = create(api)
    assert put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes()).status_code == 200
    url = f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit"
    response = api.post(url, "{", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "INVALID_JSON"
    assert WorkflowSession.objects.get(pk=body["sessionId"]).state == SessionState.PENDING
    assert api.post(url).json()["state"] == "submitted"  # no body at all is still fine


def test_submit_without_files_is_files_missing(api, workflows):
    _, body, _ = create(api)
    response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert response.status_code == 422
    assert response.json()["type"].endswith("/files-missing")
    assert response.json()["code"] == "FILES_MISSING"
    assert response.json()["errors"] == [
        {"field": "files[0]", "message": "Not uploaded.", "code": "missing"}
    ]


def test_an_upload_cut_short_is_refused_and_leaves_the_url_usable(api, workflows):
    _, body, _ = create(api)
    path = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    data = jpeg_bytes()
    # The client declared the whole file, then its connection ended after half of it.
    cut = api.generic(
        "PUT",
        path,
        data,
        content_type="image/jpeg",
        CONTENT_LENGTH=str(len(data)),
        **{"wsgi.input": io.BytesIO(data[: len(data) // 2])},
    )
    assert cut.status_code == 400
    assert cut.json()["code"] == "INCOMPLETE_UPLOAD"
    assert SubmissionFile.objects.get().uploaded_at is None
    assert put(api, body["uploadUrls"][0]["uploadUrl"], data).status_code == 200


@pytest.mark.parametrize("declared", ["-1", "abc", "1.5", "\u00b2"])
def test_a_malformed_content_length_is_named_and_leaves_the_url_usable(api, workflows, declared):
    """It was answered EMPTY_FILE (Django reads it as 0), though the file was not empty."""
    _, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    data = jpeg_bytes()
    response = api.generic(
        "PUT",
        url.removeprefix("http://testserver"),
        data,
        content_type="image/jpeg",
        CONTENT_LENGTH=declared,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CONTENT_LENGTH"
    assert "Content-Length" in response.json()["detail"]
    assert SubmissionFile.objects.get().uploaded_at is None
    assert put(api, url, data).status_code == 200


def test_empty_upload_is_refused(api, workflows):
    _, body, _ = create(api)
    response = put(api, body["uploadUrls"][0]["uploadUrl"], b"")
    assert response.status_code == 400
    assert response.json()["code"] == "EMPTY_FILE"


def test_submit_after_expiry_is_410_and_expires_the_session(api, workflows):
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    WorkflowSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert response.status_code == 410
    assert response.json()["code"] == "SESSION_EXPIRED"
    session = WorkflowSession.objects.get()
    assert session.state == SessionState.EXPIRED
    assert session.submission.status == SubmissionStatus.CANCELLED


def test_submit_of_another_keys_session_is_404(api, workflows, company):
    from tests.factories import api_key

    _, body, _ = create(api)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(company, 'other').secret}")
    response = other.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert response.status_code == 404
    assert other.get(f"/api/v1/jobs/{body['sessionId']}").status_code == 404


def test_a_poll_of_a_live_key_is_one_query(api, workflows, django_assert_num_queries):
    _, body, _ = create(api)
    url = f"/api/v1/jobs/{body['sessionId']}"
    # Key, session, rate limits and webhookDeliveryStatus's inputs (seed 000) together.
    with django_assert_num_queries(1):
        response = api.get(url)
    assert response.status_code == 200
    assert response.json()["sessionId"] == body["sessionId"]


def test_a_session_create_holds_its_company_and_key_in_one_round_trip(api, workflows):
    # Both rows are held FOR KEY SHARE against an admin's deletion (_hold_api_key): two
    # statements were two round trips more on every create and clientSubmissionId replay.
    create(api, clientSubmissionId="first")  # the key is read and cached
    with CaptureQueriesContext(connection) as queries:
        status, _, _ = create(api, clientSubmissionId="second")
    assert status == 201
    assert len([q for q in queries if "FOR KEY SHARE" in q["sql"]]) == 1
    assert len(queries) == 12


def test_a_poll_answers_alike_when_the_key_is_due_its_last_used_update(api, api_key, workflows):
    """The one-query poll and the general API path give the same response."""
    _, body, _ = create(api)
    url = f"/api/v1/jobs/{body['sessionId']}"
    quick = api.get(url)
    ApiKey.objects.filter(pk=api_key.api_key.pk).update(last_used_at=None)
    cache.delete_many(
        [api_key_cache_key(api_key.api_key.digest), touch_cache_key(api_key.api_key.digest)]
    )
    general = api.get(url)
    assert ApiKey.objects.get(pk=api_key.api_key.pk).last_used_at is not None
    assert general.content == quick.content
    for header in ("Content-Type", "Retry-After", "Allow", "X-RateLimit-Limit"):
        assert general[header] == quick[header], header
    assert int(general["X-RateLimit-Remaining"]) == int(quick["X-RateLimit-Remaining"]) - 1


def test_polling_with_a_revoked_key_is_403_at_once(api, api_key, workflows):
    _, body, _ = create(api)
    url = f"/api/v1/jobs/{body['sessionId']}"
    assert api.get(url).status_code == 200
    api_key_revoke(api_key=api_key.api_key)
    response = api.get(url)
    assert response.status_code == 403
    assert response.json()["code"] == "API_KEY_REVOKED"


def test_the_orm_poll_read_answers_like_the_prepared_query(api, api_key, workflows):
    """SQLite (the embedded default) reads through the ORM; it must show the same job."""
    from jobs.api.serializers import job_data
    from jobs.selectors import session_for_poll, session_for_poll_orm

    _, body, _ = create(api, metadata={"orderId": "7"})
    digest = api_key.api_key.digest
    fast = session_for_poll(session_id=body["sessionId"], key_digest=digest)
    orm = session_for_poll_orm(session_id=body["sessionId"], key_digest=digest)
    assert fast is not None and orm is not None
    assert job_data(orm[0]) == job_data(fast[0])
    assert (orm[1].pk, orm[1].last_used_at) == (fast[1].pk, fast[1].last_used_at)
    assert orm[1].company.rate_limits == fast[1].company.rate_limits
    api_key_revoke(api_key=api_key.api_key)
    assert session_for_poll_orm(session_id=body["sessionId"], key_digest=digest) is None


def test_the_poll_query_is_a_prepared_statement(api, workflows):
    _, body, _ = create(api)
    for _ in range(6):  # psycopg prepares a statement on its fifth run
        api.get(f"/api/v1/jobs/{body['sessionId']}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%jobs_workflowsession%k.digest%"],
        )
        assert cursor.fetchone()[0] == 1


def test_job_poll_shows_the_seed_fields(api, workflows):
    _, body, _ = create(api, metadata={"orderId": "1"})
    job = api.get(f"/api/v1/jobs/{body['sessionId']}").json()
    assert set(job) >= {
        "sessionId",
        "submissionId",
        "workflow",
        "companyId",
        "state",
        "submissionStatus",
        "result",
        "failedReason",
        "clientSubmissionId",
        "metadata",
        "processedAt",
        "webhookDeliveryStatus",
        "progress",
        "createdAt",
        "updatedAt",
        "expiresAt",
    }
    assert job["state"] == "pending" and job["result"] is None
    assert job["webhookDeliveryStatus"] is None
    assert job["metadata"] == {"orderId": "1"}


def test_every_status_change_writes_one_event(api, workflows):
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    events = list(
        SubmissionEvent.objects.order_by("id").values_list("type", "from_status", "to_status")
    )
    assert events == [
        ("created", "", "created"),
        ("session_submitted", "pending", "submitted"),
        ("processing_started", "created", "processing"),
    ]


def test_an_upload_to_a_slot_left_empty_at_submit_says_the_session_ended(api, workflows):
    _, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/jpeg"])
    first, second = (u["uploadUrl"] for u in body["uploadUrls"])
    assert put(api, first, jpeg_bytes()).status_code == 200
    submit = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submit.status_code == 200

    late = put(api, second, jpeg_bytes("black"))

    assert late.status_code == 410
    assert late.json()["code"] == "SESSION_NOT_PENDING"
    assert put(api, first, jpeg_bytes("black")).json()["code"] == "SESSION_NOT_PENDING"


# The routes' slug converter takes no such slug: these were the router's generic
# NOT_FOUND, a code createSession and submitSession do not document.
@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/v1/workflows/a.b/sessions", "WORKFLOW_NOT_FOUND"),
        ("/api/v1/workflows/sub-\u202eevil/sessions", "WORKFLOW_NOT_FOUND"),
        ("/api/v1/workflows/a.b/sessions/ses_x/submit", "JOB_NOT_FOUND"),
    ],
)
def test_a_session_path_its_routes_refuse_answers_the_documented_404(api, workflows, path, code):
    body = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "odd-path"}
    response = api.post(path, body, format="json")
    assert response.status_code == 404, response.content
    problem = response.json()
    assert problem["code"] == code
    assert "\u202e" not in problem["detail"] and "\u202e" not in problem["instance"]
    assert not WorkflowSession.objects.exists()


def test_a_session_path_its_routes_refuse_still_needs_a_key(client, workflows):
    assert client.post("/api/v1/workflows/a.b/sessions").status_code == 401
