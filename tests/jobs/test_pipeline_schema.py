"""What the pipeline stores is what the workflow version's output schema can hold:
credit notes' negative totals, and versions published before totals could be negative."""

import copy
from functools import partial

import pytest
from django.urls import reverse

from jobs import pipeline
from jobs.models import WorkflowSession
from submissions.models import SubmissionStatus
from submissions.services import Actor, submission_correct_field
from tests.jobs.fakes import fake_extract_file
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

pytestmark = pytest.mark.django_db


def _credit_note(session, file, deadline, on_progress=None):
    pages, extraction = fake_extract_file(session, file)
    extraction.fields["totalAmount"] = -6.42
    extraction.evidence["totalAmount"] = [{"page": 0, "bbox": [0.7, 0.75, 0.8, 0.77]}]
    return pages, extraction


def _run_credit_note(api, monkeypatch) -> WorkflowSession:
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    monkeypatch.setattr(pipeline, "_extract_file", _credit_note)
    pipeline.run(body["sessionId"])
    return WorkflowSession.objects.select_related("submission").get(pk=body["sessionId"])


def test_a_credit_notes_negative_total_is_stored_and_a_reviewer_can_correct_to_one(
    api, workflows, monkeypatch
):
    submission = _run_credit_note(api, monkeypatch).submission
    assert submission.extracted_data["totalAmount"] == -6.42
    submission.status = SubmissionStatus.REVIEW  # the fake is sure; a reviewer looks anyway
    submission.save(update_fields=["status"])
    corrected = submission_correct_field(
        submission_id=submission.pk,
        field_name="totalAmount",
        raw_value="-6.40",
        actor=Actor.system(),
    )
    assert corrected.extracted_data["totalAmount"] == -6.4


def test_a_total_in_cents_is_kept_under_a_schema_asking_for_a_multiple_of_cents(
    api, workflows, receipt_workflow, monkeypatch
):
    """jsonschema divides binary floats: 19.99 was "not a multiple of 0.01" and dropped."""
    cents = copy.deepcopy(receipt_workflow.output_schema)
    cents["properties"]["totalAmount"] = {"type": "number", "multipleOf": 0.01}
    type(receipt_workflow).objects.filter(pk=receipt_workflow.pk).update(output_schema=cents)

    def read_19_99(session, file, deadline, on_progress=None):
        pages, extraction = fake_extract_file(session, file)
        extraction.fields["totalAmount"] = 19.99
        return pages, extraction

    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    monkeypatch.setattr(pipeline, "_extract_file", read_19_99)
    pipeline.run(body["sessionId"])
    session = WorkflowSession.objects.select_related("submission").get(pk=body["sessionId"])
    assert session.submission.extracted_data["totalAmount"] == 19.99


def test_a_value_an_older_versions_schema_cannot_hold_is_dropped_and_reviewed(
    api, ui, workflows, receipt_workflow, monkeypatch
):
    older = copy.deepcopy(receipt_workflow.output_schema)
    older["properties"]["totalAmount"] = {"type": "number", "minimum": 0}
    type(receipt_workflow).objects.filter(pk=receipt_workflow.pk).update(output_schema=older)
    submission = _run_credit_note(api, monkeypatch).submission
    assert submission.status == SubmissionStatus.REVIEW
    assert "totalAmount" not in submission.extracted_data
    assert "totalAmount" not in submission.field_confidences
    assert "totalAmount" in submission.review_flagged_fields
    kept = submission.evidence["totalAmount"]
    assert kept[0]["bbox"] == [0.7, 0.75, 0.8, 0.77]  # where it was read stays shown
    assert kept[-1]["read"] == -6.42 and "minimum" in kept[-1]["schema"]
    assert submission.extracted_data["merchantName"] == "Kedai Test"  # the rest is kept
    assert "Not stored, refused by the output schema: totalAmount." in submission.ai_summary
    page = ui.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert "Read <bdi>-6.42</bdi>, not stored: -6.42 is less than the minimum of 0" in page


