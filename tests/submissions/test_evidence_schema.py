"""A submission's `evidence` is described, not a free object: the schema's Evidence and
EvidenceEntry components name the members extraction and the pipeline store (docs/api.md,
"A submission's evidence"), and stay open to members added later."""

import json
from pathlib import Path

import pytest

from tests.factories import SubmissionFactory
from tests.openapi import SchemaMismatch, published_schema, validate_body

pytestmark = pytest.mark.django_db

RECORDED = Path(__file__).resolve().parents[1] / "jobs" / "data" / "pipeline_pages_recorded.json"
BOX = {"file": 0, "page": 1, "bbox": [0.1, 0.2, 0.5, 0.25], "line": 4}
EVIDENCE = {
    "totalAmount": [
        {**BOX, "shown": "17.90"},
        {**BOX, "faint": "Drawn faint.", "unchecked": "Not read again."},
        {**BOX, "faintPage": "Too faint to see."},
        {**BOX, "small": "Drawn too small to read."},
    ],
    "lineItems": [{**BOX, "item": 0}],
    "merchantName": [BOX, {"memory": ["mem_1"], "corrections": 3, "read": "KEDAI"}],
    "merchantAddress": [{"memory": ["mem_2"], "corrections": 1, "read": None}],
    "taxAmount": [{"read": -1.5, "schema": "-1.5 is less than the minimum of 0"}],
    "date": [
        BOX,
        {**BOX, "file": 1},
        {"file": 0, "read": "2018-03-14", "confidence": 0.97},
        {"file": 1, "read": "2018-03-15", "confidence": 0.9},
    ],
    "currency": [],
}


def components() -> dict:
    return published_schema()["components"]["schemas"]


def evidence_schema() -> dict:
    return components()["SubmissionDetail"]["properties"]["evidence"]


def test_the_detail_names_the_evidence_component_and_its_members():
    assert evidence_schema()["anyOf"][0] == {"$ref": "#/components/schemas/Evidence"}
    assert evidence_schema()["nullable"] is True
    entry = components()["EvidenceEntry"]
    assert set(entry["properties"]) == {
        *("file", "page", "bbox", "line", "item"),
        *("memory", "corrections", "read", "schema", "confidence"),
        *("shown", "faint", "small", "unchecked", "faintPage"),
    }
    assert entry["additionalProperties"] is True  # additive: a new member breaks no client


def test_every_kind_of_entry_the_pipeline_stores_is_valid_and_a_wrong_member_is_not():
    validate_body(evidence_schema(), EVIDENCE, "evidence")
    validate_body(evidence_schema(), {"totalAmount": [{**BOX, "later": True}]}, "evidence")
    with pytest.raises(SchemaMismatch):
        validate_body(evidence_schema(), {"totalAmount": [{**BOX, "line": "4"}]}, "evidence")
    with pytest.raises(SchemaMismatch):
        validate_body(evidence_schema(), {"totalAmount": {"page": 0}}, "evidence")
    with pytest.raises(SchemaMismatch):
        validate_body(evidence_schema(), {"date": [{"file": 0, "confidence": "high"}]}, "e")
    with pytest.raises(SchemaMismatch):
        validate_body(evidence_schema(), {"totalAmount": [{**BOX, "bbox": [0, 0, 1]}]}, "evidence")


def test_the_recorded_pipelines_evidence_uses_only_the_documented_members():
    documented = set(components()["EvidenceEntry"]["properties"])
    for run in json.loads(RECORDED.read_text()):
        validate_body(evidence_schema(), run["evidence"], "recorded evidence")
        used = {key for entries in run["evidence"].values() for e in entries for key in e}
        assert used <= documented, used - documented


def test_the_submission_detail_serves_it_as_described(api, company):
    submission = SubmissionFactory(company=company, status="review", evidence=EVIDENCE)
    # The API client checks every response against the published schema (tests/openapi).
    body = api.get(f"/api/v1/submissions/{submission.pk}").json()
    assert body["evidence"] == EVIDENCE
