"""The peers' one-shot job API (seed 003), on top of ordinary sessions and submissions.

Responses use the seed's `{"success": …, "job": …}` envelope; errors stay RFC 9457
problems and carry the seed's `success: false` and `error {code, message}` members too.
"""

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import QueryDict
from drf_spectacular.utils import extend_schema_view
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api import schema as api_docs
from jobs.models import SessionState, WorkflowSession
from jobs.selectors import job_status
from jobs.services import (
    JobFile,
    extraction_job_cancel,
    extraction_job_create,
    extraction_job_file,
    extraction_job_template,
)
from steve.api.errors import (
    ApiProblem,
    field_error,
    problem_of_all,
    shown,
    unknown_member_errors,
)
from steve.api.idempotency import idempotent
from steve.api.parsers import BoundedJSONParser
from steve.api.views import SLUG_MAX_LENGTH
from steve.errors import ServiceError
from steve.models import Workflow, WorkflowVersion
from steve.storage import download_url, storage_answering, store
from steve.text import without_hidden
from steve.timefmt import iso
from submissions.models import SubmissionStatus
from submissions.selectors import submission_cancelled_at
from submissions.services import Actor
from webhooks.catalogue import WebhookEventType
from webhooks.models import WebhookEndpoint

RETRY_AFTER_MS = 5000
S = SubmissionStatus


def peer_problem(status: int, code: str, message: str, **kwargs: Any) -> ApiProblem:
    extra = {"success": False, "error": {"code": code, "message": message}}
    return ApiProblem(status, message, code=code, extra=extra, **kwargs)


def member_refused(
    field: str, code: str, message: str, field_code: str = "invalid", status: int = 400
) -> ApiProblem:
    """A refused member of a create: the peers' code on top, the member in `errors`, so
    problem_of_all lists it beside the create's other refused members."""
    return peer_problem(status, code, message, errors=[field_error(field, message, field_code)])


T = TypeVar("T")
Checked = Callable[[Callable[[], T]], T | None]


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "1", "false", "0"}:
        return value.lower() in {"true", "1"}
    raise member_refused(name, "INVALID_REQUEST", f"{name} must be a boolean.")


def _file(request: Request) -> tuple[bytes, str | None]:
    upload = request.FILES.get("file")
    if upload is not None:
        return upload.read(), original_name(upload.name or "")
    raw = request.data.get("file")
    if not isinstance(raw, str) or not raw:
        raise member_refused("file", "FILE_REQUIRED", "file is required.", "required")
    # Line breaks are dropped: `base64 FILE` (coreutils) and MIME wrap at 76 columns.
    encoded = re.sub(r"[\r\n\t ]", "", raw.split(",", 1)[-1])
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise member_refused("file", "INVALID_FILE", "file must be base64-encoded.") from None
    return data, _filename(request)


def _filename(request: Request) -> str | None:
    """The name the caller gave, or None: "upload", a name it never sent, was reported as
    the job's originalName."""
    sent = request.data.get("filename")
    if not sent:
        return None
    filename = str(sent)
    if len(filename) > api_docs.MAX_FILENAME:
        # Kept in the job's options and repeated in every result: a 3-MB name was stored.
        message = f"filename is longer than {api_docs.MAX_FILENAME} characters."
        raise member_refused("filename", "INVALID_REQUEST", message, "max_length")
    if (name := original_name(filename)) is None:
        message = (
            "filename names no file: nothing is left of it without folders and hidden characters."
        )
        raise member_refused("filename", "INVALID_REQUEST", message, "invalid")
    return name


def original_name(sent: str) -> str | None:
    """A file's name as the job keeps it (its originalName), however it was sent, or None
    if nothing is left. Django gives a multipart file its name's last part without
    control or format characters; a JSON filename was kept whole ("../../etc/passwd",
    "invoice\u202efdp.exe", shown reversed as "invoiceexe.pdf"). Both now go through
    this one rule, which also takes the blank characters Django leaves ("\u3164")."""
    name = without_hidden(re.split(r"[/\\]", sent)[-1])
    return None if name.strip() in {"", ".", ".."} else name


