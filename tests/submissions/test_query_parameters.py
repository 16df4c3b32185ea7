"""A query parameter the review API does not take is refused (docs/api.md "Query
parameters"), never ignored: `?since=` answered 200 with the whole list."""

import pytest

from submissions.models import SubmissionEvent, SubmissionStatus
from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db

LIST_TAKES = "workflow, status, fraudStatus, cursor, limit"


def refused(response) -> dict:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def test_a_guessed_filter_on_the_list_is_a_400_naming_it_and_what_the_list_takes(api, company):
    SubmissionFactory(company=company)
    body = refused(api.get("/api/v1/submissions?since=2026-01-01T00:00:00Z"))
    assert body["code"] == "INVALID_PARAMETER"
    assert body["type"].endswith("/bad-request")
    assert body["errors"] == [
        {
            "field": "since",
            "message": f"Not a query parameter of this operation; it takes {LIST_TAKES}.",
            "code": "unknown_field",
        }
    ]
    assert "'since'" in body["detail"] and LIST_TAKES in body["detail"]


def test_the_list_names_an_unknown_parameter_beside_a_bad_filter_in_one_answer(api, company):
    # One round trip (docs/api.md "Validation errors"): the filter's refusal keeps the
    # top-level code it had, the unknown parameter is named in errors[] beside it.
    response = api.get("/api/v1/submissions?status=bogus&since=x&limit=ten&sort=id")
    body = refused(response)
    assert body["code"] == "INVALID_FILTER"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("status", "invalid_choice"),
        ("since", "unknown_field"),
        ("limit", "invalid"),
        ("sort", "unknown_field"),
    ]


def test_the_documented_parameters_are_still_taken(api, company):
    mine = SubmissionFactory(company=company, status=SubmissionStatus.REVIEW)
    response = api.get(
        "/api/v1/submissions",
        {"workflow": mine.workflow.slug, "status": "review", "fraudStatus": "clean", "limit": 5},
    )
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["data"]] == [mine.pk]


def test_a_query_parameter_on_a_detail_read_is_a_400_even_for_a_missing_id(api, company):
    submission = SubmissionFactory(company=company)
    body = refused(api.get(f"/api/v1/submissions/{submission.pk}?expand=files"))
    assert (body["code"], body["errors"][0]["field"]) == ("INVALID_PARAMETER", "expand")
    assert body["errors"][0]["message"].endswith("it takes no query parameters.")
    # Checked before the id is looked up, as the key and the rate limit are.
    assert refused(api.get("/api/v1/submissions/sub_missing?x=1"))["code"] == "INVALID_PARAMETER"


BODIES = {
    "approve": {},
    "reject": {"reason": "duplicate"},
    "cancel": {},
    "corrections": {"fields": {"merchantName": "Other"}},
}


@pytest.mark.parametrize("action", BODIES)
def test_a_review_action_given_a_query_parameter_is_refused_and_changes_nothing(
    api, company, action
):
    # ?expectedVersion=3 is not the body's expectedVersion: acting without it would
    # overrule a change the caller believed it had guarded against.
    submission = SubmissionFactory(company=company, status=SubmissionStatus.REVIEW)
    url = f"/api/v1/submissions/{submission.pk}/{action}"
    response = api.post(f"{url}?expectedVersion=3", BODIES[action], format="json")
    assert refused(response)["errors"][0]["field"] == "expectedVersion"
    submission.refresh_from_db()
    assert (submission.status, submission.version) == (SubmissionStatus.REVIEW, 1)
    assert not SubmissionEvent.objects.filter(submission=submission).exists()
    # The same body without the query is carried out: the parameter alone was refused.
    assert api.post(url, BODIES[action], format="json").status_code == 200
