import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.defaults import OUTPUT_SCHEMAS
from steve.services import workflow_publish
from tests.factories import CompanyFactory, default_workflows

pytestmark = pytest.mark.django_db


def test_a_published_versions_schema_is_its_own_not_the_default_it_came_from():
    receipt = default_workflows(CompanyFactory())[0]
    receipt.output_schema["properties"]["merchantName"] = {"type": "integer"}
    receipt.upload["maxFiles"] = 99
    assert OUTPUT_SCHEMAS[receipt.kind]["properties"]["merchantName"] != {"type": "integer"}
    again = default_workflows(CompanyFactory())[0]
    assert again.output_schema["properties"]["merchantName"] != {"type": "integer"}
    assert again.upload["maxFiles"] != 99


def test_the_workflow_list_reads_no_versions_output_schema(api, receipt_workflow, workflows):
    """Every version ever published, each with its whole output schema, was read to list
    the latest ones (which show no schema): 30 versions of a 1-MB schema took 0.3-1 s."""
    workflow = receipt_workflow.workflow
    for n in range(3):
        schema = {**receipt_workflow.output_schema, "title": f"edit {n}"}
        workflow_publish(
            company=workflow.company, slug=workflow.slug, name=workflow.name, output_schema=schema
        )
    with CaptureQueriesContext(connection) as queries:
        response = api.get("/api/v1/workflows")
    assert response.status_code == 200
    listed = {w["slug"]: w["version"] for w in response.json()["data"]}
    assert listed == {w.workflow.slug: (4 if w == receipt_workflow else 1) for w in workflows}
    reads = [q["sql"] for q in queries.captured_queries if "output_schema" in q["sql"]]
    assert not reads
