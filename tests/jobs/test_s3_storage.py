"""The S3 path for real, against a local S3-compatible server (moto in server mode)."""

import hashlib
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from django.core.files.storage import default_storage
from django.utils import timezone
from moto.server import ThreadedMotoServer

from jobs.extraction.document import MAX_PDF_PAGES
from jobs.extraction.readable import unreadable
from jobs.models import SessionState, WorkflowSession
from jobs.services import retention_purge
from steve.storage import download_url
from submissions.models import Submission, SubmissionFile
from tests.jobs.fixtures_docs import invoice_pdf, receipt_pdf
from tests.jobs.test_sessions_api import create, jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    bucket = "steve-test"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    ).create_bucket(Bucket=bucket)
    settings.STORAGE_BACKEND = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "querystring_expire": 3600,
                "file_overwrite": True,
                "signature_version": "s3v4",
                "addressing_style": "path",
            },
        },
    }
    return s3_endpoint


def test_presigned_put_at_upload_and_presigned_get_at_download(api, workflows, s3_storage):
    status, body, _ = create(api)
    assert status == 201
    upload = body["uploadUrls"][0]
    assert upload["uploadUrl"].startswith(s3_storage) and "X-Amz-Signature" in upload["uploadUrl"]
    key = SubmissionFile.objects.get(submission_id=body["submissionId"]).storage_key
    assert upload["r2Url"] == f"s3://steve-test/{key}"
    receipt = jpeg_bytes()
    put = requests.put(upload["uploadUrl"], data=receipt, timeout=10)
    assert put.status_code == 200, put.text
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200, submitted.json()
    detail = api.get(f"/api/v1/submissions/{body['submissionId']}").json()
    url = detail["files"][0]["downloadUrl"]
    assert url.startswith(s3_storage) and "X-Amz-Expires=3601" in url
    assert requests.get(url, timeout=10).content == receipt


def test_a_presigned_put_lasts_until_the_expiry_the_create_announced(api, workflows, s3_storage):
    # X-Amz-Date is whole seconds (floored) and X-Amz-Expires was the TTL truncated: a
    # URL made at .9 s stopped up to 2 s before the uploadUrlsExpireAt announced with it.
    at = lambda: datetime.fromtimestamp(1_800_000_000.9, UTC)  # noqa: E731
    signing_clock = lambda remove_tzinfo=True: at().replace(tzinfo=None)  # noqa: E731
    with (
        mock.patch.object(timezone, "now", at),
        mock.patch("botocore.auth.get_current_datetime", signing_clock),
    ):
        _, body, _ = create(api)
    query = parse_qs(urlsplit(body["uploadUrls"][0]["uploadUrl"]).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    lasts_until = signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))
    assert lasts_until >= datetime.fromisoformat(body["uploadUrlsExpireAt"])


def test_a_download_is_served_as_the_sniffed_type_whatever_the_upload_claimed(s3_storage):
    # A JPEG/HTML polyglot PUT with Content-Type text/html: S3 keeps the PUT's type.
    polyglot = b"\xff\xd8\xff\xe0<html><script>alert(document.domain)</script></html>"
    key = "submissions/x/sub_1/0"
    default_storage.connection.meta.client.put_object(
        Bucket=default_storage.bucket_name, Key=key, Body=polyglot, ContentType="text/html"
    )
    url = download_url(key, filename='receipt"\r\n-0.jpg', content_type="image/jpeg")
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == polyglot
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Content-Disposition"] == 'attachment; filename="receipt___-0.jpg"'


def test_an_upload_url_used_again_after_submit_changes_no_byte_steve_checked(
    api, workflows, s3_storage
):
    """An S3 pre-signed PUT works until it expires, as often as it is sent: whoever held
    the URL replaced the receipt after its extraction and fraud checks (and after the key
    that opened the session was revoked), and reviewers and downloads got the new bytes.
    Steve reads, from the submit on, a copy no URL was handed out for."""
    status, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    receipt = jpeg_bytes()
    assert requests.put(url, data=receipt, timeout=10).status_code == 200
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200, submitted.json()
    file = SubmissionFile.objects.get(submission_id=body["submissionId"])

    swapped = jpeg_bytes("black")
    requests.put(url, data=swapped, timeout=10)  # S3 takes it: the URL has not expired

    file.refresh_from_db()
    with default_storage.open(file.storage_key, "rb") as handle:
        assert handle.read() == receipt
    assert hashlib.sha256(receipt).hexdigest() == file.sha256
    detail = api.get(f"/api/v1/submissions/{body['submissionId']}").json()
    assert requests.get(detail["files"][0]["downloadUrl"], timeout=10).content == receipt


