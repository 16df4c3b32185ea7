"""Read queries of the jobs app."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from django.db import connection
from django.db.models import F, Model

from jobs.models import SessionHeartbeat, SessionState, WorkflowSession
from steve.models import ApiKey, Company, Workflow, WorkflowVersion
from submissions.models import Submission, SubmissionStatus
from webhooks.selectors import delivery_status_of, poll_delivery_columns

SESSION_COLUMNS = (
    "id", "company_id", "state", "client_submission_id", "metadata", "webhook_url", "progress",
    "processed_at", "failed_reason", "error_code", "error_step", "error_retryable",
    "created_at", "updated_at", "expires_at", "submission_id", "workflow_version_id", "api_key_id",
)  # fmt: skip
SUBMISSION_COLUMNS = ("id", "status", "extracted_data", "confidence", "fraud_status", "updated_at")
M = TypeVar("M", bound=Model)
JSON_COLUMNS = {"metadata", "extracted_data", "rate_limits"}


def _poll_sql() -> str:
    session = WorkflowSession._meta.db_table
    submission = Submission._meta.db_table
    version = WorkflowVersion._meta.db_table
    workflow = Workflow._meta.db_table
    columns = [f"s.{c}" for c in SESSION_COLUMNS] + [f"sub.{c}" for c in SUBMISSION_COLUMNS]
    columns += ["v.version", "v.workflow_id", "w.slug", "k.last_used_at", "c.rate_limits"]
    columns.append(poll_delivery_columns(session="s", key="k"))
    return (
        f"SELECT {', '.join(columns)} FROM {session} s "
        f"JOIN {ApiKey._meta.db_table} k ON k.id = s.api_key_id "
        f"JOIN {Company._meta.db_table} c ON c.id = k.company_id "
        f"JOIN {submission} sub ON sub.id = s.submission_id "
        f"JOIN {version} v ON v.id = s.workflow_version_id "
        f"JOIN {workflow} w ON w.id = v.workflow_id "
        # The session is the key's own, hence of its environment; said outright all the
        # same, so the tenancy boundary (docs/environments.md) does not rest on one join.
        "WHERE s.id = %s AND k.digest = %s AND k.revoked_at IS NULL"
        " AND s.environment = k.environment"
    )


def _value(name: str, raw: Any) -> Any:
    if name in JSON_COLUMNS and isinstance(raw, str):
        return json.loads(raw)
    return raw


def _loaded(model: type[M], names: Sequence[str], values: Sequence[Any]) -> M:
    """A model instance as the ORM loads one: other fields deferred, defaults not run.

    Building six instances with Model(**fields) cost more than the query itself, most of
    it in field defaults (new ids, timestamps) for the columns not selected.
    """
    data = dict(zip(names, values, strict=True))
    # from_db takes the values in the model's field order.
    attnames = [f.attname for f in model._meta.concrete_fields if f.attname in data]
    return model.from_db("default", attnames, [_value(a, data[a]) for a in attnames])


def _fetch_prepared(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """One row, from a server-side prepared statement on PostgreSQL.

    Django binds parameters on the client, so PostgreSQL plans every query afresh: for
    the poll's six-table join planning took 0.7 ms and running it 0.1 ms. A psycopg
    cursor that binds on the server prepares a statement after a few runs on the
    (persistent) connection, and PostgreSQL then keeps its generic plan. Django's
    wrapper around it keeps query logging and error translation.
    DATABASE_PREPARED_STATEMENTS=0 turns the preparing off.
    """
    connection.close_if_health_check_failed()  # what Django's cursor() does first
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def session_for_poll(*, session_id: str, key_digest: str) -> tuple[WorkflowSession, ApiKey] | None:
    """The session of the live API key with this digest, and that key, in one query.

    Polling is the hottest read. Profiling showed Django compiling the equivalent
    select_related query cost more than running it, and authenticating separately cost a
    cache round trip, so authentication and the read are this one hand-written query,
    webhookDeliveryStatus's inputs included (`session.webhook_delivery_status`).
    The key comes back with its id, last_used_at and company rate limits only.
    """
    if connection.vendor != "postgresql":
        return session_for_poll_orm(session_id=session_id, key_digest=key_digest)
    row = _fetch_prepared(_poll_sql(), [session_id, key_digest])
    if row is None:
        return None
    n, m = len(SESSION_COLUMNS), len(SESSION_COLUMNS) + len(SUBMISSION_COLUMNS)
    version, workflow_id, slug, last_used_at, rate_limits, statuses, endpoint = row[m:]
    session = _loaded(WorkflowSession, SESSION_COLUMNS, row[:n])
    # As an ORM annotation would: job_data reads it instead of querying again.
    session.webhook_delivery_status = delivery_status_of(
        statuses=set(statuses),
        endpoint_configured=endpoint,
        session_url=session.webhook_url,
        ended=session.is_terminal,
    )
    session.submission = _loaded(Submission, SUBMISSION_COLUMNS, row[n:m])
    session.workflow_version = _loaded(
        WorkflowVersion,
        ("id", "version", "workflow_id"),
        (session.workflow_version_id, version, workflow_id),
    )
    session.workflow_version.workflow = _loaded(Workflow, ("id", "slug"), (workflow_id, slug))
    api_key = _loaded(
        ApiKey,
        ("id", "company_id", "digest", "last_used_at"),
        (session.api_key_id, session.company_id, key_digest, last_used_at),
    )
    api_key.company = _loaded(Company, ("id", "rate_limits"), (session.company_id, rate_limits))
    return session, api_key


def session_for_poll_orm(
    *, session_id: str, key_digest: str
) -> tuple[WorkflowSession, ApiKey] | None:
    """session_for_poll through the ORM, for databases other than PostgreSQL.

    SQLite (the embedded default) returns dates and decimals of a raw row as text, which
    only the ORM's converters turn into values; speed matters less there.
    """
    session = (
        WorkflowSession.objects.select_related(
            "submission", "workflow_version__workflow", "api_key__company"
        )
        .filter(
            pk=session_id,
            api_key__digest=key_digest,
            api_key__revoked_at__isnull=True,
            environment=F("api_key__environment"),
        )
        .first()
    )
    return None if session is None else (session, session.api_key)


def session_last_beat(*, session_id: str) -> Any:
    """When the session's worker last beat (SessionHeartbeat), or None."""
    return (
        SessionHeartbeat.objects.filter(session_id=session_id)
        .values_list("beat_at", flat=True)
        .first()
    )


