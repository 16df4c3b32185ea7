"""The admin's workflow version form refuses JSON the database or json cannot take, and
shows a publish the service refuses on the form as typed."""

import json
import re

import pytest

from jobs.admin import WorkflowVersionAdmin
from steve.models import WorkflowVersion
from steve.services import workflow_publish
from tests.factories import default_workflows

pytestmark = pytest.mark.django_db
ADD = "/admin/steve/workflowversion/add/"


@pytest.fixture
def version(company) -> WorkflowVersion:
    return default_workflows(company)[0]


def _form(version: WorkflowVersion, **overrides: str) -> dict[str, str]:
    return {
        "workflow": version.workflow_id,
        "kind": version.kind,
        "upload": json.dumps(version.upload),
        "output_schema": json.dumps(version.output_schema),
        "review_threshold": "80",
        "fraud_policy": "",
        "sync_url": "",
        **overrides,
    }


@pytest.mark.parametrize("field", ["upload", "output_schema", "fraud_policy"])
def test_json_nested_too_deep_is_the_forms_error_not_a_500(admin_client, version, field):
    response = admin_client.post(ADD, _form(version, **{field: "[" * 5000 + "]" * 5000}))
    assert response.status_code == 200
    assert "nests deeper than 32 levels" in response.content.decode()
    assert WorkflowVersion.objects.filter(workflow=version.workflow).count() == 1


@pytest.mark.parametrize(("text", "says"), [("\\u0000", "NUL"), ("\\ud800", "lone surrogate")])
def test_a_schema_text_postgresql_cannot_store_is_the_forms_error(
    admin_client, version, text, says
):
    schema = dict(version.output_schema)
    schema["properties"] = {**schema["properties"], "note": {"type": "string"}}
    # The escape stays as typed: json.dumps would write the character itself.
    typed = json.dumps(schema).replace('"note": {', f'"note": {{"description": "{text}", ', 1)
    response = admin_client.post(ADD, _form(version, output_schema=typed))
    assert response.status_code == 200 and says in response.content.decode()
    assert WorkflowVersion.objects.filter(workflow=version.workflow).count() == 1


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("NaN", "not JSON compliant"),
        ("Infinity", "not JSON compliant"),
        ("-Infinity", "not JSON compliant"),
        pytest.param("1" + "0" * 5000, "4300 digits", id="5001-digits"),
    ],
)
@pytest.mark.parametrize("field", ["output_schema", "fraud_policy"])
def test_a_number_json_has_not_is_the_forms_error_as_typed_not_a_500(
    admin_client, version, field, number, says
):
    # Python's json reads NaN and Infinity (no JSON has them: the database refused the
    # text) and refuses an integer of over 4,300 digits with a ValueError of its own.
    typed = {
        "output_schema": json.dumps(version.output_schema).replace(
            '"type": "object"', f'"maxProperties": {number}, "type": "object"', 1
        ),
        "fraud_policy": f'{{"flag_threshold": {number}}}',
    }[field]
    response = admin_client.post(ADD, _form(version, **{field: typed}))
    assert response.status_code == 200
    page = response.content.decode()
    assert says in page and number[:50] in page
    assert WorkflowVersion.objects.filter(workflow=version.workflow).count() == 1


def test_a_schema_naming_a_member_twice_is_refused_not_saved_with_the_last(admin_client, version):
    # As the API refuses such a body: json keeps the last of the two, silently.
    schema = dict(version.output_schema)
    schema["properties"] = {**schema["properties"], "note": {"type": "string"}}
    typed = json.dumps(schema).replace('"note": {', '"note": {"type": "number", ', 1)
    response = admin_client.post(ADD, _form(version, output_schema=typed))
    assert response.status_code == 200
    assert "names a member more than once" in response.content.decode()
    assert WorkflowVersion.objects.filter(workflow=version.workflow).count() == 1


def _input_value(page: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
    return re.search(r'value="([^"]*)"', tag).group(1)


def test_a_version_the_service_refuses_at_the_save_is_the_form_again_as_typed(
    admin_client, version, monkeypatch
):
    # The form checks its version is still the latest (and locks the workflow); the
    # service checks again as it publishes. Here a publish gets in on the same
    # connection, past the lock, so the service's own check refuses: that was a 500,
    # and the settings typed were lost.
    posted = WorkflowVersionAdmin.save_form

    def published_meanwhile(admin_, request, form, change):
        workflow = version.workflow
        workflow_publish(
            company=workflow.company, slug=workflow.slug, name=workflow.name, review_threshold=55
        )
        return posted(admin_, request, form, change)

    monkeypatch.setattr(WorkflowVersionAdmin, "save_form", published_meanwhile)
    schema = {**version.output_schema, "description": "typed by the operator"}
    typed = _form(
        version,
        review_threshold="77",
        output_schema=json.dumps(schema),
        based_on=f"{version.workflow_id}:{version.version}",
    )
    response = admin_client.post(ADD, typed)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    page = response.content.decode()
    assert f"changed since this version was copied from v{version.version}" in page
    assert _input_value(page, "review_threshold") == "77"
    assert "typed by the operator" in page
    assert _input_value(page, "based_on") == f"{version.workflow_id}:{version.version}"
    # Nothing of the save stays (nor, here, the publish made in its transaction).
    assert list(WorkflowVersion.objects.filter(workflow=version.workflow)) == [version]


def test_a_based_on_version_in_other_digits_than_ascii_is_no_version_not_a_500(
    admin_client, version
):
    # The hidden field is the form's own, but a forged "²" passed str.isdigit() and
    # int() refused it. Not a version this form was filled from: saved as a new one.
    typed = _form(version, review_threshold="77", based_on=f"{version.workflow_id}:²")
    response = admin_client.post(ADD, typed)
    assert response.status_code == 302
    assert WorkflowVersion.objects.filter(workflow=version.workflow).count() == 2
