"""Session lifecycle: create, upload, submit, progress, complete, fail, expire."""

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, Value
from django.db.models.fields.json import KT
from django.utils import timezone

from fraud.services import RESULT_DETAILS, fraud_forget_results
from jobs.extraction import sniff_mime
from jobs.extraction.document import PDF_SEARCH_WINDOW
from jobs.extraction.errors import STEP_TEXT
from jobs.extraction.readable import job_unreadable, unreadable
from jobs.models import SessionHeartbeat, SessionState, WorkflowSession
from jobs.selectors import job_status
from steve.errors import ServiceError, field_error
from steve.ids import new_id
from steve.models import ApiKey, Company, OutboxMessage, WorkflowVersion
from steve.services import (
    RequeuedAfterLoss,
    idempotency_keys_forget_results,
    outbox_put,
    outbox_put_many,
)
from steve.storage import (
    StorageUnavailable,
    forget_stored,
    s3_client,
    storage_answering,
    store,
    using_s3,
)
from steve.sweeps import ERRORS, sweep_rows
from submissions.events import announce
from submissions.models import (
    EventType,
    Submission,
    SubmissionEvent,
    SubmissionFile,
    SubmissionStatus,
)
from submissions.page_cache import forget_pages
from submissions.services import (
    Actor,
    SubmissionActionError,
    checked_reason,
    record_event,
    record_events,
    submission_cancel,
    submission_drop_sync,
    submission_fail,
    submission_files_withdraw,
    submission_purge_results,
    submission_start_processing,
)
from submissions.signals import submission_changed, submission_locking, submissions_overdue
from submissions.sync import sync_event_id, sync_payload
from webhooks.catalogue import WebhookEventType
from webhooks.services import (
    deliveries_forget_results,
    deliveries_requeue_lost_in_redis,
    sync_delivery_replace_payload,
)

logger = logging.getLogger(__name__)

# As much as the extraction sniffs: a PDF's %PDF- may follow a few hundred bytes.
SNIFF_BYTES = PDF_SEARCH_WINDOW
HASH_CHUNK = 1024 * 1024

St = SessionState
S = SubmissionStatus

# The session's state machine; _set_state refuses anything else.
SESSION_TRANSITIONS: dict[str, set[str]] = {
    St.PENDING: {St.SUBMITTED, St.FAILED, St.EXPIRED},
    St.SUBMITTED: {St.COMPLETED, St.FAILED},
}

# Which submission statuses each session state may sit beside. A live session's
# submission has not been decided; once the session ends, the submission goes on alone
# (review → approved → synced, or rejected or cancelled).
SESSION_SUBMISSION_PAIRS: dict[str, set[str]] = {
    St.PENDING: {S.CREATED},
    St.SUBMITTED: {S.PROCESSING},
    St.COMPLETED: {S.REVIEW, S.APPROVED, S.SYNCED, S.REJECTED, S.CANCELLED},
    St.FAILED: {S.FAILED, S.CANCELLED, S.REJECTED},
    St.EXPIRED: {S.CANCELLED},
}

# What a live session becomes when its submission ends before the session does.
SESSION_ENDED_BY: dict[str, str] = {
    S.CANCELLED: "SUBMISSION_CANCELLED",
    S.REJECTED: "SUBMISSION_REJECTED",
    S.FAILED: "SUBMISSION_FAILED",
}
ENDED_CODES = set(SESSION_ENDED_BY.values())
LIVE_STATES = {St.PENDING, St.SUBMITTED}

# The submission's event for each state a session moves to.
SESSION_EVENTS: dict[str, EventType] = {
    St.SUBMITTED: EventType.SESSION_SUBMITTED,
    St.COMPLETED: EventType.SESSION_COMPLETED,
    St.FAILED: EventType.SESSION_FAILED,
    St.EXPIRED: EventType.SESSION_EXPIRED,
}


class SessionError(ServiceError):
    """A refused session operation (steve.errors.ServiceError)."""


def upload_url_used(file: SubmissionFile) -> SessionError:
    """The refusal of an upload URL that already holds a file: its size, so a wrong or
    cut-off file is recognised, and the way on. A URL takes one file, and replaying the
    session's clientSubmissionId answers this same session, so "already used" alone left an
    integrator who sent the wrong file with no next step."""
    return SessionError(
        "UPLOAD_URL_USED",
        f"This upload URL was already used: it takes one file, and a file of {file.size} "
        "bytes is stored for it. To send a different file, open a new session with a new "
        "clientSubmissionId; this one, if not submitted, expires by itself.",
        status=409,
    )


@dataclass(frozen=True)
class SessionRequest:
    file_count: int
    content_types: list[str]
    client_submission_id: str
    metadata: dict[str, Any]
    external_user: dict[str, Any] | None
    webhook_url: str
    source: str = WorkflowSession.Source.SESSION
    options: dict[str, Any] | None = None


# The error code of a job given up after its heartbeat's lease ran out too often (its
# worker died or stopped answering each time: it made no progress).
STUCK_ERROR_CODE = "PROCESSING_TIMEOUT"


def storage_key(submission: Submission, file_index: int) -> str:
    return upload_key(submission.company_id, submission.pk, file_index)


def upload_key(company_id: str, submission_id: str, file_index: int) -> str:
    """Where a file slot's upload URL writes (and, until the submit, where it is read)."""
    return f"submissions/{company_id}/{submission_id}/{file_index}"


def _labels(version: WorkflowVersion, count: int) -> list[str]:
    labels = version.upload_rules["fileLabels"]  # never empty
    return [labels[i] if i < len(labels) else labels[-1] for i in range(count)]


# Held FOR KEY SHARE by a session being made: its company's row, then its key's (the
# order a company's deletion locks and deletes them in), in one round trip: the two
# sub-selects are evaluated, and lock, in the order they are written.
_HOLD_SQL = (
    f"SELECT (SELECT id FROM {Company._meta.db_table} WHERE id = %s FOR KEY SHARE),"
    f" (SELECT id FROM {ApiKey._meta.db_table} WHERE id = %s FOR KEY SHARE)"
)


def _hold_api_key(api_key: ApiKey) -> None:
    """Keep the key and its company until the session made with them commits, or refuse
    the key as not valid when the admin deleted it meanwhile.

    The admin deletes a key (or a company) that nothing depends on, after locking it and
    counting what does (steve.admin_site.ExplainsRefusedDeletion): a session made
    between the count and the commit, by a request authenticated just before, was lost
    to a foreign-key error (the client got 409 "try again", or a 500), or broke the
    deletion. Held, the deletion waits and then counts the session (and refuses), or
    comes first and the key no longer exists."""
    if connection.vendor != "postgresql":  # SQLite (dev) writes one transaction at a time
        return
    with connection.cursor() as cursor:
        cursor.execute(_HOLD_SQL, [api_key.company_id, api_key.pk])
        company, key = cursor.fetchone()
    if company is None or key is None:
        raise SessionError("INVALID_API_KEY", "The API key is not valid.", status=401)


def _create(
    *, api_key: ApiKey, version: WorkflowVersion, request: SessionRequest
) -> WorkflowSession:
    _hold_api_key(api_key)
    company = api_key.company
    now = timezone.now()
    submission = Submission.objects.create(
        company=company,
        workflow=version.workflow,
        workflow_version=version,
        environment=api_key.environment,
        client_submission_id=request.client_submission_id,
        metadata=request.metadata,
    )
    session = WorkflowSession.objects.create(
        company=company,
        api_key=api_key,
        environment=api_key.environment,
        workflow_version=version,
        submission=submission,
        source=request.source,
        client_submission_id=request.client_submission_id,
        metadata=request.metadata,
        external_user=request.external_user,
        file_count=request.file_count,
        content_types=request.content_types,
        webhook_url=request.webhook_url,
        options=request.options or {},
        expires_at=now + settings.SESSION_TTL,
    )
    labels = _labels(version, request.file_count)
    SubmissionFile.objects.bulk_create(
        SubmissionFile(
            submission=submission,
            file_index=index,
            label=labels[index],
            declared_content_type=content_type,
            storage_key=storage_key(submission, index),
        )
        for index, content_type in enumerate(request.content_types)
    )
    record_event(
        submission=submission,
        type=EventType.CREATED,
        actor=Actor.for_api_key(api_key),
        to_status=SubmissionStatus.CREATED,
        details={"sessionId": session.pk},
        first=True,  # its submission is this transaction's own: nothing before it to read
    )
    return session


