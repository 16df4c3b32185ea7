"""A Python client generated from the published schema drives a whole session.

The client is built by openapi-python-client (the recipe is in docs/api.md) once per
test session into a temporary folder, from the same document /api/v1/schema serves.
Any warning from the generator fails the build: it means a part of the schema the
client silently drops. Each call below parses the real response into the generated
models, so a response the schema describes wrongly fails here as it would for an
integrator. Requests reach Steve in-process through httpx's WSGI transport.
"""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from jobs import pipeline
from tests.jobs.fixtures_docs import invoice_pdf
from tests.openapi import published_schema

pytestmark = pytest.mark.django_db
PACKAGE = "steve_api_client"
# Writing hooks only: formatting the generated code is not what this test checks.
GENERATOR_CONFIG = "post_hooks: []\n"


def generator() -> str | None:
    beside_python = Path(sys.executable).with_name("openapi-python-client")
    return str(beside_python) if beside_python.exists() else shutil.which("openapi-python-client")


def generate_client(folder: Path) -> str:
    """Write the schema, generate the client into `folder`; the generator's output."""
    tool = generator()
    if tool is None:
        pytest.skip("openapi-python-client is not installed: pip install -e '.[dev]' (CI has it)")
    schema = folder / "openapi.json"
    schema.write_text(json.dumps(published_schema()))
    config = folder / "config.yaml"
    config.write_text(GENERATOR_CONFIG)
    done = subprocess.run(
        [tool, "generate", "--path", str(schema), "--meta", "none", "--config", str(config)]
        + ["--output-path", str(folder / PACKAGE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.fixture(scope="session")
def client_package(tmp_path_factory) -> Any:
    folder = tmp_path_factory.mktemp("generated-client")
    output = generate_client(folder)
    assert "warning" not in output.lower() and "unable" not in output.lower(), output
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))


@pytest.fixture
def wsgi_transport():
    """Steve in-process, inside the test's transaction (as Django's test client does)."""
    import httpx

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield httpx.WSGITransport(app=WSGIHandler())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def client(client_package, api_key, workflows, wsgi_transport) -> Any:
    return client_package.AuthenticatedClient(
        base_url="http://testserver",
        token=api_key.secret,
        raise_on_unexpected_status=True,
        httpx_args={"transport": wsgi_transport},
    )


def ok(response: Any, status: int, model: type) -> Any:
    """The parsed body of a documented success; parsing is the generated model's."""
    assert response.status_code == status, response.content
    assert isinstance(response.parsed, model), response.content
    assert not getattr(response.parsed, "additional_properties", {}), "undocumented fields"
    return response.parsed


def api(tag: str, *operations: str) -> Any:
    """The tag's module with the named operations imported (each is a submodule)."""
    for operation in operations:
        importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")
    return importlib.import_module(f"{PACKAGE}.api.{tag}")


def models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def test_a_generated_client_runs_a_whole_session(client):
    m = models()
    sessions = api("sessions", "create_session", "submit_session")
    jobs = api("jobs", "get_job")
    submissions = api("submissions", "get_submission", "list_submissions")
    body = m.SessionCreateRequest(
        file_count=1, content_types=["application/pdf"], client_submission_id="order-1"
    )
    created = ok(
        sessions.create_session.sync_detailed("invoice", client=client, body=body),
        201,
        m.SessionCreated,
    )
    upload = created.upload_urls[0].upload_url
    put = client.get_httpx_client().put(upload, content=invoice_pdf())
    assert put.status_code == 200, put.text
    pending = ok(jobs.get_job.sync_detailed(created.session_id, client=client), 200, m.Job)
    assert pending.state == m.JobState.PENDING and pending.result is None

    submit = sessions.submit_session.sync_detailed("invoice", created.session_id, client=client)
    assert ok(submit, 200, m.Job).state == m.JobState.SUBMITTED
    pipeline.run(created.session_id)
    done = ok(jobs.get_job.sync_detailed(created.session_id, client=client), 200, m.Job)
    assert done.state == m.JobState.COMPLETED
    assert done.result.extracted_data["invoiceNumber"] == "INV-2024-0042"

    detail = submissions.get_submission.sync_detailed(done.submission_id, client=client)
    assert ok(detail, 200, m.SubmissionDetail).files[0].mime_type == "application/pdf"

    waiting = m.SessionCreateRequest(
        file_count=1, content_types=["application/pdf"], client_submission_id="order-2"
    )
    sessions.create_session.sync_detailed("invoice", client=client, body=waiting)
    listed = ok(submissions.list_submissions.sync_detailed(client=client), 200, m.SubmissionList)
    statuses = {(s.submission_status, s.fraud_status) for s in listed.data}
    assert (m.SubmissionSummarySubmissionStatus.CREATED, None) in statuses


def test_a_generated_client_runs_an_extraction_job_and_a_webhook_endpoint(client):
    from steve_api_client.types import File

    m = models()
    extraction = api(
        "extraction_jobs",
        "create_extraction_job",
        "get_extraction_job",
        "get_extraction_job_result",
    )
    webhooks = api("webhooks", "create_webhook_endpoint", "list_webhook_endpoints")
    pdf = File(payload=invoice_pdf(), file_name="invoice.pdf", mime_type="application/pdf")
    body = m.CreateExtractionJobFilesBody(file=pdf, template_name="invoice")
    created = extraction.create_extraction_job.sync_detailed(client=client, body=body)
    job = ok(created, 202, m.ExtractionJobEnvelope).job
    queued = extraction.get_extraction_job.sync_detailed(job.id, client=client)
    assert ok(queued, 200, m.ExtractionJobEnvelope).job.status == m.ExtractionJobStatus.QUEUED
    pipeline.run(job.id)
    result = extraction.get_extraction_job_result.sync_detailed(job.id, client=client)
    data = ok(result, 200, m.ExtractionJobResult).data
    assert data.original_name == "invoice.pdf" and data.processed_pages == 1

    hook = m.CreateWebhookEndpointBody(url="https://93.184.215.14/hook")
    endpoint = ok(
        webhooks.create_webhook_endpoint.sync_detailed(client=client, body=hook),
        201,
        m.WebhookEndpoint,
    )
    assert endpoint.secret.startswith("whsec_")
    listed = webhooks.list_webhook_endpoints.sync_detailed(client=client)
    assert [e.id for e in ok(listed, 200, m.WebhookEndpointList).data] == [endpoint.id]


def test_a_problem_parses_into_the_generated_problem_model(client):
    m = models()
    missing = api("jobs", "get_job").get_job.sync_detailed("ses_missing", client=client)
    problem = ok(missing, 404, m.Problem)
    assert problem.code == "JOB_NOT_FOUND"
