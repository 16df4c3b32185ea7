"""Submission review over the API (seed 001): list, detail, approve, reject, cancel."""

from typing import Any

from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from steve.api.errors import ApiProblem, field_error, not_an_object_problem, validation_problem
from steve.api.pagination import keyset_page
from submissions.api import schema as api_docs
from submissions.api.serializers import action_result, detail, list_item
from submissions.models import FraudStatus, Submission, SubmissionStatus
from submissions.selectors import company_submission, company_submissions
from submissions.services import (
    CORRECTION_MAX,
    Actor,
    submission_approve,
    submission_cancel,
    submission_caught_up,
    submission_correct_fields,
    submission_reject,
    submissions_catch_up,
)

FILTERS = {
    "status": ("status", SubmissionStatus.values),
    "fraudStatus": ("fraud_status", FraudStatus.values),
}


def own_submission(request: Request, submission_id: str) -> Submission:
    submission = company_submission(
        request.user.company, submission_id, environment=request.auth.environment
    )
    if submission is None:
        raise ApiProblem(404, f"No submission {submission_id!r}.", code="SUBMISSION_NOT_FOUND")
    return submission


def json_body(request: Request) -> dict[str, Any]:
    body = request.data
    if body in (None, "") or body == {}:
        return {}
    if not isinstance(body, dict):
        raise not_an_object_problem()
    return body


@extend_schema_view(get=api_docs.SUBMISSION_LIST)
class SubmissionListView(APIView):
    def get(self, request: Request) -> Response:
        # Sessions past their TTL are expired first (a bounded number, newest first), so
        # the page does not show their submissions `created` while the job poll says
        # `expired` (beat may be behind).
        submissions_catch_up(
            company_id=request.user.company.pk, environment=request.auth.environment
        )
        queryset = company_submissions(request.user.company, request.auth.environment)
        params = request.query_params
        for param in (*FILTERS, "workflow"):
            if len(params.getlist(param)) > 1:  # silently using one would hide the others
                raise ApiProblem(
                    400,
                    f"{param} may be given once.",
                    code="INVALID_FILTER",
                    errors=[field_error(param, f"{param} may be given once.", "repeated")],
                )
        for param, (column, allowed) in FILTERS.items():
            value = params.get(param)
            if value is None or value == "":
                continue
            if value not in allowed:
                raise ApiProblem(
                    400,
                    f"{param} must be one of {', '.join(allowed)}.",
                    code="INVALID_FILTER",
                    errors=[field_error(param, f"Unknown value {value!r}.", "invalid_choice")],
                )
            queryset = queryset.filter(**{column: value})
        if params.get("workflow"):
            queryset = queryset.filter(workflow__slug=params["workflow"])
        rows, pagination = keyset_page(
            queryset,
            scope=f"submissions:{request.user.company.pk}:{request.auth.environment}",
            params=params,
        )
        return Response({"data": [list_item(s) for s in rows], "pagination": pagination})


@extend_schema_view(get=api_docs.SUBMISSION_DETAIL_DOCS)
class SubmissionDetailView(APIView):
    def get(self, request: Request, submission_id: str) -> Response:
        submission = submission_caught_up(submission=own_submission(request, submission_id))
        return Response(detail(submission))


@extend_schema_view(post=api_docs.SUBMISSION_APPROVE)
class SubmissionApproveView(APIView):
    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        expected_version = _expected_version(json_body(request))
        submission = submission_approve(
            submission_id=submission.pk,
            actor=Actor.for_api_key(request.auth),
            expected_version=expected_version,
        )
        return Response(action_result(submission))


@extend_schema_view(post=api_docs.SUBMISSION_REJECT)
class SubmissionRejectView(APIView):
    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        body = json_body(request)
        reason = body.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ApiProblem(
                422,  # docs/api.md: a readable body whose content breaks a rule
                "A reason is required to reject a submission.",
                code="REASON_REQUIRED",
                errors=[field_error("reason", "reason is required.", "required")],
            )
        expected_version = _expected_version(body)
        submission = submission_reject(
            submission_id=submission.pk,
            actor=Actor.for_api_key(request.auth),
            reason=reason,
            expected_version=expected_version,
        )
        return Response(action_result(submission))


@extend_schema_view(post=api_docs.SUBMISSION_CANCEL)
class SubmissionCancelView(APIView):
    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        body = json_body(request)
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise validation_problem([field_error("reason", "reason must be a string.")])
        expected_version = _expected_version(body)
        submission = submission_cancel(
            submission_id=submission.pk,
            actor=Actor.for_api_key(request.auth),
            reason=reason,
            expected_version=expected_version,
        )
        return Response(action_result(submission))


@extend_schema_view(post=api_docs.SUBMISSION_CORRECT)
class SubmissionCorrectionsView(APIView):
    """Correct extracted fields of a submission in review, as the review page does."""

    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        body = json_body(request)
        values, expected_version = _corrections(body)
        submission = submission_correct_fields(
            submission_id=submission.pk,
            values=values,
            actor=Actor.for_api_key(request.auth),
            expected_version=expected_version,
        )
        return Response(detail(submission))


def _version_error(body: dict[str, Any]) -> dict[str, str] | None:
    expected = body.get("expectedVersion")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        return field_error("expectedVersion", "expectedVersion must be an integer.")
    return None


def _expected_version(body: dict[str, Any]) -> int | None:
    """The body's optional expectedVersion: a decision on a submission that changed since
    the caller read it is refused (409 SUBMISSION_CHANGED), as on the review page."""
    error = _version_error(body)
    if error is not None:
        raise validation_problem([error])
    return body.get("expectedVersion")


def _corrections(body: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """The body's fields and optional expectedVersion, or a 422 naming what is wrong."""
    values = body.get("fields")
    errors = []
    if not isinstance(values, dict) or not values:
        errors.append(field_error("fields", "fields must be a non-empty object.", "required"))
    else:
        errors += [
            field_error(f"fields.{name}", f"At most {CORRECTION_MAX} characters.", "long")
            for name, value in values.items()
            if _longest_text(value) > CORRECTION_MAX
        ]
    version_error = _version_error(body)
    if version_error is not None:
        errors.append(version_error)
    if errors:
        raise validation_problem(errors)
    return values, body.get("expectedVersion")


def _longest_text(value: Any) -> int:
    """The length of the longest string in a corrected value (line items nest them)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return max((_longest_text(item) for item in value), default=0)
    return 0