def test_the_retention_purge_also_deletes_what_upload_urls_wrote_after_submit(
    api, workflows, s3_storage, settings
):
    """A client that PUT its receipt again after the submit (a retry after a timeout), or
    into a slot the submit dropped as empty, left bytes at keys Steve no longer reads: the
    purge deletes them with the rest."""
    _, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/jpeg"])
    first, second = (u["uploadUrl"] for u in body["uploadUrls"])
    assert requests.put(first, data=jpeg_bytes(), timeout=10).status_code == 200
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 200
    for url in (first, second):
        assert requests.put(url, data=jpeg_bytes(), timeout=10).status_code == 200
    file = SubmissionFile.objects.get(submission_id=body["submissionId"])
    settings.RETENTION_DAYS = 30
    long_ago = timezone.now() - timedelta(days=31)
    Submission.objects.filter(pk=body["submissionId"]).update(
        status="approved", created_at=long_ago, decided_at=long_ago, updated_at=long_ago
    )
    assert retention_purge() == 1
    bucket = default_storage.connection.meta.client.list_objects_v2(
        Bucket=default_storage.bucket_name, Prefix=file.storage_key.rsplit("/", 1)[0]
    )
    assert bucket.get("KeyCount") == 0, [o["Key"] for o in bucket["Contents"]]


def test_a_submit_refused_for_its_file_is_retried_after_a_new_put(api, workflows, s3_storage):
    _, body, _ = create(api)
    url = body["uploadUrls"][0]["uploadUrl"]
    submit = f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit"
    assert requests.put(url, data=b"not an image", timeout=10).status_code == 200
    refused = api.post(submit)
    assert refused.status_code == 422 and refused.json()["code"] == "INVALID_FILES"
    file = SubmissionFile.objects.get(submission_id=body["submissionId"])
    assert not default_storage.exists(f"{file.storage_key}.submitted")  # no copy left
    receipt = jpeg_bytes()
    assert requests.put(url, data=receipt, timeout=10).status_code == 200
    assert api.post(submit).status_code == 200
    file.refresh_from_db()
    with default_storage.open(file.storage_key, "rb") as handle:
        assert handle.read() == receipt


def test_an_s3_upload_over_the_size_limit_is_refused_at_submit_without_being_copied(
    api, workflows, s3_storage
):
    # S3 takes a PUT of any size: a copy of a file the submit then refuses was waste, and
    # copy_object refuses any over 5 GB (a 500 instead of the 422 FILE_TOO_LARGE).
    _, body, _ = create(api)
    key = body["uploadUrls"][0]["r2Url"].removeprefix("s3://steve-test/")
    too_big = jpeg_bytes() + b"\0" * (10 * 1024 * 1024)
    assert requests.put(body["uploadUrls"][0]["uploadUrl"], data=too_big, timeout=30).ok
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert submitted.status_code == 422
    assert [e["code"] for e in submitted.json()["errors"]] == ["FILE_TOO_LARGE"]
    assert not default_storage.exists(key + ".submitted")
    assert default_storage.exists(key)


