"""Fraud matches of a submission over the API: list and resolve."""

from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fraud.api import schema as api_docs
from fraud.models import FraudMatch
from fraud.services import fraud_match_resolve
from steve.api.errors import ApiProblem, field_error, problem_of_all, shown, validation_problem
from steve.api.idempotency import idempotent
from steve.api.pagination import PAGE_QUERY, keyset_page
from steve.timefmt import iso
from submissions.api.serializers import fraud_match_data
from submissions.api.views import body_expected_version, json_body, own_submission
from submissions.services import Actor


def match_item(match: FraudMatch) -> dict:
    data = fraud_match_data(match)
    target = match.target_submission
    # Its status says when the match was withdrawn because it failed or was cancelled.
    data["targetSubmission"] = (
        {"id": target.pk, "createdAt": iso(target.created_at), "submissionStatus": target.status}
        if target
        else None
    )
    data["details"] = match.details
    return data


@extend_schema_view(get=api_docs.FRAUD_MATCH_LIST)
class FraudMatchListView(APIView):
    accepted_query_params = {"get": PAGE_QUERY}  # any other is refused (steve.api.query)

    def get(self, request: Request, submission_id: str) -> Response:
        submission = own_submission(request, submission_id)
        queryset = FraudMatch.objects.filter(submission=submission).select_related(
            "target_submission"
        )
        rows, pagination = keyset_page(
            queryset,
            scope=f"fraud-matches:{submission.pk}",
            params=request.query_params,
            accepted=self.accepted_query_params["get"],
            newest_first=False,
        )
        return Response({"data": [match_item(m) for m in rows], "pagination": pagination})


@extend_schema_view(post=api_docs.FRAUD_MATCH_RESOLVE)
class FraudMatchResolveView(APIView):
    @idempotent(scope="fraud-resolutions")
    def post(self, request: Request, submission_id: str, match_id: str) -> Response:
        submission = own_submission(request, submission_id)
        if not FraudMatch.objects.filter(pk=match_id, submission=submission).exists():
            raise ApiProblem(
                404, f"No fraud match {shown(match_id)}.", code="FRAUD_MATCH_NOT_FOUND"
            )
        body = json_body(request, known=("resolution", "reason", "expectedVersion"))
        resolution, reason = body.get("resolution"), body.get("reason")
        problems = []
        if resolution not in FraudMatch.REVIEWER_RESOLUTIONS:  # `withdrawn` is Steve's
            problems.append(_resolution_problem(resolution))
        # No reason, null or absent, is the same: the schema says so (nullable).
        if reason is not None and not isinstance(reason, str):
            problems.append(validation_problem([field_error("reason", "reason must be a string.")]))
        # Confirming fraud rejects: a caller that must not overrule a change made since it
        # read the submission (a reviewer's, another integrator's) says which version it read.
        version_errors: list[dict[str, str]] = []
        expected_version = body_expected_version(body, version_errors)
        if version_errors:
            problems.append(validation_problem(version_errors))
        if problems:
            raise problem_of_all(problems)
        match = fraud_match_resolve(
            submission_id=submission.pk,
            match_id=match_id,
            resolution=resolution,
            actor=Actor.for_api_key(request.auth),
            reason=reason or "",
            expected_version=expected_version,
        )
        return Response(
            match_item(FraudMatch.objects.select_related("target_submission").get(pk=match.pk))
        )


def _resolution_problem(resolution: object) -> ApiProblem:
    """INVALID_RESOLUTION, its entry `required` when none was sent (left out or null, as a
    reject's reason), else `invalid_choice`."""
    if resolution is None:
        error = field_error(
            "resolution", "resolution is required: false_positive or confirmed_fraud.", "required"
        )
    else:
        error = field_error(
            "resolution", "Use false_positive or confirmed_fraud.", "invalid_choice"
        )
    return ApiProblem(
        422,  # docs/api.md: a readable body whose content breaks a rule
        "resolution must be false_positive or confirmed_fraud.",
        code="INVALID_RESOLUTION",
        errors=[error],
    )
