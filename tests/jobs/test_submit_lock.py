"""The submit checks the uploads before it takes the session's lock (jobs.services.
session_submit): what changed meanwhile is found under the lock, not lost."""

import pytest

from jobs.models import SessionState, WorkflowSession
from jobs.services import session_store_upload
from submissions.models import SubmissionFile
from tests.jobs.test_sessions_api import create, jpeg_bytes, put
from tests.webhooks.test_bulk_lock_order import Run

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_upload_stored_while_the_submit_checked_the_others_is_submitted_with_them(
    api, workflows, monkeypatch
):
    """Checked as not uploaded, its slot was dropped by the submit with the file just
    stored in it."""
    from jobs import services

    _, body, _ = create(api, fileCount=2, contentTypes=["image/jpeg", "image/jpeg"])
    assert put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes()).status_code == 200
    second = SubmissionFile.objects.get(submission_id=body["submissionId"], file_index=1)
    upload = Run(lambda: session_store_upload(file_id=second.pk, data=jpeg_bytes("black")))
    real_inspect = services._inspect_file

    def upload_after_the_check(file, version):
        found = real_inspect(file, version)
        if file.file_index == 1 and upload.ident is None:  # not started yet
            upload.start()
            upload.join(timeout=15)
        return found

    monkeypatch.setattr(services, "_inspect_file", upload_after_the_check)
    submitted = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")

    assert upload.error is None and not upload.is_alive()
    assert submitted.status_code == 200, submitted.content
    assert WorkflowSession.objects.get(pk=body["sessionId"]).state == SessionState.SUBMITTED
    files = SubmissionFile.objects.filter(submission_id=body["submissionId"])
    assert sorted((f.file_index, f.mime_type) for f in files) == [
        (0, "image/jpeg"),
        (1, "image/jpeg"),
    ]