def _delivery_mode(data: Any) -> str:
    """deliveryMode, or its alias delivery.mode (a form's flat member or a JSON object's).

    An alias Steve would not follow is refused rather than passed over: a `delivery` that
    is no object ("delivery": "webhook") was ignored, and two spellings that disagree were
    settled for deliveryMode; either way the job polled while its caller waited for a
    webhook."""
    delivery = data.get("delivery")
    if delivery is not None and not isinstance(delivery, dict):
        message = 'delivery must be an object such as {"mode": "webhook"}, or send deliveryMode.'
        raise member_refused("delivery", "INVALID_DELIVERY_MODE", message, "invalid")
    sent = [
        (field, mode)
        for field, mode in (
            ("deliveryMode", data.get("deliveryMode")),
            ("delivery.mode", data.get("delivery.mode")),
            ("delivery.mode", (delivery or {}).get("mode")),
        )
        if mode not in (None, "")
    ]
    field, mode = sent[0] if sent else ("deliveryMode", "poll")
    if not isinstance(mode, str) or mode not in api_docs.DELIVERY_MODES:
        message = "deliveryMode must be poll or webhook."
        raise member_refused(field, "INVALID_DELIVERY_MODE", message, "invalid_choice")
    if other := next(((f, m) for f, m in sent[1:] if m != mode), None):
        message = f"{other[0]} does not agree with {field}; send one of them."
        raise member_refused(other[0], "INVALID_DELIVERY_MODE", message, "conflict")
    return mode


def _refuse_nested_options(data: Any) -> None:
    # options[returnText] too: how form serializers (axios, qs) write a nested object.
    nested = [key for key in data if key == "options" or key.startswith(("options.", "options["))]
    if nested:
        message = "Nested options.* are not accepted."
        raise peer_problem(
            400,
            "NESTED_OPTIONS_REJECTED",
            message,
            errors=[field_error(key, message, "unknown_field") for key in nested],
        )


def _document_review(data: Any) -> int | None:
    if data.get("documentReview") in (None, ""):
        return None
    try:
        review = int(data["documentReview"])
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's 1e400, infinite
        review = 0
    if not 1 <= review <= 99 or str(data["documentReview"]).strip() != str(review):
        message = "documentReview must be a whole number 1–99."
        raise member_refused("documentReview", "INVALID_DOCUMENT_REVIEW", message, "range")
    return review


# The events one of which ends every job: a job delivered by webhook is heard of at its end
# only if an endpoint takes both (seed 003's "unresolved webhook coverage").
JOB_END_EVENTS = (WebhookEventType.SESSION_COMPLETED, WebhookEventType.SESSION_FAILED)


def _webhook_configured(request: Request) -> None:
    endpoints = WebhookEndpoint.objects.filter(
        company=request.user.company, environment=request.auth.environment, enabled=True
    ).only("events")
    # Checked per event, not per endpoint: an endpoint that only took submission.synced
    # passed, and the caller waited for a completed webhook never sent to it.
    if not all(any(e.wants(event) for e in endpoints) for event in JOB_END_EVENTS):
        field = "deliveryMode" if "deliveryMode" in request.data else "delivery.mode"
        message = (
            "deliveryMode webhook needs an enabled endpoint taking "
            f"{' and '.join(JOB_END_EVENTS)} in this key's environment."
        )
        raise member_refused(field, "WEBHOOK_NOT_CONFIGURED", message, "not_configured")


def parse_options(request: Request, checked: Checked) -> dict[str, Any]:
    data = request.data
    checked(lambda: _refuse_nested_options(data))
    mode = checked(lambda: _delivery_mode(data))
    options: dict[str, Any] = {"deliveryMode": mode}
    if (review := checked(lambda: _document_review(data))) is not None:
        options["documentReview"] = review
    if data.get("returnText") not in (None, ""):
        options["returnText"] = checked(lambda: _bool(data["returnText"], "returnText"))
    _check_accepted_options(data, checked)
    if mode == "webhook":
        checked(lambda: _webhook_configured(request))
    if password := checked(lambda: _password(data)):
        options["password"] = password
    return options


def _password(data: Any) -> str | None:
    """The PDF's password, if one was sent (one that is no text is refused as such)."""
    password = data.get("password")
    if not password or not isinstance(password, str):
        return None
    if len(password) > api_docs.MAX_PASSWORD:
        message = f"password is longer than {api_docs.MAX_PASSWORD} characters."
        raise member_refused("password", "INVALID_REQUEST", message, "max_length")
    if "\ufffd" in password:
        # Django reads a form's part as UTF-8 and replaces what is not: a Latin-1
        # password was kept as a password no PDF has, and the job failed in processing.
        message = "password must be UTF-8 text: it holds bytes that are not (U+FFFD)."
        raise member_refused("password", "INVALID_REQUEST", message, "invalid_encoding")
    return password


