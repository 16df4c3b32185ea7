"""A refused request names every invalid member once, in the order the request sent
them (docs/api.md "Validation errors"), and keeps the top-level code it always had."""

import pytest

from fraud.models import FraudMatch
from jobs.models import WorkflowSession
from tests.factories import SubmissionFactory
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

SESSIONS = "/api/v1/workflows/receipt-ocr/sessions"
LOCAL_URL = "http://127.0.0.1:9/hook"  # tests allow private targets


def refused(response) -> tuple[int, str, list[tuple[str, str]]]:
    body = response.json()
    return response.status_code, body["code"], [(e["field"], e["code"]) for e in body["errors"]]


@pytest.fixture
def submission(company):
    return SubmissionFactory(company=company)


@pytest.fixture
def endpoint(company) -> WebhookEndpoint:
    return endpoint_create(company=company, url=LOCAL_URL)[0]


def test_session_create_names_a_bad_file_count_and_a_bad_content_type_together(api, workflows):
    body = {"fileCount": 99, "contentTypes": ["image/jpeg", "text/x"], "clientSubmissionId": "c"}
    assert refused(api.post(SESSIONS, body, format="json")) == (
        422,
        "VALIDATION_ERROR",
        [("fileCount", "range"), ("contentTypes[1]", "format")],
    )
    assert not WorkflowSession.objects.exists()


def test_session_create_names_a_misspelt_member_beside_the_other_invalid_ones(api, workflows):
    body = {"fileCount": 99, "webhookURL": "https://example.com/h", "clientSubmissionId": "c"}
    body["contentTypes"] = ["text/x"]
    assert refused(api.post(SESSIONS, body, format="json"))[2] == [
        ("fileCount", "range"),
        ("webhookURL", "unknown_field"),
        ("contentTypes[0]", "format"),
    ]
    valid = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c"}
    assert refused(api.post(SESSIONS, {**valid, "webhookURL": "x"}, format="json"))[2] == [
        ("webhookURL", "unknown_field")
    ]
    assert not WorkflowSession.objects.exists()


def test_session_create_checks_the_workflow_rules_of_members_beside_a_wrongly_typed_one(
    api, workflows
):
    body = {
        "metadata": [1],
        "contentTypes": ["image/jpeg", "text/x"],
        "fileCount": "two",
        "clientSubmissionId": "c",
    }
    assert refused(api.post(SESSIONS, body, format="json"))[2] == [
        ("metadata", "invalid_type"),
        ("contentTypes[1]", "format"),
        ("fileCount", "invalid"),
    ]


def test_session_create_takes_null_optional_members_as_left_out(api, workflows):
    body = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c"}
    nulls = {"metadata": None, "externalUser": None, "webhookUrl": None}
    assert api.post(SESSIONS, {**body, **nulls}, format="json").status_code == 201


def test_reject_without_a_reason_is_reason_required_beside_a_bad_expected_version(api, submission):
    url = f"/api/v1/submissions/{submission.pk}/reject"
    for reason in (None, " "):
        response = api.post(url, {"reason": reason, "expectedVersion": "3"}, format="json")
        assert refused(response) == (
            422,
            "REASON_REQUIRED",
            [("reason", "required"), ("expectedVersion", "invalid")],
        )
    response = api.post(url, {"expectedVersion": "3"}, format="json")
    assert refused(response) == (
        422,
        "REASON_REQUIRED",
        [("expectedVersion", "invalid"), ("reason", "required")],
    )


def test_reject_answers_a_reason_of_another_type_as_cancel_does_not_as_a_missing_one(
    api, company, submission
):
    """`"reason": 5` was REASON_REQUIRED while its entry said "must be a string": a reason
    was sent, of the wrong type, which every other call answers VALIDATION_ERROR."""
    body = {"reason": 5, "expectedVersion": "3"}
    expected = (422, "VALIDATION_ERROR", [("reason", "invalid"), ("expectedVersion", "invalid")])
    rejected = api.post(f"/api/v1/submissions/{submission.pk}/reject", body, format="json")
    assert refused(rejected) == expected
    other = SubmissionFactory(company=company)
    cancelled = api.post(f"/api/v1/submissions/{other.pk}/cancel", body, format="json")
    assert refused(cancelled) == expected
    submission.refresh_from_db()
    assert submission.status == "review"


