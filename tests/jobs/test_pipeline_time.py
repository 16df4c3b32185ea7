"""How long a session's files may take: each page its own time, all files one budget."""

import logging
from datetime import datetime

import pytest

from jobs import pipeline
from jobs.extraction import ExtractionError, isolated
from jobs.models import WorkflowSession
from tests.jobs.fixtures_docs import receipt_pdf
from tests.jobs.test_extraction import SlowEngine, StallsOnce, scanned_pdf
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

pytestmark = pytest.mark.django_db


def _submit_pdf(api, data: bytes) -> str:
    _, body, _ = create(api, contentTypes=["application/pdf"])
    path = body["uploadUrls"][0]["uploadUrl"].removeprefix("http://testserver")
    assert api.generic("PUT", path, data, content_type="application/pdf").status_code < 300
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    return body["sessionId"]


def _run(api, monkeypatch, *, pages: int, seconds_a_page: float) -> WorkflowSession:
    """Process a scanned PDF of ``pages`` pages, each read in ``seconds_a_page``."""
    monkeypatch.setattr(isolated, "get_engine", lambda name: SlowEngine(seconds_a_page))
    session_id = _submit_pdf(api, scanned_pdf(pages))
    pipeline.run(session_id)
    return WorkflowSession.objects.get(pk=session_id)


def test_files_that_outlast_the_sessions_budget_fail_it_as_not_retryable(
    api, workflows, settings, monkeypatch
):
    settings.EXTRACTION_BUDGET_SECONDS = 1
    session = _run(api, monkeypatch, pages=5, seconds_a_page=0.4)
    assert (session.state, session.error_code) == ("failed", "PROCESSING_ERROR")
    assert session.error_retryable is False
    body = api.get(f"/api/v1/jobs/{session.pk}").json()
    assert body["error"]["details"] == {"step": "text_extraction", "retryable": False}


def test_a_document_longer_than_one_pages_time_is_read_within_the_budget(
    api, workflows, settings, monkeypatch
):
    # Each page well within its time (a loaded machine adds rendering and start-up to
    # it), the document twice as long as one page's time.
    settings.EXTRACTION_PAGE_SECONDS = 1.5
    session = _run(api, monkeypatch, pages=4, seconds_a_page=0.75)
    assert session.state != "failed", session.failed_reason
    assert session.submission.files.get().page_count == 4


def test_polling_sees_a_long_documents_pages_being_read(api, workflows, monkeypatch):
    seen: list[int] = []
    set_progress = pipeline.session_set_progress

    def spy(*, session_id: str, progress: int, claimed_at: datetime | None = None) -> None:
        seen.append(progress)
        set_progress(session_id=session_id, progress=progress, claimed_at=claimed_at)

    monkeypatch.setattr(pipeline, "session_set_progress", spy)
    _run(api, monkeypatch, pages=4, seconds_a_page=0.05)
    reading = [p for p in seen if pipeline.PROGRESS_LOADED < p < pipeline.PROGRESS_EXTRACTED]
    assert len(set(reading)) == 3  # pages 1-3 of 4, between loaded and extracted
    assert seen == sorted(seen)


def test_a_page_that_never_reads_in_time_fails_the_job_as_not_retryable(
    api, workflows, settings, monkeypatch
):
    # Read twice (a fresh process the second time), it stalls both times: the file's fault.
    settings.EXTRACTION_PAGE_SECONDS = 1
    monkeypatch.setattr(isolated, "get_engine", lambda name: SlowEngine(0.05, stall_on=2))
    session_id = _submit_pdf(api, scanned_pdf(3))
    pipeline.run(session_id)
    session = WorkflowSession.objects.get(pk=session_id)
    assert (session.state, session.error_code) == ("failed", "PROCESSING_ERROR")
    assert session.error_retryable is False
    body = api.get(f"/api/v1/jobs/{session.pk}").json()
    assert body["error"]["details"] == {"step": "text_extraction", "retryable": False}
    assert "twice" in body["error"]["message"]


def test_a_page_that_stalls_once_does_not_fail_the_job(
    api, workflows, settings, monkeypatch, tmp_path, caplog
):
    settings.EXTRACTION_PAGE_SECONDS = 1
    engine = StallsOnce(0.05, stall_on=2, marker=tmp_path / "stalled")
    monkeypatch.setattr(isolated, "get_engine", lambda name: engine)
    session_id = _submit_pdf(api, scanned_pdf(3))
    with caplog.at_level(logging.WARNING, logger="jobs.extraction.isolated"):
        pipeline.run(session_id)
    session = WorkflowSession.objects.get(pk=session_id)
    assert session.state != "failed", session.failed_reason
    assert session.submission.files.get().page_count == 3
    [warning] = [r.getMessage() for r in caplog.records if r.name == "jobs.extraction.isolated"]
    assert f"session {session_id} (submission {session.submission_id}), file 0" in warning
    assert "read again by a fresh process" in warning


def test_a_file_that_fails_a_session_of_several_is_named_in_its_reason(api, workflows, monkeypatch):
    """Five receipts sent, one too large to decode: the reason said only "The image has
    too many pixels.", and the integrator could not tell which file to send again."""
    read = pipeline.extract_document_isolated
    calls = iter(range(2))

    def second_too_large(data: bytes, **kwargs):
        if next(calls) == 1:
            raise ExtractionError("FILE_TOO_LARGE", "The image has too many pixels.")
        return read(data, **kwargs)

    monkeypatch.setattr(pipeline, "extract_document_isolated", second_too_large)
    _, body, _ = create(api, fileCount=2, contentTypes=["application/pdf", "image/jpeg"])
    for upload, data in zip(body["uploadUrls"], [receipt_pdf(), jpeg_bytes()], strict=True):
        assert put(api, upload["uploadUrl"], data).status_code == 200
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    pipeline.run(body["sessionId"])
    job = api.get(f"/api/v1/jobs/{body['sessionId']}").json()
    assert job["error"]["code"] == "FILE_TOO_LARGE"
    reason = "File 2 of 2 (fileIndex 1): The image has too many pixels."
    assert (job["failedReason"], job["error"]["message"]) == (reason, reason)
