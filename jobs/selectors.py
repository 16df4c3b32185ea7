"""Read queries of the jobs app."""

import json
from typing import Any

from django.db import connection

from jobs.models import WorkflowSession
from steve.models import Workflow, WorkflowVersion
from submissions.models import Submission

SESSION_COLUMNS = (
    "id", "company_id", "state", "client_submission_id", "metadata", "webhook_url", "progress",
    "processed_at", "failed_reason", "error_code", "error_step", "error_retryable",
    "created_at", "updated_at", "expires_at",
)  # fmt: skip
SUBMISSION_COLUMNS = ("id", "status", "extracted_data", "confidence", "fraud_status")
JSON_COLUMNS = {"metadata", "extracted_data"}


def _poll_sql() -> str:
    session = WorkflowSession._meta.db_table
    submission = Submission._meta.db_table
    version = WorkflowVersion._meta.db_table
    workflow = Workflow._meta.db_table
    columns = [f"s.{c}" for c in SESSION_COLUMNS] + [f"sub.{c}" for c in SUBMISSION_COLUMNS]
    return (
        f"SELECT {', '.join(columns)}, v.version, w.slug FROM {session} s "
        f"JOIN {submission} sub ON sub.id = s.submission_id "
        f"JOIN {version} v ON v.id = s.workflow_version_id "
        f"JOIN {workflow} w ON w.id = v.workflow_id "
        "WHERE s.id = %s AND s.api_key_id = %s"
    )


def _value(name: str, raw: Any) -> Any:
    if name in JSON_COLUMNS and isinstance(raw, str):
        return json.loads(raw)
    return raw


def session_for_poll(*, session_id: str, api_key_id: str) -> WorkflowSession | None:
    """The caller's session with what a poll shows, in one hand-written query.

    Polling is the hottest read; profiling showed Django compiling the equivalent
    select_related query cost more than running it, so the SQL is written once here.
    """
    with connection.cursor() as cursor:
        cursor.execute(_poll_sql(), [session_id, api_key_id])
        row = cursor.fetchone()
    if row is None:
        return None
    n = len(SESSION_COLUMNS)
    fields = {c: _value(c, v) for c, v in zip(SESSION_COLUMNS, row[:n], strict=True)}
    sub = {c: _value(c, v) for c, v in zip(SUBMISSION_COLUMNS, row[n : n + 5], strict=True)}
    version, slug = row[n + 5 :]
    session = WorkflowSession(**fields)
    session.submission = Submission(**sub)
    session.workflow_version = WorkflowVersion(version=version, workflow=Workflow(slug=slug))
    return session