# What a local upload refuses at once (jobs.extraction.readable), by the code it answers.
REFUSED_AT_UPLOAD = {
    "UNSUPPORTED_FILE": lambda: receipt_pdf()[: len(receipt_pdf()) // 2],
    "PASSWORD_REQUIRED": lambda: invoice_pdf(password="s3cret"),
    "PAGE_LIMIT_EXCEEDED": lambda: invoice_pdf(extra_pages=MAX_PDF_PAGES),
}


@pytest.mark.parametrize("code", list(REFUSED_AT_UPLOAD))
def test_an_s3_upload_a_local_upload_would_refuse_is_refused_at_submit_with_the_same_words(
    api, workflows, s3_storage, code
):
    """S3 answers the pre-signed PUT itself, so the check a local upload gets never ran:
    the submit was accepted and the file failed in processing. The submit checks each
    copy the same way, and refuses it as the upload would have, keeping the upload."""
    data = REFUSED_AT_UPLOAD[code]()
    _, body, _ = create(api, contentTypes=["application/pdf"])
    url = body["uploadUrls"][0]["uploadUrl"]
    submit = f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit"
    assert requests.put(url, data=data, timeout=10).status_code == 200
    refused = api.post(submit)
    assert refused.status_code == 422, refused.content
    assert refused.json()["code"] == "INVALID_FILES"
    said = unreadable(data, "application/pdf")
    assert said is not None and said.code == code
    assert refused.json()["errors"] == [
        {"field": "files[0]", "message": said.message, "code": code}
    ]
    assert WorkflowSession.objects.get(pk=body["sessionId"]).state == SessionState.PENDING
    file = SubmissionFile.objects.get(submission_id=body["submissionId"])
    assert default_storage.exists(file.storage_key)  # the upload, kept
    assert not default_storage.exists(f"{file.storage_key}.submitted")  # no copy left
    sound = invoice_pdf(extra_pages=MAX_PDF_PAGES - 1)
    assert requests.put(url, data=sound, timeout=10).status_code == 200
    assert api.post(submit).status_code == 200
    file.refresh_from_db()
    assert file.sha256 == hashlib.sha256(sound).hexdigest()
    with default_storage.open(file.storage_key, "rb") as handle:
        assert handle.read() == sound


@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_the_submit_checks_the_uploads_is_not_kept_waiting_for_the_checks(
    api, workflows, s3_storage, monkeypatch
):
    """The submit checked each S3 upload (a forked child, up to 5 s a PDF) holding the
    session's lock: a cancel meanwhile waited out every check, for five PDFs into the
    web's 25-s statement timeout. The cancel now ends at once and the submit, its checks
    done, finds the session ended and keeps no copy."""
    from jobs import services
    from submissions.services import Actor, submission_cancel
    from tests.webhooks.test_bulk_lock_order import Run

    _, body, _ = create(api)
    receipt = requests.put(body["uploadUrls"][0]["uploadUrl"], data=jpeg_bytes(), timeout=10)
    assert receipt.status_code == 200
    submission_id = body["submissionId"]
    cancel = Run(lambda: submission_cancel(submission_id=submission_id, actor=Actor.system()))
    ended_during_the_check: list[bool] = []

    def slow_check(data: bytes, mime: str) -> None:
        cancel.start()
        cancel.join(timeout=15)  # far longer than a cancel takes, unless the lock holds it
        ended_during_the_check.append(not cancel.is_alive())

    monkeypatch.setattr(services, "unreadable", slow_check)
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    cancel.join()

    assert ended_during_the_check == [True] and cancel.error is None
    assert submitted.status_code == 400, submitted.content
    assert Submission.objects.get(pk=submission_id).status == "cancelled"
    file = SubmissionFile.objects.get(submission_id=submission_id)
    assert not default_storage.exists(f"{file.storage_key}.submitted")  # no copy left


class _CountingS3:
    """The S3 client, counting the copies the submit makes, by the key copied from."""

    def __init__(self, client, copied: list[str]) -> None:
        self._client = client
        self._copied = copied

    def copy_object(self, **kwargs):
        self._copied.append(kwargs["CopySource"]["Key"])
        return self._client.copy_object(**kwargs)

    def __getattr__(self, name: str):
        return getattr(self._client, name)


def _submit_with_a_local_upload_during_the_check(
    api, monkeypatch, *, local_slot: int, s3_put_again: bytes | None = None
) -> tuple[dict, list[str], list[bytes]]:
    """A two-file session: file 0 uploaded to S3, and while the submit checks it (before
    the session's lock), a local upload lands in ``local_slot`` and, with
    ``s3_put_again``, file 0's pre-signed URL is sent again. Returns the create's body,
    the keys the submit copied from and the bytes it checked, in order."""
    from jobs import services
    from jobs.services import session_store_upload
    from tests.webhooks.test_bulk_lock_order import Run

    _, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/jpeg"])
    url = body["uploadUrls"][0]["uploadUrl"]
    assert requests.put(url, data=jpeg_bytes("white"), timeout=10).status_code == 200
    slot = SubmissionFile.objects.get(submission_id=body["submissionId"], file_index=local_slot)
    upload = Run(lambda: session_store_upload(file_id=slot.pk, data=jpeg_bytes("black")))
    copied: list[str] = []
    checked: list[bytes] = []
    real_client, real_unreadable = services.s3_client, services.unreadable

    def check_while_an_upload_lands(data: bytes, mime: str):
        checked.append(data)
        if upload.ident is None:  # the first check, before the session's lock
            upload.start()
            upload.join(timeout=15)
            if s3_put_again is not None:
                assert requests.put(url, data=s3_put_again, timeout=10).status_code == 200
        return real_unreadable(data, mime)

    monkeypatch.setattr(services, "s3_client", lambda: _CountingS3(real_client(), copied))
    monkeypatch.setattr(services, "unreadable", check_while_an_upload_lands)
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert upload.error is None and not upload.is_alive()
    assert submitted.status_code == 200, submitted.content
    return body, copied, checked


def _stored(file: SubmissionFile) -> bytes:
    with default_storage.open(file.storage_key, "rb") as handle:
        return handle.read()


@pytest.mark.django_db(transaction=True)
def test_a_local_upload_during_the_submits_checks_does_not_copy_the_s3_upload_again(
    api, workflows, s3_storage, monkeypatch
):
    """Under the lock the submit found a slot changed (the local upload) and copied and
    checked every upload again: the S3 upload checked before the lock was copied a second
    time, from whatever its pre-signed URL had put there since, under the session's lock.
    Each file is copied once and submitted as it was checked."""
    first, again = jpeg_bytes("white"), jpeg_bytes("red")
    body, copied, checked = _submit_with_a_local_upload_during_the_check(
        api, monkeypatch, local_slot=1, s3_put_again=again
    )

    files = {
        f.file_index: f for f in SubmissionFile.objects.filter(submission_id=body["submissionId"])
    }
    s3_upload, local_upload = files[0], files[1]
    assert sorted(copied) == sorted(
        f.storage_key.removesuffix(".submitted") for f in files.values()
    )  # each file once
    assert checked.count(first) == 1 and again not in checked
    assert _stored(s3_upload) == first  # the bytes checked, not those put since
    assert s3_upload.sha256 == hashlib.sha256(first).hexdigest()
    assert s3_upload.size == len(first)
    assert _stored(local_upload) == jpeg_bytes("black")
    assert local_upload.sha256 == hashlib.sha256(jpeg_bytes("black")).hexdigest()
    assert local_upload.mime_type == "image/jpeg"


@pytest.mark.django_db(transaction=True)
def test_a_local_upload_into_the_slot_being_checked_is_submitted_as_checked_under_the_lock(
    api, workflows, s3_storage, monkeypatch
):
    """The local upload landed before the submit took the session's lock, so it counts
    (session_store_upload): it replaced the S3 upload checked meanwhile, and the file is
    submitted as it stands under the lock, copied and checked, never the older copy nor
    the old hash beside the new bytes."""
    body, copied, checked = _submit_with_a_local_upload_during_the_check(
        api, monkeypatch, local_slot=0
    )

    file = SubmissionFile.objects.get(submission_id=body["submissionId"], file_index=0)
    assert not SubmissionFile.objects.filter(submission_id=body["submissionId"], file_index=1)
    upload_key = file.storage_key.removesuffix(".submitted")
    assert copied == [upload_key, upload_key]  # the S3 upload, then the local one
    assert checked == [jpeg_bytes("white"), jpeg_bytes("black")]
    assert _stored(file) == jpeg_bytes("black")
    assert file.sha256 == hashlib.sha256(jpeg_bytes("black")).hexdigest()
    assert file.size == len(jpeg_bytes("black"))


@pytest.mark.django_db(transaction=True)
def test_an_s3_upload_put_after_the_submit_copied_the_others_is_not_submitted_uncopied(
    api, workflows, s3_storage, monkeypatch
):
    """An empty slot's pre-signed URL sent while the submit checked the other file, after
    the copies were made: the file was found there, sniffed and submitted at the key its
    URL writes to, never copied nor checked, and replaceable by the URL ever after. It is
    absent, as it was when the copies were made, and its slot dropped."""
    from jobs import services

    _, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/jpeg"])
    urls = [upload["uploadUrl"] for upload in body["uploadUrls"]]
    assert requests.put(urls[0], data=jpeg_bytes(), timeout=10).status_code == 200
    real_unreadable = services.unreadable

    def check_while_the_other_is_put(data: bytes, mime: str):
        assert requests.put(urls[1], data=jpeg_bytes("black"), timeout=10).status_code == 200
        return real_unreadable(data, mime)

    monkeypatch.setattr(services, "unreadable", check_while_the_other_is_put)
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")

    assert submitted.status_code == 200, submitted.content
    files = SubmissionFile.objects.filter(submission_id=body["submissionId"])
    assert [(f.file_index, f.storage_key.endswith(".submitted")) for f in files] == [(0, True)]
