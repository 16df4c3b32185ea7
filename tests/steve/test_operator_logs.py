"""What an operator reads when something fails (docs/operations.md): one log line per
failure, at the level it deserves, naming the company and the session, submission or
delivery, under the request id an API answer gave, and holding no secret."""

import logging
from datetime import timedelta

import pytest
from django.core.files.storage import FileSystemStorage
from django.utils import timezone

from jobs.models import WorkflowSession
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

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
    assert response.status_code == 500
    (line,) = lines(caplog, "django.request")
    assert line.levelname == "ERROR" and "No space left on device" in line.exc_text
    written = console(line)
    assert f"[{response.json()['requestId']} {api_key.api_key.company_id}]" in written
    assert "/api/v1/uploads/[redacted]" in written  # the URL's token is a capability


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
