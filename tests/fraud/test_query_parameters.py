"""A query parameter the fraud-match API does not take is refused, never ignored
(docs/api.md "Query parameters")."""

import pytest

from fraud.models import FraudMatch
from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def match(company) -> FraudMatch:
    submission = SubmissionFactory(company=company, fraud_status="flagged")
    return FraudMatch.objects.create(
        company=company,
        submission=submission,
        target_submission=SubmissionFactory(company=company),
        check_type="visual",
        score=72.5,
        similarity=0.88,
    )


def test_a_guessed_filter_on_the_matches_is_a_400_naming_it_and_the_page_parameters(api, match):
    url = f"/api/v1/submissions/{match.submission_id}/fraud-matches"
    response = api.get(f"{url}?resolution=open")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "INVALID_PARAMETER"
    assert body["errors"] == [
        {
            "field": "resolution",
            "message": "Not a query parameter of this operation; it takes cursor, limit.",
            "code": "unknown_field",
        }
    ]
    assert api.get(f"{url}?limit=1").json()["data"][0]["id"] == match.pk


def test_the_matches_name_an_unknown_parameter_beside_a_bad_limit(api, match):
    url = f"/api/v1/submissions/{match.submission_id}/fraud-matches"
    body = api.get(f"{url}?limit=y&resolution=open").json()
    assert body["code"] == "INVALID_LIMIT"
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("limit", "invalid"),
        ("resolution", "unknown_field"),
    ]


def test_a_resolution_given_a_query_parameter_is_refused_and_resolves_nothing(api, match):
    url = f"/api/v1/submissions/{match.submission_id}/fraud-matches/{match.pk}/resolve"
    body = {"resolution": "false_positive"}
    response = api.post(f"{url}?resolution=confirmed_fraud", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "resolution"
    match.refresh_from_db()
    assert match.resolution is None
