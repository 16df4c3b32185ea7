"""The one-shot extraction-jobs API of seed 003 (and the job states of seed 002)."""

import base64
import json
from datetime import timedelta
from pathlib import Path
from unittest import mock

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from jobs import pipeline
from jobs.extraction import readable
from jobs.extraction.document import MAX_PDF_PAGES, too_many_pages
from jobs.models import WorkflowSession
from jobs.services import retention_purge
from steve.services import workflow_publish
from submissions.models import Submission
from submissions.services import Actor, submission_cancel
from tests.jobs.fixtures_docs import InvoiceSpec, invoice_pdf
from tests.openapi import published_schema
from webhooks.models import WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "/api/v1/extraction-jobs"


def create(api, data: bytes = b"", headers: dict | None = None, **fields):
    payload = {"file": SimpleUploadedFile("invoice.pdf", data or invoice_pdf()), **fields}
    return api.post(
        URL, {"templateName": "invoice", **payload}, format="multipart", **(headers or {})
    )


def run_job(job_id: str) -> None:
    pipeline.run(job_id)


def status_of(api, job_id: str) -> dict:
    response = api.get(f"{URL}/{job_id}")
    assert response.status_code == 200, response.content
    return response.json()["job"]


def test_multipart_job_is_queued_then_completed_with_a_result(api, workflows):
    response = create(api)
    assert response.status_code == 202
    job = response.json()["job"]
    assert response.json()["success"] is True
    assert job["status"] == "queued" and job["retryAfterMs"] == 5000
    assert job["statusUrl"] == f"{URL}/{job['id']}"
    queued = api.get(f"{URL}/{job['id']}")
    assert queued.json()["job"]["status"] == "queued" and queued["Retry-After"] == "5"
    assert api.get(f"{URL}/{job['id']}/result").json()["code"] == "RESULT_NOT_READY"
    run_job(job["id"])
    done = status_of(api, job["id"])
    assert done["status"] == "completed" and done["resultAvailable"] is True
    result = api.get(done["resultUrl"]).json()
    assert result["job"]["status"] == "completed"
    document = result["data"]["documents"][0]
    assert document["fields"]["invoiceNumber"] == "INV-2024-0042"
    assert document["fields"]["totalAmount"] == 246.0
    assert result["data"]["originalName"] == "invoice.pdf"
    assert result["data"]["processedPages"] == 1
    assert "text" not in document
    schema = api.get("/api/v1/workflows/invoice").json()["outputJsonSchema"]
    jsonschema.validate(document["fields"], schema)


def test_json_base64_job_with_return_text(api, workflows):
    body = {
        "templateName": "invoice",
        "file": base64.b64encode(invoice_pdf()).decode(),
        "filename": "inv.pdf",
        "returnText": True,
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 202
    job_id = response.json()["job"]["id"]
    run_job(job_id)
    data = api.get(f"{URL}/{job_id}/result").json()["data"]
    assert data["originalName"] == "inv.pdf"
    assert "INV-2024-0042" in data["documents"][0]["text"][0]


def test_a_json_job_sent_without_a_filename_reports_no_original_name(api, workflows):
    # It reported "upload", a name the caller never sent (seed 003: data *may* include it).
    body = {"templateName": "invoice", "file": base64.b64encode(invoice_pdf()).decode()}
    response = api.post(URL, body, format="json")
    assert response.status_code == 202, response.content
    job_id = response.json()["job"]["id"]
    run_job(job_id)
    assert api.get(f"{URL}/{job_id}/result").json()["data"]["originalName"] is None


def test_document_review_gate_holds_the_result_back(api, workflows):
    job_id = create(api, documentReview="99").json()["job"]["id"]
    run_job(job_id)
    job = status_of(api, job_id)
    assert job["status"] == "review_required"
    assert job["reviewThreshold"] == 99
    assert job["reviewFlaggedFieldCount"] >= 1
    assert job["resultAvailable"] is False
    refused = api.get(f"{URL}/{job_id}/result")
    assert refused.status_code == 409 and refused.json()["code"] == "REVIEW_REQUIRED"
    submission = Submission.objects.get()
    assert submission.status == "review"  # the review queue sees it
    assert job["submissionId"] == submission.pk  # ... and the integrator knows which one
    assert api.get(f"/api/v1/submissions/{job['submissionId']}").status_code == 200


def test_a_job_rejected_in_review_failed_with_submission_rejected(api, workflows):
    # Every answer is also checked against the published schema (tests/conftest.py).
    job_id = create(api, documentReview="99").json()["job"]["id"]
    run_job(job_id)
    submission_id = status_of(api, job_id)["submissionId"]
    rejected = api.post(
        f"/api/v1/submissions/{submission_id}/reject", {"reason": "bad scan"}, format="json"
    )
    assert rejected.status_code == 200

    response = api.get(f"{URL}/{job_id}")
    job = response.json()["job"]
    assert job["status"] == "failed"
    assert job["error"] == {
        "message": "bad scan",
        "code": "SUBMISSION_REJECTED",
        "details": {"step": "review", "retryable": False},
    }


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"options.returnText": "true"}, "NESTED_OPTIONS_REJECTED"),
        ({"deliveryMode": "email"}, "INVALID_DELIVERY_MODE"),
        ({"delivery.mode": "webhook"}, "WEBHOOK_NOT_CONFIGURED"),
        ({"documentReview": "0"}, "INVALID_DOCUMENT_REVIEW"),
        ({"documentReview": "100"}, "INVALID_DOCUMENT_REVIEW"),
        ({"returnText": "maybe"}, "INVALID_REQUEST"),
        ({"schemaChunking": "weird"}, "INVALID_REQUEST"),
        ({"documentSplitting": "maybe"}, "INVALID_REQUEST"),
        ({"returnDocuments": "2"}, "INVALID_REQUEST"),
    ],
)
def test_invalid_options_are_400_with_a_code(api, workflows, fields, code):
    response = create(api, **fields)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["success"] is False and body["error"]["code"] == code


