"""One session end to end over real HTTP with a real Celery worker, PostgreSQL and Redis."""

import time

import jsonschema
import pytest
import requests

from tests.worker import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

POLL_TIMEOUT_SECONDS = 120


def poll_until_done(base: str, headers: dict, session_id: str) -> dict:
    deadline = time.monotonic() + POLL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        job = requests.get(f"{base}/api/v1/jobs/{session_id}", headers=headers, timeout=10).json()
        if job["state"] in {"completed", "failed", "expired"}:
            return job
        time.sleep(0.5)
    raise AssertionError(f"session {session_id} did not finish: {job}")


def test_scanned_receipt_goes_from_upload_to_extracted_submission(
    live_server, settings, api_key, workflows, sroie_dir, _isolated_storage
):
    settings.PUBLIC_BASE_URL = live_server.url
    base, headers = live_server.url, {"Authorization": f"Bearer {api_key.secret}"}
    receipt = (sroie_dir / "img" / "000.jpg").read_bytes()
    with celery_worker(_isolated_storage):
        created = requests.post(
            f"{base}/api/v1/workflows/receipt-ocr/sessions",
            json={"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "e2e-1"},
            headers=headers,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        session = created.json()
        upload = requests.put(session["uploadUrls"][0]["uploadUrl"], data=receipt, timeout=30)
        assert upload.status_code == 200, upload.text
        submit = requests.post(
            f"{base}/api/v1/workflows/receipt-ocr/sessions/{session['sessionId']}/submit",
            headers=headers,
            timeout=10,
        )
        assert submit.status_code == 200, submit.text
        job = poll_until_done(base, headers, session["sessionId"])

    assert job["state"] == "completed", job
    assert job["progress"] == 100
    assert job["processedAt"] is not None
    assert job["submissionStatus"] in {"review", "approved"}
    assert job["result"]["fraudStatus"] == "clean"
    detail = requests.get(
        f"{base}/api/v1/submissions/{session['submissionId']}", headers=headers, timeout=10
    ).json()
    data = detail["extractedData"]
    version = requests.get(f"{base}/api/v1/workflows/receipt-ocr", headers=headers, timeout=10)
    jsonschema.validate(data, version.json()["outputJsonSchema"])
    assert data["totalAmount"] == 9.0  # the ground truth of 000.json
    assert data["date"] == "2018-12-25"
    assert data["currency"] == "MYR"
    assert set(detail["fieldConfidences"]) >= {"totalAmount", "date"}
    assert detail["files"][0]["mimeType"] == "image/jpeg"
    download = requests.get(detail["files"][0]["downloadUrl"], timeout=10)
    assert download.content == receipt
    event_types = [event["type"] for event in detail["events"]]
    assert event_types[-1] == "created" and "session_completed" in event_types
