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


# The real routes' converters take no such slug or version: these were the router's
# generic NOT_FOUND, a code getWorkflow and getWorkflowVersion do not document.
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/workflows/receipt-ocr/versions/-1",
        "/api/v1/workflows/receipt-ocr/versions/latest",
        "/api/v1/workflows/sub-\u202eevil",
        "/api/v1/workflows/sub-\u202eevil/versions/1",
        "/api/v1/workflows/sub-\u202eevil/versions/latest",
        "/api/v1/workflows/nul%00slug",
    ],
)
def test_a_workflow_path_its_routes_refuse_answers_the_documented_404(api, workflows, path):
    response = api.get(path)
    assert response.status_code == 404, response.content
    problem = response.json()
    assert problem["code"] == "WORKFLOW_NOT_FOUND"
    assert "\u202e" not in problem["detail"] and "\u202e" not in problem["instance"]
    assert "\x00" not in problem["detail"]


def test_a_workflow_path_its_routes_refuse_still_needs_a_key(client, workflows):
    response = client.get("/api/v1/workflows/receipt-ocr/versions/latest")
    assert response.status_code == 401


def test_the_upload_block_names_every_rule_steve_applies_when_the_version_leaves_some_out(
    api, receipt_workflow
):
    """STEVE-API.md promises `upload` as {minFiles, maxFiles, acceptedFormats, fileLabels,
    maxFileSizeMb}; a version published without the last two (upload rules allow it) was
    served without them, while uploads were still held to 10 MB and labelled "file"."""
    workflow = receipt_workflow.workflow
    version = workflow_publish(
        company=workflow.company,
        slug=workflow.slug,
        name=workflow.name,
        upload={"minFiles": 1, "maxFiles": 2, "acceptedFormats": ["jpeg"]},
    )
    whole = {
        "minFiles": 1,
        "maxFiles": 2,
        "acceptedFormats": ["jpeg"],
        "fileLabels": ["file"],
        "maxFileSizeMb": 10,
    }
    for path in (
        f"/api/v1/workflows/{workflow.slug}",
        f"/api/v1/workflows/{workflow.slug}/versions/{version.version}",
    ):
        assert api.get(path).json()["upload"] == whole
    listed = {w["slug"]: w["upload"] for w in api.get("/api/v1/workflows").json()["data"]}
    assert listed[workflow.slug] == whole
    # The values served are the ones applied: a session's files are labelled so.
    created = api.post(
        f"/api/v1/workflows/{workflow.slug}/sessions",
        {"fileCount": 2, "contentTypes": ["image/jpeg"] * 2, "clientSubmissionId": "o-1"},
        format="json",
    )
    assert [u["label"] for u in created.json()["uploadUrls"]] == ["file", "file"]
    assert version.max_file_bytes == 10 * 1024 * 1024