@pytest.mark.parametrize("review", ["1e400", "-1e400", "1e308", "50.0", "true", "[50]"])
def test_a_json_document_review_no_whole_number_can_hold_is_a_400_and_makes_no_job(
    api, workflows, review
):
    """1e400 parses as an infinite float, which int() cannot convert: the create
    answered 500 INTERNAL_ERROR instead of naming the member."""
    file = base64.b64encode(invoice_pdf()).decode()
    raw = f'{{"templateName": "invoice", "file": "{file}", "documentReview": {review}}}'
    response = api.post(URL, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "INVALID_DOCUMENT_REVIEW"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("documentReview", "range")]
    assert not WorkflowSession.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        # Not the alias's object: it was ignored, and the job polled.
        ({"delivery": "webhook"}, "delivery"),
        ({"delivery": ["webhook"]}, "delivery"),
        # Both spellings, disagreeing: deliveryMode won without a word.
        ({"deliveryMode": "poll", "delivery": {"mode": "webhook"}}, "delivery.mode"),
        ({"deliveryMode": "webhook", "delivery.mode": "poll"}, "delivery.mode"),
    ],
)
def test_a_delivery_alias_steve_would_not_follow_is_a_400_and_makes_no_job(
    api, workflows, fields, field
):
    body = {"templateName": "invoice", "file": base64.b64encode(invoice_pdf()).decode()}
    response = api.post(URL, {**body, **fields}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_DELIVERY_MODE"
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not WorkflowSession.objects.exists()


def test_a_delivery_alias_agreeing_with_delivery_mode_is_taken(api, workflows):
    body = {"templateName": "invoice", "file": base64.b64encode(invoice_pdf()).decode()}
    for fields in (
        {"delivery": {"mode": "poll"}},
        {"deliveryMode": "poll", "delivery": {"mode": "poll"}},
        {"deliveryMode": "poll", "delivery.mode": "poll"},
        {"delivery": None},
    ):
        assert api.post(URL, {**body, **fields}, format="json").status_code == 202, fields


@pytest.mark.parametrize("declared", ["-1", "abc", "\u00b2"])
def test_a_malformed_content_length_is_400_invalid_request_naming_it(api, workflows, declared):
    response = create(api, headers={"CONTENT_LENGTH": declared})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "INVALID_REQUEST" and "Content-Length" in body["detail"]
    assert body["success"] is False and body["error"]["code"] == "INVALID_REQUEST"


def test_a_refused_file_answers_in_the_seed_envelope_too(api, workflows):
    response = create(api, data=b"MZ\x90\x00 not a document")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "UNSUPPORTED_FILE"
    assert body["success"] is False and body["error"]["code"] == "UNSUPPORTED_FILE"


def test_unknown_template_is_404(api, workflows):
    response = api.post(
        URL, {"templateName": "nope", "file": SimpleUploadedFile("a.pdf", invoice_pdf())}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "TEMPLATE_NOT_FOUND"


@pytest.mark.parametrize("template", [{}, {"templateName": "invoice"}])
def test_a_filter_name_is_404_with_or_without_a_template_and_makes_no_job(api, workflows, template):
    """Seed 003: a filterName scopes the extraction, and a filter Steve does not have is
    a 404. Alone it was; beside a templateName it was dropped without a word, and the job
    ran unfiltered while its caller believed otherwise."""
    body = {"file": base64.b64encode(invoice_pdf()).decode(), "filterName": "vendor-x"}
    response = api.post(URL, {**body, **template}, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["code"] == "TEMPLATE_NOT_FOUND"
    assert response.json()["error"]["code"] == "TEMPLATE_NOT_FOUND"
    assert [error["field"] for error in response.json()["errors"]] == ["filterName"]
    assert not WorkflowSession.objects.exists()


def test_unsupported_bytes_are_refused_at_create(api, workflows):
    response = create(api, data=b"GIF89a not accepted here")
    assert response.status_code == 400
    assert response.json()["code"] == "UNSUPPORTED_FILE"
    assert "(pdf, jpeg, png, webp)" in response.json()["detail"]


def test_an_empty_file_is_refused_as_empty_at_create(api, workflows):
    empty = SimpleUploadedFile("invoice.pdf", b"")
    response = api.post(URL, {"templateName": "invoice", "file": empty}, format="multipart")
    assert response.status_code == 400
    assert response.json()["code"] == "EMPTY_FILE"


def test_encrypted_pdf_needs_its_password(api, workflows):
    locked = invoice_pdf(password="s3cret")
    # Without its password, processing could only fail it: refused at create, no job.
    without = create(api, data=locked)
    assert without.status_code == 400, without.content
    assert without.json()["code"] == "PASSWORD_REQUIRED"
    assert without.json()["detail"] == "The PDF is encrypted; a password is required."
    assert [e["field"] for e in without.json()["errors"]] == ["file"]
    assert not WorkflowSession.objects.exists()
    # With a wrong one, only processing can tell: the job fails.
    wrong = create(api, data=locked, password="not-it").json()["job"]["id"]
    run_job(wrong)
    job = status_of(api, wrong)
    assert job["status"] == "failed" and job["error"]["code"] == "PASSWORD_INVALID"
    # The error reads as GET /api/v1/jobs/{id} gives it (docs/api.md).
    assert job["error"]["details"] == {"step": "file_validation", "retryable": False}
    assert api.get(f"/api/v1/jobs/{wrong}").json()["error"] == job["error"]
    assert api.get(f"{URL}/{wrong}/result").json()["code"] == "JOB_FAILED"
    # Another invoice: the same bytes again would be (rightly) flagged as a duplicate.
    other = invoice_pdf(InvoiceSpec(number="INV-7"), password="s3cret")
    with_password = create(api, data=other, password="s3cret").json()["job"]["id"]
    run_job(with_password)
    assert status_of(api, with_password)["status"] == "completed"
    assert "password" not in WorkflowSession.objects.get(pk=with_password).options


def test_a_pdf_over_the_page_limit_is_refused_at_create_in_processings_words(api, workflows):
    """Processing refuses it (PAGE_LIMIT_EXCEEDED) before reading a page: the job was
    queued (202) only to fail."""
    response = create(api, data=invoice_pdf(extra_pages=MAX_PDF_PAGES))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == body["error"]["code"] == "PAGE_LIMIT_EXCEEDED"
    assert body["detail"] == too_many_pages(MAX_PDF_PAGES + 1).message
    assert [e["field"] for e in body["errors"]] == ["file"]
    assert not WorkflowSession.objects.exists()
    assert create(api, data=invoice_pdf(extra_pages=MAX_PDF_PAGES - 1)).status_code == 202


def test_a_pdf_no_reader_opens_is_refused_at_create(api, workflows):
    half = invoice_pdf()[: len(invoice_pdf()) // 2]
    response = create(api, data=half)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "UNSUPPORTED_FILE"
    assert "cannot be opened as a PDF" in response.json()["detail"]
    assert not WorkflowSession.objects.exists()


def test_a_create_opens_its_file_once_and_names_it_beside_a_bad_option(api, workflows, monkeypatch):
    checks = []
    bounded = readable.run_bounded
    monkeypatch.setattr(
        readable, "run_bounded", lambda *a, **kw: checks.append(1) or bounded(*a, **kw)
    )
    response = create(api, data=invoice_pdf(extra_pages=MAX_PDF_PAGES), returnText="maybe")
    assert refused(response) == (
        400,
        "INVALID_REQUEST",
        [("returnText", "invalid"), ("file", "too_many_pages")],
    )
    assert create(api).status_code == 202
    assert len(checks) == 2  # one for each create, not one for the view and the service


def test_a_password_protected_pdf_on_the_desk_says_its_pages_are_not_kept(api, workflows, ui):
    """Its password is dropped once the job ends, so the desk cannot render its pages:
    each page was a broken image (404). The desk says so instead, and offers the file."""
    locked = invoice_pdf(password="s3cret")
    job_id = create(api, data=locked, password="s3cret").json()["job"]["id"]
    run_job(job_id)
    session = WorkflowSession.objects.select_related("submission").get(pk=job_id)
    assert "password" not in session.options
    html = ui.get(reverse("review:detail", args=[session.submission_id])).content.decode()
    assert "This PDF is password-protected; its pages are not kept." in html
    assert reverse("review:file_page", args=[session.submission_id, 0, 0]) not in html
    assert reverse("review:file", args=[session.submission_id, 0]) in html
    assert session.submission.files.get().password_protected
    # A PDF without a password, sent with one all the same, is shown as ever.
    plain = create(api, data=invoice_pdf(InvoiceSpec(number="INV-8")), password="x")
    run_job(plain.json()["job"]["id"])
    other = WorkflowSession.objects.get(pk=plain.json()["job"]["id"])
    assert not other.submission.files.get().password_protected


def test_cancelled_submission_reports_canceled(api, workflows):
    job_id = create(api).json()["job"]["id"]
    session = WorkflowSession.objects.get(pk=job_id)
    submission_cancel(submission_id=session.submission_id, actor=Actor.system())
    assert status_of(api, job_id)["status"] == "canceled"
    assert api.get(f"{URL}/{job_id}/result").json()["code"] == "JOB_CANCELED"


def test_purged_result_is_expired_stub_and_410(api, workflows, settings):
    job_id = create(api).json()["job"]["id"]
    run_job(job_id)
    long_ago = timezone.now() - timedelta(days=31)
    Submission.objects.update(created_at=long_ago, updated_at=long_ago)  # decided then
    assert retention_purge() == 1
    job = status_of(api, job_id)
    assert job["status"] == "expired" and job["result"]["expired"] is True
    gone = api.get(f"{URL}/{job_id}/result")
    assert gone.status_code == 410 and gone.json()["code"] == "RESULT_EXPIRED"
    submission = api.get(f"/api/v1/submissions/{Submission.objects.get().pk}").json()
    assert submission["extractedData"] is None
    assert submission["files"][0]["downloadUrl"] is None


def test_a_cancelled_job_stays_canceled_after_the_purge(api, workflows):
    job_id = create(api).json()["job"]["id"]
    submission = Submission.objects.get()
    submission_cancel(submission_id=submission.pk, actor=Actor.system(), reason="")
    long_ago = timezone.now() - timedelta(days=31)
    Submission.objects.update(created_at=long_ago, updated_at=long_ago)
    assert retention_purge() == 1
    assert status_of(api, job_id)["status"] == "canceled"
    assert api.get(f"{URL}/{job_id}/result").json()["code"] == "JOB_CANCELED"


def test_a_cancelled_jobs_canceled_at_is_when_it_was_cancelled_not_when_it_was_purged(
    api, workflows
):
    job_id = create(api).json()["job"]["id"]
    submission = Submission.objects.get()
    submission_cancel(submission_id=submission.pk, actor=Actor.system(), reason="")
    canceled_at = status_of(api, job_id)["canceledAt"]
    long_ago = timezone.now() - timedelta(days=31)
    Submission.objects.update(created_at=long_ago, updated_at=long_ago)
    assert retention_purge() == 1  # saves the submission, moving its updated_at
    assert status_of(api, job_id)["canceledAt"] == canceled_at


def test_a_result_polled_while_the_purge_runs_is_not_left_stored(
    api, workflows, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage

    from jobs import services

    settings.LARGE_RESULT_BYTES = 100  # the result is stored as a file and pointed to
    job_id = create(api).json()["job"]["id"]
    run_job(job_id)
    session = WorkflowSession.objects.get(pk=job_id)
    stored = f"results/{session.company_id}/{session.pk}.json"
    forget = services.fraud_forget_results

    def polled_meanwhile(**kwargs):  # after the file was deleted, before the purge commits
        assert api.get(f"{URL}/{job_id}/result").json()["data"]["is_url"] is True
        return forget(**kwargs)

    monkeypatch.setattr(services, "fraud_forget_results", polled_meanwhile)
    long_ago = timezone.now() - timedelta(days=31)
    Submission.objects.update(created_at=long_ago, updated_at=long_ago)
    with django_capture_on_commit_callbacks(execute=True):
        assert retention_purge() == 1
    assert not default_storage.exists(stored)
    assert api.get(f"{URL}/{job_id}/result").status_code == 410


def test_large_result_is_returned_as_a_pointer(api, workflows, settings):
    settings.LARGE_RESULT_BYTES = 100
    job_id = create(api).json()["job"]["id"]
    run_job(job_id)
    data = api.get(f"{URL}/{job_id}/result").json()["data"]
    assert data["is_url"] is True
    stored = api.get(data["url"].removeprefix("http://testserver"))
    body = b"".join(stored.streaming_content)
    assert b"INV-2024-0042" in body


def test_idempotency_key_replays_the_job(api, workflows):
    headers = {"HTTP_IDEMPOTENCY_KEY": "inv-1001-upload-1"}
    pdf = invoice_pdf()
    first = create(api, data=pdf, headers=headers)
    replay = create(api, data=pdf, headers=headers)
    assert first.status_code == 202
    assert replay.status_code == 200
    assert replay["X-Idempotent-Replay"] == "true"
    assert replay.json() == first.json()
    assert WorkflowSession.objects.count() == 1


def test_a_jobs_client_submission_id_is_steves_own_never_its_idempotency_key(api, workflows):
    """docs/api.md, Replays: an Idempotency-Key is forgotten after 7 days and may then name
    a new job, while a clientSubmissionId stays bound for good, so the key is not it."""
    key = "inv-1001-upload-1"
    first = create(api, headers={"HTTP_IDEMPOTENCY_KEY": key}).json()["job"]["id"]
    second = create(api).json()["job"]["id"]
    submissions = [WorkflowSession.objects.get(pk=job).submission_id for job in (first, second)]
    ids = [api.get(f"/api/v1/submissions/{s}").json()["clientSubmissionId"] for s in submissions]
    assert all(made.startswith("xj_") and len(made) == 29 for made in ids)
    assert key not in ids and ids[0] != ids[1]


def test_jobs_are_read_in_the_callers_company_and_environment_not_by_its_key(
    api, workflows, company
):
    from rest_framework.test import APIClient

    from tests.factories import CompanyFactory, api_key

    def client_of(created) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"api-key {created.secret}")
        return client

    job_id = create(api).json()["job"]["id"]
    # Seed 003: "job reads are scoped by the caller's environment".
    same_environment = client_of(api_key(company, "replacement"))
    assert same_environment.get(f"{URL}/{job_id}").status_code == 200
    assert same_environment.get(f"{URL}/{job_id}/result").json()["code"] == "RESULT_NOT_READY"
    for outsider in (api_key(company, "sandbox", "sandbox"), api_key(CompanyFactory())):
        response = client_of(outsider).get(f"{URL}/{job_id}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "JOB_NOT_FOUND"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: garbage\r\n"),
        ("application/json", b'{"templateName": '),
    ],
)
def test_an_unreadable_body_is_answered_in_the_peers_envelope(api, workflows, content_type, body):
    response = api.generic("POST", URL, body, content_type=content_type)
    assert response.status_code == 400
    problem = response.json()
    assert problem["success"] is False
    assert problem["error"] == {"code": problem["code"], "message": problem["detail"]}


@pytest.mark.parametrize("path", ["", "/job_x", "/job_x/result"])
def test_a_missing_or_wrong_key_is_refused_in_the_peers_envelope(anon_api, path):
    method = anon_api.post if path == "" else anon_api.get
    for client_key in (None, "aok_" + "1" * 40):
        if client_key:
            anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {client_key}")
        body = method(URL + path).json()
        assert body["status"] == 401 and body["success"] is False
        assert body["error"] == {"code": body["code"], "message": body["detail"]}


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({"templateName": ["invoice"]}, "templateName"),
        ({"templateName": 5}, "templateName"),
        ({"file": 5}, "file"),
        ({"filename": 5}, "filename"),
        ({"password": {"p": 1}}, "password"),
    ],
)
def test_a_text_field_of_another_type_is_a_400_naming_it(api, workflows, fields, wrong):
    body = {
        "templateName": "invoice",
        "file": base64.b64encode(invoice_pdf()).decode(),
        **fields,
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"
    assert response.json()["errors"] == [
        {"field": wrong, "message": "Must be a string.", "code": "invalid_type"}
    ]
    assert not WorkflowSession.objects.exists()


def test_a_json_filename_longer_than_a_multipart_one_is_a_400_and_not_stored(api, workflows):
    body = {
        "templateName": "invoice",
        "file": base64.b64encode(invoice_pdf()).decode(),
        "filename": "x" * 256 + ".pdf",
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"
    assert [e["field"] for e in response.json()["errors"]] == ["filename"]
    assert not WorkflowSession.objects.exists()


# A PDF reads at most 127 bytes of a password (AES-256; RC4 32 bytes): docs/api.md.
MAX_PASSWORD = 127


def test_a_password_longer_than_any_pdf_reads_is_a_400_and_not_stored(api, workflows):
    """A 10,000-character password was kept in the job's options, up to the body's limit."""
    locked = invoice_pdf(password="p" * MAX_PASSWORD)
    assert create(api, data=locked, password="p" * MAX_PASSWORD).status_code == 202
    for sent in ("p" * (MAX_PASSWORD + 1), "p" * 10_000):
        body = {"templateName": "invoice", "file": base64.b64encode(locked).decode()}
        for response in (
            create(api, data=locked, password=sent),
            api.post(URL, {**body, "password": sent}, format="json"),
        ):
            assert response.status_code == 400, response.content
            assert response.json()["code"] == response.json()["error"]["code"] == "INVALID_REQUEST"
            assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
                ("password", "max_length")
            ]
    assert WorkflowSession.objects.count() == 1
    documented = published_schema()["paths"][URL]["post"]["requestBody"]["content"]
    for media in ("multipart/form-data", "application/json"):
        assert documented[media]["schema"]["properties"]["password"]["maxLength"] == MAX_PASSWORD


def multipart_with_password(password: bytes) -> bytes:
    return (
        b'--b\r\nContent-Disposition: form-data; name="templateName"\r\n\r\ninvoice\r\n'
        b'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n' + password + b"\r\n"
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="invoice.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n" + invoice_pdf(password="s3cret") + b"\r\n--b--\r\n"
    )


@pytest.mark.parametrize("password", [b"s3cr\xe9t", b"\xff\xfe", b"s3cret\xed\xa0\x80"])
def test_a_multipart_password_that_is_not_utf8_is_a_400_not_stored_garbled(
    api, workflows, password
):
    """Django reads a form's text as UTF-8, replacing what is not (U+FFFD): a Latin-1
    password was kept as "s3cr\ufffdt", a password no PDF has, and the job failed
    PASSWORD_INVALID in processing."""
    body = multipart_with_password(password)
    response = api.generic("POST", URL, body, content_type="multipart/form-data; boundary=b")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_REQUEST"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("password", "invalid_encoding")
    ]
    assert not WorkflowSession.objects.exists()
    good = multipart_with_password("s3cr\u00e9t".encode())
    # In UTF-8 the same letters are taken (the PDF's own password is another: it fails later).
    taken = api.generic("POST", URL, good, content_type="multipart/form-data; boundary=b")
    assert taken.status_code == 202, taken.content


