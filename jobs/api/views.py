"""Session API: create (with pre-signed uploads), upload (local storage), submit, poll."""

import re
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jobs.api import schema as api_docs
from jobs.api.serializers import job_data, parse_session_request, session_created_data
from jobs.extraction import sniff_mime
from jobs.extraction.readable import unreadable
from jobs.models import SessionState, WorkflowSession
from jobs.selectors import replayed_session_version, session_for_poll
from jobs.services import (
    SNIFF_BYTES,
    SessionError,
    not_accepted_message,
    session_create,
    session_expire,
    session_store_upload,
    session_submit,
    upload_url_used,
)
from steve.api import ratelimit
from steve.api.auth import ApiKeyAuthentication, raw_key_from_headers, recently_limited
from steve.api.errors import (
    COMPACT_JSON,
    ApiProblem,
    problem_for_status,
    problem_json_response,
    refuse_any_body,
    service_problem,
    shown,
    unknown_param_problems,
)
from steve.api.idempotency import idempotent
from steve.api.views import company_workflow, workflow_not_found
from steve.middleware import log_company
from steve.models import WorkflowVersion
from steve.services import API_KEY_PREFIX, api_key_digest
from steve.storage import StorageUnavailable, unsign_token
from submissions.models import SubmissionFile

UPLOAD_CHUNK = 64 * 1024


def own_session(request: Request, session_id: str) -> WorkflowSession:
    """The caller's session; another key's session is a 404 exactly like a missing one."""
    session = (
        WorkflowSession.objects.select_related("submission", "workflow_version__workflow")
        .filter(pk=session_id, api_key=request.auth)
        .first()
    )
    if session is None:
        raise ApiProblem(404, f"No session {shown(session_id)}.", code="JOB_NOT_FOUND")
    return session


@extend_schema_view(post=api_docs.SESSION_CREATE)
class SessionCreateView(APIView):
    throttle_scope = "session"

    @idempotent(scope="sessions")
    def post(self, request: Request, slug: str) -> Response:
        workflow = company_workflow(request, slug)
        named = request.data.get("clientSubmissionId") if isinstance(request.data, dict) else None
        # A replay keeps its session's version, and is checked by that version's rules.
        version = (
            replayed_session_version(
                api_key=request.auth, workflow=workflow, client_submission_id=named
            )
            or workflow.latest
        )
        session_request = parse_session_request(request.data, version)
        session, created = session_create(
            api_key=request.auth, version=version, request=session_request
        )
        # A 201 names what it made (RFC 9110 10.2.2): the session is read at its poll. A
        # replay answers what the original answered (docs/api.md), marked as one.
        headers = {"Location": reverse("job-detail", kwargs={"session_id": session.pk})}
        if not created:
            headers["X-Idempotent-Replay"] = "true"
        return Response(session_created_data(session), status=201, headers=headers)


@extend_schema(exclude=True)  # not an operation: createSession's and submitSession's paths
class SessionPathNotFoundView(APIView):
    """A session path whose workflow the real routes' slug converter refuses (`a.b`, a
    bidi override): the router's generic NOT_FOUND was a code neither operation
    documents. No workflow has such a slug, nor a session under it: each answers its own
    404 after the same key check, and nothing is read."""

    def post(self, request: Request, slug: str, session_id: str | None = None) -> Response:
        if session_id is None:
            raise workflow_not_found(slug)
        raise ApiProblem(404, f"No session {shown(session_id)}.", code="JOB_NOT_FOUND")


@extend_schema_view(post=api_docs.SESSION_SUBMIT)
class SessionSubmitView(APIView):
    throttle_scope = "submit"

    @idempotent(scope="session-submits")
    def post(self, request: Request, slug: str, session_id: str) -> Response:
        session = own_session(request, session_id)
        if session.workflow_version.workflow.slug != slug:
            raise ApiProblem(404, f"No session {shown(session_id)}.", code="JOB_NOT_FOUND")
        refuse_any_body(request.data)  # what was sent with it is not dropped unsaid
        session = session_submit(session_id=session.pk)
        session.refresh_from_db()
        return job_response(session)


