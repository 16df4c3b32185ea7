"""The workflows every company starts with: receipts and invoices."""

import copy
from typing import Any

from jobs.extraction import OUTPUT_SCHEMAS
from steve.models import Company, WorkflowVersion
from steve.services import workflow_publish

DEFAULT_WORKFLOWS = [
    {
        "slug": "receipt-ocr",
        "name": "Receipt OCR",
        "kind": "receipt",
        "upload": {
            "minFiles": 1,
            "maxFiles": 5,
            "acceptedFormats": ["jpeg", "png", "webp", "pdf"],
            "fileLabels": ["receipt"],
            "maxFileSizeMb": 10,
        },
    },
    {
        "slug": "invoice",
        "name": "Invoice",
        "kind": "invoice",
        "upload": {
            "minFiles": 1,
            "maxFiles": 3,
            "acceptedFormats": ["pdf", "jpeg", "png", "webp"],
            "fileLabels": ["invoice"],
            "maxFileSizeMb": 20,
        },
    },
]


def publish_default_workflows(
    *, company: Company, auto_approve: bool = False
) -> list[WorkflowVersion]:
    return [
        workflow_publish(
            company=company,
            slug=spec["slug"],
            name=spec["name"],
            kind=spec["kind"],
            upload=spec["upload"],
            output_schema=OUTPUT_SCHEMAS[spec["kind"]],
            review_threshold=80,
            auto_approve=auto_approve,
        )
        for spec in DEFAULT_WORKFLOWS
    ]


def kind_defaults(kind: str) -> dict[str, Any]:
    """A new version's starting point for an extractor kind: its default upload rules
    and output schema, and the default review threshold."""
    spec = next((s for s in DEFAULT_WORKFLOWS if s["kind"] == kind), DEFAULT_WORKFLOWS[0])
    return {
        "kind": spec["kind"],
        "upload": copy.deepcopy(spec["upload"]),
        "output_schema": copy.deepcopy(OUTPUT_SCHEMAS[spec["kind"]]),
        "review_threshold": 80,
    }