def multipart_named(name: str) -> bytes:
    """A create as a browser or curl sends it, the file's name as given (the test client
    would take os.path.basename of it first)."""
    parts = [
        b'--b\r\nContent-Disposition: form-data; name="templateName"\r\n\r\ninvoice\r\n',
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.replace("\\", "\\\\").encode()
        + b'"\r\nContent-Type: application/pdf\r\n\r\n'
        + invoice_pdf()
        + b"\r\n--b--\r\n",
    ]
    return b"".join(parts)


def original_name_of(response) -> str | None:
    assert response.status_code == 202, response.content
    return WorkflowSession.objects.get(pk=response.json()["job"]["id"]).options["originalName"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\inv.pdf", "inv.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # shown as "invoiceexe.pdf"
        ("in\u200bvoice\u2066.pdf\u2069", "invoice.pdf"),
        ("invoice\x07.pdf", "invoice.pdf"),
        ("inv\ufe0f\u200d.pdf", "inv.pdf"),  # the joiner stood beside the selector only
        ("invoice\u2800\u3164.pdf", "invoice.pdf"),  # blank, yet printable to Django
        ("re\u00e7u \U0001f469\u200d\U0001f4bb.pdf", "re\u00e7u \U0001f469\u200d\U0001f4bb.pdf"),
    ],
)
def test_a_json_and_a_multipart_upload_keep_the_same_clean_original_name(
    api, workflows, sent, kept
):
    body = {"templateName": "invoice", "file": base64.b64encode(invoice_pdf()).decode()}
    as_json = api.post(URL, {**body, "filename": sent}, format="json")
    assert original_name_of(as_json) == kept
    if "\u200d" not in sent:  # Django drops a joiner even where an emoji needs it
        multipart = multipart_named(sent)
        as_multipart = api.generic(
            "POST", URL, multipart, content_type="multipart/form-data; boundary=b"
        )
        assert original_name_of(as_multipart) == kept