def replayed_session_version(
    *, api_key: ApiKey, workflow: Workflow, client_submission_id: Any
) -> WorkflowVersion | None:
    """The version of the caller's pending session on this workflow that a create naming
    `client_submission_id` replays (None: the create makes a new session).

    A replay is checked by the rules that session was opened under: by the latest
    version's, a stricter publish since turned the retry of a working session into a 422.
    """
    if not isinstance(client_submission_id, str) or "\x00" in client_submission_id:
        return None
    session = (
        WorkflowSession.objects.select_related("workflow_version__workflow")
        .filter(
            company_id=api_key.company_id,
            environment=api_key.environment,
            client_submission_id=client_submission_id,
            api_key=api_key,
            workflow_version__workflow=workflow,
            state=SessionState.PENDING,
        )
        .first()
    )
    return session.workflow_version if session else None


def job_status(session: WorkflowSession) -> str:
    """The status an extraction job answers (seeds 002/003), from its session and
    submission (`session.submission` loaded)."""
    submission, S = session.submission, SubmissionStatus
    # A job that failed or was cancelled had no output to expire: it stays as it ended.
    if submission.status == S.CANCELLED:
        return "canceled"
    if session.state == SessionState.FAILED or submission.status in {S.FAILED, S.REJECTED}:
        return "failed"
    if submission.results_purged_at:
        return "expired"
    if session.state == SessionState.COMPLETED:
        return "review_required" if submission.status == S.REVIEW else "completed"
    return "processing" if session.progress > 5 else "queued"


def session_run_lost(*, session_id: str, claimed_at: datetime) -> bool:
    """The session still runs, but no longer by the run claimed at `claimed_at`: another
    run took it over (the first froze past its lease, and the stuck sweep re-queued it)."""
    return (
        WorkflowSession.objects.filter(pk=session_id, state=SessionState.SUBMITTED)
        .exclude(run_claimed_at=claimed_at)
        .exists()
    )