def _check_accepted_options(data: Any, checked: Checked) -> None:
    """The peers' options Steve takes but has no use for: it reads each file as one
    document and its schema in one piece. They are still checked, so a typo is a 400
    rather than a job run differently than the caller thinks."""
    for name in ("documentSplitting", "returnDocuments"):
        if data.get(name) not in (None, ""):
            checked(lambda name=name: _bool(data[name], name))
    checked(lambda: _schema_chunking(data))


def _schema_chunking(data: Any) -> None:
    chunking = data.get("schemaChunking")
    if chunking not in (None, "") and chunking not in api_docs.SCHEMA_CHUNKING:
        message = "schemaChunking must be auto or combined."
        raise member_refused("schemaChunking", "INVALID_REQUEST", message, "invalid_choice")


# Fields whose value is text: in a JSON body, a number or a list there is refused rather
# than read as its Python spelling ("No template ['receipt-ocr']").
TEXT_FIELDS = ("templateName", "filterName", "file", "filename", "password")


def _check_text_fields(request: Request) -> None:
    given = {name: request.data.get(name) for name in TEXT_FIELDS}
    if request.FILES.get("file") is not None:
        del given["file"]  # a multipart file part, not text
    wrong = [
        name for name, value in given.items() if value is not None and not isinstance(value, str)
    ]
    if wrong:
        raise peer_problem(
            400,
            "INVALID_REQUEST",
            f"{', '.join(wrong)} must be text.",
            errors=[field_error(name, "Must be a string.", "invalid_type") for name in wrong],
        )


def _refuse_filter(request: Request) -> None:
    """Seed 003's filterName scopes the extraction; Steve has no filters, so any is not
    found (404). Beside a templateName it was dropped, and the job ran unfiltered."""
    if request.data.get("filterName"):
        message = "Filters are not available; send a templateName (a workflow slug) alone."
        raise member_refused("filterName", "TEMPLATE_NOT_FOUND", message, "not_found", 404)


def _template(request: Request) -> Workflow | None:
    name = request.data.get("templateName")
    if not name:
        if request.data.get("filterName"):
            return None  # seed 003: required unless filterName is sent; that one is refused
        message = "templateName is required."
        raise member_refused("templateName", "TEMPLATE_REQUIRED", message, "required")
    # Not one added in the admin whose first version is not published yet (its latest is None).
    workflow = Workflow.objects.filter(
        company=request.user.company, slug=str(name), versions__isnull=False
    ).first()
    if workflow is None:
        message = (
            f"No template {shown(name, otherwise='of that name', max_length=SLUG_MAX_LENGTH)}."
        )
        raise member_refused("templateName", "TEMPLATE_NOT_FOUND", message, "not_found", 404)
    return workflow


@dataclass(frozen=True)
class JobRequest:
    version: WorkflowVersion
    options: dict[str, Any]
    file: JobFile
    filename: str | None


def _refuse_repeated(data: Any) -> None:
    """A form (multipart or urlencoded) may name a member twice; Django reads the last.
    A JSON body doing so is refused by its parser and a query's by its listing, so is a
    form's: a second `file` part was dropped, a second templateName ran the job on it."""
    if not isinstance(data, QueryDict):
        return
    repeated = [name for name, values in data.lists() if len(values) > 1]
    if repeated:
        message = "A member of the form is given more than once; send each once."
        raise peer_problem(
            400,
            "INVALID_REQUEST",
            message,
            errors=[
                field_error(name, "The member is given more than once.", "repeated")
                for name in repeated
            ],
        )