def job_response(session: WorkflowSession, **kwargs: Any) -> Response:
    data = job_data(session)
    response = Response(data, **kwargs)
    if "retryAfterMs" in data:
        response["Retry-After"] = str(data["retryAfterMs"] // 1000)
    return response


@extend_schema_view(get=api_docs.JOB_DETAIL)
class JobView(APIView):
    poll_scope_kwarg = "session_id"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Integrators poll this every few seconds: the common case (a live key polling
        # its own job) is answered without DRF; everything else, errors included,
        # takes the regular path below, which behaves the same.
        response = poll_fast_path(request, kwargs["session_id"])
        if response is not None:
            return response
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: Request, session_id: str) -> Response:
        found = session_for_poll(session_id=session_id, key_digest=request.auth.digest)
        if found is not None and found[0].lapsed:
            # Past its TTL and not swept yet (beat down or behind): expired now, as the
            # sweep would (event, webhooks), never answered `pending`.
            session_expire(session_id=session_id, wait=True)
            found = session_for_poll(session_id=session_id, key_digest=request.auth.digest)
        if found is None:
            raise ApiProblem(404, f"No session {shown(session_id)}.", code="JOB_NOT_FOUND")
        return job_response(found[0])


JOB_ALLOW = "GET, HEAD, OPTIONS"  # what DRF puts in Allow for a view with get()


def poll_fast_path(request: HttpRequest, session_id: str) -> HttpResponse | None:
    """The poll answered with one query and one Redis call; None to take DRF's path.

    Same checks as the DRF path: a live key (the query joins it by digest), its rate
    limits, the JSON renderer's output. A missing session, a bad or revoked key, an
    unusual Accept header, a query string, a NUL in the id or a key whose last_used_at is
    due an update fall through.
    """
    accept = request.headers.get("Accept", "*/*")
    if request.method != "GET" or not ("json" in accept or "*/*" in accept):
        return None
    if request.GET:  # the poll takes none: DRF's path refuses it (steve.api.query)
        return None
    if "\x00" in session_id:  # PostgreSQL refuses it; DRF's path answers with a 400
        return None
    raw = raw_key_from_headers(request)
    if not raw or not raw.startswith(API_KEY_PREFIX):
        return None
    if recently_limited(request):  # DRF's path answers 429 without touching the database
        return None
    found = session_for_poll(session_id=session_id, key_digest=api_key_digest(raw))
    if found is None:
        return None
    session, api_key = found
    if ApiKeyAuthentication.needs_touch(api_key) or session.lapsed:
        return None  # DRF's path touches the key, or expires the lapsed session
    problem = ratelimit.count(request, api_key)
    if problem is not None:
        return problem_json_response(request, problem)
    data = job_data(session)
    response = HttpResponse(JSONRenderer().render(data), content_type="application/json")
    if "retryAfterMs" in data:
        response["Retry-After"] = str(data["retryAfterMs"] // 1000)
    response["Allow"] = JOB_ALLOW
    return response


def _upload_target(token: str) -> SubmissionFile:
    try:
        payload = unsign_token("upload", token, settings.UPLOAD_URL_TTL)
    except signing.SignatureExpired:
        raise SessionError(
            "UPLOAD_URL_EXPIRED", "This upload URL has expired.", status=410
        ) from None
    except signing.BadSignature:
        raise SessionError(
            "UPLOAD_URL_INVALID", "This upload URL is not valid.", status=403
        ) from None
    file = (
        SubmissionFile.objects.select_related(
            "submission__session__workflow_version", "submission__session__api_key__company"
        )
        .filter(pk=payload.get("f"))
        .first()
    )
    ended = SessionError(
        "SESSION_NOT_PENDING", "The session no longer accepts uploads.", status=410
    )
    if file is None:
        if WorkflowSession.objects.filter(submission_id=payload.get("s")).exists():
            raise ended  # a slot left empty when the session was submitted
        raise SessionError("NOT_FOUND", "The upload target no longer exists.", status=404)
    session = file.submission.session
    if session.state != SessionState.PENDING or session.lapsed:
        raise ended
    if session.api_key.is_revoked:
        # The session's key pays for and owns the upload; revoked, it can never submit,
        # and the bytes would sit in storage until the session expires.
        raise SessionError(
            "API_KEY_REVOKED", "The API key that opened this session has been revoked.", status=403
        )
    if file.uploaded_at is not None:
        raise upload_url_used(file)
    return file


def _declared_length(request: HttpRequest) -> str:
    """The Content-Length as sent: digits, or "" when none. Django reads a malformed one
    (-1, abc) as 0 and read nothing, so the upload was refused as EMPTY_FILE."""
    declared = request.headers.get("Content-Length", "")
    if declared and not re.fullmatch(r"[0-9]+", declared):
        raise SessionError(
            "INVALID_CONTENT_LENGTH",
            "Content-Length must be the file's size in bytes, a whole number "
            "(e.g. Content-Length: 245120). This upload URL can still be used.",
            status=400,
        )
    return declared


def _read_body(request: HttpRequest, limit: int) -> bytes:
    declared = _declared_length(request)
    if not declared and request.headers.get("Transfer-Encoding"):
        # A chunked body has no length to check against the limit before reading it (and
        # WSGI servers may hand the view none of it).
        raise SessionError(
            "LENGTH_REQUIRED",
            "Send the file with a Content-Length header, not chunked.",
            status=411,
        )
    if declared.isdigit() and int(declared) > limit:
        raise SessionError("FILE_TOO_LARGE", f"The file is larger than {limit} bytes.", status=413)
    chunks, total = [], 0
    while chunk := request.read(UPLOAD_CHUNK):
        total += len(chunk)
        if total > limit:
            raise SessionError(
                "FILE_TOO_LARGE", f"The file is larger than {limit} bytes.", status=413
            )
        chunks.append(chunk)
    if total == 0:
        raise SessionError("EMPTY_FILE", "The uploaded file is empty.", status=400)
    if declared.isdigit() and total < int(declared):
        # The client went away mid-upload: storing the part would spend the one-use URL
        # on a truncated file that only fails later, in processing.
        raise SessionError(
            "INCOMPLETE_UPLOAD",
            f"The upload ended after {total} of {declared} bytes; "
            "this upload URL can still be used.",
            status=400,
        )
    return b"".join(chunks)


def _accepted_type(data: bytes, version: WorkflowVersion) -> str:
    """The bytes' sniffed MIME type; refuses what the submit would refuse, and a file of
    that type no reader can open, or that processing would refuse for what opening shows
    (a PDF that needs a password, too many pages), before the one-use URL is spent on it,
    so the integrator can PUT the right file to the same URL."""
    mime = sniff_mime(data[:SNIFF_BYTES])
    if mime not in version.accepted_mime_types:
        hint = " PUT the file's own bytes, not a form." if data.startswith(b"--") else ""
        raise SessionError(
            "UNSUPPORTED_FILE",
            f"{not_accepted_message(mime, version)}{hint} This upload URL can still be used.",
            status=400,
        )
    if refusal := unreadable(data, mime):
        raise SessionError(
            refusal.code,
            f"{refusal.message} This upload URL can still be used.",
            status=refusal.status,
        )
    return mime


@csrf_exempt
def upload(request: HttpRequest, token: str) -> HttpResponse:
    """PUT a file's bytes to a signed upload URL (local storage; S3 takes PUTs itself)."""
    if request.method != "PUT":
        response = problem_for_status(request, 405, "Upload with PUT.")
        response["Allow"] = "PUT"
        return response
    try:
        file = _upload_target(token)
    except SessionError as error:  # no key answers for this URL: the anonymous bucket
        return problem_json_response(request, service_problem(error))
    log_company(request, file.submission.company_id)
    # The session's key pays for its uploads, before the body is read.
    problem = ratelimit.count(request, file.submission.session.api_key)
    if problem is not None:
        return problem_json_response(request, problem)
    # Not a DRF view, so steve.api.query does not refuse for it. The URL takes no query,
    # as an S3 pre-signed PUT takes none added (SigV4 signs its whole query): one that
    # stored the file here while the same client failed on S3 hid the mistake until
    # production. Refused before the body is read, so the one-use URL stays usable.
    if problems := unknown_param_problems(request.GET, ()):
        return problem_json_response(request, problems[0])
    try:
        data = _read_body(request, file.submission.session.workflow_version.max_file_bytes)
        mime = _accepted_type(data, file.submission.session.workflow_version)
        # The session may have ended while the body arrived: checked again as it is stored.
        session_store_upload(file_id=file.pk, data=data)
    except (SessionError, StorageUnavailable) as error:
        return problem_json_response(request, service_problem(error))
    # 200, as an S3 pre-signed PUT answers, so one client serves both storages; the
    # JSON body says what Steve stored, compact like every other /api/v1/ answer (a plain
    # Django view: JsonResponse puts spaces after "," and ":" unless told).
    stored = {"fileIndex": file.file_index, "size": len(data), "contentType": mime}
    return JsonResponse(stored, json_dumps_params=COMPACT_JSON)


upload.throttle_scope = "upload"  # type: ignore[attr-defined]  # read by steve.api.ratelimit
# What OPTIONS answers in `Allow` (steve.api.options), as a class view's methods say.
upload.http_method_names = ["put"]  # type: ignore[attr-defined]
