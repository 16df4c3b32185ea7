"""The S3 path for real, against a local S3-compatible server (moto in server mode)."""

import boto3
import pytest
import requests
from django.core.files.storage import default_storage
from moto.server import ThreadedMotoServer

from steve.storage import download_url
from submissions.models import SubmissionFile
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
    assert url.startswith(s3_storage) and "X-Amz-Expires=3600" in url
    assert requests.get(url, timeout=10).content == receipt


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