def test_a_name_stored_before_it_was_cleaned_is_reported_clean(api, workflows):
    job_id = create(api).json()["job"]["id"]
    session = WorkflowSession.objects.get(pk=job_id)
    session.options["originalName"] = "../../x/invoice\u202efdp.exe"
    session.save(update_fields=["options"])
    run_job(job_id)
    assert api.get(f"{URL}/{job_id}/result").json()["data"]["originalName"] == "invoicefdp.exe"


@pytest.mark.parametrize("sent", ["..", "../", "C:\\x\\", "\u202e", "a/\u200b\u2800"])
def test_a_json_filename_that_names_no_file_is_a_400_and_not_stored(api, workflows, sent):
    body = {
        "templateName": "invoice",
        "file": base64.b64encode(invoice_pdf()).decode(),
        "filename": sent,
    }
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "INVALID_REQUEST"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("filename", "invalid")]
    assert not WorkflowSession.objects.exists()


def test_a_post_larger_than_any_allowed_file_is_refused_before_it_is_read(
    api, workflows, monkeypatch
):
    from rest_framework.parsers import MultiPartParser

    from steve.models import WorkflowVersion

    for version in WorkflowVersion.objects.all():
        version.upload = {**version.upload, "maxFileSizeMb": 0.01}  # 10 KB
        version.save(update_fields=["upload"])

    def never(*args, **kwargs):
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(MultiPartParser, "parse", never)
    response = create(api, data=b"%PDF-1.4 " + b"0" * 100_000)
    assert response.status_code == 413
    assert response.json()["code"] == "FILE_TOO_LARGE" and response.json()["success"] is False


