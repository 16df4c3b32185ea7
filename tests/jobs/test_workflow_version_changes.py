"""Workflow versions changed while they are in use: two admins publishing at once."""

import json
from typing import Any

import pytest
from django import forms
from django.urls import reverse

from steve.errors import ServiceError
from steve.models import WorkflowVersion
from steve.services import WorkflowChanged, workflow_publish
from tests.jobs.test_sessions_api import create

pytestmark = pytest.mark.django_db
ADD_VERSION = "admin:steve_workflowversion_add"


def as_posted(form: forms.Form) -> dict[str, Any]:
    """What a browser posts back for the form as it was shown (hidden fields included)."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.JSONField):
            value = field.prepare_value(value)
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        if value is not None:
            data[name] = value
    return data


def opened_form(operator: Any, workflow_id: str) -> dict[str, Any]:
    page = operator.get(reverse(ADD_VERSION), {"workflow": workflow_id})
    assert page.status_code == 200
    return as_posted(page.context["adminform"].form)


def test_a_version_published_from_a_form_opened_before_another_publish_is_refused(
    operator, receipt_workflow
):
    """Two admins open the form on v1; the second to save would have published v1's
    schema over the first's edit (v3 silently undoing v2)."""
    workflow = receipt_workflow.workflow
    first, second = opened_form(operator, workflow.pk), opened_form(operator, workflow.pk)
    schema = json.loads(first["output_schema"])
    schema["required"] = sorted(schema["properties"])[:1]
    first["output_schema"] = json.dumps(schema)
    assert operator.post(reverse(ADD_VERSION), first).status_code == 302
    second["review_threshold"] = "42"

    response = operator.post(reverse(ADD_VERSION), second)

    assert response.status_code == 200
    assert "changed since" in str(response.context["adminform"].form.non_field_errors())
    latest = workflow.versions.order_by("-version").first()
    assert latest.version == receipt_workflow.version + 1
    assert latest.output_schema["required"] == schema["required"]


def test_a_form_opened_on_the_latest_version_still_publishes(operator, receipt_workflow):
    workflow = receipt_workflow.workflow
    posted = opened_form(operator, workflow.pk)
    posted["review_threshold"] = "42"
    assert operator.post(reverse(ADD_VERSION), posted).status_code == 302
    latest = WorkflowVersion.objects.filter(workflow=workflow).order_by("-version").first()
    assert (latest.version, latest.review_threshold) == (receipt_workflow.version + 1, 42)


def test_publishing_from_a_stale_version_is_refused_by_the_service(receipt_workflow):
    workflow = receipt_workflow.workflow
    first = workflow_publish(
        company=workflow.company,
        slug=workflow.slug,
        name=workflow.name,
        based_on=receipt_workflow.version,
        review_threshold=41,
    )
    with pytest.raises(WorkflowChanged) as refused:
        workflow_publish(
            company=workflow.company,
            slug=workflow.slug,
            name=workflow.name,
            based_on=receipt_workflow.version,
            review_threshold=42,
        )
    assert refused.value.code == "WORKFLOW_VERSION_CHANGED"
    assert workflow.versions.order_by("-version").first() == first


def schema_with(total: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"totalAmount": total, "merchantName": {"type": "string"}},
        "required": ["totalAmount"],
    }


@pytest.mark.parametrize(
    "total",
    [
        {"not": {}},
        {"type": "number", "enum": []},
        {"type": "number", "enum": ["12.50", "3"]},
        {"type": "string", "const": 5},
        {"type": "number", "minimum": 10, "maximum": 1},
        {"type": "number", "exclusiveMinimum": 5, "maximum": 5},
        {"type": "string", "minLength": 5, "maxLength": 2},
        {"allOf": [{"type": "number"}, {"type": "string"}]},
        {"type": "integer", "anyOf": [{"type": "string"}, {"not": True}]},
    ],
)
def test_a_field_no_value_can_fit_is_refused_when_publishing(operator, receipt_workflow, total):
    """Published, every extraction dropped the field and every correction of it was
    refused: a required field stayed missing for good."""
    workflow = receipt_workflow.workflow
    posted = opened_form(operator, workflow.pk)
    posted["output_schema"] = json.dumps(schema_with(total))

    response = operator.post(reverse(ADD_VERSION), posted)

    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors["output_schema"])
    assert "totalAmount" in errors and "no value" in errors
    assert workflow.versions.count() == 1


