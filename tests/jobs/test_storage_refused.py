"""The disk or S3 refusing a write that Steve makes for a caller: a 503 the caller
retries (STORAGE_UNAVAILABLE, with Retry-After), not a 500 that reads as Steve's bug,
and nothing half-stored: no truncated file left where a later read finds it, the upload
URL still usable, no job made around a file that is not there."""

import io
import json
import os
import resource
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from botocore.config import Config as BotoConfig
from django.core.files.storage import default_storage
from PIL import Image

from jobs.models import WorkflowSession
from steve.gunicorn_conf import timeout as gunicorn_timeout
from submissions.models import Submission, SubmissionFile
from tests.jobs import test_extraction_jobs_api as jobs_api
from tests.jobs.fixtures_docs import invoice_pdf
from tests.jobs.test_sessions_api import create, put

pytestmark = pytest.mark.django_db

# Larger than one of ContentFile's 64-KB chunks, so the disk takes part of it first.
LIMIT = 64 * 1024


@contextmanager
def disk_refusing_files_over(limit: int) -> Iterator[None]:
    """The kernel refuses to write any file past `limit` bytes (RLIMIT_FSIZE): a write is
    cut short with EFBIG, as a full disk cuts it with ENOSPC, after the bytes that fit.
    Python ignores SIGXFSZ, so the write raises instead of ending the process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def noisy_jpeg(side: int = 400) -> bytes:
    """A JPEG of random pixels: it does not compress below LIMIT."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        buffer, "JPEG", quality=95
    )
    data = buffer.getvalue()
    assert len(data) > 2 * LIMIT
    return data


def stored_files(settings) -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def assert_storage_unavailable(response) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "STORAGE_UNAVAILABLE"
    assert int(response["Retry-After"]) > 0


def test_an_upload_the_disk_refuses_is_a_503_and_its_url_works_once_the_disk_does(
    api, workflows, settings
):
    _, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    data = noisy_jpeg()

    with disk_refusing_files_over(LIMIT):
        refused = put(api, url, data)

    assert_storage_unavailable(refused)
    # Not the first 64 KB of the receipt, which the submit would have taken for the file.
    assert stored_files(settings) == []
    assert SubmissionFile.objects.get(submission_id=body["submissionId"]).uploaded_at is None
    stored = put(api, url, data)
    assert stored.status_code == 200, stored.content
    assert stored.json()["size"] == len(data)
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200, submitted.content
    file = SubmissionFile.objects.get(submission_id=body["submissionId"])
    with default_storage.open(file.storage_key, "rb") as handle:
        assert handle.read() == data


def test_a_job_whose_file_the_disk_refuses_is_a_503_and_no_job(api, workflows, settings):
    data = invoice_pdf()
    headers = {"HTTP_IDEMPOTENCY_KEY": "invoice-7"}

    with disk_refusing_files_over(len(data) // 2):
        refused = jobs_api.create(api, data=data, headers=headers)

    assert_storage_unavailable(refused)
    assert not WorkflowSession.objects.exists() and not Submission.objects.exists()
    assert stored_files(settings) == []
    # The key was not spent on the refusal: the same request makes the job.
    again = jobs_api.create(api, data=data, headers=headers)
    assert again.status_code == 202, again.content


def test_a_large_result_the_disk_refuses_is_a_503_and_the_next_poll_stores_it_whole(
    api, workflows, settings
):
    settings.LARGE_RESULT_BYTES = 100  # the result is stored as a file and pointed to
    job_id = jobs_api.create(api).json()["job"]["id"]
    jobs_api.run_job(job_id)
    result_url = f"{jobs_api.URL}/{job_id}/result"

    with disk_refusing_files_over(100):
        refused = api.get(result_url)

    assert_storage_unavailable(refused)
    # A truncated file left behind was served as the result from the next poll on.
    assert not [path for path in stored_files(settings) if path.suffix == ".json"]
    data = api.get(result_url).json()["data"]
    stored = api.get(data["url"].removeprefix("http://testserver"))
    result = json.loads(b"".join(stored.streaming_content))
    assert result["documents"][0]["fields"]["invoiceNumber"] == "INV-2024-0042"


class _RefusingS3(BaseHTTPRequestHandler):
    """An S3-compatible endpoint that refuses every request, as S3 does when throttling
    or in an outage (503 SlowDown)."""

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message></Error>"
        )
        self.send_response(503)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_s3(settings) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RefusingS3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "steve-test",
                "endpoint_url": endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "file_overwrite": True,
                "client_config": settings.S3_CLIENT_CONFIG.merge(
                    BotoConfig(s3={"addressing_style": "path"})
                ),
            },
        },
    }
    yield endpoint
    server.shutdown()
    server.server_close()


def test_a_job_whose_file_s3_refuses_is_a_503_and_no_job(api, workflows, refusing_s3):
    refused = jobs_api.create(api)

    assert_storage_unavailable(refused)
    assert not WorkflowSession.objects.exists() and not Submission.objects.exists()


def test_a_submit_s3_refuses_is_a_503_and_the_session_stays_pending(api, workflows, refusing_s3):
    _, body, _ = create(api)  # presigning its upload URL asks S3 nothing

    refused = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")

    assert_storage_unavailable(refused)
    assert WorkflowSession.objects.get(pk=body["sessionId"]).state == "pending"


def test_an_s3_that_does_not_answer_is_given_up_before_the_web_process_is(settings):
    """botocore waits 60 s to connect and 60 s for each answer, four times over: an S3
    that stopped answering held the request until gunicorn killed its worker, and the
    caller got the proxy's 504 (the request "may have been carried out") instead of a
    503 from Steve."""
    config = settings.S3_CLIENT_CONFIG
    attempts = config.retries["total_max_attempts"]
    # Standard retries back off at most 2 s, then 4 s, between attempts.
    backoff = sum(min(2**n, 20) for n in range(1, attempts))
    longest = attempts * (config.connect_timeout + config.read_timeout) + backoff
    assert longest < gunicorn_timeout
