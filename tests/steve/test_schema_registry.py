"""Each app registers its API contract with the core's schema registry (steve.api.schema)."""

import importlib

import pytest

from fraud.models import FraudMatch
from jobs.models import SessionState
from steve.api import schema
from steve.models import WorkflowVersion
from submissions.models import FraudStatus, SubmissionStatus
from webhooks.models import WebhookDelivery

APP_SCHEMAS = [
    "jobs.api.schema",
    "submissions.api.schema",
    "fraud.api.schema",
    "webhooks.api.schema",
]


def test_the_catalogue_is_the_cores_codes_and_each_apps_registered_ones():
    owned = [
        schema.CORE_PROBLEMS,
        {"WORKFLOW_NOT_FOUND": schema.PROBLEM_CODES["WORKFLOW_NOT_FOUND"]},
    ]
    owned += [importlib.import_module(name).PROBLEMS for name in APP_SCHEMAS]
    merged = {code: entry for table in owned for code, entry in table.items()}
    assert sum(len(table) for table in owned) == len(merged)  # no code has two owners
    assert merged == schema.PROBLEM_CODES


def test_registering_a_name_again_with_another_value_is_refused():
    with pytest.raises(ValueError, match="JOB_NOT_FOUND"):
        schema.register_problems({"JOB_NOT_FOUND": (404, "Something else.")})
    with pytest.raises(ValueError, match="Job"):
        schema.register_components({"Job": {"type": "string"}})
    assert schema.PROBLEM_CODES["JOB_NOT_FOUND"] == (404, "No such session for this API key.")


def test_registering_the_same_value_again_changes_nothing():
    before = dict(schema.PROBLEM_CODES)
    schema.register_problems({"JOB_NOT_FOUND": before["JOB_NOT_FOUND"]})
    assert before == schema.PROBLEM_CODES


def test_a_transition_code_per_submission_status_with_its_slug_and_current_status():
    example = schema.problem_example("SUBMISSION_IS_APPROVED", "/api/v1/submissions/x/approve")
    assert [c for c in schema.PROBLEM_CODES if c.startswith("SUBMISSION_IS_")] == [
        f"SUBMISSION_IS_{s.upper()}" for s in SubmissionStatus.values
    ]
    assert example["type"].endswith("/invalid-status-transition")
    assert example["currentStatus"] == SubmissionStatus.REVIEW


def test_published_enums_are_the_models_choices(client):
    published = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    components = published["components"]["schemas"]
    assert components["SubmissionStatus"]["enum"] == SubmissionStatus.values
    assert components["FraudStatus"]["enum"] == FraudStatus.values
    assert components["FraudResolution"]["enum"] == FraudMatch.Resolution.values
    assert components["WebhookDeliveryStatus"]["enum"] == WebhookDelivery.Status.values
    assert components["Job"]["properties"]["state"]["enum"] == SessionState.values
    assert components["Workflow"]["properties"]["kind"]["enum"] == WorkflowVersion.Kind.values
    match = components["FraudMatchSummary"]["properties"]["status"]
    assert match["enum"] == FraudMatch.Status.values
