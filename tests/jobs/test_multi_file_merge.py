"""The files of one submission are merged field by field, each from the file most sure of
it, unless they read different values for it: then the field is no longer confident, its
evidence keeps every file's reading and the summary says the files disagree. Two receipts
of different shops sent as one submission came out as one receipt of neither (the name
and the total from one, the date and the number from the other), and went straight
through under auto-approve."""

from typing import Any

import pytest
from django.urls import reverse

from jobs import pipeline
from jobs.extraction import Extraction
from jobs.models import WorkflowSession
from jobs.pipeline import Merged
from steve.models import Environment
from steve.services import workflow_publish
from submissions.memory import Recall
from submissions.models import Submission, SubmissionFile
from tests.jobs.fixtures_docs import receipt_pdf
from tests.jobs.test_sessions_api import create
from tests.submissions.test_review_support import stored_file, submission_with_file

BOX = {"page": 0, "bbox": [0.1, 0.1, 0.8, 0.13], "line": 0}


def reading(fields: dict[str, Any], confidences: dict[str, float]) -> Extraction:
    """One file's extraction: every field with a box, and the confidences given."""
    return Extraction(
        kind="receipt",
        fields=fields,
        field_confidences=confidences,
        evidence={name: [dict(BOX)] for name in fields},
        pages_text=[" ".join(str(v) for v in fields.values())],
        confidence=0.9,
        certainty=0.9,
        summary=f"Receipt from {fields.get('merchantName')}.",
    )


def merged(*extractions: Extraction) -> Merged:
    result = Merged()
    for index, extraction in enumerate(extractions):
        result.add(index, extraction)
    return result


SHOP = {"merchantName": "KEDAI BUKU MAJU", "date": "2018-03-14", "totalAmount": 17.9}


def test_one_file_is_merged_as_it_was_read():
    alone = merged(reading(SHOP, {"merchantName": 0.9, "date": 0.97, "totalAmount": 0.95}))
    assert alone.fields == SHOP
    assert alone.confidences == {"merchantName": 0.9, "date": 0.97, "totalAmount": 0.95}
    assert alone.evidence == {name: [{"file": 0, **BOX}] for name in SHOP}
    assert alone.summaries == ["Receipt from KEDAI BUKU MAJU."]
    assert alone.disagreed == []


def test_files_that_agree_keep_the_most_confident_reading_and_only_its_boxes():
    # The same values written differently: case, spaces and points of a name, an amount's
    # zeros.
    other = {"merchantName": "Kedai  Buku. Maju", "date": "2018-03-14", "totalAmount": 17.90}
    both = merged(
        reading(SHOP, {"merchantName": 0.7, "date": 0.97, "totalAmount": 0.95}),
        reading(other, {"merchantName": 0.9, "date": 0.8, "totalAmount": 0.95}),
    )
    assert both.fields == {**SHOP, "merchantName": "Kedai  Buku. Maju"}
    assert both.confidences == {"merchantName": 0.9, "date": 0.97, "totalAmount": 0.95}
    assert both.evidence["merchantName"] == [{"file": 1, **BOX}]
    assert both.evidence["date"] == [{"file": 0, **BOX}]
    assert both.evidence["totalAmount"] == [{"file": 0, **BOX}]  # a tie: the first file
    assert both.disagreed == []
    assert both.summaries == ["Receipt from KEDAI BUKU MAJU.", "Receipt from Kedai  Buku. Maju."]