def test_cancel_names_a_wrong_reason_and_expected_version_together(api, submission):
    response = api.post(
        f"/api/v1/submissions/{submission.pk}/cancel",
        {"expectedVersion": True, "reason": 5},
        format="json",
    )
    assert refused(response) == (
        422,
        "VALIDATION_ERROR",
        [("expectedVersion", "invalid"), ("reason", "invalid")],
    )


def test_cancel_and_approve_take_null_reason_and_expected_version_as_left_out(api, company):
    cancelled, approved = SubmissionFactory(company=company), SubmissionFactory(company=company)
    nulls = {"reason": None, "expectedVersion": None}
    response = api.post(f"/api/v1/submissions/{cancelled.pk}/cancel", nulls, format="json")
    assert response.json()["submissionStatus"] == "cancelled"
    cancelled.refresh_from_db()
    assert not cancelled.cancel_reason
    body = {"expectedVersion": None}
    response = api.post(f"/api/v1/submissions/{approved.pk}/approve", body, format="json")
    assert response.status_code == 200, response.content


def test_corrections_name_every_bad_field_beside_a_bad_expected_version(api, submission):
    response = api.post(
        f"/api/v1/submissions/{submission.pk}/corrections",
        {
            "fields": {"merchantName": 5, "total": "9" * 2001, "bogus": "1"},
            "expectedVersion": "x",
        },
        format="json",
    )
    assert refused(response) == (
        422,
        "VALIDATION_ERROR",
        [
            ("fields.merchantName", "invalid"),
            ("fields.total", "long"),
            ("fields.bogus", "unknown_field"),
            ("expectedVersion", "invalid"),
        ],
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        # Sent, of another type: a type error, as every member's (it was `required`).
        ({"fields": "merchantName"}, [("fields", "invalid")]),
        ({"fields": [{"merchantName": "X"}]}, [("fields", "invalid")]),
        (
            {"fields": 5, "expectedVersion": "x"},
            [("fields", "invalid"), ("expectedVersion", "invalid")],
        ),
        (
            {"expectedVersion": "x", "fields": True},
            [("expectedVersion", "invalid"), ("fields", "invalid")],
        ),
        # Left out, null or naming no field: nothing to correct.
        ({}, [("fields", "required")]),
        ({"fields": None}, [("fields", "required")]),
        ({"fields": {}}, [("fields", "required")]),
        ({"expectedVersion": "x"}, [("expectedVersion", "invalid"), ("fields", "required")]),
    ],
)
def test_corrections_tell_fields_of_another_type_from_fields_left_out(
    api, submission, body, errors
):
    before = submission.extracted_data
    response = api.post(f"/api/v1/submissions/{submission.pk}/corrections", body, format="json")
    assert refused(response) == (422, "VALIDATION_ERROR", errors)
    submission.refresh_from_db()
    assert submission.extracted_data == before


def test_fraud_resolve_names_a_bad_resolution_and_reason_under_invalid_resolution(
    api, company, submission
):
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        target_submission=SubmissionFactory(company=company),
        check_type="visual",
        score=72.5,
        similarity=0.88,
    )
    response = api.post(
        f"/api/v1/submissions/{submission.pk}/fraud-matches/{match.pk}/resolve",
        {"resolution": "maybe", "reason": 5},
        format="json",
    )
    assert refused(response) == (
        422,
        "INVALID_RESOLUTION",
        [("resolution", "invalid_choice"), ("reason", "invalid")],
    )


