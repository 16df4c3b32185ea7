"""Request validation and response shapes of the session and job endpoints."""

import json
import math
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import EmailValidator
from django.utils import timezone
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from jobs.models import SessionState, WorkflowSession
from jobs.services import SessionRequest
from steve.api.errors import field_error, not_an_object_problem, unknown_member_errors
from steve.models import WorkflowVersion
from steve.storage import object_location, s3_presign, sign_token, using_s3
from steve.text import hides_text
from steve.timefmt import iso
from submissions.events import result_block
from webhooks.selectors import session_delivery_status
from webhooks.services import MAX_URL_LENGTH
from webhooks.targets import target_error

MAX_METADATA_BYTES = 4096
MAX_CLIENT_ID = 255
MAX_EXTERNAL_USER_CHARS = 256
# Seed 000 asks integrators to poll every 5 to 10 seconds.
POLL_INTERVAL_MS = 5000


FLOAT_MAX = 10**308
HIDDEN_CHARACTER = "metadata must not hold a control, bidi formatting or invisible character."
BLANK_KEY = "metadata keys must name something: not empty, nor only spaces."


def _metadata_errors(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, dict):
        return [field_error("metadata", "metadata must be an object.", "invalid_type")]
    # UTF-8 bytes: a character beyond ASCII counts as stored, not as a \uXXXX escape.
    if _stored_bytes(value) > MAX_METADATA_BYTES:
        return [field_error("metadata", "metadata must be at most 4096 bytes.", "too_large")]
    return _metadata_shape_errors(value, "metadata", depth=1)


def _stored_bytes(value: dict) -> int:
    """The metadata's size as PostgreSQL keeps and serves it (compact JSON, UTF-8): a JSON
    number is a decimal written out in full there, so 1e308 is 309 digits and 1e-300 302
    characters. Counted as sent (5 or 6 bytes), a few hundred bytes of them were stored,
    served and sent in every webhook as tens of KB."""
    floats = 0

    def written_out(item: Any) -> Any:
        nonlocal floats
        if isinstance(item, dict):
            return {key: written_out(inner) for key, inner in item.items()}
        if isinstance(item, float) and math.isfinite(item):
            floats += 1
            return format(Decimal(repr(item)), "f")  # as a string: its two quotes go below
        return item

    text = json.dumps(written_out(value), separators=(",", ":"), ensure_ascii=False)
    return len(text.encode()) - 2 * floats


def _metadata_shape_errors(value: dict, path: str, depth: int) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for key, item in value.items():
        where = f"{path}.{key}"
        if not key.strip():
            # A value under no name (the review page gave it an empty label), or only
            # spaces: STEVE-API.md sets no key length, so nothing more is asked of a key.
            errors.append(field_error(where, BLANK_KEY, "blank"))
        # A value may run over lines (the review page shows metadata as it is); a key not.
        elif hides_text(key, allowed="") or (
            isinstance(item, str) and hides_text(item, allowed="\t\n\r")
        ):
            errors.append(field_error(where, HIDDEN_CHARACTER, "hidden_character"))
        elif isinstance(item, dict):
            if depth >= 2:
                errors.append(field_error(where, "metadata nests at most 2 levels.", "too_deep"))
            else:
                errors += _metadata_shape_errors(item, where, depth + 1)
        elif not isinstance(item, (str, int, float, bool)) or item is None:
            errors.append(
                field_error(where, "metadata values must be strings, numbers or booleans.")
            )
        elif isinstance(item, int) and abs(item) >= FLOAT_MAX:
            # 1e400 is refused as JSON already; a 400-digit integer is one too, for every
            # reader that takes JSON numbers as doubles (it would read Infinity).
            errors.append(field_error(where, "metadata numbers must be below 1e308.", "too_large"))
    return errors