def session_create(
    *, api_key: ApiKey, version: WorkflowVersion, request: SessionRequest
) -> tuple[WorkflowSession, bool]:
    """A new pending session, or the pending one already made for this clientSubmissionId.

    Returns (session, created). Two racing creates meet at the unique constraint: the
    loser reads the winner's session.
    """
    try:
        with transaction.atomic():
            return _create(api_key=api_key, version=version, request=request), True
    except IntegrityError:
        pass
    existing = (
        WorkflowSession.objects.select_related("submission", "workflow_version__workflow")
        .filter(
            company=api_key.company,
            environment=api_key.environment,
            client_submission_id=request.client_submission_id,
        )
        .first()
    )
    if existing is None:  # pragma: no cover - the constraint only fails on a duplicate
        raise SessionError("CONFLICT", "The session could not be created; try again.", status=409)
    state = existing.state
    if existing.lapsed:
        # Past its TTL but not yet swept: no replay hands back a session that is dead.
        session_expire(session_id=existing.pk)
        state = SessionState.EXPIRED
    if existing.api_key_id != api_key.pk or state != SessionState.PENDING:
        raise SessionError(
            "CLIENT_SUBMISSION_ID_IN_USE",
            f"clientSubmissionId {request.client_submission_id!r} belongs to session "
            f"{existing.pk if existing.api_key_id == api_key.pk else 'of another key'}"
            f" which is {state}; a new session needs a new clientSubmissionId.",
            status=409,
        )
    if differences := _replay_differences(existing, version, request):
        raise SessionError(
            "CLIENT_SUBMISSION_ID_CONFLICT",
            f"clientSubmissionId {request.client_submission_id!r} belongs to session "
            f"{existing.pk}, created with another "
            f"{', '.join(d['field'] for d in differences)}.",
            status=409,
            errors=differences,
        )
    return existing, False


def _replay_differences(
    existing: WorkflowSession, version: WorkflowVersion, request: SessionRequest
) -> list[dict[str, str]]:
    """What a replayed create asks for that the existing session was not made with.

    Every member counts, as for an Idempotency-Key (a different body is refused): a
    replay that moved its webhookUrl, or changed metadata or externalUser, was answered
    with the first session and its new values dropped, so its caller believed them in
    force. A member left out, null or empty is the same as its default, key order does
    not matter, and a number is compared by value as PostgreSQL stores it (1e308 comes
    back as 309 digits), never with a boolean (Python's True == 1)."""
    was = existing.workflow_version
    found = []
    if was.workflow_id != version.workflow_id:
        found.append(("workflow", was.workflow.slug, version.workflow.slug))
    if existing.file_count != request.file_count:
        found.append(("fileCount", existing.file_count, request.file_count))
    if list(existing.content_types) != list(request.content_types):
        found.append(("contentTypes", existing.content_types, request.content_types))
    errors = [
        field_error(
            name, f"The session was created with {name} {before!r}, not {after!r}.", "conflict"
        )
        for name, before, after in found
    ]
    # Not echoed: metadata may be 4 KB, and each side's text is the caller's own anyway.
    if _json_value(existing.metadata or {}) != _json_value(request.metadata or {}):
        errors.append(
            field_error("metadata", "The session was created with other metadata.", "conflict")
        )
    if _user(existing.external_user) != _user(request.external_user):
        errors.append(
            field_error(
                "externalUser", "The session was created with another externalUser.", "conflict"
            )
        )
    if (existing.webhook_url or "") != (request.webhook_url or ""):
        was_url = (
            f"webhookUrl {existing.webhook_url!r}" if existing.webhook_url else "no webhookUrl"
        )
        message = f"The session was created with {was_url}."
        errors.append(field_error("webhookUrl", message, "conflict"))
    return errors


def _user(value: dict[str, Any] | None) -> Any:
    """externalUser without its null members: {"id": "u1", "name": null} is {"id": "u1"},
    and {} is no user."""
    kept = {key: item for key, item in (value or {}).items() if item is not None}
    return _json_value(kept) if kept else None