def test_a_value_read_outside_an_admins_own_pattern_is_kept_with_the_fields_example(
    api, ui, workflows, receipt_workflow, monkeypatch
):
    """The refusal kept in the evidence said "does not match '^INV-\\\\d{6}$'"."""
    own = copy.deepcopy(receipt_workflow.output_schema)
    own["properties"]["receiptNumber"] = {
        "type": "string",
        "pattern": r"^INV-\d{6}$",
        "examples": ["INV-004211"],
    }
    type(receipt_workflow).objects.filter(pk=receipt_workflow.pk).update(output_schema=own)

    def read_4211(session, file, deadline, on_progress=None):
        pages, extraction = fake_extract_file(session, file)
        extraction.fields["receiptNumber"] = "4211"
        return pages, extraction

    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    monkeypatch.setattr(pipeline, "_extract_file", read_4211)
    pipeline.run(body["sessionId"])
    submission = WorkflowSession.objects.get(pk=body["sessionId"]).submission
    assert "receiptNumber" not in submission.extracted_data
    said = '"4211" is not in the form this field takes, e.g. INV-004211'
    assert submission.evidence["receiptNumber"][-1] == {"read": "4211", "schema": said}
    page = ui.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert (
        "Read <bdi>4211</bdi>, not stored: &quot;4211&quot; is not in the form this field takes"
        in page
    )


def test_a_field_an_admin_removed_from_a_closed_schema_is_not_stored(
    api, workflows, receipt_workflow, monkeypatch
):
    narrower = copy.deepcopy(receipt_workflow.output_schema)
    del narrower["properties"]["merchantName"]
    type(receipt_workflow).objects.filter(pk=receipt_workflow.pk).update(output_schema=narrower)
    monkeypatch.setattr(pipeline, "_extract_file", partial(fake_extract_file))
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    pipeline.run(body["sessionId"])
    submission = WorkflowSession.objects.get(pk=body["sessionId"]).submission
    assert "merchantName" not in submission.extracted_data
    assert submission.extracted_data["totalAmount"] == 12.5
    # Required of receipts, but this version has no place for it: no reviewer could fill
    # it in, so it is not flagged as missing.
    assert "merchantName" not in submission.review_flagged_fields


def test_a_field_is_checked_against_what_its_schema_refers_to(
    api, workflows, receipt_workflow, monkeypatch
):
    # The admin refuses $ref in a field (the review page reads each field's own schema),
    # but a version stored with one must not fail its submissions.
    schema = copy.deepcopy(receipt_workflow.output_schema)
    schema["$defs"] = {"money": {"type": "number", "minimum": 0}}
    schema["properties"]["totalAmount"] = {"$ref": "#/$defs/money"}
    type(receipt_workflow).objects.filter(pk=receipt_workflow.pk).update(output_schema=schema)
    submission = _run_credit_note(api, monkeypatch).submission
    assert submission.status == SubmissionStatus.REVIEW
    assert "totalAmount" not in submission.extracted_data
    assert "minimum" in submission.evidence["totalAmount"][-1]["schema"]


def test_a_reference_the_schema_does_not_define_refuses_the_field_not_the_submission(
    api, workflows, receipt_workflow, monkeypatch
):
    schema = copy.deepcopy(receipt_workflow.output_schema)
    schema["properties"]["totalAmount"] = {"$ref": "#/$defs/nowhere"}
    type(receipt_workflow).objects.filter(pk=receipt_workflow.pk).update(output_schema=schema)
    session = _run_credit_note(api, monkeypatch)
    assert session.state == "completed"
    assert "nowhere" in session.submission.evidence["totalAmount"][-1]["schema"]


@pytest.mark.parametrize("auto_approve", [True, False])
def test_a_field_the_versions_schema_requires_that_was_not_read_is_flagged_as_missing(
    api, workflows, receipt_workflow, monkeypatch, auto_approve
):
    """An admin published receiptNumber as required: a receipt read without it was
    auto-approved (only the kind's own required fields were checked), its extractedData
    invalid against the outputJsonSchema the integrator validates with."""
    submission = _processed_requiring(
        api, receipt_workflow, monkeypatch, ["receiptNumber", "totalAmount"], auto_approve
    )
    assert submission.status == SubmissionStatus.REVIEW
    assert submission.review_flagged_fields == ["receiptNumber"]


def test_a_receipt_with_every_field_the_schema_requires_is_still_auto_approved(
    api, workflows, receipt_workflow, monkeypatch
):
    submission = _processed_requiring(
        api, receipt_workflow, monkeypatch, ["merchantName", "totalAmount"], True
    )
    assert submission.status == SubmissionStatus.APPROVED


def _processed_requiring(api, receipt_workflow, monkeypatch, required, auto_approve):
    """A receipt run through the pipeline (fake extraction) under a version whose output
    schema requires ``required``."""
    schema = copy.deepcopy(receipt_workflow.output_schema)
    schema["required"] = required
    type(receipt_workflow).objects.filter(pk=receipt_workflow.pk).update(
        output_schema=schema, auto_approve=auto_approve
    )
    monkeypatch.setattr(pipeline, "_extract_file", partial(fake_extract_file))
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    pipeline.run(body["sessionId"])
    return WorkflowSession.objects.get(pk=body["sessionId"]).submission