def parse_job(request: Request) -> JobRequest:
    """The create's template, options and file, every member checked: one refused does
    not hide another (docs/api.md "Validation errors"). The problem lists them all under
    the first check's status and code, what it answered when it named only that one."""
    refusals: list[ApiProblem | ServiceError] = []

    def checked(check: Callable[[], T]) -> T | None:
        try:
            return check()
        except (ApiProblem, ServiceError) as refused:
            refusals.append(refused)
            return None

    checked(lambda: _check_text_fields(request))
    workflow = checked(lambda: _template(request))
    checked(lambda: _refuse_filter(request))
    options = parse_options(request, checked)
    upload = checked(lambda: _file(request))
    version = workflow.latest if workflow is not None else None
    if version is not None:
        checked(lambda: extraction_job_template(version=version))
    file = None
    if version is not None and upload is not None:
        # One sent but refused above (too long, not text) is still one sent: the file is
        # not refused as well for wanting a password (PASSWORD_REQUIRED) the caller gave.
        sent = request.data.get("password")
        password = options.get("password") or (None if sent in (None, "") else str(sent))
        file = checked(
            lambda: extraction_job_file(version=version, data=upload[0], password=password)
        )
    if refusals:
        raise problem_of_all(refusals)
    assert version is not None and upload is not None and file is not None  # else refused
    return JobRequest(version=version, options=options, file=file, filename=upload[1])


class PeerEnvelopeView(APIView):
    """An extraction-job view: every problem it answers carries the peers' envelope."""

    def handle_exception(self, exc: Exception) -> Response:
        """A missing or wrong key (401), a rate limit, a body that cannot be read
        (malformed JSON or multipart, too deep, a lone surrogate) fail before the view can
        answer in the peers' envelope, and a refusal of the job's service (a ServiceError)
        is mapped by the exception handler: all get `success` and `error` here, with their
        own code."""
        response = super().handle_exception(exc)
        data = response.data
        if isinstance(data, dict) and "code" in data and "success" not in data:
            data["success"] = False
            data["error"] = {"code": data["code"], "message": data.get("detail", "")}
        return response


# Room in a create's body beside the file: the other fields and multipart's headers.
BODY_SLACK = 64 * 1024


def _largest_body(request: Request) -> int:
    """The most a create of this company may send: its workflows' largest file, as base64
    (a third more), and the other fields."""
    versions = WorkflowVersion.objects.filter(workflow__company=request.user.company)
    largest = max((v.max_file_bytes for v in versions.only("upload")), default=None)
    if largest is None:  # nothing to name: the 404 the template lookup would give
        raise peer_problem(404, "TEMPLATE_NOT_FOUND", "The company has no templates.")
    return largest * 4 // 3 + BODY_SLACK


@extend_schema_view(post=api_docs.EXTRACTION_JOB_CREATE)
class ExtractionJobCreateView(PeerEnvelopeView):
    throttle_scope = "session"
    parser_classes = [MultiPartParser, FormParser, BoundedJSONParser]
    # Its body holds a file: held to the company's largest file below (initial), not to
    # the API's default (steve.api.bodysize).
    max_body_bytes = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """After the key and the rate limit, before the body is read: a multipart file is
        spooled to disk whole and then read into memory, so a 1.2-GB post cost the web
        worker 1 GB before the file's size was checked."""
        super().initial(request, *args, **kwargs)  # a chunked body is refused there (411)
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared and not re.fullmatch(r"[0-9]+", declared):
            # Read as 0, the body was no body: "templateName is missing" named the wrong
            # thing, and a latin-1 digit (a superscript two) passed isdigit into int(): 500.
            raise peer_problem(
                400,
                "INVALID_REQUEST",
                "Content-Length must be the body's size in bytes, a whole number.",
            )
        if declared and int(declared) > _largest_body(request):
            raise peer_problem(
                413, "FILE_TOO_LARGE", "The request is larger than any file allowed."
            )

    @idempotent(scope="extraction-jobs", replay_status=200)
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, Mapping):
            raise peer_problem(400, "INVALID_BODY", "The body must be a JSON object.")
        _refuse_repeated(request.data)  # before any member is read as its last value
        job = parse_job(request)
        session = extraction_job_create(
            api_key=request.auth,
            version=job.version,
            file=job.file,
            filename=job.filename,
            options=job.options,
        )
        body = {
            "success": True,
            "job": {
                "id": session.pk,
                "status": "queued",
                "statusUrl": f"/api/v1/extraction-jobs/{session.pk}",
                "retryAfterMs": RETRY_AFTER_MS,
            },
        }
        return Response(body, status=202)