@pytest.mark.parametrize("body", [{}, {"resolution": None}, {"reason": "checked"}])
def test_fraud_resolve_without_a_resolution_says_it_is_required(api, company, submission, body):
    """A resolution left out was `invalid_choice`, as if one had been sent: a member a
    call needs and did not get is `required`, as everywhere else."""
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        target_submission=SubmissionFactory(company=company),
        check_type="visual",
        score=72.5,
        similarity=0.88,
    )
    response = api.post(
        f"/api/v1/submissions/{submission.pk}/fraud-matches/{match.pk}/resolve",
        body,
        format="json",
    )
    assert refused(response) == (422, "INVALID_RESOLUTION", [("resolution", "required")])
    match.refresh_from_db()
    assert match.resolution is None


def test_submission_list_names_every_bad_filter_and_page_parameter(api, company):
    response = api.get("/api/v1/submissions?limit=ten&status=x&fraudStatus=y&cursor=forged")
    assert refused(response) == (
        400,
        "INVALID_FILTER",
        [
            ("limit", "invalid"),
            ("status", "invalid_choice"),
            ("fraudStatus", "invalid_choice"),
            ("cursor", "invalid"),
        ],
    )


def test_a_listing_names_a_bad_limit_and_a_bad_cursor_together(api, submission):
    response = api.get(f"/api/v1/submissions/{submission.pk}/fraud-matches?cursor=x&limit=y")
    assert refused(response) == (
        400,
        "INVALID_LIMIT",
        [("cursor", "invalid"), ("limit", "invalid")],
    )


def test_deliveries_name_a_bad_status_filter_and_limit_together(api, endpoint):
    response = api.get(f"/api/v1/webhook-endpoints/{endpoint.pk}/deliveries?status=x&limit=y")
    assert refused(response) == (
        400,
        "INVALID_FILTER",
        [("status", "invalid_choice"), ("limit", "invalid")],
    )


def test_endpoint_create_names_a_bad_url_events_and_description_together(api, company):
    response = api.post(
        "/api/v1/webhook-endpoints",
        {"description": 5, "url": "ftp://example.com/hook", "events": ["nope"]},
        format="json",
    )
    assert refused(response) == (
        422,
        "INVALID_URL",
        [
            ("description", "invalid_description"),
            ("url", "invalid_url"),
            ("events", "unknown_event_type"),
        ],
    )
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_create_refuses_null_events(api, company):
    response = api.post(
        "/api/v1/webhook-endpoints", {"url": LOCAL_URL, "events": None}, format="json"
    )
    assert refused(response) == (422, "INVALID_EVENTS", [("events", "invalid_events")])


def test_endpoint_update_names_every_bad_member_and_changes_nothing(api, endpoint):
    response = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}",
        {"url": "ftp://example.com/hook", "events": 5, "enabled": "yes", "colour": "red"},
        format="json",
    )
    assert refused(response) == (
        422,
        "VALIDATION_ERROR",
        [
            ("url", "invalid_url"),
            ("events", "invalid_events"),
            ("enabled", "invalid"),
            ("colour", "unknown_field"),
        ],
    )
    endpoint.refresh_from_db()
    assert endpoint.url == LOCAL_URL


def test_endpoint_update_refuses_null_rather_than_keeping_or_clearing(api, endpoint):
    response = api.patch(
        f"/api/v1/webhook-endpoints/{endpoint.pk}",
        {"description": None, "enabled": None},
        format="json",
    )
    assert refused(response) == (
        422,
        "VALIDATION_ERROR",
        [("description", "null"), ("enabled", "null")],
    )


def test_rotation_refuses_a_null_grace_period_and_defaults_a_missing_one(api, endpoint):
    url = f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret"
    before = WebhookEndpoint.objects.get(pk=endpoint.pk).secret
    response = api.post(url, {"gracePeriodHours": None}, format="json")
    assert refused(response) == (
        422,
        "INVALID_GRACE_PERIOD",
        [("gracePeriodHours", "invalid_grace_period")],
    )
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == before
    assert api.post(url, {}, format="json").json()["previousSecretExpiresAt"] is not None
