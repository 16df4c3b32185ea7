"""The workflows' API contract (steve.api.views): wire schemas, problem codes, docs.

Workflows are the core app's own objects; sessions (jobs) and submissions refer to
them through `WorkflowRef` and `SLUG_PARAM`.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter

from steve.api.schema import (
    DATETIME,
    FREE_OBJECT,
    STRING,
    additive,
    choices,
    docs,
    nullable,
    obj,
    ref,
    register_components,
    register_problems,
)
from steve.models import WorkflowVersion

WORKFLOW_REF = obj({"slug": STRING, "version": {"type": "integer"}})
UPLOAD_RULES = obj(
    {
        "minFiles": {"type": "integer"},
        "maxFiles": {"type": "integer"},
        "acceptedFormats": {"type": "array", "items": STRING},
        "fileLabels": {"type": "array", "items": STRING},
        "maxFileSizeMb": {"type": "number"},
    },
)
WORKFLOW = obj(
    {
        "id": additive(STRING),
        "slug": additive(STRING),
        "name": additive(STRING),
        "version": additive({"type": "integer"}),
        "kind": additive({"type": "string", "enum": choices(WorkflowVersion.Kind)}),
        "upload": UPLOAD_RULES,
        "reviewThreshold": additive({"type": "integer", "minimum": 1, "maximum": 99}),
        "autoApprove": additive({"type": "boolean"}),
        "createdAt": additive(DATETIME),
    }
)
WORKFLOW_DETAIL = {
    "allOf": [
        ref("Workflow"),
        obj(
            {
                "outputJsonSchema": {**FREE_OBJECT, "description": "JSON Schema of extractedData"},
                "outputSchema": {
                    "type": "object",
                    "additionalProperties": nullable(STRING),
                    "description": (
                        "Field name to JSON type (of a type list, its one type besides null; "
                        "null when the field names none or several)"
                    ),
                },
            }
        ),
    ]
}
register_components(
    {
        "WorkflowRef": WORKFLOW_REF,
        "Workflow": WORKFLOW,
        "WorkflowDetail": WORKFLOW_DETAIL,
        "WorkflowList": obj({"data": {"type": "array", "items": ref("Workflow")}}),
    }
)
register_problems({"WORKFLOW_NOT_FOUND": (404, "No such workflow (or version) in your company.")})

SLUG_PARAM = OpenApiParameter("slug", str, OpenApiParameter.PATH, description="Workflow slug")
WORKFLOW_LIST = docs(
    "listWorkflows",
    tag="workflows",
    summary="List the company's workflows",
    response="WorkflowList",
)
WORKFLOW_DETAIL_DOCS = docs(
    "getWorkflow",
    tag="workflows",
    summary="One workflow, latest version",
    response="WorkflowDetail",
    problems={404: ["WORKFLOW_NOT_FOUND"]},
)
WORKFLOW_VERSION_DOCS = docs(
    "getWorkflowVersion",
    tag="workflows",
    summary="An immutable workflow version contract",
    response="WorkflowDetail",
    problems={404: ["WORKFLOW_NOT_FOUND"]},
)