def own_job(request: Request, job_id: str) -> WorkflowSession:
    """A job of the caller's company and environment (seed 003: "job reads are scoped by
    the caller's environment"), whichever of its keys made it: a replaced key's jobs
    stay readable. Sessions, by STEVE-API.md, stay with the key that made them."""
    session = (
        WorkflowSession.objects.select_related("submission", "workflow_version__workflow")
        .filter(
            pk=job_id,
            company=request.user.company,
            environment=request.auth.environment,
            source=WorkflowSession.Source.EXTRACTION_JOB,
        )
        .first()
    )
    if session is None:
        raise peer_problem(
            404, "JOB_NOT_FOUND", f"Job {shown(job_id, otherwise='with that ID')} not found"
        )
    return session


def _status_at(session: WorkflowSession, status: str) -> datetime | None:
    """When the job reached its status (its completedAt, failedAt, canceledAt or
    reviewRequiredAt); None while it is queued or processing, or once expired."""
    submission = session.submission
    if status in {"completed", "failed"}:
        return submission.decided_at or session.processed_at
    if status == "review_required":
        return session.processed_at
    if status == "canceled":
        return submission_cancelled_at(submission)
    return None


def _status_fields(session: WorkflowSession, status: str, at: datetime | None) -> dict[str, Any]:
    submission = session.submission
    if status in {"queued", "processing"}:
        fields: dict[str, Any] = {"retryAfterMs": RETRY_AFTER_MS}
        if status == "processing":
            fields["progress"] = session.progress
        return fields
    if status == "review_required":
        return {
            "retryAfterMs": RETRY_AFTER_MS,
            "resultAvailable": False,
            # The submission to review, through the review API or the review desk.
            "submissionId": submission.pk,
            "reviewRequiredAt": iso(at),
            "reviewThreshold": session.options.get("documentReview")
            or session.workflow_version.review_threshold,
            "reviewFlaggedFieldCount": len(submission.review_flagged_fields),
        }
    if status == "completed":
        return {
            "completedAt": iso(at),
            "resultAvailable": True,
            "resultUrl": f"/api/v1/extraction-jobs/{session.pk}/result",
        }
    if status == "failed":
        return {
            "failedAt": iso(at),
            "error": _job_error(session),
        }
    if status == "expired":
        return {"result": {"expired": True, "purgedAt": iso(submission.results_purged_at)}}
    return {"canceledAt": iso(at)}


def _job_error(session: WorkflowSession) -> dict[str, Any]:
    """The failed session's error, as GET /api/v1/jobs/{id} gives it; a job read and then
    rejected in review failed at the review; one whose submission failed after it was
    read (its sync), at the submission."""
    if session.state == SessionState.FAILED:
        return {
            "message": session.failed_reason or "Processing failed.",
            "code": session.error_code or "PROCESSING_ERROR",
            "details": {"step": session.error_step, "retryable": session.error_retryable},
        }
    submission = session.submission
    if submission.status == S.REJECTED:
        return {
            "message": submission.reject_reason or "The submission was rejected in review.",
            "code": "SUBMISSION_REJECTED",
            "details": {"step": "review", "retryable": False},
        }
    return {
        "message": submission.failed_reason or "The submission failed.",
        "code": "SUBMISSION_FAILED",
        "details": {"step": "submission", "retryable": False},
    }