def test_files_that_read_different_values_leave_the_field_under_every_review_gate():
    other = {"merchantName": "RESTORAN SRI", "date": "2018-03-14", "totalAmount": 23.0}
    both = merged(
        reading(SHOP, {"merchantName": 0.9, "date": 0.97, "totalAmount": 0.95}),
        reading(other, {"merchantName": 0.95, "date": 0.97, "totalAmount": 0.8}),
    )
    assert both.disagreed == ["merchantName", "totalAmount"]
    # Still the most confident reading, but with no confidence: a threshold is 1-99.
    assert both.fields["merchantName"] == "RESTORAN SRI"
    assert both.fields["totalAmount"] == 17.9
    assert both.confidences == {"merchantName": 0.0, "date": 0.97, "totalAmount": 0.0}
    assert pipeline.flagged_fields("receipt", both, 1, {}) == ["merchantName", "totalAmount"]
    # Both files' boxes, and what each file read with its confidence.
    assert both.evidence["merchantName"] == [
        {"file": 0, **BOX},
        {"file": 1, **BOX},
        {"file": 0, "read": "KEDAI BUKU MAJU", "confidence": 0.9},
        {"file": 1, "read": "RESTORAN SRI", "confidence": 0.95},
    ]
    assert both.evidence["date"] == [{"file": 0, **BOX}]
    assert both.disagreement_sentence() == (
        "The files disagree on merchantName (file 1: KEDAI BUKU MAJU; file 2: RESTORAN SRI)"
        " and totalAmount (file 1: 17.90; file 2: 23.00)."
    )


def test_dates_and_amounts_are_compared_as_what_they_mean():
    first = {"date": "2018-03-14", "totalAmount": 18, "time": "10:25"}
    same = merged(
        reading(first, dict.fromkeys(first, 0.9)),
        reading(
            {"date": "2018-3-14", "totalAmount": 18.0, "time": "10:25"},
            {**dict.fromkeys(first, 0.9)},
        ),
    )
    assert same.disagreed == []
    different = merged(
        reading(first, dict.fromkeys(first, 0.9)),
        reading(
            {"date": "2018-03-15", "totalAmount": 18.01, "time": "10:26"},
            {**dict.fromkeys(first, 0.9)},
        ),
    )
    assert different.disagreed == ["date", "time", "totalAmount"]


def test_a_field_one_file_did_not_read_or_only_guessed_is_no_disagreement():
    # The back of the receipt: its terms taken for a shop's name at a guess's confidence,
    # a day and month that could swap (0.5), and no total at all.
    back = {"merchantName": "Goods sold are not returnable", "date": "2018-14-03"}
    both = merged(
        reading(SHOP, {"merchantName": 0.9, "date": 0.97, "totalAmount": 0.95}),
        reading(back, {"merchantName": 0.32, "date": 0.5}),
    )
    assert both.disagreed == []
    assert both.fields == SHOP
    assert both.confidences == {"merchantName": 0.9, "date": 0.97, "totalAmount": 0.95}
    assert both.evidence["merchantName"] == [{"file": 0, **BOX}]
    assert both.disagreement_sentence() == ""


def test_the_memory_does_not_give_back_the_confidence_a_disagreement_took(monkeypatch):
    other = {**SHOP, "merchantName": "RESTORAN SRI"}
    both = merged(
        reading(SHOP, {"merchantName": 0.9, "date": 0.97, "totalAmount": 0.95}),
        reading(other, {"merchantName": 0.95, "date": 0.97, "totalAmount": 0.95}),
    )
    recall = Recall(value="RESTORAN SRI", confidence=0.99, memory_ids=("mem_1",), corrections=4)
    monkeypatch.setattr(pipeline, "shop_memory", lambda **kwargs: {"merchantName": recall})
    pipeline.recall_shop(Submission(environment=Environment.PRODUCTION), both)
    assert both.fields["merchantName"] == "RESTORAN SRI"
    assert both.confidences["merchantName"] == 0.0


# The whole pipeline, reading generated receipts with a text layer.


@pytest.fixture
def auto_approve(company, workflows):
    """receipt-ocr approving straight through what clears its gate: 60, under which the
    generated receipt's address (0.69) would send every one of them to review."""
    spec = {"upload": {**workflows[0].upload, "maxFiles": 5}}
    return workflow_publish(
        company=company,
        slug="receipt-ocr",
        name="Receipt OCR",
        kind="receipt",
        output_schema=workflows[0].output_schema,
        review_threshold=60,
        auto_approve=True,
        **spec,
    )