class StrictCharField(serializers.CharField):
    """A JSON string only (DRF's CharField would also take 5 for "5"), with no control
    or bidi formatting character: the review page, the API and webhooks show it."""

    default_error_messages = {
        "invalid": "Must be a string.",
        "hidden_character": "Must not hold a control, bidi formatting or invisible character.",
    }

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        if hides_text(data, allowed=""):
            self.fail("hidden_character")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number only (not "2", 2.0 or true)."""

    default_error_messages = {"invalid": "Must be a whole number."}

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


def _user_text() -> StrictCharField:
    return StrictCharField(
        max_length=MAX_EXTERNAL_USER_CHARS,
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
    )


class ExternalUserSerializer(serializers.Serializer):
    id = _user_text()
    name = _user_text()
    email = _user_text()

    def validate_email(self, value: str | None) -> str | None:
        if value:
            EmailValidator(message="email must be an email address.")(value)
        return value

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and set(data) - set(self.fields):
            raise serializers.ValidationError("externalUser is {id, name, email}.")
        return dict(super().to_internal_value(data))


class ShortListField(serializers.ListField):
    """A ListField whose max_length is held before its entries are read: DRF validates
    every entry first, and 100,000 of them held a web worker for 15-20 s (answering one
    error per entry) before the length was checked."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class SessionCreateSerializer(serializers.Serializer):
    """The body of POST /workflows/{slug}/sessions; `version` in the context."""

    fileCount = StrictIntegerField()  # noqa: N815 - the wire's names
    contentTypes = ShortListField(  # noqa: N815
        child=StrictCharField(max_length=255),
        error_messages={
            "max_length": "contentTypes must list one MIME type per file, at most {max_length}."
        },
    )
    # Kept as sent, surrounding spaces included: it is the caller's key, echoed in the
    # poll and the webhooks and matched for replays (it was trimmed, so " order-7 " came
    # back as "order-7" and replayed that key's session).
    clientSubmissionId = StrictCharField(  # noqa: N815
        max_length=MAX_CLIENT_ID, trim_whitespace=False
    )
    metadata = serializers.JSONField(required=False, allow_null=True)
    externalUser = ExternalUserSerializer(required=False, allow_null=True)  # noqa: N815
    # An endpoint's limit, which is also the column's: a longer URL failed its INSERT (500).
    webhookUrl = StrictCharField(  # noqa: N815
        max_length=MAX_URL_LENGTH, required=False, allow_null=True, allow_blank=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No more types than the workflow takes files (ShortListField).
        upload = self.context["version"].upload
        self.fields["contentTypes"].max_length = int(upload.get("maxFiles", 1))

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # A misspelt field (`webhookURL`) was dropped, and the session made without it;
        # externalUser already refused a key it does not know.
        strangers = (
            _by_field(unknown_member_errors(data, self.fields, "Not a field of a session."))
            if isinstance(data, dict)
            else {}
        )
        try:
            attrs = super().to_internal_value(data)
        except serializers.ValidationError as refused:
            if not isinstance(data, dict) or not isinstance(refused.detail, dict):
                raise
            # validate() runs only once every field was read: the workflow's checks of
            # the members that were read run now, so one answer names every invalid one.
            read = {k: v for k, v in data.items() if k in self.fields and k not in refused.detail}
            errors = _content_errors(read, self.context["version"])
            raise serializers.ValidationError(
                {**refused.detail, **_by_field(errors), **strangers}
            ) from None
        if strangers:
            errors = _content_errors(dict(attrs), self.context["version"])
            raise serializers.ValidationError({**_by_field(errors), **strangers})
        return dict(attrs)

    def validate_clientSubmissionId(self, value: str) -> str:  # noqa: N802
        if not value.strip():  # spaces alone name nothing, as "" does
            raise serializers.ValidationError(
                self.fields["clientSubmissionId"].error_messages["blank"], code="blank"
            )
        return value

    def validate_contentTypes(self, value: list[str]) -> list[str]:  # noqa: N802
        # Stored and echoed in one spelling, so a replay in another case is the same
        # request (_content_type_error refuses what is not a type the workflow takes).
        return [content_type.lower() for content_type in value]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if errors := _content_errors(attrs, self.context["version"]):
            raise serializers.ValidationError(_by_field(errors))
        return attrs


def _content_errors(body: dict[str, Any], version: WorkflowVersion) -> list[dict[str, str]]:
    """The workflow's rules for the members in `body` (each of the right JSON type)."""
    errors = _file_errors(body, version)
    if body.get("metadata") is not None:
        errors += _metadata_errors(body["metadata"])
    if (url := body.get("webhookUrl")) and (why := target_error(url)):
        errors.append(field_error("webhookUrl", why, "invalid_url"))
    return errors


def _by_field(errors: list[dict[str, str]]) -> dict[str, list[ErrorDetail]]:
    by_field: dict[str, list[ErrorDetail]] = {}
    for error in errors:
        by_field.setdefault(error["field"], []).append(
            ErrorDetail(error["message"], code=error["code"])
        )
    return by_field


def _file_errors(body: dict, version: WorkflowVersion) -> list[dict[str, str]]:
    """fileCount's range and each contentTypes entry; one does not hide the other."""
    upload = version.upload
    errors = []
    count = body.get("fileCount")
    low, high = int(upload.get("minFiles", 1)), int(upload.get("maxFiles", 1))
    if count is not None and not low <= count <= high:
        errors.append(
            field_error("fileCount", f"fileCount must be between {low} and {high}.", "range")
        )
        count = None  # no count to hold contentTypes' length against
    types = body.get("contentTypes")
    if types is None:
        return errors
    if count is not None and len(types) != count:
        errors.append(
            field_error("contentTypes", "contentTypes must list one MIME type per file.", "invalid")
        )
    return errors + [
        error
        for i, t in enumerate(types)
        if (error := _content_type_error(f"contentTypes[{i}]", t, version)) is not None
    ]


def _content_type_error(field: str, sent: str, version: WorkflowVersion) -> dict[str, str] | None:
    """MIME types are case-insensitive (RFC 9110 8.3.1), so "IMAGE/JPEG" is image/jpeg. A
    parameter is refused rather than dropped: no accepted type takes one, and the type is
    echoed back as the upload URL's contentType, which must be what the caller sent."""
    allowed = sorted(version.accepted_mime_types)
    bare, has_parameters, _ = sent.partition(";")
    if has_parameters:
        return field_error(
            field,
            f"{sent!r} has parameters; send the MIME type alone, e.g. {bare.strip().lower()!r}.",
            "parameters",
        )
    if sent.lower() not in allowed:
        return field_error(field, f"{sent!r} is not accepted; use one of {allowed}.", "format")
    return None


def parse_session_request(body: Any, version: WorkflowVersion) -> SessionRequest:
    if not isinstance(body, dict):
        raise not_an_object_problem()
    serializer = SessionCreateSerializer(data=body, context={"version": version})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    return SessionRequest(
        file_count=data["fileCount"],
        content_types=data["contentTypes"],
        client_submission_id=data["clientSubmissionId"],
        metadata=data.get("metadata") or {},
        external_user=data.get("externalUser"),
        webhook_url=data.get("webhookUrl") or "",
    )


def upload_url(file: Any, ttl: timedelta) -> str:
    if using_s3():
        return s3_presign("PUT", file.storage_key, ttl)
    # The submission too: a slot left empty at submit is deleted, and its URL must still
    # say that the session ended rather than that nothing is there.
    token = sign_token("upload", {"f": file.pk, "s": file.submission_id})
    return f"{settings.PUBLIC_BASE_URL}/api/v1/uploads/{token}"


def session_created_data(session: WorkflowSession) -> dict[str, Any]:
    submission = session.submission
    files = [f for f in submission.files.order_by("file_index") if f.uploaded_at is None]
    version = session.workflow_version
    # No longer than the session takes uploads: a replay late in its life was told its
    # URLs worked for 30 more minutes, and they were refused a few seconds later.
    # Not padded to a second: that said a replay in the session's last second had URLs
    # that outlived it (a presigned URL lasts at least a second anyway, s3_presign).
    now = timezone.now()
    ttl = max(timedelta(0), min(settings.UPLOAD_URL_TTL, session.expires_at - now))
    return {
        "sessionId": session.pk,
        "submissionId": submission.pk,
        "state": session.state,
        "submissionStatus": submission.status,
        "workflow": {"slug": version.workflow.slug, "version": version.version},
        "uploadUrls": [
            {
                "fileIndex": f.file_index,
                "uploadUrl": upload_url(f, ttl),
                "r2Url": object_location(f.storage_key),
                "contentType": f.declared_content_type,
                "label": f.label,
            }
            for f in files
        ],
        "expiresAt": iso(session.expires_at),
        "uploadUrlsExpireAt": iso(now + ttl),
    }


def job_data(session: WorkflowSession) -> dict[str, Any]:
    submission = session.submission
    version = session.workflow_version
    finished = session.state == SessionState.COMPLETED
    return {
        "sessionId": session.pk,
        "submissionId": submission.pk,
        "workflow": {"slug": version.workflow.slug, "version": version.version},
        "companyId": session.company_id,
        "state": session.state,
        "submissionStatus": submission.status,
        "result": result_block(submission) if finished else None,
        "failedReason": session.failed_reason if session.state == SessionState.FAILED else None,
        "clientSubmissionId": session.client_submission_id,
        "metadata": session.metadata,
        "processedAt": iso(session.processed_at),
        "webhookDeliveryStatus": _delivery_status(session),
        "progress": session.progress,
        "createdAt": iso(session.created_at),
        # The submission's changes (an approval in review) are the job's too, as the
        # extraction-job poll counts them.
        "updatedAt": iso(max(session.updated_at, submission.updated_at)),
        "expiresAt": iso(session.expires_at),
        **_failure_or_retry(session),
    }


def _delivery_status(session: WorkflowSession) -> str | None:
    if hasattr(session, "webhook_delivery_status"):  # read with the poll (session_for_poll)
        return session.webhook_delivery_status
    return session_delivery_status(
        session_id=session.pk,
        session_url=session.webhook_url,
        company_id=session.company_id,
        api_key_id=session.api_key_id,
        ended=session.is_terminal,
    )


def _failure_or_retry(session: WorkflowSession) -> dict[str, Any]:
    """A typed `error` on failure (peers' shape); a polling hint while not terminal."""
    if session.state == SessionState.FAILED:
        return {
            "error": {
                "code": session.error_code or "PROCESSING_ERROR",
                "message": session.failed_reason,
                "details": {"step": session.error_step, "retryable": session.error_retryable},
            }
        }
    if not session.is_terminal:
        return {"retryAfterMs": POLL_INTERVAL_MS}
    return {}