def test_a_multipart_body_with_no_boundary_is_invalid_multipart_not_json(api, workflows):
    response = api.generic("POST", URL, b"--x\r\n\r\n", content_type="multipart/form-data")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_MULTIPART"


def test_a_long_or_hidden_template_name_is_not_repeated_in_the_404(api, workflows):
    for name in ("x" * 5000, "inv\u202eoice"):
        body = {"templateName": name, "file": base64.b64encode(invoice_pdf()).decode()}
        response = api.post(URL, body, format="json")
        assert response.status_code == 404
        assert response.json()["detail"] == "No template of that name."
    short = api.post(URL, {"templateName": "nope", "file": "AAAA"}, format="json")
    assert short.json()["detail"] == "No template 'nope'."


def test_a_company_with_no_templates_is_told_so_not_that_the_file_is_too_large(api, company):
    response = create(api, data=invoice_pdf() + b"\n%" + b"0" * 100_000)  # over 64 KB
    assert response.status_code == 404
    assert response.json()["code"] == "TEMPLATE_NOT_FOUND"


def refused(response) -> tuple[int, str, list[tuple[str, str]]]:
    body = response.json()
    return response.status_code, body["code"], [(e["field"], e["code"]) for e in body["errors"]]


def test_a_create_names_every_invalid_member_in_request_order(api, workflows):
    # docs/api.md "Validation errors": every member once, the first check's code on top.
    response = create(
        api,
        returnText="maybe",
        schemaChunking="weird",
        deliveryMode="email",
        documentReview="0",
        documentSplitting="maybe",
    )
    status, code, errors = refused(response)
    assert (status, code) == (400, "INVALID_DELIVERY_MODE")
    assert [field for field, _ in errors] == [
        "returnText",
        "schemaChunking",
        "deliveryMode",
        "documentReview",
        "documentSplitting",
    ]
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == "INVALID_DELIVERY_MODE"
    assert not WorkflowSession.objects.exists()