def _json_value(value: Any) -> Any:
    """A JSON value in a form that compares by meaning: numbers as Decimals (1 == 1.0,
    and a float equals the digits PostgreSQL wrote it out in), booleans kept apart."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int):
        return ("number", Decimal(value))
    if isinstance(value, float):
        return ("number", Decimal(repr(value)))
    if isinstance(value, dict):
        return ("object", {str(key): _json_value(item) for key, item in value.items()})
    if isinstance(value, list):
        return ("array", [_json_value(item) for item in value])
    return value


def session_store_upload(*, file_id: str, data: bytes) -> SubmissionFile:
    """Store an upload's bytes in its file slot; an upload URL works once, even when raced.

    Taken under the session's lock, after the body was read: a submit, a cancel or an
    expiry either happens before (the upload is refused, 410 SESSION_NOT_PENDING) or waits
    for the file to be stored and counted. Checked only before the body was read, a PUT
    in flight was answered 409 "already used" for a slot the submit had dropped, or 200
    with its bytes stored in a cancelled session.
    """
    with transaction.atomic():
        slot = SubmissionFile.objects.filter(pk=file_id)
        submission_id = slot.values_list("submission_id", flat=True).first()
        session = (
            WorkflowSession.objects.select_for_update().filter(submission_id=submission_id).first()
        )
        file = slot.first()  # read under the lock: a submit before it dropped an empty slot
        if (
            session is None
            or file is None
            or session.state != SessionState.PENDING
            or session.lapsed
        ):
            raise SessionError(
                "SESSION_NOT_PENDING", "The session no longer accepts uploads.", status=410
            )
        if file.uploaded_at is not None:
            raise upload_url_used(file)
        # Refused by the disk or S3: StorageUnavailable (a 503), nothing stored, and the
        # rollback leaves the slot not uploaded, so the same URL can be sent again.
        store(key=file.storage_key, data=data)
        file.uploaded_at = timezone.now()
        file.size = len(data)
        file.save(update_fields=["uploaded_at", "size"])
        return file


def states_agree(session_state: str, submission_status: str) -> bool:
    return submission_status in SESSION_SUBMISSION_PAIRS.get(session_state, set())


def _set_state(session: WorkflowSession, state: str, **fields: Any) -> SubmissionEvent:
    before = session.state
    if state not in SESSION_TRANSITIONS.get(before, set()):
        raise SessionError(
            f"SESSION_{before.upper()}",
            f"The session is {before}; it cannot become {state}.",
            status=409,
        )
    session.state = state
    if session.is_terminal:
        # A PDF password is needed only while processing; it is never kept.
        session.options.pop("password", None)
    for name, value in fields.items():
        setattr(session, name, value)
    session.save()
    return record_event(
        submission=session.submission,
        type=SESSION_EVENTS[state],
        actor=Actor.system(),
        from_status=before,
        to_status=state,
        details={"sessionId": session.pk},
    )


def not_accepted_message(mime: str | None, version: WorkflowVersion) -> str:
    accepted = ", ".join(version.upload.get("acceptedFormats", []))
    what = mime or "not a format Steve reads"
    return f"The file's content ({what}) is not an accepted format ({accepted})."


def _too_large(file: SubmissionFile, version: WorkflowVersion) -> dict[str, str]:
    return {
        "field": f"files[{file.file_index}]",
        "message": f"The file is larger than {version.upload_rules['maxFileSizeMb']} MB.",
        "code": "FILE_TOO_LARGE",
    }


def _inspect_file(file: SubmissionFile, version: WorkflowVersion) -> dict[str, str] | None:
    """Check one uploaded file; returns a field error, or None when it is acceptable."""
    field = f"files[{file.file_index}]"
    if using_s3() and not file.storage_key.endswith(SEALED_SUFFIX):
        # Put after the uploads were copied (_seal_uploads): absent, as it was then. Read
        # here, it was submitted uncopied and unchecked, its URL free to replace it.
        return None
    with storage_answering(f"a read of {file.storage_key}"):
        if not default_storage.exists(file.storage_key):
            return None  # absent files are counted against minFiles by the caller
        size = default_storage.size(file.storage_key)
        if size == 0:
            return {"field": field, "message": "The uploaded file is empty.", "code": "EMPTY_FILE"}
        if size > version.max_file_bytes:
            return _too_large(file, version)
        # A sealed copy is an S3 upload, which Steve's upload view never saw: its bytes
        # are read whole, once, for the hash and the check that view runs. A local
        # upload was checked as it was stored, and is only hashed, a chunk at a time.
        if file.storage_key.endswith(SEALED_SUFFIX):
            head, digest, data = _read_whole(file.storage_key, version.max_file_bytes)
        else:
            (head, digest), data = _read_hashed(file.storage_key), None
    mime = sniff_mime(head)
    if mime is None or mime not in version.accepted_mime_types:
        return {
            "field": field,
            "message": not_accepted_message(mime, version),
            "code": "UNSUPPORTED_FILE",
        }
    if data is not None and (refused := unreadable(data, mime)):
        # What the local upload refuses at once, in its words (less its "This upload URL
        # can still be used.": an S3 URL can be, but only until it expires).
        return {"field": field, "message": refused.message, "code": refused.code}
    file.mime_type = mime
    file.size = size
    file.sha256 = digest
    file.uploaded_at = file.uploaded_at or timezone.now()
    return None


def _read_hashed(key: str) -> tuple[bytes, str]:
    """The stored file's first SNIFF_BYTES and its SHA-256, read a chunk at a time."""
    digest = hashlib.sha256()
    with default_storage.open(key, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
        digest.update(head)
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return head, digest.hexdigest()


def _read_whole(key: str, limit: int) -> tuple[bytes, str, bytes]:
    """The stored file's first SNIFF_BYTES, its SHA-256 and its bytes, no more than
    `limit` of them read (its size was checked against that already)."""
    with default_storage.open(key, "rb") as handle:
        data = handle.read(limit)
    return data[:SNIFF_BYTES], hashlib.sha256(data).hexdigest(), data


SEALED_SUFFIX = ".submitted"
# The first key of the advisory lock two submits of one session take turns on (the
# second is the session id's hash): its own space, beside the fraud checks' one-key locks.
SUBMIT_LOCK_CLASS = 0x53554254  # "SUBT"


def _seal_uploads(
    files: list[SubmissionFile], version: WorkflowVersion
) -> tuple[list[str], dict[int, dict[str, str]]]:
    """With S3, each uploaded object copied to a key no upload URL names, which Steve
    reads from the submit on; returns the keys the URLs write to, and the refusals of
    objects too large to keep (by file index).

    An S3 pre-signed PUT works until it expires, as often as it is sent, whatever became
    of the session or its key (Steve answers the local-storage PUT itself, and refuses it
    once the session is submitted): whoever held the URL replaced a receipt after its
    extraction and fraud checks, and reviewers and downloads saw the replacement. The
    copy is made before the file is checked, so what is hashed is what is kept. One too
    large is refused uncopied (S3 takes a PUT of any size; copy_object none over 5 GB),
    here, so a smaller PUT in the meantime cannot pass the checks unsealed.
    """
    if not using_s3():
        return [], {}
    uploaded, too_large = [], {}
    try:
        with storage_answering("the copy of a session's uploads"):
            for file in files:
                if not default_storage.exists(file.storage_key):
                    continue
                if default_storage.size(file.storage_key) > version.max_file_bytes:
                    too_large[file.file_index] = _too_large(file, version)
                    continue
                sealed = f"{file.storage_key}{SEALED_SUFFIX}"
                s3_client().copy_object(
                    Bucket=default_storage.bucket_name,
                    Key=sealed,
                    CopySource={"Bucket": default_storage.bucket_name, "Key": file.storage_key},
                )
                uploaded.append(file.storage_key)
                file.storage_key = sealed
    except StorageUnavailable:
        # The submit is refused (a 503) and tried again from the uploads: the copies
        # made before S3 stopped answering go, as far as it lets them.
        forget_stored(_sealed_keys(files))
        raise
    return uploaded, too_large


def _drop_sealed(files: list[SubmissionFile]) -> None:
    """A refused submit keeps the uploads (its rollback restores their keys): the copies
    go, so none is left behind a session that then expires."""
    _delete_stored(_sealed_keys(files))


def _sealed_keys(files: list[SubmissionFile]) -> list[str]:
    """The copies _seal_uploads made of `files` (their keys point at them until the
    transaction that made them is rolled back)."""
    return [f.storage_key for f in files if f.storage_key.endswith(SEALED_SUFFIX)]


def _delete_stored(keys: list[str]) -> None:
    for key in keys:
        default_storage.delete(key)


def _refuse_unless_pending(session: WorkflowSession) -> None:
    if session.state == SessionState.EXPIRED or session.lapsed:
        raise SessionError(
            "SESSION_EXPIRED", "The session expired before it was submitted.", status=410
        )
    if session.state == SessionState.FAILED and session.error_code in ENDED_CODES:
        raise SessionError(
            session.error_code,
            f"The session ended when its submission was {session.submission.status}; "
            "create a new session with a new clientSubmissionId.",
            status=400,  # STEVE-API.md: submit in the wrong state is a 400
        )
    if session.state != SessionState.PENDING:
        raise SessionError(
            f"SESSION_{session.state.upper()}",
            f"The session is {session.state}; only a pending session can be submitted.",
            status=400,
        )


def session_submit(*, session_id: str) -> WorkflowSession:
    """Validate the uploaded files and queue processing once; a second submit is refused.

    The uploads are copied (S3) and checked before the session's lock is taken: an S3
    upload's check runs in a forked child for up to 5 s a PDF, and a cancel (or an
    upload's PUT, or a read of a session lapsing meanwhile) waited out every check under
    the lock, five PDFs' worth running into the web's 25-s statement timeout. Two submits
    of one session still take turns (_one_submit_at_a_time): they write the same copies.
    Under the lock, the submit only makes sure the session is still pending (a cancel or
    the expiry sweep may have ended it meanwhile: its copies go) and its files are those
    checked (a local upload may have landed meanwhile: they are checked again there, for
    a local upload only a hash)."""
    # A submit after the TTL finalises the expiry the sweep would have made, in its own
    # transaction, so the refusal below does not roll it back; likewise a session whose
    # submission was cancelled first ends now (rows from before sessions followed).
    session_expire(session_id=session_id)
    session_follow_submission(session_id=session_id)
    with transaction.atomic():
        _one_submit_at_a_time(session_id)
        # Read after the turn is ours: a submit that ran before us is seen submitted, and
        # refused before copying its uploads over the copies it is processing.
        session = WorkflowSession.objects.select_related("workflow_version", "submission").get(
            pk=session_id
        )
        _refuse_unless_pending(session)
        checked_slots = _upload_slots(session.submission_id)
        files, uploaded = _checked_files(session)
        locked = (
            WorkflowSession.objects.select_for_update()
            .select_related("workflow_version", "submission")
            .get(pk=session_id)
        )
        try:
            _refuse_unless_pending(locked)
        except SessionError:
            _drop_sealed(files)
            raise
        if (slots := _upload_slots(session.submission_id)) != checked_slots:
            # Only the slots a local upload changed meanwhile are copied and checked
            # again: the others are submitted as they were checked, each copied once. A
            # second copy of an S3 upload took whatever its pre-signed URL had put there
            # since, and ran its check (up to 5 s a PDF) under the lock.
            unchanged = {pk for pk, _ in set(slots) & set(checked_slots)}
            files, more = _checked_files(locked, kept=[f for f in files if f.pk in unchanged])
            uploaded = list(dict.fromkeys(uploaded + more))
        for file in files:
            if file.mime_type:
                file.save()
            else:
                file.delete()
        _set_state(locked, SessionState.SUBMITTED, submitted_at=timezone.now(), progress=5)
        if uploaded:  # only once the submit holds: a refused one is retried from them
            transaction.on_commit(lambda: _delete_stored(uploaded))
        submission_start_processing(submission_id=locked.submission_id)
        _queue_processing(locked.pk)
    return locked


def _one_submit_at_a_time(session_id: str) -> None:
    """Until the caller's transaction ends, no other submit of the session runs. Nothing
    else waits for it: a cancel, an upload or the expiry sweep take the session's row."""
    if connection.vendor == "postgresql":  # SQLite runs one writing transaction anyway
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [SUBMIT_LOCK_CLASS, session_id]
            )


