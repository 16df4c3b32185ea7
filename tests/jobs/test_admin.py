"""The admin's workflow version form refuses JSON the database or json cannot take."""

import json

import pytest

from steve.models import WorkflowVersion
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