def test_a_json_create_names_a_wrong_type_an_unknown_template_and_bad_options_together(
    api, workflows
):
    body = {
        "deliveryMode": "fax",
        "templateName": "nope",
        "filename": 5,
        "file": base64.b64encode(invoice_pdf()).decode(),
        "options.returnText": "true",
    }
    status, code, errors = refused(api.post(URL, body, format="json"))
    assert (status, code) == (400, "INVALID_REQUEST")
    assert errors == [
        ("deliveryMode", "invalid_choice"),
        ("templateName", "not_found"),
        ("filename", "invalid_type"),
        ("options.returnText", "unknown_field"),
    ]


def test_a_create_names_a_bad_file_beside_a_bad_option(api, workflows):
    gif = SimpleUploadedFile("a.gif", b"GIF89a no")
    body = {"templateName": "invoice", "returnText": "maybe", "file": gif}
    status, code, errors = refused(api.post(URL, body, format="multipart"))
    assert (status, code) == (400, "INVALID_REQUEST")
    assert errors == [("returnText", "invalid"), ("file", "unsupported")]
    missing = api.post(URL, {"templateName": "invoice", "returnText": "maybe"}, format="json")
    assert refused(missing) == (
        400,
        "INVALID_REQUEST",
        [("returnText", "invalid"), ("file", "required")],  # one not sent comes last
    )


