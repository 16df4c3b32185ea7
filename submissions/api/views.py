"""Submission review over the API (seed 001): list, detail, approve, reject, cancel."""

from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from steve.api.errors import (
    ApiProblem,
    field_error,
    not_an_object_problem,
    problem_of_all,
    refuse_unknown_members,
    shown,
    validation_problem,
)
from steve.api.idempotency import idempotent
from steve.api.pagination import PAGE_QUERY, keyset_page, page_param_problems
from steve.api.parsers import ExactNumbersJSONParser
from submissions.api import schema as api_docs
from submissions.api.serializers import (
    CORRECTIONS_MAX_BODY_BYTES,
    action_result,
    detail,
    list_item,
)
from submissions.models import FraudStatus, Submission, SubmissionStatus
from submissions.selectors import company_submission, company_submissions
from submissions.services import (
    Actor,
    correction_errors,
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
        raise ApiProblem(404, f"No submission {shown(submission_id)}.", code="SUBMISSION_NOT_FOUND")
    return submission


def json_body(request: Request, *, known: tuple[str, ...]) -> dict[str, Any]:
    """The body's object (none reads as {}), refusing a member not in `known`."""
    body = request.data
    if body in (None, "") or body == {}:
        return {}
    if not isinstance(body, dict):
        raise not_an_object_problem()
    refuse_unknown_members(body, known)
    return body


@extend_schema_view(get=api_docs.SUBMISSION_LIST)
class SubmissionListView(APIView):
    # The seed's (001) filters and the page's own; any other is refused (steve.api.query).
    accepted_query_params = {"get": ("workflow", "status", "fraudStatus", *PAGE_QUERY)}

    def get(self, request: Request) -> Response:
        # Sessions past their TTL are expired first (a bounded number, newest first), so
        # the page does not show their submissions `created` while the job poll says
        # `expired` (beat may be behind).
        submissions_catch_up(
            company_id=request.user.company.pk, environment=request.auth.environment
        )
        queryset = company_submissions(request.user.company, request.auth.environment)
        params = request.query_params
        scope = f"submissions:{request.user.company.pk}:{request.auth.environment}"
        # The filters, the page's own parameters and unknown ones are refused in one answer.
        accepted = self.accepted_query_params["get"]
        page_problems = page_param_problems(params, scope=scope, accepted=accepted)
        if problems := _filter_problems(params) + page_problems:
            raise problem_of_all(problems)
        for param, (column, _) in FILTERS.items():
            if value := params.get(param):
                queryset = queryset.filter(**{column: value})
        if params.get("workflow"):
            queryset = queryset.filter(workflow__slug=params["workflow"])
        rows, pagination = keyset_page(queryset, scope=scope, params=params, accepted=accepted)
        return Response({"data": [list_item(s) for s in rows], "pagination": pagination})


def _filter_problems(params: QueryDict) -> list[ApiProblem]:
    """Each filter given more than once or with an unknown value (a filter refused as
    repeated is not refused again for its value: one_per_field)."""
    problems = [p for param in (*FILTERS, "workflow") if (p := _repeated(params, param))]
    for param, (_, allowed) in FILTERS.items():
        value = params.get(param)
        if value and value not in allowed:
            problems.append(
                ApiProblem(
                    400,
                    f"{param} must be one of {', '.join(allowed)}.",
                    code="INVALID_FILTER",
                    errors=[field_error(param, f"Unknown value {value!r}.", "invalid_choice")],
                )
            )
    return problems


def _repeated(params: QueryDict, param: str) -> ApiProblem | None:
    if len(params.getlist(param)) <= 1:
        return None
    # Silently using one would hide the others.
    message = f"{param} may be given once."
    return ApiProblem(
        400, message, code="INVALID_FILTER", errors=[field_error(param, message, "repeated")]
    )


@extend_schema_view(get=api_docs.SUBMISSION_DETAIL_DOCS)
class SubmissionDetailView(APIView):
    def get(self, request: Request, submission_id: str) -> Response:
        submission = submission_caught_up(submission=own_submission(request, submission_id))
        return Response(detail(submission))


@extend_schema_view(post=api_docs.SUBMISSION_APPROVE)
class SubmissionApproveView(APIView):
    @idempotent(scope="submission-approvals")
    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        errors: list[dict[str, str]] = []
        expected_version = body_expected_version(
            json_body(request, known=("expectedVersion",)), errors
        )
        if errors:
            raise validation_problem(errors)
        submission = submission_approve(
            submission_id=submission.pk,
            actor=Actor.for_api_key(request.auth),
            expected_version=expected_version,
        )
        return Response(action_result(submission))


@extend_schema_view(post=api_docs.SUBMISSION_REJECT)
class SubmissionRejectView(APIView):
    @idempotent(scope="submission-rejections")
    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        body = json_body(request, known=("reason", "expectedVersion"))
        reason = body.get("reason")
        errors = [] if isinstance(reason, str) and reason.strip() else [_reason_error(reason)]
        expected_version = body_expected_version(body, errors)
        if errors:
            raise _reject_problem(errors)
        submission = submission_reject(
            submission_id=submission.pk,
            actor=Actor.for_api_key(request.auth),
            reason=reason,
            expected_version=expected_version,
        )
        return Response(action_result(submission))


@extend_schema_view(post=api_docs.SUBMISSION_CANCEL)
class SubmissionCancelView(APIView):
    @idempotent(scope="submission-cancels")
    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        body = json_body(request, known=("reason", "expectedVersion"))
        reason = body.get("reason")
        errors = [] if reason is None or isinstance(reason, str) else [_reason_error(reason)]
        expected_version = body_expected_version(body, errors)
        if errors:
            raise validation_problem(errors)
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

    # Numbers read exactly: a float's rounding (99999999999999.9999 read as 1e14) is
    # refused by the service as on the desk, never stored as another amount.
    parser_classes = [ExactNumbersJSONParser]
    # Its largest valid body is ~9.7 MB (serializers), over the API's default 1 MB.
    max_body_bytes = CORRECTIONS_MAX_BODY_BYTES

    @idempotent(scope="submission-corrections")
    def post(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        body = json_body(request, known=("fields", "expectedVersion"))
        values, expected_version = _corrections(body, submission)
        submission = submission_correct_fields(
            submission_id=submission.pk,
            values=values,
            actor=Actor.for_api_key(request.auth),
            expected_version=expected_version,
        )
        return Response(detail(submission))


def _reject_problem(errors: list[dict[str, str]]) -> ApiProblem:
    if errors[0]["field"] != "reason" or errors[0]["code"] != "required":
        # A reason of another type (`"reason": 5`) was sent: a type error like any other
        # call's (cancel's, approve's), not a missing reason.
        return validation_problem(errors)
    # A missing reason keeps its own code, whatever else the body got wrong.
    return ApiProblem(
        422,  # docs/api.md: a readable body whose content breaks a rule
        "A reason is required to reject a submission.",
        code="REASON_REQUIRED",
        errors=errors,
    )


def _reason_error(reason: object) -> dict[str, str]:
    if reason is None or (isinstance(reason, str) and not reason.strip()):
        return field_error("reason", "reason is required.", "required")
    return field_error("reason", "reason must be a string.")


def body_expected_version(body: dict[str, Any], errors: list[dict[str, str]]) -> int | None:
    """The body's optional expectedVersion (null is the same as absent): a decision on a
    submission that changed since the caller read it is refused (409 SUBMISSION_CHANGED),
    as on the review page. A wrong one is added to `errors`, beside the body's others."""
    expected = body.get("expectedVersion")
    if expected is None:
        return None
    if isinstance(expected, bool) or not isinstance(expected, int):
        errors.append(field_error("expectedVersion", "expectedVersion must be an integer."))
        return None
    low, high = Submission.VERSION_MIN, Submission.VERSION_MAX
    if not low <= expected <= high:
        # No submission has such a version: the caller's number is wrong, not stale, so
        # not the 409 SUBMISSION_CHANGED that says another client changed it.
        message = f"expectedVersion must be a version, from {low} to {high}."
        errors.append(field_error("expectedVersion", message, "range"))
        return None
    return expected


def _corrections(body: dict[str, Any], submission: Submission) -> tuple[dict[str, Any], int | None]:
    """The body's fields and optional expectedVersion, or a 422 naming what is wrong."""
    values = body.get("fields")
    errors: list[dict[str, str]] = []
    expected_version = body_expected_version(body, errors)
    if values is not None and not isinstance(values, dict):
        # Sent, of another type: a type error, as any member's, not "left out".
        message = "fields must be an object of field names and their values."
        errors.insert(0, field_error("fields", message))
    elif not values:
        errors.insert(0, field_error("fields", "fields must be a non-empty object.", "required"))
    elif errors:
        # The service checks the fields as it stores them; refused now for expectedVersion,
        # the answer still names every invalid field.
        errors[:0] = correction_errors(submission=submission, values=values)
    if errors:
        raise validation_problem(errors)
    return values, expected_version