def job_answer(session: WorkflowSession) -> Response:
    """The job as its poll answers it: a cancel answers the job it canceled the same way."""
    status = job_status(session)
    at = _status_at(session, status)
    # The last status update (seeds 002-004) is never before the status's own time:
    # a cancel's event is recorded after the submission's save, and its canceledAt
    # came out later than updatedAt.
    changed = [session.updated_at, session.submission.updated_at, *([at] if at else [])]
    job = {
        "id": session.pk,
        "status": status,
        "createdAt": iso(session.created_at),
        "updatedAt": iso(max(changed)),
        **_status_fields(session, status, at),
    }
    headers = {"Retry-After": str(RETRY_AFTER_MS // 1000)} if "retryAfterMs" in job else {}
    return Response({"success": True, "job": job}, headers=headers)


@extend_schema_view(get=api_docs.EXTRACTION_JOB_DETAIL)
class ExtractionJobView(PeerEnvelopeView):
    poll_scope_kwarg = "job_id"

    def get(self, request: Request, job_id: str) -> Response:
        return job_answer(own_job(request, job_id))


def _cancel_reason(request: Request) -> str | None:
    """The body's optional reason (no body, `{}` or null: none). A member the cancel does
    not read is refused, as the other writes' are, so a misspelt `reasn` is not dropped;
    the reason's own limits are the submission cancel's (the service checks them)."""
    body = request.data
    if body in (None, "") or body == {}:
        return None
    if not isinstance(body, dict):
        raise peer_problem(400, "INVALID_BODY", "The body must be a JSON object.")
    if errors := unknown_member_errors(body, ("reason",)):
        raise peer_problem(
            400, "INVALID_REQUEST", "The body has members the cancel does not read.", errors=errors
        )
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        message = "reason must be a string."
        raise member_refused("reason", "INVALID_REQUEST", message, "invalid_type")
    return reason


@extend_schema_view(post=api_docs.EXTRACTION_JOB_CANCEL)
class ExtractionJobCancelView(PeerEnvelopeView):
    """Steve's extension of seed 003: the cancel its users have no other way to make (a
    job's submissionId is shown only once it waits for review). A write: the `write`
    bucket. A retry after a lost answer replays it with its Idempotency-Key; without
    one, a repeated cancel is a 409 JOB_CANCELED, which still says how the job ended."""

    @idempotent(scope="extraction-job-cancels")
    def post(self, request: Request, job_id: str) -> Response:
        session = own_job(request, job_id)
        reason = _cancel_reason(request)
        extraction_job_cancel(
            session_id=session.pk, actor=Actor.for_api_key(request.auth), reason=reason
        )
        return job_answer(own_job(request, job_id))  # with its submission as now canceled


def result_data(session: WorkflowSession) -> dict[str, Any]:
    submission = session.submission
    document: dict[str, Any] = {
        "documentType": session.workflow_version.kind,
        "fields": submission.extracted_data,
        "confidence": submission.confidence,
        "fieldConfidences": submission.field_confidences,
        "evidence": submission.evidence,
        "fraudStatus": submission.fraud_status,
    }
    if session.options.get("returnText"):
        document["text"] = submission.pages_text
    started = session.submitted_at or session.created_at
    return {
        "completionTime": round(((session.processed_at or started) - started).total_seconds(), 1),
        # One stored before the name was cleaned (a JSON filename was kept as sent).
        "originalName": original_name(session.options.get("originalName") or ""),
        "processedPages": sum(f.page_count or 0 for f in submission.files.all()),
        "documents": [document],
    }


def large_result_pointer(session: WorkflowSession, data: dict[str, Any]) -> dict[str, Any]:
    """Results at or above the limit are stored as JSON and returned as a pointer (seed 002).

    Measured as the answer sends it, compact UTF-8: with its letters escaped ("\\u00e9",
    six bytes for two or three) a result in another alphabet was pointed to at a third or
    half of the limit.
    """
    blob = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    if len(blob) < settings.LARGE_RESULT_BYTES:
        return data
    key = f"results/{session.company_id}/{session.pk}.json"
    with storage_answering(f"a read of {key}"):
        stored = default_storage.exists(key)
    if not stored:
        store(key=key, data=blob)  # whole or not at all: a poll never finds a part of it
    return {"is_url": True, "url": download_url(key, filename=f"{session.pk}.json",
                                                content_type="application/json")}  # fmt: skip


@extend_schema_view(get=api_docs.EXTRACTION_JOB_RESULT)
class ExtractionJobResultView(PeerEnvelopeView):
    REFUSALS = {
        "queued": (409, "RESULT_NOT_READY", "The job has not finished yet."),
        "processing": (409, "RESULT_NOT_READY", "The job has not finished yet."),
        "review_required": (409, "REVIEW_REQUIRED", "The job is awaiting manual review."),
        "failed": (409, "JOB_FAILED", "The job failed."),
        "canceled": (409, "JOB_CANCELED", "The job was canceled."),
        "expired": (410, "RESULT_EXPIRED", "The stored result is no longer available."),
    }

    def get(self, request: Request, job_id: str) -> Response:
        session = own_job(request, job_id)
        status = job_status(session)
        if status in self.REFUSALS:
            code, problem_code, message = self.REFUSALS[status]
            raise peer_problem(code, problem_code, message)
        job = {
            "id": session.pk,
            "status": status,
            "completedAt": iso(session.submission.decided_at or session.processed_at),
        }
        data = large_result_pointer(session, result_data(session))
        return Response({"success": True, "job": job, "data": data})
