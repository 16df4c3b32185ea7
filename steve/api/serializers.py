"""Wire shapes of the core resources."""

from typing import Any

from steve.models import Workflow, WorkflowVersion
from steve.timefmt import iso
from steve.workflow_rules import field_type


def workflow_version_data(version: WorkflowVersion, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": version.version,
        "kind": version.kind,
        "upload": version.upload_rules,
        "reviewThreshold": version.review_threshold,
        "autoApprove": version.auto_approve,
        "createdAt": iso(version.created_at),
    }
    if full:
        data["outputJsonSchema"] = version.output_schema
        data["outputSchema"] = {
            name: field_type(spec)
            for name, spec in version.output_schema.get("properties", {}).items()
        }
    return data


def workflow_data(workflow: Workflow, version: WorkflowVersion, *, full: bool = False) -> dict:
    return {
        "id": workflow.pk,
        "slug": workflow.slug,
        "name": workflow.name,
        "version": version.version,
        **{k: v for k, v in workflow_version_data(version, full=full).items() if k != "version"},
    }