@pytest.mark.parametrize("format_", ["multipart", "json"])
def test_a_chunked_create_is_411_length_required_not_a_missing_template(api, workflows, format_):
    # The server hands a body without Content-Length to Django as empty: the caller who
    # sent templateName and file was told both were missing.
    body = {"templateName": "invoice", "file": base64.b64encode(invoice_pdf()).decode()}
    request = api._encode_data(body, format=format_)
    response = api.generic(
        "POST",
        URL,
        request[0],
        content_type=request[1],
        CONTENT_LENGTH="",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    assert response.status_code == 411
    problem = response.json()
    assert problem["code"] == "LENGTH_REQUIRED" and problem["error"]["code"] == "LENGTH_REQUIRED"
    assert not WorkflowSession.objects.exists()


def test_a_dotted_form_field_is_listed_where_it_was_sent(api, workflows):
    # A form's `options.returnText` or `delivery.mode` is one member, not `options`.
    pdf = SimpleUploadedFile("invoice.pdf", invoice_pdf())
    body = {"options.returnText": "true", "templateName": "invoice", "documentReview": "0"}
    status, code, errors = refused(api.post(URL, {**body, "file": pdf}, format="multipart"))
    assert (status, code) == (400, "NESTED_OPTIONS_REJECTED")
    assert [field for field, _ in errors] == ["options.returnText", "documentReview"]


def test_a_json_file_in_wrapped_base64_lines_is_read(api, workflows):
    # `base64 invoice.pdf` (GNU coreutils) and Python's encodebytes wrap at 76 columns.
    pdf = invoice_pdf()
    wrapped = base64.encodebytes(pdf).decode()
    assert "\n" in wrapped
    body = {"templateName": "invoice", "file": wrapped, "filename": "inv.pdf"}
    response = api.post(URL, body, format="json")
    assert response.status_code == 202, response.content
    stored = Submission.objects.get().files.get()
    assert stored.size == len(pdf)


def test_the_job_polls_updated_at_moves_when_its_submission_is_approved(api, workflows):
    # A poller that watches updatedAt must see the approval (submissionStatus changes):
    # it moved with the session alone, which review never touches.
    job_id = create(api, documentReview="99").json()["job"]["id"]
    run_job(job_id)
    submission_id = status_of(api, job_id)["submissionId"]
    before = api.get(f"/api/v1/jobs/{job_id}").json()
    later = timezone.now() + timedelta(minutes=5)
    with mock.patch("django.utils.timezone.now", return_value=later):
        approved = api.post(f"/api/v1/submissions/{submission_id}/approve", {}, format="json")
    assert approved.status_code == 200
    after = api.get(f"/api/v1/jobs/{job_id}").json()
    assert after["submissionStatus"] == "approved"
    assert after["updatedAt"] > before["updatedAt"]


def test_a_canceled_jobs_updated_at_is_not_before_its_canceled_at(api, workflows):
    # Seeds 002-004: updatedAt is the last status update. A job cancelled in review
    # answered an updatedAt (its submission's save) before its canceledAt (the cancel
    # event, recorded after the save in the same transaction).
    job_id = create(api, documentReview="99").json()["job"]["id"]
    run_job(job_id)
    submission_id = status_of(api, job_id)["submissionId"]
    clock = [timezone.now()]

    def ticking() -> timezone.datetime:
        clock[0] += timedelta(milliseconds=50)
        return clock[0]

    with mock.patch("django.utils.timezone.now", ticking):
        cancelled = api.post(f"/api/v1/submissions/{submission_id}/cancel", {}, format="json")
    assert cancelled.status_code == 200
    job = status_of(api, job_id)
    assert job["status"] == "canceled"
    assert job["updatedAt"] >= job["canceledAt"]


def test_a_result_is_pointed_to_by_its_size_as_served_not_with_its_letters_escaped(
    api, workflows, settings
):
    """Seed 002: a pointer "at or above 5 MB" of output. The answer is UTF-8 ("é" two
    bytes); the size was taken of JSON with every non-ASCII letter escaped ("\\u00e9",
    six), so a result in Greek or Thai was pointed to at a third or half of the limit."""
    job_id = create(api).json()["job"]["id"]
    run_job(job_id)
    Submission.objects.update(extracted_data={"vendorName": "Bäckerei Müller ééé " * 500})
    settings.LARGE_RESULT_BYTES = 10**9
    inline = api.get(f"{URL}/{job_id}/result")
    data = inline.json()["data"]
    assert "is_url" not in data
    envelope = json.dumps({**inline.json(), "data": None}, separators=(",", ":")).encode()
    served = len(inline.content) - len(envelope) + len(b"null")
    settings.LARGE_RESULT_BYTES = served + 1
    assert "is_url" not in api.get(f"{URL}/{job_id}/result").json()["data"]
    settings.LARGE_RESULT_BYTES = served
    assert api.get(f"{URL}/{job_id}/result").json()["data"]["is_url"] is True


def test_a_template_needing_more_files_than_a_job_carries_is_a_400_and_stores_nothing(
    api, workflows, company, settings
):
    """Seed 003 answers a create it cannot take with 400, and a job carries one file. A
    template whose workflow needs two or more was answered 422 FILES_MISSING, a status
    and code seed 003 has not (nor the create's schema), after the file was stored."""
    invoice = workflows[1]
    upload = {**invoice.upload, "minFiles": 2, "maxFiles": 3}
    workflow_publish(company=company, slug="invoice", name=invoice.workflow.name, upload=upload)
    response = create(api)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "INVALID_REQUEST" and body["error"]["code"] == "INVALID_REQUEST"
    assert "at least 2 files" in body["detail"]
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("templateName", "min_files")]
    assert not WorkflowSession.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


