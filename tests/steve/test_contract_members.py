"""The members Steve answers beyond its published contract are marked and listed.

STEVE-API.md (beside the seeds) names what an integrator may rely on: the workflow's
`upload` block and version contract, the session create's answer, the problem members;
the poll's shape is seed 000's. Steve answers more (additive, compatible members). Each
such member carries `x-steve-additive: true` in the served schema, and docs/api.md
("Members beyond STEVE-API.md") lists them, so neither can add one unnoticed.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from steve.api.schema import ADDITIVE_KEY
from tests.openapi import published_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"

# What the contract names for each component the endpoints of STEVE-API.md answer with.
PROMISED: dict[str, set[str]] = {
    # "A workflow's upload block"; the version contract adds its two schemas.
    "Workflow": {"upload"},
    "WorkflowDetail": {"upload", "outputJsonSchema", "outputSchema"},
    "WorkflowRef": {"slug", "version"},
    # POST /api/v1/workflows/{slug}/sessions: "Response: ..."
    "SessionCreated": {
        "sessionId",
        "submissionId",
        "state",
        "submissionStatus",
        "workflow",
        "uploadUrls",
        "expiresAt",
        "uploadUrlsExpireAt",
    },
    "UploadUrl": {"fileIndex", "uploadUrl", "r2Url", "contentType", "label"},
    # GET /api/v1/jobs/{sessionId} is "polling, seed 000", whose response names these;
    # the submit answers the same object ("state: submitted, submissionStatus: processing").
    "Job": {
        "sessionId",
        "submissionId",
        "workflow",
        "companyId",
        "state",
        "submissionStatus",
        "result",
        "failedReason",
        "clientSubmissionId",
        "metadata",
        "processedAt",
        "webhookDeliveryStatus",
    },
    "JobResult": {"extractedData", "confidence", "fraudStatus"},
    # "Errors (RFC 9457)": members type, title, status, detail, instance, requestId, errors.
    "Problem": {"type", "title", "status", "detail", "instance", "requestId", "errors"},
    # "POST /api/v1/webhooks/test sends a test event (5 s timeout)": no answer named.
    "WebhookTestResult": set(),
}
UPLOAD_BLOCK = {"minFiles", "maxFiles", "acceptedFormats", "fileLabels", "maxFileSizeMb"}


def members(name: str) -> dict[str, dict[str, Any]]:
    """A component's properties, those of an allOf's parts merged."""
    schema = published_schema()["components"]["schemas"][name]
    properties: dict[str, dict[str, Any]] = {}
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            properties.update(members(part["$ref"].rsplit("/", 1)[-1]))
        else:
            properties.update(part.get("properties", {}))
    return properties


def marked(name: str) -> set[str]:
    return {member for member, spec in members(name).items() if spec.get(ADDITIVE_KEY)}


def documented() -> dict[str, set[str]]:
    """docs/api.md's table under "Members beyond STEVE-API.md": component -> members."""
    section = DOCS.read_text().split("## Members beyond STEVE-API.md", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and (name := re.fullmatch(r"`(\w+)`", cells[0])):
            rows[name.group(1)] = set(re.findall(r"`(\w+)`", cells[2]))
    return rows


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_every_member_beyond_steve_api_md_is_marked_additive_and_no_promised_one(name):
    answered = set(members(name))
    assert PROMISED[name] <= answered, f"{name} lacks {PROMISED[name] - answered}"
    assert marked(name) == answered - PROMISED[name]


def test_the_upload_block_is_exactly_the_five_rules_steve_api_md_names():
    upload = members("Workflow")["upload"]
    assert set(upload["properties"]) == UPLOAD_BLOCK
    assert set(upload["required"]) == UPLOAD_BLOCK
    assert not any(spec.get(ADDITIVE_KEY) for spec in upload["properties"].values())


def test_docs_list_exactly_the_members_the_schema_marks_additive():
    additive = {name: marked(name) for name in PROMISED if marked(name)}
    assert documented() == additive


def test_no_component_outside_the_contracts_shapes_is_marked_additive():
    """The mark means "beyond STEVE-API.md": the other endpoints' shapes (review,
    webhook endpoints, extraction jobs) are contracts of their own, in their seeds."""
    others = set(published_schema()["components"]["schemas"]) - set(PROMISED)
    assert not {name for name in others if marked(name)}