def _upload_slots(submission_id: str) -> list[tuple[str, datetime | None]]:
    """What a local upload's PUT changes in the file rows: which slot holds bytes."""
    slots = SubmissionFile.objects.filter(submission_id=submission_id).order_by("file_index")
    return list(slots.values_list("pk", "uploaded_at"))


def _checked_files(
    session: WorkflowSession, *, kept: Sequence[SubmissionFile] = ()
) -> tuple[list[SubmissionFile], list[str]]:
    """The session's file slots, each filled in from its checked upload (sealed first,
    with S3), and the keys the upload URLs wrote to; refuses (422, no copy kept) when a
    file is refused or too few were uploaded. The slots in ``kept`` were checked already
    (sealed too): they are taken as they are, neither copied nor read again."""
    version = session.workflow_version
    done = {file.pk: file for file in kept}
    files = [done.get(f.pk, f) for f in session.submission.files.order_by("file_index")]
    fresh = [f for f in files if f.pk not in done]
    uploaded, too_large = _seal_uploads(fresh, version)
    errors = [e for f in fresh if (e := too_large.get(f.file_index) or _inspect_file(f, version))]
    if errors:
        _drop_sealed(files)
        raise SessionError("INVALID_FILES", errors[0]["message"], status=422, errors=errors)
    present = [f for f in files if f.mime_type]
    min_files = int(version.upload.get("minFiles", 1))
    if len(present) < min_files:
        _drop_sealed(files)
        raise SessionError(
            "FILES_MISSING",
            f"{len(present)} file(s) uploaded; this workflow needs at least {min_files}.",
            status=422,
            slug="files-missing",
            errors=[
                field_error(f"files[{f.file_index}]", "Not uploaded.", "missing")
                for f in files
                if not f.mime_type
            ],
        )
    return files, uploaded


def _queue_processing(session_id: str) -> None:
    """Queue the pipeline through the outbox, in the caller's transaction.

    A broker that is down at commit delays processing until the relay gets through;
    the submit itself is accepted as usual and its session is never stranded.
    """
    from jobs.tasks import process_session

    outbox_put(task=process_session.name, args=[session_id])


def _run_holds(claimed_at: datetime | None) -> Q:
    """The run claimed at `claimed_at` still holds the job (any run when None)."""
    return Q() if claimed_at is None else Q(run_claimed_at=claimed_at)


def session_set_progress(
    *, session_id: str, progress: int, claimed_at: datetime | None = None
) -> None:
    # Progress only moves forward, only while the session is being processed, and only
    # by the run that holds it: a run whose job another took changes nothing.
    now = timezone.now()
    WorkflowSession.objects.filter(
        _run_holds(claimed_at), pk=session_id, state=SessionState.SUBMITTED, progress__lt=progress
    ).update(progress=progress, updated_at=now, heartbeat_at=now)


def _heartbeat_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.STUCK_SESSION_HEARTBEAT_SECONDS)


def _beating() -> Exists:
    """Its worker beat within STUCK_SESSION_HEARTBEAT_SECONDS (SessionHeartbeat)."""
    fresh = SessionHeartbeat.objects.filter(
        session_id=OuterRef("pk"), beat_at__gte=_heartbeat_cutoff()
    )
    return Exists(fresh)


def session_start_run(*, session_id: str, at: datetime | None = None) -> bool:
    """Claim a submitted session for one pipeline run; False when it is not ours to run.

    Refused while another worker's heartbeat is fresh, so a duplicate message (a
    re-queue racing a slow worker, the broker redelivering after a crash) never runs
    the pipeline twice at once. A stale heartbeat (its worker dead, or frozen past the
    lease) is taken over.

    `at` stamps the claim (heartbeat_at): a run trying again after a database blip that
    lost the answer of its committed claim finds its own claim by the stamp. It took it
    for another worker's and gave the job up, to the stuck sweep ~90 s later, spending a
    re-queue as for a dead worker.
    """
    now = at or timezone.now()
    idle = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=_heartbeat_cutoff())
    if at is not None:
        idle |= Q(heartbeat_at=at)
    claimed = WorkflowSession.objects.filter(
        idle, ~_beating(), pk=session_id, state=SessionState.SUBMITTED
    ).update(heartbeat_at=now, run_claimed_at=now, updated_at=now)
    return claimed == 1