@pytest.mark.parametrize("field", ["options[returnText]", "options[documentReview]"])
def test_a_nested_option_in_bracket_form_is_rejected_as_the_dotted_one_is(api, workflows, field):
    """Seed 003: nested options.* are rejected. A form serializer (axios, qs) writes
    {options: {returnText: true}} as options[returnText]: it was taken, and ignored."""
    response = create(api, **{field: "true"})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "NESTED_OPTIONS_REJECTED"
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not WorkflowSession.objects.exists()


@pytest.mark.parametrize(
    ("events", "created"),
    [
        (["submission.synced"], False),
        (["session.completed"], False),  # a failed job would never be heard of
        (["session.completed", "session.failed"], True),
        ([], True),  # every event
    ],
)
def test_webhook_delivery_needs_an_endpoint_taking_the_events_that_end_a_job(
    api, workflows, company, events, created
):
    """Seed 003: 400 for "unresolved webhook coverage". An enabled endpoint taking none of
    the job's ending events passed, and the caller waited for a webhook never sent."""
    WebhookEndpoint.objects.create(
        company=company, url="https://example.com/hook", secret="x", events=events
    )
    response = create(api, deliveryMode="webhook")
    if created:
        assert response.status_code == 202, response.content
        return
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "WEBHOOK_NOT_CONFIGURED"
    assert "session.failed" in response.json()["detail"]
    assert not WorkflowSession.objects.exists()


@pytest.mark.parametrize(
    ("fields", "repeated"),
    [
        # Two files: a job carries one, and the last part was read, the first dropped.
        (
            {
                "file": [
                    SimpleUploadedFile("first.pdf", invoice_pdf()),
                    SimpleUploadedFile("second.pdf", invoice_pdf()),
                ]
            },
            ["file"],
        ),
        ({"templateName": ["receipt-ocr", "invoice"]}, ["templateName"]),
        ({"documentReview": ["50", ""], "deliveryMode": ["webhook", "poll"]}, None),
    ],
)
def test_a_form_member_sent_twice_is_a_400_naming_it_and_makes_no_job(
    api, workflows, settings, fields, repeated
):
    """A JSON body naming a member twice is refused (INVALID_JSON, `repeated`), and so is
    a query parameter given twice; a form's repeated member was read as its last value,
    so a job ran on another template, without the review gate or on one of two files."""
    response = create(api, **fields)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "INVALID_REQUEST" and body["error"]["code"] == "INVALID_REQUEST"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        (name, "repeated") for name in repeated or list(fields)
    ]
    assert not WorkflowSession.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