def processed(api, *files: bytes, client_id: str) -> Submission:
    types = ["application/pdf"] * len(files)
    _, body, _ = create(api, fileCount=len(files), contentTypes=types, clientSubmissionId=client_id)
    for upload, data in zip(body["uploadUrls"], files, strict=True):
        path = upload["uploadUrl"].removeprefix("http://testserver")
        assert api.generic("PUT", path, data, content_type="application/pdf").status_code < 300
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    pipeline.run(body["sessionId"])
    session = WorkflowSession.objects.get(pk=body["sessionId"])
    assert session.state == "completed", session.failed_reason
    return Submission.objects.get(pk=session.submission_id)


@pytest.mark.django_db
def test_one_receipt_alone_goes_straight_through(api, auto_approve):
    alone = processed(api, receipt_pdf("KEDAI BUKU MAJU SDN BHD"), client_id="one")
    assert (alone.status, alone.review_flagged_fields) == ("approved", [])


@pytest.mark.django_db
def test_two_shops_receipts_in_one_submission_go_to_review_not_straight_through(
    api, ui, auto_approve
):
    two_shops = processed(
        api,
        receipt_pdf("KEDAI BUKU MAJU SDN BHD"),
        receipt_pdf("RESTORAN NASI KANDAR SRI"),
        client_id="two",
    )
    assert (two_shops.status, two_shops.fraud_status) == ("review", "clean")
    assert "merchantName" in two_shops.review_flagged_fields
    assert two_shops.field_confidences["merchantName"] == 0.0
    reads = [e for e in two_shops.evidence["merchantName"] if "read" in e]
    assert [(e["file"], e["read"]) for e in reads] == [
        (0, "KEDAI BUKU MAJU SDN BHD"),
        (1, "RESTORAN NASI KANDAR SRI"),
    ]
    assert {e["file"] for e in two_shops.evidence["merchantName"] if "bbox" in e} == {0, 1}
    assert (
        "The files disagree on merchantName (file 1: KEDAI BUKU MAJU SDN BHD; file 2: "
        "RESTORAN NASI KANDAR SRI)." in two_shops.ai_summary
    )
    decided = two_shops.events.get(to_status="review")
    assert "merchantName" in decided.details["flaggedFields"]
    # The desk shows what each file read beside the field, and both files' boxes, each
    # file named as its tab is (the workflow's fileLabels: "receipt").
    page = ui.get(reverse("review:detail", args=[two_shops.pk])).content.decode()
    assert (
        "Files disagree: receipt 1 read <bdi>KEDAI BUKU MAJU SDN BHD</bdi>; receipt 2 read "
        "<bdi>RESTORAN NASI KANDAR SRI</bdi>" in page
    )


@pytest.mark.django_db
def test_the_desk_names_the_files_that_disagree_as_their_tabs_do(ui, company):
    """The sentence said "file 1", "file 2" under tabs labelled "receipt 1", "bill 2": each
    file is named by its own label, a file without one as its tab names it ("file 3")."""
    submission = submission_with_file(company)
    for index, label in ((1, "bill"), (2, "")):
        stored_file(submission, index=index)
        SubmissionFile.objects.filter(submission=submission, file_index=index).update(label=label)
    reads = ["KEDAI BUKU", "RESTORAN SRI", "KEDAI <SRI>"]
    submission.evidence = {
        "merchantName": [
            {"file": n, "read": read, "confidence": 0.9} for n, read in enumerate(reads)
        ]
    }
    submission.save(update_fields=["evidence"])
    page = ui.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert all(f">{tab}</button>" in page for tab in ("receipt 1", "bill 2", "file 3"))
    assert (
        "Files disagree: receipt 1 read <bdi>KEDAI BUKU</bdi>; bill 2 read <bdi>RESTORAN SRI</bdi>; "
        "file 3 read <bdi>KEDAI &lt;SRI&gt;</bdi>" in page
    )