def session_heartbeat(*, session_id: str, claimed_at: datetime | None = None) -> bool:
    """The running worker is alive; called at every step and while a step waits. False
    when the session is no longer running (cancelled meanwhile), or no longer run by the
    run claimed at `claimed_at` (frozen past its lease, its job taken by another run): the
    worker should stop, and its beat is not written (it would keep the other run's job
    alive for it).

    Neither the read nor the write waits for the session's row lock, which the worker's
    own step may hold for minutes (SessionHeartbeat)."""
    running = WorkflowSession.objects.filter(
        _run_holds(claimed_at), pk=session_id, state=SessionState.SUBMITTED
    )
    if not running.exists():
        return False
    SessionHeartbeat.objects.bulk_create(
        [SessionHeartbeat(session_id=session_id, beat_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["session"],
        update_fields=["beat_at"],
    )
    return True


def session_interrupt(*, session_id: str, by: str, claimed_at: datetime | None = None) -> bool:
    """The run ends without an outcome, and the job is to be tried again: the process
    reading a file was killed from outside (`by`, its signal), which says nothing of the
    file. The session stays submitted, as after a worker killed mid-job, and the stuck
    sweep re-queues it once its heartbeat is STUCK_SESSION_HEARTBEAT_SECONDS old (a machine
    short of memory has a moment to recover), spending one of STUCK_SESSION_MAX_REQUEUES.
    False when the session no longer runs (cancelled meanwhile), or no longer by the run
    claimed at `claimed_at` (another run took it over)."""
    running = WorkflowSession.objects.filter(
        _run_holds(claimed_at), pk=session_id, state=SessionState.SUBMITTED
    )
    return running.update(interrupted_by=by[:40], updated_at=timezone.now()) == 1


def session_complete(
    *, session_id: str, decide: Callable[[], object] | None = None
) -> WorkflowSession:
    """Mark a processed session completed, store the decision, and announce both.

    `decide` moves the submission to review or approved inside the same transaction,
    after the session is completed, so the submission's webhook already says
    `state: completed`, and session.completed carries the decided status.
    """
    with transaction.atomic():
        session = WorkflowSession.objects.select_for_update().get(pk=session_id)
        if session.state != SessionState.SUBMITTED:
            return session
        event = _set_state(
            session, SessionState.COMPLETED, progress=100, processed_at=timezone.now()
        )
        if decide is not None:
            decide()
        submission = Submission.objects.get(pk=session.submission_id)
        announce(submission=submission, event_type=WebhookEventType.SESSION_COMPLETED, event=event)
        if submission.status == SubmissionStatus.REVIEW:
            review_event = record_event(
                submission=submission,
                type=EventType.REVIEW_REQUIRED,
                actor=Actor.system(),
                details={"flaggedFields": submission.review_flagged_fields},
            )
            announce(
                submission=submission,
                event_type=WebhookEventType.SESSION_REVIEW_REQUIRED,
                event=review_event,
            )
    return session


def session_fail(
    *,
    session_id: str,
    code: str,
    reason: str,
    step: str,
    retryable: bool,
    claimed_at: datetime | None = None,
) -> WorkflowSession:
    """Fail the session and its submission with `code`; nothing when it no longer runs, or
    no longer by the run claimed at `claimed_at` (a run frozen past its lease whose job
    another run took fails its own work, not that run's job)."""
    with transaction.atomic():
        session = (
            WorkflowSession.objects.select_for_update()
            .select_related("submission")
            .get(pk=session_id)
        )
        if session.state != SessionState.SUBMITTED:
            return session
        if claimed_at is not None and session.run_claimed_at != claimed_at:
            return session
        if session.submission.status != S.PROCESSING:
            # The submission ended first (cancelled): the session ends with it.
            _follow(session)
            return session
        # The session ends first, so the hook on the submission's failure finds it ended.
        event = _set_state(
            session,
            SessionState.FAILED,
            processed_at=timezone.now(),
            failed_reason=reason,
            error_code=code,
            error_step=step,
            error_retryable=retryable,
        )
        submission_fail(submission_id=session.submission_id, code=code, reason=reason)
        submission = Submission.objects.get(pk=session.submission_id)
        announce(submission=submission, event_type=WebhookEventType.SESSION_FAILED, event=event)
    # A retryable failure is Steve's (a crash, a time limit, workers dying on it): an
    # operator's warning. Any other is the document's, which its integrator is told of.
    # `reason` is Steve's own sentence, never text read from the document.
    logger.log(
        logging.WARNING if retryable else logging.INFO,
        "Company %s: session %s (submission %s) failed at step %s: %s%s: %s",
        session.company_id,
        session.pk,
        session.submission_id,
        step,
        code,
        " (retryable)" if retryable else "",
        reason,
    )
    return session


def _ended_reason(submission: Submission) -> str:
    if submission.status == S.CANCELLED:
        why = f": {submission.cancel_reason}" if submission.cancel_reason else "."
        return f"The submission was cancelled{why}"
    if submission.status == S.REJECTED:
        return f"The submission was rejected: {submission.reject_reason}"
    return submission.failed_reason or "The submission failed."


def _follow(session: WorkflowSession) -> bool:
    """End a live, locked session whose submission has ended; False when it has not."""
    submission = Submission.objects.get(pk=session.submission_id)
    code = SESSION_ENDED_BY.get(submission.status)
    if code is None or session.state not in LIVE_STATES:
        return False
    event = _set_state(
        session,
        SessionState.FAILED,
        processed_at=timezone.now(),
        failed_reason=_ended_reason(submission),
        error_code=code,
        error_step="submission",
        error_retryable=False,
    )
    announce(submission=submission, event_type=WebhookEventType.SESSION_FAILED, event=event)
    return True


def session_follow_submission(*, session_id: str) -> bool:
    """End a live session whose submission was cancelled, rejected or failed first."""
    with transaction.atomic():
        session = WorkflowSession.objects.select_for_update().get(pk=session_id)
        return _follow(session)


def _lock_session(sender: object, *, submission_id: str, **kwargs: Any) -> None:
    # Lock order: a session before its submission, as session_complete/fail take them.
    list(
        WorkflowSession.objects.select_for_update()
        .filter(submission_id=submission_id)
        .values_list("pk", flat=True)
    )


def _submission_changed(
    sender: object, *, submission: Submission, to_status: str, **_: Any
) -> None:
    if to_status not in SESSION_ENDED_BY:
        return
    session = (
        WorkflowSession.objects.select_for_update()
        .filter(submission_id=submission.pk, state__in=LIVE_STATES)
        .first()
    )
    if session is not None:
        _follow(session)


def _expire_overdue(
    sender: object,
    *,
    submission_id: str | None,
    company_id: str | None,
    environment: str | None,
    limit: int,
    **_: Any,
) -> None:
    if submission_id is not None:
        scope = Q(submission_id=submission_id)
    elif company_id is not None:
        scope = Q(company_id=company_id, environment=environment)
    else:
        scope = Q()  # every company's: the admin's lists
    sessions_expire_stale(scope=scope, limit=limit, wait=True)


def connect_session_to_submission() -> None:
    """Whatever ends a submission (cancel, reject, failure) ends its live session too;
    a submission read or cancelled after its session's TTL finds the session expired."""
    submission_locking.connect(_lock_session, dispatch_uid="jobs.lock_session")
    submission_changed.connect(_submission_changed, dispatch_uid="jobs.session_follows")
    submissions_overdue.connect(_expire_overdue, dispatch_uid="jobs.expire_overdue")


def session_expire(*, session_id: str, wait: bool = False) -> bool:
    """Expire one pending session past its TTL; False when another sweep got there first.

    The sweep skips a session another transaction holds (its next run comes back to it).
    A poll or a read that meets a lapsed session `wait`s for that transaction instead:
    skipping, it read the session still pending beside the sweep's expiry in flight and
    answered `pending` (with retryAfterMs) past expiresAt.
    """
    with transaction.atomic():
        session = (
            WorkflowSession.objects.select_for_update(skip_locked=not wait)
            .filter(pk=session_id, state=SessionState.PENDING, expires_at__lte=timezone.now())
            .first()
        )
        if session is None:
            return False
        if _follow(session):
            return False  # its submission was cancelled first: never cancel it twice
        event = _set_state(session, SessionState.EXPIRED)
        announce(
            submission=session.submission, event_type=WebhookEventType.SESSION_EXPIRED, event=event
        )
        submission_cancel(
            submission_id=session.submission_id,
            actor=Actor.system(),
            reason="The session expired before it was submitted.",
        )
    return True


# The most sessions one sweep run expires.
EXPIRE_BATCH = 500


def _session_sweep_failed(session_id: str) -> None:
    # Not updated_at: that is the session's updatedAt, and the wait _stuck counts.
    WorkflowSession.objects.filter(pk=session_id).update(sweep_failed_at=timezone.now())


def sessions_expire_stale(
    *, limit: int = EXPIRE_BATCH, scope: Q | None = None, wait: bool = False
) -> int:
    """Beat: expire pending sessions past their TTL, bounded per run, safe to run twice.

    With a `scope`, only those: what a read or a cancel is about to meet, when beat is
    down or behind (the sweep's lag is documented; reporting a dead session as pending,
    or a cancel ending it failed, is not); with `wait`, each waits for a session another
    transaction holds. Newest first: a read's bounded catch-up (CATCH_UP_PER_PAGE)
    covers the submissions its first page shows; those it raised on before last.
    """
    due = (
        WorkflowSession.objects.filter(
            scope or Q(), state=SessionState.PENDING, expires_at__lte=timezone.now()
        )
        # Those it raised on last: a batch of them never fills every run.
        .order_by(F("sweep_failed_at").asc(nulls_first=True), "-expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts = sweep_rows(
        "expire-sessions",
        list(due),
        lambda pk: session_expire(session_id=pk, wait=wait),
        failed=_session_sweep_failed,
    )
    return counts[str(True)]


def _file_refused(code: str, message: str, field_code: str, status: int = 400) -> SessionError:
    return SessionError(code, message, status, [field_error("file", message, field_code)])


# The `errors[].code` of a job file refused for what opening it shows, by its code.
UNREADABLE_FIELD_CODES = {
    "UNSUPPORTED_FILE": "unsupported",
    "PASSWORD_REQUIRED": "password_required",
    "PAGE_LIMIT_EXCEEDED": "too_many_pages",
    "FILE_TOO_LARGE": "too_large",
}


@dataclass(frozen=True)
class JobFile:
    """An extraction job's file as extraction_job_file checked it: made there only, so
    the create takes no file that was not checked, and opens none a second time."""

    data: bytes
    mime: str


def extraction_job_template(*, version: WorkflowVersion) -> None:
    """Refuse a template whose workflow needs more files than the one a job carries.

    Seed 003 answers a create it cannot take with 400 and has no 422: the submit inside
    the create answered it 422 FILES_MISSING, after the file was stored."""
    needed = int(version.upload_rules["minFiles"])
    if needed > 1:
        message = (
            f"Template {version.workflow.slug} needs at least {needed} files; "
            "an extraction job carries one."
        )
        raise SessionError(
            "INVALID_REQUEST", message, 400, [field_error("templateName", message, "min_files")]
        )


def extraction_job_file(
    *, version: WorkflowVersion, data: bytes, password: str | None = None
) -> JobFile:
    """The job file and its MIME type, or the refusal of the file (its `errors` name
    `file`, so the API lists it beside the create's other refused members).

    What opening its structure shows processing would refuse is refused too, in
    processing's code and words (a PDF no reader opens, one of more pages than it reads,
    one that needs a password the job does not carry): the job was queued (202) only to
    fail. An encrypted PDF sent with a password is taken: only processing tells a wrong
    one (PASSWORD_INVALID)."""
    if not data:
        raise _file_refused("EMPTY_FILE", "The file is empty.", "empty")
    mime = sniff_mime(data[:SNIFF_BYTES])
    if mime not in version.accepted_mime_types:
        raise _file_refused("UNSUPPORTED_FILE", not_accepted_message(mime, version), "unsupported")
    if len(data) > version.max_file_bytes:
        message = f"The file is larger than {version.max_file_bytes} bytes."
        raise _file_refused("FILE_TOO_LARGE", message, "too_large", 413)
    if refused := job_unreadable(data, mime, password_given=bool(password)):
        field_code = UNREADABLE_FIELD_CODES[refused.code]
        raise _file_refused(refused.code, refused.message, field_code, refused.status)
    return JobFile(data=data, mime=mime)


def extraction_job_create(
    *,
    api_key: ApiKey,
    version: WorkflowVersion,
    file: JobFile,
    filename: str | None,
    options: dict[str, Any],
) -> WorkflowSession:
    """A one-shot job (seed 003): a session with its file stored and submitted at once."""
    extraction_job_template(version=version)  # before its file is stored
    request = SessionRequest(
        file_count=1,
        content_types=[file.mime],
        client_submission_id=new_id("xj"),
        metadata={},
        external_user=None,
        webhook_url="",
        source=WorkflowSession.Source.EXTRACTION_JOB,
        options={**options, "originalName": filename},
    )
    with transaction.atomic():
        session, _ = session_create(api_key=api_key, version=version, request=request)
        slot = session.submission.files.get()
        session_store_upload(file_id=slot.pk, data=file.data)
        return session_submit(session_id=session.pk)


def extraction_job_cancel(
    *, session_id: str, actor: Actor, reason: str | None = None
) -> WorkflowSession:
    """Cancel an extraction job: its submission's cancel, nothing else, so the job records
    and announces what a submission cancel does (`cancelled`, submission.cancelled, and
    a live session's session.failed, whose heartbeat then stops the worker reading it).

    Allowed while the submission cancel is (a queued, processing or review_required
    job); a job that has ended is refused (409) with the code of the status it answers.
    A refused reason is a 400, as seed 003 answers every refusal of a request's content.
    """
    try:
        reason = checked_reason(reason)
    except ServiceError as refused:
        raise SessionError("INVALID_REQUEST", refused.message, 400, refused.errors) from None
    session = WorkflowSession.objects.get(pk=session_id)
    try:
        submission_cancel(submission_id=session.submission_id, actor=actor, reason=reason)
    except SubmissionActionError:  # its status's refusal: no expected version is given
        session.refresh_from_db()  # and its submission, as the cancel found it
        raise _job_not_cancelable(session) from None
    session.refresh_from_db()
    return session


# The refusal of a cancel of a job that has ended, by the status the job answers.
ENDED_JOB_CODES = {
    "canceled": "JOB_CANCELED",
    "failed": "JOB_FAILED",
    "expired": "JOB_EXPIRED",
    "completed": "JOB_COMPLETED",
}


def _job_not_cancelable(session: WorkflowSession) -> SessionError:
    status = job_status(session)
    return SessionError(
        ENDED_JOB_CODES.get(status, "JOB_COMPLETED"),
        f"The job is {status}; it cannot be canceled.",
        409,
    )


RETAINED_STATUSES = {SubmissionStatus.CREATED, SubmissionStatus.PROCESSING, SubmissionStatus.REVIEW}
# What the answers kept for Idempotency-Key replays lose of a purged submission (a
# correction answers with the whole submission): the receipt content of its fraud
# matches and the values its correction events replaced and set go, as from those rows;
# its results and download links read as its detail now shows them.
REPLAYED_RESULTS_REMOVED = RESULT_DETAILS | frozenset({"old", "new"})
REPLAYED_RESULTS_EMPTIED = {
    "extractedData": None,
    "fieldConfidences": {},
    "evidence": {},
    "aiSummary": None,
    "downloadUrl": None,
}


def retention_purge(*, limit: int = 200) -> int:
    """Beat: delete file bytes and results older than RETENTION_DAYS, bounded per run.

    Submissions still waiting for processing or review, or for a sync post's retry, are
    kept; reads of a purged one return the documented expired stub or 410.
    """
    cutoff = timezone.now() - timedelta(days=settings.RETENTION_DAYS)
    # Counted from the decision, not the upload: one approved after weeks in review kept
    # its results (and a sync still retrying) only until the next hourly purge.
    decided_before = Q(decided_at__lt=cutoff) | Q(decided_at__isnull=True, updated_at__lt=cutoff)
    due = list(
        Submission.objects.filter(created_at__lt=cutoff, results_purged_at__isnull=True)
        .filter(decided_before)
        .exclude(status__in=RETAINED_STATUSES)
        # Nor one whose sync post is still being retried (about three days of attempts,
        # which a RETENTION_DAYS of 1 to 3 cut short): it is dropped once given up. A next
        # attempt due before the cutoff is one no retry will take, and waits for nothing.
        .exclude(sync_next_attempt_at__gte=cutoff)
        # Those the purge raised on last: a batch of them never fills every run.
        .order_by(F("purge_failed_at").asc(nulls_first=True), "created_at")
        .values_list("pk", "company_id")[:limit]
    )
    # Each row's files are withdrawn first, every one committed before its bytes go.
    sweep_rows(
        "retention-withdraw", due, lambda row: submission_files_withdraw(submission_id=row[0])
    )
    counts = sweep_rows("retention-purge", due, lambda row: _purge_one(*row), failed=_purge_failed)
    return counts["purged"]


def _purge_failed(row: tuple[str, str]) -> None:
    Submission.objects.filter(pk=row[0]).update(purge_failed_at=timezone.now())


def _purge_one(submission_id: str, company_id: str) -> str:
    files = SubmissionFile.objects.filter(submission_id=submission_id)
    if files.filter(purged_at__isnull=True).exists():
        # Its withdrawal failed this run (the database gone for a moment): deleting its
        # bytes now left the API offering a file already gone when the purge was cut short
        # after them. The next run withdraws and purges it.
        return "not withdrawn"
    for key in files.values_list("storage_key", flat=True):
        default_storage.delete(key)
    # The desk's renders of its pages are copies of the bytes too.
    forget_pages(files.values_list("pk", flat=True))
    session_id, slots = (
        WorkflowSession.objects.filter(submission_id=submission_id)
        .values_list("pk", "file_count")
        .first()
    ) or (None, 0)
    # What an S3 upload URL wrote after the submit (_seal_uploads), a slot the submit
    # dropped as empty included: never read, and deleted with the rest.
    for index in range(slots):
        default_storage.delete(upload_key(company_id, submission_id, index))
    results = f"results/{company_id}/{session_id}.json"
    default_storage.delete(results)
    # A poll of the job's result before this commits writes the file again: delete it
    # once more when the purge is visible.
    # Robust: the purge is committed then, and the storage failing now (logged) is no
    # failure of the row, which no run would list again to redo.
    transaction.on_commit(lambda: default_storage.delete(results), robust=True)
    # The copies go first: a purge cut short is retried (it is not marked purged yet), so
    # a copy is never left behind a submission already marked purged.
    fraud_forget_results(submission_id=submission_id, company_id=company_id)
    # Under the company's fraud lock, held to the end of this row's transaction: a second
    # run that listed the submission too (two beats, or a run still going at the next
    # tick) finds it purged by the first here, and counts it no second time.
    if Submission.objects.filter(pk=submission_id, results_purged_at__isnull=False).exists():
        return "already purged"
    # The session's webhooks carry its id; the downstream sync (no session) its event id.
    dropped = deliveries_forget_results(
        session_id=session_id, sync_event_id=sync_event_id(submission_id)
    )
    idempotency_keys_forget_results(
        company_id=company_id,
        submission_id=submission_id,
        removed=REPLAYED_RESULTS_REMOVED,
        emptied=REPLAYED_RESULTS_EMPTIED,
    )
    for unsent in dropped:  # its submission showed a next attempt that will never come
        submission_drop_sync(
            submission_id=submission_id, delivery_id=unsent.pk, delivery_status=unsent.status
        )
    purged = submission_purge_results(submission_id=submission_id)
    # A delivered sync post then holds the purged submission in the shape it was sent.
    sync_delivery_replace_payload(
        sync_event_id=sync_event_id(submission_id), payload=sync_payload(purged)
    )
    return "purged"


# The longest a session no worker took waits before it is queued again.
MAX_REQUEUE_WAIT = timedelta(hours=1)


def _stuck() -> Q:
    """Submitted sessions that no worker is moving: a running one whose heartbeat stopped
    (its lease ran out, ~90 s: its worker died or stopped answering mid-job), or a queued
    one no worker took (_queued_too_long); never one whose message waits in the outbox."""
    return (
        Q(state=SessionState.SUBMITTED)
        & ~_beating()
        & ~_waiting_in_outbox()
        & (Q(heartbeat_at__lt=_heartbeat_cutoff()) | _queued_too_long())
    )


def _waiting_in_outbox() -> Exists:
    """Its processing message is still in the task outbox (the broker down at commit):
    it is queued already, and the relay sends it once the broker is back. Re-queued from
    there, it got a second message and a "not_started" event although none had been sent,
    and a run whose lease ran out meanwhile spent a re-queue on it."""
    from jobs.tasks import process_session

    waiting = OutboxMessage.objects.alias(session_id=KT("args__0")).filter(
        task=process_session.name, session_id=OuterRef("pk")
    )
    return Exists(waiting)


def _queued_too_long() -> Q:
    """A session no worker took since its latest message was queued (updated_at) longer
    than it had waited then (since submitted_at), or STUCK_SESSION_MINUTES at least:
    MAX_REQUEUE_WAIT at most.

    Beat cannot tell a message still on the queue from a lost one. One that has waited
    that long is behind a backlog at least as old, which a copy queues behind too: every
    STUCK_SESSION_MINUTES, a 4-hour backlog was ~16 copies of each session's message, all
    but one no-ops, on the queue the backlog is. As webhooks.delivery.queue_lease_end does.
    """
    now = timezone.now()
    at_least = now - timedelta(minutes=settings.STUCK_SESSION_MINUTES)
    # Queued for as long as it had waited when it was: now - updated_at >= updated_at -
    # submitted_at.
    waited_as_long = Q(submitted_at__isnull=True) | Q(
        submitted_at__gte=F("updated_at") - (Value(now, DateTimeField()) - F("updated_at"))
    )
    return Q(heartbeat_at__isnull=True, updated_at__lt=at_least) & (
        waited_as_long | Q(updated_at__lt=now - MAX_REQUEUE_WAIT)
    )


def session_recover_stuck(*, session_id: str, actor: Actor | None = None) -> str | None:
    """Re-queue one stuck session (_stuck), or fail it once its re-queues are spent.

    Returns "requeued", "failed", or None when it was no longer stuck (another sweep or
    the worker got there first). The pipeline's decision is guarded by the session's
    state (session_complete), so a re-queued session is never decided twice. `actor` is
    who re-queued it, for its event and log line (an operator's, from the admin): beat's
    sweep is Steve (None).
    """
    with transaction.atomic():
        session = (
            WorkflowSession.objects.select_for_update(skip_locked=True)
            .filter(_stuck(), pk=session_id)
            .first()
        )
        if session is None:
            return None
        if _requeues_spent(session):
            _give_up(session)
            return "failed"
        (requeue,) = _requeue([session], actor=actor or Actor.system())
    _log_requeue(requeue)
    return "requeued"


@dataclass(frozen=True)
class StuckRecovery:
    """What sessions_requeue_stuck did: the sessions it re-queued, those it gave up (their
    re-queues spent), and the ids of those it left as they were: not stuck, or stuck but
    locked by another transaction that moment (busy: beat's sweep or a worker on it)."""

    requeued: list[WorkflowSession]
    failed: list[WorkflowSession]
    not_stuck: list[str]
    busy: list[str]


def sessions_requeue_stuck(*, session_ids: Sequence[str], actor: Actor) -> StuckRecovery:
    """An operator's recovery of the chosen sessions (the admin's action; beat's sweep,
    which does the same, may be down): each stuck one (_stuck) re-queued as
    session_recover_stuck does, its event and log line naming `actor`, or given up as it
    is once its re-queues are spent; any other is left as it is (not submitted, being
    processed, or its message still in the outbox, which a second message would run
    twice) and named back.

    The re-queues are one lock, one update, one insert of events and one of messages for
    any number of sessions: one transaction each took ~10 queries a session, past the web
    server's timeout at a thousand. Each give-up is session_fail's own (rarer: a session
    its workers died on again and again)."""
    with transaction.atomic():
        stuck = list(
            WorkflowSession.objects.select_for_update(skip_locked=True)
            .filter(_stuck(), pk__in=list(session_ids))
            .order_by("pk")
        )
        spent = [session for session in stuck if _requeues_spent(session)]
        requeues = _requeue([session for session in stuck if session not in spent], actor=actor)
    for requeue in requeues:
        _log_requeue(requeue)
    # Each in its own transaction, locked and checked again, as the sweep gives one up.
    given_up = {s.pk for s in spent if session_recover_stuck(session_id=s.pk) == "failed"}
    done = {requeue.session.pk for requeue in requeues} | given_up
    left = [pk for pk in dict.fromkeys(session_ids) if pk not in done]
    # The locks skipped the rows another transaction held: those stuck still (as last
    # committed) are busy, not "not stuck", which an operator read as nothing to do.
    busy = set(WorkflowSession.objects.filter(_stuck(), pk__in=left).values_list("pk", flat=True))
    return StuckRecovery(
        requeued=[requeue.session for requeue in requeues],
        failed=[session for session in spent if session.pk in given_up],
        not_stuck=[pk for pk in left if pk not in busy],
        busy=[pk for pk in left if pk in busy],
    )


def _requeues_spent(session: WorkflowSession) -> bool:
    """Only a run whose heartbeat stopped spends a re-queue: a session no worker took yet
    is waiting behind a backlog or lost its message, and is queued again without being
    given up (PROCESSING_TIMEOUT). A stopped heartbeat is all the sweep sees: its worker
    died, or was frozen (SIGSTOP, a paused machine) or cut off past the lease and may yet
    resume, so it is told as a lease run out, never as a death."""
    lapsed = session.heartbeat_at is not None
    return lapsed and session.requeue_count >= settings.STUCK_SESSION_MAX_REQUEUES


def _give_up(session: WorkflowSession) -> None:
    # Its worker lived, but the process reading a file was killed from outside (most
    # often the out-of-memory killer): a death all the same, and it says which.
    if session.interrupted_by:
        code, reason, step = "PROCESSING_ERROR", _killed_reason(session), STEP_TEXT
    else:
        code, reason = STUCK_ERROR_CODE, "Processing made no progress and was given up."
        step = "pipeline"
    session_fail(session_id=session.pk, code=code, reason=reason, step=step, retryable=True)


@dataclass(frozen=True)
class _Requeue:
    session: WorkflowSession  # as re-queued
    killed: str  # the signal that killed its reading process, if that ended its run
    lapsed: bool  # its run's lease ran out (else no worker took it)
    waited: timedelta  # since its latest message was queued
    actor: Actor


def _requeue(
    sessions: list[WorkflowSession], *, actor: Actor, not_started: str = "not_started"
) -> list[_Requeue]:
    """Queue the stuck `sessions` (locked) again, in the caller's transaction, a re-queue
    spent by those whose run's lease ran out; one event each, in one insert, and their
    messages through the outbox in one. `not_started` is the event's `why` for those no
    worker took."""
    from jobs.tasks import process_session

    now = timezone.now()
    done = []
    for session in sessions:
        lapsed = session.heartbeat_at is not None
        done.append(
            _Requeue(
                session=session,
                killed=session.interrupted_by if lapsed else "",
                lapsed=lapsed,
                waited=now - session.updated_at,
                actor=actor,
            )
        )
        session.requeue_count += lapsed
        session.heartbeat_at = None  # queued again: the next worker claims it afresh
        session.sweep_failed_at = None
        session.interrupted_by = ""  # the next try ends its own way
        session.updated_at = now
    if not sessions:
        return done
    WorkflowSession.objects.bulk_update(
        sessions,
        ["requeue_count", "heartbeat_at", "sweep_failed_at", "interrupted_by", "updated_at"],
    )
    record_events(
        type=EventType.PROCESSING_REQUEUED,
        actor=actor,
        details={
            each.session.submission_id: {
                "sessionId": each.session.pk,
                "requeue": each.session.requeue_count,
                "why": "reading_killed"
                if each.killed
                else "lease_expired"
                if each.lapsed
                else not_started,
            }
            for each in done
        },
    )
    outbox_put_many(task=process_session.name, args=[[session.pk] for session in sessions])
    return done


def _log_requeue(requeue: _Requeue) -> None:
    session = requeue.session
    # An operator's re-queue names them (beat's is Steve's own).
    by = "" if requeue.actor.type == Actor.system().type else f" by {requeue.actor.label}"
    if requeue.killed:
        logger.warning(
            "Company %s: session %s (submission %s): the process reading its files was"
            " killed from outside (%s); re-queued%s (%d of %d)",
            session.company_id,
            session.pk,
            session.submission_id,
            requeue.killed,
            by,
            session.requeue_count,
            settings.STUCK_SESSION_MAX_REQUEUES,
        )
    elif requeue.lapsed:
        logger.warning(
            "Company %s: session %s (submission %s): its run's lease ran out (no heartbeat"
            " for over %d s: its worker died or stopped answering); re-queued%s (%d of %d)",
            session.company_id,
            session.pk,
            session.submission_id,
            settings.STUCK_SESSION_HEARTBEAT_SECONDS,
            by,
            session.requeue_count,
            settings.STUCK_SESSION_MAX_REQUEUES,
        )
    else:
        logger.warning(
            "Company %s: session %s (submission %s): no worker took it in the %d min since"
            " it was queued (a backlog, the processing workers down, or its message lost);"
            " queued again%s",
            session.company_id,
            session.pk,
            session.submission_id,
            requeue.waited.total_seconds() // 60,
            by,
        )


def _killed_reason(session: WorkflowSession) -> str:
    """Why a job whose reading process was killed on its last try is given up: how often,
    and what most often does it, for the integrator and the operator alike."""
    earlier = SubmissionEvent.objects.filter(
        submission_id=session.submission_id,
        type=EventType.PROCESSING_REQUEUED,
        details__sessionId=session.pk,
        details__why="reading_killed",
    ).count()
    return (
        f"The process reading the files was killed from outside ({session.interrupted_by}, "
        "most often the out-of-memory killer of a worker machine short of memory) on "
        f"{earlier + 1} of {session.requeue_count + 1} tries; processing was given up. "
        "Submitting the files again later may succeed."
    )


def sessions_recover_stuck(*, limit: int = 100) -> dict[str, int]:
    """Beat: recover stuck sessions (_stuck), bounded per run; those it raised on last."""
    due = (
        WorkflowSession.objects.filter(_stuck())
        # A batch of sessions that raise never fills every run: the rest are reached.
        .order_by(F("sweep_failed_at").asc(nulls_first=True), "updated_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts = sweep_rows(
        "recover-stuck-sessions",
        list(due),
        lambda pk: session_recover_stuck(session_id=pk),
        failed=_session_sweep_failed,
    )
    return {name: counts[name] for name in ("requeued", "failed", ERRORS)}


# Sessions queued again a check after Redis came back empty; the rest at the next checks.
LOST_IN_REDIS_BATCH = 1000


def sessions_requeue_lost_in_redis(
    *, lost_at: datetime, limit: int = LOST_IN_REDIS_BATCH
) -> tuple[int, bool]:
    """Redis came back empty at `lost_at` (steve.services.redis_epoch_check): queue again
    now, in the caller's transaction, each submitted session whose processing message was
    sent before then and no worker took (its heartbeat_at unset since it was queued), as
    the stuck sweep does after STUCK_SESSION_MINUTES. No re-queue is spent: none of its
    runs failed. A session a worker runs (a claim, a fresh heartbeat) is left to it, and
    one whose message waits in the outbox to the relay. Returns how many, and whether
    more are left (`limit` a call).

    A message a worker had taken (prefetched) before the loss still runs: the copy finds
    the session claimed or decided and does nothing, as any duplicate does. Rows locked
    now (skip_locked) are left to the stuck sweep."""
    lost = list(
        WorkflowSession.objects.select_for_update(skip_locked=True)
        .filter(state=SessionState.SUBMITTED, heartbeat_at__isnull=True, updated_at__lt=lost_at)
        .exclude(_beating())
        .exclude(_waiting_in_outbox())
        .order_by("updated_at", "pk")[:limit]
    )
    _requeue(lost, actor=Actor.system(), not_started="redis_lost")
    return len(lost), len(lost) == limit


def redis_lost_work_requeue(
    lost_at: datetime, noticed: bool, resume_after: str
) -> RequeuedAfterLoss:
    """What Redis alone held when it came back empty at `lost_at`, queued again (the
    `requeue` of steve.services.redis_epoch_check), a batch of each a call: the sessions'
    processing messages no worker took, and the webhook and downstream-sync deliveries
    whose message was on a queue, from the first when the loss is `noticed` (its first
    call), else after `resume_after` (the last whose lease a call dropped; empty: all
    done). Beat's sweeps, probes and the workers' liveness records come back by
    themselves; everything else is in PostgreSQL (docs/operations.md)."""
    counts: dict[str, int] = {}
    after = ""
    if noticed or resume_after:
        deliveries, after = deliveries_requeue_lost_in_redis(
            lost_at=lost_at, after=resume_after, limit=LOST_IN_REDIS_BATCH
        )
        counts["webhook/sync delivery(ies), for beat's next pass"] = deliveries
    sessions, left = sessions_requeue_lost_in_redis(lost_at=lost_at, limit=LOST_IN_REDIS_BATCH)
    counts = {"session(s) whose processing message no worker took": sessions, **counts}
    return RequeuedAfterLoss(counts=counts, left=left or bool(after), resume_after=after)