@pytest.mark.parametrize(
    "total",
    [
        {"type": ["number", "null"], "minimum": 10, "maximum": 1},  # null still fits
        {"type": "number", "minimum": 5, "maximum": 5},
        {"type": "number", "enum": ["x", 3]},
        {"anyOf": [{"type": "string"}, {"not": {}}]},
    ],
)
def test_a_narrow_field_that_some_value_fits_is_published(operator, receipt_workflow, total):
    workflow = receipt_workflow.workflow
    posted = opened_form(operator, workflow.pk)
    posted["output_schema"] = json.dumps(schema_with(total))
    assert operator.post(reverse(ADD_VERSION), posted).status_code == 302
    assert workflow.versions.count() == 2


def publish_stricter(version: WorkflowVersion) -> WorkflowVersion:
    """A next version taking only three PNGs of at most 1 KB each."""
    workflow = version.workflow
    upload = {**version.upload, "minFiles": 3, "maxFiles": 3, "acceptedFormats": ["png"]}
    upload["maxFileSizeMb"] = 0.001
    return workflow_publish(
        company=workflow.company, slug=workflow.slug, name=workflow.name, upload=upload
    )


def test_a_replayed_create_of_a_session_opened_before_a_stricter_version_returns_it(
    api, receipt_workflow
):
    """STEVE-API.md: a pending session's clientSubmissionId returns that session. Checked
    against the latest version's rules, the retry was a 422 (fileCount, contentTypes) for
    a session that exists, works and keeps the version it was opened on."""
    first, body, _ = create(api, clientSubmissionId="order-7")
    assert first == 201
    publish_stricter(receipt_workflow)

    again, replayed, response = create(api, clientSubmissionId="order-7")

    assert again == 201, replayed
    assert response["X-Idempotent-Replay"] == "true"
    assert replayed["sessionId"] == body["sessionId"]
    assert replayed["workflow"] == {"slug": "receipt-ocr", "version": receipt_workflow.version}


def test_a_replay_that_differs_from_the_older_sessions_create_is_still_a_conflict(
    api, receipt_workflow
):
    create(api, clientSubmissionId="order-8")
    publish_stricter(receipt_workflow)
    status, body, _ = create(
        api, clientSubmissionId="order-8", fileCount=2, contentTypes=["image/jpeg"] * 2
    )
    assert status == 409 and body["code"] == "CLIENT_SUBMISSION_ID_CONFLICT"


def test_a_new_session_after_a_stricter_publish_takes_the_new_rules(api, receipt_workflow):
    publish_stricter(receipt_workflow)
    status, body, _ = create(api, clientSubmissionId="order-9")
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"fileCount", "contentTypes[0]"}


@pytest.mark.parametrize(
    "contract",
    [
        {"output_schema": {"type": "object", "properties": {"total": {"$ref": "#"}}}},
        {"upload": {"minFiles": 2, "maxFiles": 1}},  # on the current rules
    ],
)
def test_publish_refuses_a_contract_the_admin_form_would_refuse(receipt_workflow, contract):
    """The service checks what the admin's form checks: a caller other than the form (the
    built-in defaults, a shell, a later API) published any schema or upload rules, and the
    desk and every correction then broke on them."""
    workflow = receipt_workflow.workflow
    if "upload" in contract:
        contract = {"upload": {**receipt_workflow.upload, **contract["upload"]}}
    before = workflow.versions.count()
    with pytest.raises(ServiceError) as refused:
        workflow_publish(
            company=workflow.company, slug=workflow.slug, name=workflow.name, **contract
        )
    assert refused.value.code == "WORKFLOW_VERSION_INVALID"
    assert workflow.versions.count() == before
