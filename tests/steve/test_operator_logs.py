"""What an operator reads when something fails (docs/operations.md): one log line per
failure, at the level it deserves, naming the company and the session, submission or
delivery, under the request id an API answer gave, and holding no secret."""

import logging
from datetime import timedelta

import pytest
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

from jobs import pipeline
from jobs.models import WorkflowSession
from jobs.services import session_start_run, sessions_recover_stuck
from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory
from tests.jobs.test_beat import beat_age, submitted_session
from tests.jobs.test_sessions_api import create, jpeg_bytes, put
from tests.submissions.test_sync import with_sync_target
from tests.webhooks.helpers import emit, make_due
from webhooks.delivery import deliver
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create, endpoint_disable

pytestmark = pytest.mark.django_db

SECRET_QUERY = "token=s3cr3t-in-the-url"


def lines(caplog, logger: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == logger]


def console(record: logging.LogRecord) -> str:
    """The record as the console handler of settings.LOGGING writes it."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    handler.filter(record)
    return handler.format(record)


def test_a_refused_api_call_is_logged_under_its_request_id_and_company(
    api, api_key, workflows, caplog
):
    # Django writes "Gone: /api/v1/…" once the middleware has returned: the line showed
    # [-], so the requestId the integrator quoted from the problem found nothing.
    _, body, _ = create(api)
    WorkflowSession.objects.filter(pk=body["sessionId"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    caplog.set_level(logging.WARNING)
    response = api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    assert response.status_code == 410
    (line,) = lines(caplog, "django.request")
    assert line.levelname == "WARNING"
    request_id = response.json()["requestId"]
    assert f"[{request_id} {api_key.api_key.company_id}] Gone: " in console(line)


def test_an_api_key_over_its_rate_limit_is_logged_naming_its_company(
    api, api_key, workflows, settings, caplog
):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "read": 1}
    api.get("/api/v1/workflows")
    caplog.set_level(logging.WARNING)
    response = api.get("/api/v1/workflows")
    assert response.status_code == 429
    (line,) = lines(caplog, "django.request")
    assert f"[{response['Request-Id']} {api_key.api_key.company_id}] Too Many Requests" in (
        console(line)
    )


def test_a_storage_that_refuses_a_write_is_an_error_under_the_uploads_request_and_company(
    api, api_key, workflows, caplog, monkeypatch
):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    _, body, _ = create(api)
    monkeypatch.setattr(FileSystemStorage, "_save", disk_full)
    api.raise_request_exception = False
    caplog.set_level(logging.WARNING)
    response = put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    assert response.status_code == 503  # STORAGE_UNAVAILABLE: tests/jobs/test_storage_refused.py
    (line,) = lines(caplog, "steve.storage")
    assert line.levelname == "ERROR" and "No space left on device" in line.getMessage()
    # The key names the company and the submission; the URL's token is a capability.
    company = api_key.api_key.company_id
    assert f"submissions/{company}/{body['submissionId']}/0" in line.getMessage()
    # Stamped as it was written, under the request (console() after it has ended shows "-").
    assert (line.request_id, line.company) == (response.json()["requestId"], company)
    (request_line,) = lines(caplog, "django.request")
    assert "Service Unavailable: /api/v1/uploads/[redacted]" in console(request_line)


def test_the_access_log_line_ends_with_the_request_id_steve_answered():
    # A 2xx writes no Django line: the access log is where a support engineer finds a
    # request an integrator quotes by its Request-Id.
    from types import SimpleNamespace

    from gunicorn.config import Config

    from steve import gunicorn_conf
    from steve.logredact import RedactingGunicornLogger

    config = Config()
    config.set("access_log_format", gunicorn_conf.access_log_format)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/jobs/ses_1",
        "PATH_INFO": "/api/v1/jobs/ses_1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": "",
    }
    response = SimpleNamespace(
        status="200 OK", sent=2, headers=[("Request-Id", "req_abc"), ("Content-Length", "2")]
    )
    request = SimpleNamespace(headers=[])
    logger = RedactingGunicornLogger(config)
    atoms = logger.atoms(response, request, environ, timedelta(seconds=1))
    line = config.access_log_format % atoms
    assert '"GET /api/v1/jobs/ses_1 HTTP/1.1" 200' in line and line.endswith(" req_abc")


def test_a_job_that_fails_extraction_is_logged_naming_its_company_session_and_code(
    api, workflows, caplog, django_capture_on_commit_callbacks
):
    # It failed without a line: the operator asked why a company's jobs fail had only
    # the admin to go through.
    _, body, _ = create(api)
    data = jpeg_bytes()
    # Cut short after its header, which the upload reads (a cut inside it is refused there).
    put(api, body["uploadUrls"][0]["uploadUrl"], data[: len(data) - 7])
    with django_capture_on_commit_callbacks(execute=False):
        api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    session = WorkflowSession.objects.select_related("submission").get(pk=body["sessionId"])
    caplog.set_level(logging.INFO)
    pipeline.run(session.pk)
    session.refresh_from_db()
    assert session.state == "failed"
    (line,) = [r for r in lines(caplog, "jobs.services") if "failed" in r.getMessage()]
    message = line.getMessage()
    assert line.levelname == ("WARNING" if session.error_retryable else "INFO")
    for part in (session.company_id, session.pk, session.submission_id, session.error_code):
        assert part in message
    assert session.failed_reason in message  # Steve's own words, never the document's


def test_a_session_whose_worker_stopped_beating_is_logged_when_requeued_and_when_given_up(
    api, workflows, settings, caplog, django_capture_on_commit_callbacks
):
    """The sweep sees only a heartbeat older than its lease: a worker frozen past it
    (SIGSTOP, a paused VM, cut off from the database) and resumed later was logged as
    "its worker died mid-job", and an operator looked for a crash that never was."""
    settings.STUCK_SESSION_HEARTBEAT_SECONDS = 90
    settings.STUCK_SESSION_MAX_REQUEUES = 1
    session = submitted_session(api)
    caplog.set_level(logging.INFO)
    assert session_start_run(session_id=session.pk)
    beat_age(session, 100)  # its worker stopped answering: dead or frozen, nobody knows
    with django_capture_on_commit_callbacks(execute=True):  # its re-queue is sent
        sessions_recover_stuck()
    (requeued,) = lines(caplog, "jobs.services")
    assert requeued.levelname == "WARNING"
    message = requeued.getMessage()
    assert session.company_id in message and session.pk in message
    assert "died mid-job" not in message
    assert "no heartbeat for over 90 s" in message
    assert "died or stopped answering" in message and "re-queued (1 of 1)" in message
    caplog.clear()
    assert session_start_run(session_id=session.pk)
    beat_age(session, 100)
    sessions_recover_stuck()
    (given_up,) = lines(caplog, "jobs.services")
    assert given_up.levelname == "WARNING"
    assert "PROCESSING_TIMEOUT" in given_up.getMessage() and session.pk in given_up.getMessage()


def test_a_webhook_receiver_that_is_down_is_logged_per_attempt_and_at_giving_up(
    company, caplog, monkeypatch
):
    endpoint, secret = endpoint_create(company=company, url=f"http://127.0.0.1:9/h?{SECRET_QUERY}")
    (delivery,) = emit(company)
    caplog.set_level(logging.INFO)
    deliver(delivery.pk)
    (first,) = lines(caplog, "webhooks.delivery")
    assert first.levelname == "INFO"
    message = first.getMessage()
    for part in (company.pk, delivery.pk, endpoint.pk, "attempt 1", "ConnectionError"):
        assert part in message
    caplog.clear()
    while delivery.status == WebhookDelivery.Status.PENDING:
        make_due(delivery)
        deliver(delivery.pk)
        delivery.refresh_from_db()
    gave_up = [r for r in lines(caplog, "webhooks.delivery") if r.levelname == "WARNING"]
    assert len(gave_up) == 1
    assert delivery.pk in gave_up[0].getMessage() and "failed" in gave_up[0].getMessage()
    written = "\n".join(console(r) for r in caplog.records)
    assert SECRET_QUERY not in written and secret not in written


def test_a_disabled_endpoint_is_logged_by_its_origin_not_its_url(
    company, caplog, django_capture_on_commit_callbacks
):
    # A receiver's URL is often its credential (a Slack or Teams hook, a ?token=).
    endpoint, _ = endpoint_create(company=company, url=f"https://93.184.215.14/h?{SECRET_QUERY}")
    caplog.set_level(logging.WARNING)
    with django_capture_on_commit_callbacks(execute=True):  # it is said once committed
        endpoint_disable(endpoint_id=endpoint.pk, reason="The receiver answered 410 Gone.")
    (line,) = lines(caplog, "webhooks.services")
    assert company.pk in line.getMessage() and endpoint.pk in line.getMessage()
    assert "https://93.184.215.14:443" in line.getMessage()
    assert SECRET_QUERY not in console(line)


def test_an_abandoned_downstream_sync_names_its_company_and_no_url_query(caplog, settings):
    submission = with_sync_target(SubmissionFactory(), f"http://127.0.0.1:9/erp?{SECRET_QUERY}")
    submission_approve(submission_id=submission.pk, actor=Actor.system())
    delivery = WebhookDelivery.objects.get(purpose=WebhookDelivery.Purpose.SYNC)
    caplog.set_level(logging.INFO)
    while delivery.status == WebhookDelivery.Status.PENDING:
        make_due(delivery)
        deliver(delivery.pk)
        delivery.refresh_from_db()
    (abandoned,) = lines(caplog, "submissions.sync")
    assert abandoned.levelname == "WARNING"
    assert submission.company_id in abandoned.getMessage()
    assert submission.pk in abandoned.getMessage() and delivery.pk in abandoned.getMessage()
    assert SECRET_QUERY not in "\n".join(console(r) for r in caplog.records)
