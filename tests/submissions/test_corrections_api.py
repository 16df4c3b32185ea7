"""Corrections over the API, and the correction memory they (and the review page) feed."""

import copy
import io
import math
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from jobs import pipeline
from steve.errors import ServiceError
from submissions.memory import Remembered, choose, memory_confidence, shop_keys
from submissions.models import MerchantMemory, Submission
from submissions.selectors import shop_memory
from submissions.services import (
    CORRECTION_MAX,
    MAX_LINE_ITEMS,
    Actor,
    LineItemRow,
    merchant_memory_forget,
    submission_correct_field,
    submission_correct_fields,
    submission_correct_line_items,
)
from tests import factories
from tests.factories import SubmissionFactory
from tests.jobs.fixtures_docs import receipt_pdf
from tests.time_guard import at_most

pytestmark = pytest.mark.django_db

SHOP_HEADER = ("GST ID: 000123456789", "TEL: 03-7781 2345")


def url(submission) -> str:
    return f"/api/v1/submissions/{submission.pk}/corrections"


def test_a_correction_is_stored_as_the_review_pages_event(api, company):
    waiting = SubmissionFactory(company=company)
    response = api.post(
        url(waiting),
        {"fields": {"merchantName": "Kedai Baru", "totalAmount": 13.4}, "expectedVersion": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["extractedData"]["merchantName"] == "Kedai Baru"
    assert body["fieldConfidences"]["totalAmount"] == 1.0
    assert body["version"] == 3  # one bump per changed field
    events = {e.details["field"]: e for e in waiting.events.filter(type="field_corrected")}
    assert events["totalAmount"].details == {"field": "totalAmount", "old": 12.5, "new": 13.4}
    assert events["merchantName"].actor_type == "api_key"


def test_api_corrections_are_trimmed_as_the_review_page_trims_them(api, company):
    """Stored with its spaces, a name taught the memory a value unlike the one OCR reads,
    and every later receipt of the shop got the padded name at lower confidence."""
    waiting = SubmissionFactory(company=company)
    fields = {"merchantName": "  POPULAR BOOK CO. (M) SDN BHD  "}
    response = api.post(url(waiting), {"fields": fields}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["extractedData"]["merchantName"] == "POPULAR BOOK CO. (M) SDN BHD"


def test_line_item_descriptions_are_trimmed_over_the_api_as_on_the_desk(api, company, reviewer):
    """Only top-level strings were trimmed over the API: a row's description kept its
    padding, while the desk stored the same row without it."""
    over_api, on_desk = SubmissionFactory(company=company), SubmissionFactory(company=company)
    padded = "\u00a0 Nasi lemak\t "
    items = [{"description": padded, "quantity": 2, "amount": 9.0}]
    response = api.post(url(over_api), {"fields": {"lineItems": items}}, format="json")
    assert response.status_code == 200, response.content
    submission_correct_line_items(
        submission_id=on_desk.pk,
        rows=[LineItemRow(description=padded, quantity="2", amount="9.00")],
        actor=Actor.for_user(reviewer),
    )
    over_api.refresh_from_db()
    on_desk.refresh_from_db()
    expected = [{"description": "Nasi lemak", "quantity": 2, "amount": 9.0}]
    assert over_api.extracted_data["lineItems"] == on_desk.extracted_data["lineItems"] == expected


def test_a_line_break_around_a_description_is_refused_on_the_desk_as_over_the_api(
    api, company, reviewer
):
    waiting = SubmissionFactory(company=company)
    items = [{"description": "Nasi lemak\n", "quantity": 1, "amount": 9.0}]
    response = api.post(url(waiting), {"fields": {"lineItems": items}}, format="json")
    assert response.status_code == 422
    with pytest.raises(ServiceError) as on_desk:
        submission_correct_line_items(
            submission_id=waiting.pk,
            rows=[LineItemRow(description="Nasi lemak\n", quantity="1", amount="9.00")],
            actor=Actor.for_user(reviewer),
        )
    reason = "the text has a line break or a control, bidi formatting or invisible character."
    assert on_desk.value.message.endswith(reason)
    assert response.json()["errors"][0]["message"].endswith(reason)
    waiting.refresh_from_db()
    assert "lineItems" not in waiting.extracted_data


def test_a_stale_expected_version_is_a_409_and_changes_nothing(api, company):
    waiting = SubmissionFactory(company=company)
    response = api.post(
        url(waiting), {"fields": {"merchantName": "X"}, "expectedVersion": 7}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "SUBMISSION_CHANGED"
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] == "Kedai Runcit"


def test_invalid_fields_are_a_422_per_field_and_nothing_is_stored(api, company):
    waiting = SubmissionFactory(company=company)
    response = api.post(
        url(waiting),
        {"fields": {"merchantName": "Fine", "totalAmount": "twelve", "colour": "red"}},
        format="json",
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("fields.totalAmount", "invalid"),
        ("fields.colour", "unknown_field"),
    }
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] == "Kedai Runcit"
    for body in ({}, {"fields": []}, {"fields": {"merchantName": "x"}, "expectedVersion": "1"}):
        assert api.post(url(waiting), body, format="json").status_code == 422


@pytest.mark.parametrize(("value", "written"), [(True, "true"), ({"x": None}, '{"x": null}')])
def test_a_refused_value_is_named_as_json_not_as_python(api, company, value, written):
    waiting = SubmissionFactory(company=company)
    response = api.post(url(waiting), {"fields": {"totalAmount": value}}, format="json")
    assert response.status_code == 422
    message = response.json()["errors"][0]["message"]
    assert f"{written} is not of type" in message
    assert "True" not in message and "None" not in message


def test_a_correction_longer_than_the_review_page_allows_is_a_422(api, company):
    waiting = SubmissionFactory(company=company)
    response = api.post(
        url(waiting),
        {
            "fields": {
                "merchantName": "X" * 2001,
                "lineItems": [{"description": "Y" * 100_000, "quantity": 1, "amount": 1.0}],
                "merchantAddress": "Z" * 2000,
            }
        },
        format="json",
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {
        "fields.merchantName",
        "fields.lineItems[0].description",
    }
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] == "Kedai Runcit"


def test_the_correction_service_refuses_a_long_line_item_description_as_the_desk_does(
    company, reviewer
):
    """The limit lived in the API view only: the service stored any length."""
    waiting = SubmissionFactory(company=company)
    long = "y" * (CORRECTION_MAX + 1)
    with pytest.raises(ServiceError) as typed:
        submission_correct_fields(
            submission_id=waiting.pk,
            values={"lineItems": [{"description": long, "quantity": 1, "amount": 3.0}]},
            actor=Actor.for_user(reviewer),
        )
    with pytest.raises(ServiceError) as on_the_desk:
        submission_correct_line_items(
            submission_id=waiting.pk,
            rows=[LineItemRow(description=long, quantity="1", amount="3.00")],
            actor=Actor.for_user(reviewer),
        )
    desk_message = on_the_desk.value.message
    assert desk_message == "Row 1: the description is at most 2000 characters."
    assert typed.value.errors == [
        {"field": "fields.lineItems[0].description", "message": desk_message, "code": "long"}
    ]
    waiting.refresh_from_db()
    assert "lineItems" not in waiting.extracted_data


# The middle row cleared (how a reviewer removes one): the refused row is still the third.
@pytest.mark.parametrize(
    ("row", "member", "message"),
    [
        (LineItemRow("", "1", "3.00"), "description", "Row 3: a description is needed."),
        (
            LineItemRow("Tea", "none", "3.00"),
            "quantity",
            "Row 3: the quantity must be a number above zero.",
        ),
        (
            LineItemRow("Tea", "1", "3,5"),
            "amount",
            "Row 3: enter the amount as a number, e.g. 12.50"
            " (a comma only separates thousands, as in 1,250.50).",
        ),
        (
            LineItemRow("Tea", "1", "99999999999999.9999"),
            "amount",
            "Row 3: the number has more digits than can be kept exactly.",
        ),
        (
            LineItemRow("Te\na", "1", "3.00"),
            "description",
            "Invalid line items: the text has a line break or a control, bidi formatting"
            " or invisible character.",
        ),
    ],
)
def test_a_refused_desk_line_item_names_its_row_and_member_as_the_api_does(
    company, reviewer, row, member, message
):
    """The desk's refusals named only "lineItems": its page could not mark the input to
    fix, only the whole form. They name the row (as the form numbers it, blank rows
    counted) and its member, as the API's errors do (fields.lineItems[2].amount); the
    code and message stay."""
    waiting = SubmissionFactory(company=company)
    with pytest.raises(ServiceError) as refused:
        submission_correct_line_items(
            submission_id=waiting.pk,
            rows=[LineItemRow("Milo", "1", "31.00"), LineItemRow(), row],
            actor=Actor.for_user(reviewer),
        )
    assert (refused.value.code, refused.value.status) == ("VALIDATION_ERROR", 422)
    assert refused.value.message == message
    assert [(e["field"], e["message"]) for e in refused.value.errors] == [
        (f"lineItems[2].{member}", message)
    ]


def test_a_line_item_description_of_the_limit_is_stored_over_the_api(api, company):
    waiting = SubmissionFactory(company=company)
    items = [{"description": "y" * CORRECTION_MAX, "quantity": 1, "amount": 3.0}]
    response = api.post(url(waiting), {"fields": {"lineItems": items}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["extractedData"]["lineItems"] == items


@pytest.mark.parametrize("amount", [12.34567, 1e-321, 0.30000000000000004])
def test_an_amount_with_more_than_four_decimals_is_refused_over_the_api(api, company, amount):
    """Stored as sent, a float's tail or a subnormal (1e-321) read as a real amount."""
    waiting = SubmissionFactory(company=company)
    items = [{"description": "Tea", "quantity": 1, "amount": amount}]
    response = api.post(
        url(waiting), {"fields": {"totalAmount": amount, "lineItems": items}}, format="json"
    )
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {"fields.totalAmount", "fields.lineItems[0].amount"}
    assert all("more than 4 decimal places" in message for message in errors.values())
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 12.5


@pytest.mark.parametrize("typed", ["12.34567", "1e-321"])
def test_the_desk_refuses_an_amount_with_more_than_four_decimals_as_the_api_does(
    company, reviewer, typed
):
    """The desk kept every decimal of a total and rounded a line item's to four."""
    waiting = SubmissionFactory(company=company)
    with pytest.raises(ServiceError, match="more than 4 decimal places"):
        correct(waiting, typed, reviewer, field="totalAmount")
    with pytest.raises(ServiceError, match="more than 4 decimal places"):
        submission_correct_line_items(
            submission_id=waiting.pk,
            rows=[LineItemRow(description="Tea", quantity="1", amount=typed)],
            actor=Actor.for_user(reviewer),
        )
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 12.5
    assert "lineItems" not in waiting.extracted_data


@pytest.mark.parametrize(
    "written", ["99999999999999.9999", "12345678901234.56789", "1.00000000000000001"]
)
def test_a_number_with_more_digits_than_are_kept_is_refused_over_the_api_as_on_the_desk(
    api, company, reviewer, written
):
    """The body was read into floats before any check: 99999999999999.9999 was stored as
    100000000000000, and 12345678901234.56789 (five decimals) as 12345678901234.568, which
    passed the four-decimals rule. The desk refuses them (docs/review.md)."""
    waiting = SubmissionFactory(company=company)
    row = f'{{"description": "Tea", "quantity": 1, "amount": {written}}}'
    body = f'{{"fields": {{"totalAmount": {written}, "lineItems": [{row}]}}}}'
    response = api.post(url(waiting), body.encode(), content_type="application/json")
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    errors = {e["field"]: e for e in problem["errors"]}
    assert set(errors) == {"fields.totalAmount", "fields.lineItems[0].amount"}
    for error in errors.values():
        assert error["code"] == "inexact_number"
        assert "more digits than can be kept exactly" in error["message"]
    with pytest.raises(ServiceError) as on_desk:
        correct(waiting, written, reviewer, field="totalAmount")
    assert on_desk.value.errors[0]["code"] == "inexact_number"
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 12.5
    assert "lineItems" not in waiting.extracted_data


def test_a_number_written_with_zeros_or_an_exponent_is_kept_over_the_api(api, company):
    """Only digits a stored number cannot keep are refused, not another way of writing it."""
    waiting = SubmissionFactory(company=company)
    body = b'{"fields": {"totalAmount": 123456789012.34560, "taxAmount": 6.42e1}}'
    response = api.post(url(waiting), body, content_type="application/json")
    assert response.status_code == 200, response.content
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 123456789012.3456
    assert waiting.extracted_data["taxAmount"] == 64.2


@pytest.mark.parametrize(
    "body, code",
    [
        (b'{"fields": {"totalAmount": NaN}}', "INVALID_JSON"),
        (b'{"fields": {"totalAmount": 1.5', "INVALID_JSON"),
        (b'{"fields": {"merchantName": "\\ud800"}}', "INVALID_UNICODE"),
    ],
)
def test_the_exact_number_parser_refuses_an_unreadable_body_as_every_endpoint_does(
    api, company, body, code
):
    waiting = SubmissionFactory(company=company)
    response = api.post(url(waiting), body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


def test_a_multiple_of_cents_is_checked_alike_on_the_desk_and_over_the_api(api, company, reviewer):
    """Under "multipleOf": 0.01 the desk rounded 12.345 to 12.35 where the API refused
    it, and both refused 19.99 (jsonschema divides binary floats: 1998.9999...)."""
    waiting = SubmissionFactory(company=company)
    version = waiting.workflow_version
    schema = copy.deepcopy(version.output_schema)  # not the shared default's own dict
    schema["properties"]["totalAmount"] = {"type": "number", "multipleOf": 0.01}
    version.output_schema = schema
    version.save()
    reason = "12.345 is not a multiple of 0.01."
    over_api = api.post(url(waiting), {"fields": {"totalAmount": 12.345}}, format="json")
    assert over_api.status_code == 422
    assert over_api.json()["errors"][0]["message"].endswith(reason)
    with pytest.raises(ServiceError) as on_desk:
        correct(waiting, "12.345", reviewer, field="totalAmount")
    assert on_desk.value.message.endswith(reason)
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 12.5

    response = api.post(url(waiting), {"fields": {"totalAmount": 19.99}}, format="json")
    assert response.status_code == 200, response.content
    correct(waiting, "0.07", reviewer, field="totalAmount")
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 0.07


def test_negative_zero_is_stored_as_zero_and_a_credit_notes_total_stays_negative(
    api, company, reviewer
):
    waiting = SubmissionFactory(company=company)
    items = [{"description": "Refund", "quantity": 1, "amount": -0.0}]
    fields = {"totalAmount": -0.0, "taxAmount": -6.42, "lineItems": items}
    response = api.post(url(waiting), {"fields": fields}, format="json")
    assert response.status_code == 200, response.content
    assert b"-0.0" not in response.content
    waiting.refresh_from_db()
    stored = waiting.extracted_data
    assert math.copysign(1, stored["totalAmount"]) == 1
    assert math.copysign(1, stored["lineItems"][0]["amount"]) == 1
    assert stored["taxAmount"] == -6.42
    correct(waiting, "-0", reviewer, field="taxAmount")  # typed on the desk
    waiting.refresh_from_db()
    assert waiting.extracted_data["taxAmount"] == 0
    assert math.copysign(1, waiting.extracted_data["taxAmount"]) == 1


def test_four_decimals_are_kept_exactly_by_the_desk_and_the_api(api, company, reviewer):
    waiting = SubmissionFactory(company=company)
    items = [{"description": "Diesel", "quantity": 40.125, "amount": 2.1575}]
    response = api.post(url(waiting), {"fields": {"lineItems": items}}, format="json")
    assert response.status_code == 200, response.content
    correct(waiting, "1,234.567", reviewer, field="totalAmount")
    waiting.refresh_from_db()
    assert waiting.extracted_data["lineItems"] == items
    assert waiting.extracted_data["totalAmount"] == 1234.567


def test_corrections_are_refused_outside_review_and_for_other_companies(api, company):
    approved = SubmissionFactory(company=company, status="approved")
    response = api.post(url(approved), {"fields": {"merchantName": "X"}}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "SUBMISSION_IS_APPROVED"
    foreign = SubmissionFactory()
    response = api.post(url(foreign), {"fields": {"merchantName": "X"}}, format="json")
    assert response.status_code == 404


def test_the_schema_documents_the_corrections_endpoint(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/submissions/{submission_id}/corrections"]["post"]
    assert operation["operationId"] == "correctSubmission"


def test_the_schema_gives_the_services_limits_for_line_items(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/submissions/{submission_id}/corrections"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    items = body["properties"]["fields"]["properties"]["lineItems"]
    assert items["maxItems"] == MAX_LINE_ITEMS
    assert items["items"]["properties"]["description"]["maxLength"] == CORRECTION_MAX


# --- correction memory ---------------------------------------------------------------------


def process_receipt(client: APIClient, data: bytes) -> Submission:
    response = client.post(
        "/api/v1/extraction-jobs",
        {"templateName": "receipt-ocr", "file": SimpleUploadedFile("r.pdf", data)},
        format="multipart",
    )
    assert response.status_code in (200, 201, 202), response.content
    job_id = response.json()["job"]["id"]
    pipeline.run(job_id)
    return Submission.objects.get(session__pk=job_id)


def test_a_corrected_merchant_is_given_to_the_next_receipt_of_that_shop_only_in_its_company(
    api, company, workflows, reviewer
):
    first = process_receipt(api, receipt_pdf("KEDAI BUKU MAJU", SHOP_HEADER))
    assert first.extracted_data["merchantName"] == "KEDAI BUKU MAJU"
    Submission.objects.filter(pk=first.pk).update(status="review")
    submission_correct_field(
        submission_id=first.pk,
        field_name="merchantName",
        raw_value="Kedai Buku Maju Sdn Bhd",
        actor=Actor.for_user(reviewer),
    )
    second = process_receipt(api, receipt_pdf("KEDAI BUKU MAJU", SHOP_HEADER))
    assert second.extracted_data["merchantName"] == "Kedai Buku Maju Sdn Bhd"
    assert second.ai_summary.startswith("Receipt from Kedai Buku Maju Sdn Bhd dated ")
    assert second.field_confidences["merchantName"] == memory_confidence(1, 0)
    memory = second.evidence["merchantName"][-1]
    assert memory["corrections"] == 1 and memory["memory"]

    other = factories.CompanyFactory()
    factories.default_workflows(other)
    other_api = APIClient()
    other_api.credentials(HTTP_AUTHORIZATION=f"Bearer {factories.api_key(other).secret}")
    theirs = process_receipt(other_api, receipt_pdf("KEDAI BUKU MAJU", SHOP_HEADER))
    assert theirs.extracted_data["merchantName"] == "KEDAI BUKU MAJU"


def test_a_forgotten_memory_is_no_longer_given(api, company, workflows, reviewer):
    first = SubmissionFactory(company=company, pages_text=["KEDAI X\nGST ID: 000123456789"])
    submission_correct_field(
        submission_id=first.pk,
        field_name="merchantName",
        raw_value="Kedai X Sdn Bhd",
        actor=Actor.for_user(reviewer),
    )
    memory = MerchantMemory.objects.get(company=company, key="gst:000123456789")
    assert (memory.value, memory.times_right) == ("Kedai X Sdn Bhd", 1)
    receipt = {"company_id": company.pk, "text": "KEDAI X\nGST ID: 000123456789"}
    recalled = shop_memory(**receipt, read_address=None, read_name=None)
    assert recalled["merchantName"].value == "Kedai X Sdn Bhd"
    merchant_memory_forget(memory_ids=[memory.pk])
    assert shop_memory(**receipt, read_address=None, read_name=None) == {}


def test_sandbox_corrections_never_enter_the_correction_memory(company, reviewer):
    text = "KEDAI Y\nGST ID: 000555666777"
    sandbox = SubmissionFactory(company=company, pages_text=[text], environment="sandbox")
    submission_correct_field(
        submission_id=sandbox.pk,
        field_name="merchantName",
        raw_value="Kedai Y Sdn Bhd",
        actor=Actor.for_user(reviewer),
    )
    assert not MerchantMemory.objects.filter(company=company).exists()


def test_a_sandbox_receipt_reads_nothing_from_the_correction_memory(company, reviewer):
    text = "KEDAI Z\nGST ID: 000111222333"
    production = SubmissionFactory(company=company, pages_text=[text])
    submission_correct_field(
        submission_id=production.pk,
        field_name="merchantName",
        raw_value="Kedai Z Sdn Bhd",
        actor=Actor.for_user(reviewer),
    )
    merged = pipeline.Merged(
        fields={"merchantName": "KEDAI Z"}, confidences={"merchantName": 0.5}, pages_text=[text]
    )
    pipeline.recall_shop(SubmissionFactory(company=company, environment="sandbox"), merged)
    assert merged.fields["merchantName"] == "KEDAI Z"
    pipeline.recall_shop(SubmissionFactory(company=company), merged)
    assert merged.fields["merchantName"] == "Kedai Z Sdn Bhd"


def test_shop_keys_read_tax_registration_and_phone_numbers_of_the_header():
    text = "ABC SDN BHD (123456-X)\nGST NO: 000987654321\nTEL: 03-5512 3456\nTOTAL 12.00"
    assert shop_keys(text) == ["gst:000987654321", "reg:123456X", "tel:0355123456"]


CHAIN = "SPEEDY MART SDN BHD (519537-X)\nGST NO: 000181747712"
BRANCH_A = "LOT 12, JALAN ANGSA,\nTAMAN BERKELEY 41150 KLANG, SELANGOR\n1245-DESA SRI HARTAMAS"
BRANCH_B = "LOT 12, JALAN ANGSA,\nTAMAN BERKELEY 41150 KLANG, SELANGOR\n1249-TMN PANDAN CAHAYA"
ADDRESS_A = "LOT 12, JALAN ANGSA, TAMAN BERKELEY 41150 KLANG, SELANGOR 1245-DESA SRI HARTAMAS"


def teach_address(company, reviewer, text: str, read: str, corrected: str) -> None:
    submission = SubmissionFactory(
        company=company,
        pages_text=[text],
        extracted_data={"merchantName": "SPEEDY MART SDN BHD", "merchantAddress": read},
    )
    submission_correct_field(
        submission_id=submission.pk,
        field_name="merchantAddress",
        raw_value=corrected,
        actor=Actor.for_user(reviewer),
    )


def test_another_branch_of_a_chain_does_not_get_the_corrected_branchs_address(company, reviewer):
    # The branches share the name, the registration and the GST number; only the
    # branch line tells them apart, and branch A's address is not printed on B's receipt.
    teach_address(company, reviewer, f"{CHAIN}\n{BRANCH_A}", "LOT 12, JALAN ANGSA", ADDRESS_A)
    assert MerchantMemory.objects.filter(company=company, key="gst:000181747712").exists()
    branch_b = {"company_id": company.pk, "text": f"{CHAIN}\n{BRANCH_B}"}
    recalled = shop_memory(**branch_b, read_address="LOT 12, JALAN ANGSA", read_name=None)
    assert "merchantAddress" not in recalled
    branch_a = {"company_id": company.pk, "text": f"{CHAIN}\n{BRANCH_A}"}
    again = shop_memory(**branch_a, read_address="TAMAN BERKELEY 41150", read_name=None)
    assert again["merchantAddress"].value == ADDRESS_A


def test_a_shop_without_phone_or_tax_number_is_recognised_by_its_name_as_read(company, reviewer):
    text = "RESTORAN WAN SHENG\nNO.2, JALAN TEMENGGUNG 19/9,\nSEKSYEN 9, 43200 CHERAS"
    address = "NO.2, JALAN TEMENGGUNG 19/9, SEKSYEN 9, 43200 CHERAS"
    submission = SubmissionFactory(
        company=company,
        pages_text=[text],
        extracted_data={"merchantName": "RESTORAN WAN SHENG", "merchantAddress": "NO.2"},
    )
    submission_correct_field(
        submission_id=submission.pk,
        field_name="merchantAddress",
        raw_value=address,
        actor=Actor.for_user(reviewer),
    )
    # The next receipt's address is read short again, and one character is misread.
    misread = text.replace("CHERAS", "CHERA5")
    recalled = shop_memory(
        company_id=company.pk,
        text=misread,
        read_address="SEKSYEN 9",
        read_name="RESTORAN WAN SHENG",
    )
    assert recalled["merchantAddress"].value == address


def test_an_address_is_printed_when_its_words_are_there_with_at_most_one_misread_letter_each():
    from submissions.memory import support

    text = "KEDAI MAJU\nN0.5, JALAN BESAR,\n45600 BATANG BERJUNTA1 SELANGOR"
    assert support("NO.5, JALAN BESAR, 45600 BATANG BERJUNTAI, SELANGOR", text) == 1.0
    assert support("NO.5, JALAN BESAR, 45600 BATANG BERJUNTAI, SELANGOR", "") == 0.0
    # Two misread letters in one word is another word; a branch suffix is not printed.
    assert support("BATANG BEKJUNTXI", text) < 0.5
    assert support("NO.5, JALAN BESAR, 45600 BATANG BERJUNTAI, PERAK DARUL RIDZUAN", text) < 0.8


def test_the_address_printed_best_wins_over_more_votes_for_a_branch_not_printed():
    text = f"{CHAIN}\n{BRANCH_A}"
    rows = [
        Remembered(
            "gst:000181747712", "merchantAddress", ADDRESS_A.replace("1245-DESA", "1249-TMN"), 9, 0
        ),
        Remembered("tel:0355123456", "merchantAddress", ADDRESS_A, 1, 0),
    ]
    keys = ["gst:000181747712", "tel:0355123456"]
    assert choose(rows, "merchantAddress", keys, text).value == ADDRESS_A


def test_the_review_page_says_how_many_corrections_a_recalled_value_comes_from(ui, company):
    from django.urls import reverse

    memory = MerchantMemory.objects.create(
        company=company, key="gst:000123456789", field="merchantName", value="Kedai Runcit"
    )
    recalled = SubmissionFactory(
        company=company,
        extracted_data={"merchantName": "Kedai Runcit"},
        evidence={"merchantName": [{"memory": [memory.pk], "corrections": 3}]},
    )
    page = ui.get(reverse("review:detail", args=[recalled.pk]))
    assert page.status_code == 200
    assert b"from 3 earlier corrections" in page.content


def test_approving_a_recalled_value_counts_the_memory_right_once_more(company, reviewer):
    from submissions.services import submission_approve

    memory = MerchantMemory.objects.create(
        company=company, key="gst:000123456789", field="merchantName", value="Kedai Runcit"
    )
    recalled = SubmissionFactory(
        company=company,
        evidence={"merchantName": [{"memory": [memory.pk], "corrections": 1}]},
    )
    submission_approve(submission_id=recalled.pk, actor=Actor.for_user(reviewer))
    memory.refresh_from_db()
    assert (memory.times_right, memory.times_wrong) == (2, 0)
    assert memory_confidence(memory.times_right, memory.times_wrong) == 0.75


def test_approving_a_receipt_read_right_remembers_its_merchant_for_the_next_misread(
    company, reviewer
):
    from submissions.services import submission_approve

    text = "KEDAI RUNCIT MAJU\nGST ID: 000444555666"
    read_right = SubmissionFactory(
        company=company, pages_text=[text], extracted_data={"merchantName": "KEDAI RUNCIT MAJU"}
    )
    submission_approve(submission_id=read_right.pk, actor=Actor.for_user(reviewer))
    memory = MerchantMemory.objects.get(company=company, key="gst:000444555666")
    assert (memory.field, memory.value, memory.times_right) == (
        "merchantName",
        "KEDAI RUNCIT MAJU",
        1,
    )
    misread = shop_memory(
        company_id=company.pk, text=text.replace("MAJU", "MAJLI"), read_address=None, read_name="X"
    )
    assert misread["merchantName"].value == "KEDAI RUNCIT MAJU"


def test_an_approval_does_not_count_a_correction_twice_nor_teach_from_the_sandbox(
    company, reviewer
):
    from submissions.services import submission_approve

    text = "KEDAI BESI\nGST ID: 000777888999"
    corrected = SubmissionFactory(company=company, pages_text=[text])
    submission_correct_field(
        submission_id=corrected.pk,
        field_name="merchantName",
        raw_value="Kedai Besi Sdn Bhd",
        actor=Actor.for_user(reviewer),
    )
    submission_approve(submission_id=corrected.pk, actor=Actor.for_user(reviewer))
    memory = MerchantMemory.objects.get(company=company, key="gst:000777888999")
    assert (memory.value, memory.times_right) == ("Kedai Besi Sdn Bhd", 1)

    sandbox = SubmissionFactory(
        company=company, pages_text=["KEDAI PASIR\nGST ID: 000111000111"], environment="sandbox"
    )
    submission_approve(submission_id=sandbox.pk, actor=Actor.for_user(reviewer))
    assert not MerchantMemory.objects.filter(key="gst:000111000111").exists()


def test_a_correction_the_reviewer_takes_back_is_no_longer_recalled(api, company):
    text = "UNIHAKKA INTERNATIONAL\nGST ID: 000999888777"
    waiting = SubmissionFactory(company=company, pages_text=[text])
    for name in ("TYPO NAME", "Unihakka International Sdn Bhd"):
        response = api.post(url(waiting), {"fields": {"merchantName": name}}, format="json")
        assert response.status_code == 200, response.content
    remembered = set(MerchantMemory.objects.filter(company=company).values_list("value", flat=True))
    assert remembered == {"Unihakka International Sdn Bhd"}
    recalled = shop_memory(
        company_id=company.pk, text=text, read_address=None, read_name="Kedai Runcit"
    )
    assert recalled["merchantName"].value == "Unihakka International Sdn Bhd"


def test_a_cleared_correction_is_forgotten_and_an_earlier_memory_counts_once_less(api, company):
    text = "KEDAI W\nGST ID: 000444333222"
    for value in ("Kedai W Sdn Bhd", "Kedai W Sdn Bhd"):  # two receipts taught it
        waiting = SubmissionFactory(company=company, pages_text=[text])
        api.post(url(waiting), {"fields": {"merchantName": value}}, format="json")
    memory = MerchantMemory.objects.get(company=company, key="gst:000444333222")
    assert memory.times_right == 2
    api.post(url(waiting), {"fields": {"merchantName": None}}, format="json")
    memory.refresh_from_db()
    assert memory.times_right == 1


@pytest.mark.parametrize(
    "value",
    [
        "   ",
        "\u200b",
        "\u202eRTL",
        "12:30\n",
        "Kedai\rBaru",
        "Kedai\u200bBaru",
        "\u200fKedai",
        "\u061cKedai",
        "Kedai\u2028Baru",
        "\ufeffKedai",
        "Ked\u00adai",
        "GIN\u034fKEE",
        "\u3164Kedai",
        "Kedai\u2800",
        "Ked\ufe0fai",
        "Kedai\u200dBaru",
    ],
    ids=[
        "blank",
        "zero-width",
        "bidi-override",
        "trailing-newline",
        "carriage-return",
        "zero-width-inside",
        "rtl-mark",
        "arabic-letter-mark",
        "line-separator",
        "byte-order-mark",
        "soft-hyphen",
        "grapheme-joiner",
        "hangul-filler",
        "braille-blank",
        "variation-selector",
        "joiner-between-latin-letters",
    ],
)
def test_blank_or_invisible_text_is_a_422_and_is_not_remembered(api, company, value):
    waiting = SubmissionFactory(company=company, pages_text=["KEDAI V\nGST ID: 000777666555"])
    response = api.post(url(waiting), {"fields": {"merchantName": value}}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == "fields.merchantName"
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] == "Kedai Runcit"
    assert not MerchantMemory.objects.filter(company=company).exists()


@pytest.mark.parametrize(
    "value",
    [
        "CAFE \u2764\ufe0f",  # an emoji's variation selector
        "1\ufe0f\u20e3 MART",  # a keycap
        "\U0001f468\u200d\U0001f469\u200d\U0001f467 FAMILY STORE",  # a joined emoji
        "\U0001f3f3\ufe0f\u200d\U0001f308 BAR",  # a flag built with a joiner
        "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f PUB",
        "\u0d05\u0d35\u0d28\u0d4d\u200d STORES",  # Malayalam chillu: a joiner after the virama
        "\u845b\U000e0100 SHOTEN",  # a kanji's variant
        "\u0dc1\u0dca\u200d\u0dbb\u0dd3 LANKA",  # Sinhala
        "\u0645\u0637\u0639\u0645",
    ],
)
def test_real_world_text_with_joiners_and_selectors_is_taken(api, company, value):
    waiting = SubmissionFactory(company=company)
    response = api.post(url(waiting), {"fields": {"merchantName": value}}, format="json")
    assert response.status_code == 200, response.content
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] == value


def test_a_number_too_large_to_be_finite_is_a_422_not_a_500(api, company):
    waiting = SubmissionFactory(company=company)
    for body in (
        b'{"fields": {"totalAmount": 1e400}}',
        b'{"fields": {"totalAmount": 1e30}}',
        b'{"fields": {"lineItems": [{"description": "Tea", "quantity": 1e400, "amount": 1}]}}',
        # A JSON integer of 400 digits: a Python int that float() cannot hold.
        b'{"fields": {"totalAmount": 1' + b"0" * 400 + b"}}",
        b'{"fields": {"lineItems": [{"description": "Tea", "quantity": 1, "amount": 1'
        + b"0" * 400
        + b"}]}}",
    ):
        response = api.post(url(waiting), body, content_type="application/json")
        assert response.status_code == 422, response.content
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 12.5


def test_a_large_correction_keeps_its_event_small_and_the_detail_bounded(api, company):
    waiting = SubmissionFactory(company=company)
    for n in range(3):
        row = {"quantity": 1, "amount": 1.0}
        items = [{"description": f"{n}-{i}".ljust(2000, "Y"), **row} for i in range(300)]
        response = api.post(url(waiting), {"fields": {"lineItems": items}}, format="json")
        assert response.status_code == 200, response.content
    api.post(url(waiting), {"fields": {"merchantName": "\u5e97" * 2000}}, format="json")
    events = waiting.events.filter(type="field_corrected").order_by("id")
    assert [e.details for e in events[:2]] == [
        {"field": "lineItems", "old": None, "omitted": ["new"]},
        {"field": "lineItems", "omitted": ["old", "new"]},
    ]
    # A text field's largest value is kept: the memory reads what Steve showed from it.
    assert events.last().details["new"] == "\u5e97" * 2000
    # The current 600 KB of line items once, not again in every event.
    assert len(api.get(f"/api/v1/submissions/{waiting.pk}").content) < 700_000
    waiting.refresh_from_db()
    assert waiting.extracted_data["lineItems"][0]["description"].startswith("2-0Y")


@pytest.mark.parametrize("quantity", [0, -1, 0.00001])
def test_a_line_item_quantity_not_above_zero_is_a_422_as_on_the_review_page(api, company, quantity):
    waiting = SubmissionFactory(company=company)
    item = {"description": "Tea", "quantity": quantity, "amount": 1.0}
    response = api.post(url(waiting), {"fields": {"lineItems": [item]}}, format="json")
    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == ["fields.lineItems[0].quantity"]
    waiting.refresh_from_db()
    assert "lineItems" not in waiting.extracted_data


TEA = {"description": "Tea", "quantity": 1, "amount": 1.0}


@pytest.mark.parametrize(
    ("item", "field", "code"),
    [
        ({**TEA, "amount": "12.50"}, "fields.lineItems[2].amount", "invalid"),
        ({**TEA, "amount": 12.34567}, "fields.lineItems[2].amount", "invalid"),
        ({**TEA, "amount": 1e30}, "fields.lineItems[2].amount", "invalid"),
        ({**TEA, "quantity": 0}, "fields.lineItems[2].quantity", "invalid"),
        ({**TEA, "description": ""}, "fields.lineItems[2].description", "invalid"),
        ({**TEA, "description": "Tea\nCake"}, "fields.lineItems[2].description", "invalid"),
        ({**TEA, "description": "y" * 2001}, "fields.lineItems[2].description", "long"),
        ({"description": "Tea", "quantity": 1}, "fields.lineItems[2].amount", "invalid"),
        ({**TEA, "colour": "red"}, "fields.lineItems[2].colour", "invalid"),
        ("Tea", "fields.lineItems[2]", "invalid"),
    ],
)
def test_a_line_item_refused_over_the_api_is_named_by_its_item_and_member(
    api, company, item, field, code
):
    """Every line item's refusal pointed at `fields.lineItems`, leaving the caller to find
    which of 300 items, and which of its members, was wrong."""
    waiting = SubmissionFactory(company=company)
    items = [TEA, TEA, item]
    response = api.post(url(waiting), {"fields": {"lineItems": items}}, format="json")
    assert response.status_code == 422, response.content
    problem = response.json()
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    assert problem["detail"].startswith(f"{field}: ")
    waiting.refresh_from_db()
    assert "lineItems" not in waiting.extracted_data


def test_a_workflow_version_whose_schema_allows_any_quantity_still_refuses_a_negative_one(
    api, company
):
    waiting = SubmissionFactory(company=company)
    version = waiting.workflow_version
    items = version.output_schema["properties"]["lineItems"]["items"]["properties"]
    items["quantity"] = {"type": "number"}  # as the schema was before quantities had a minimum
    version.save()
    item = {"description": "Tea", "quantity": -2, "amount": -3.0}
    response = api.post(url(waiting), {"fields": {"lineItems": [item]}}, format="json")
    assert response.status_code == 422, response.content
    assert "Row 1: the quantity must be a number above zero." in response.json()["detail"]


def test_more_line_items_than_the_review_page_takes_is_a_422(api, company):
    waiting = SubmissionFactory(company=company)
    items = [{"description": "Tea", "quantity": 1, "amount": 1.0}] * (MAX_LINE_ITEMS + 1)
    response = api.post(url(waiting), {"fields": {"lineItems": items}}, format="json")
    assert response.status_code == 422, response.content
    assert "At most 300 line items." in response.json()["detail"]
    ok = api.post(url(waiting), {"fields": {"lineItems": items[:-1]}}, format="json")
    assert ok.status_code == 200


def test_an_empty_list_clears_line_items_as_the_review_page_does(api, company):
    waiting = SubmissionFactory(company=company)
    waiting.extracted_data = {
        **waiting.extracted_data,
        "lineItems": [{"description": "Tea", "amount": 1.0}],
    }
    waiting.save()
    response = api.post(url(waiting), {"fields": {"lineItems": []}}, format="json")
    assert response.status_code == 200, response.content
    assert "lineItems" not in response.json()["extractedData"]


def test_a_body_of_thousands_of_unknown_fields_lists_a_bounded_number_of_errors(api, company):
    waiting = SubmissionFactory(company=company)
    fields = {f"f{n}": "x" for n in range(5000)}
    response = api.post(url(waiting), {"fields": fields}, format="json")
    assert response.status_code == 422
    assert len(response.json()["errors"]) == 50


def correct(submission, value: str, reviewer, field: str = "merchantName") -> None:
    submission_correct_field(
        submission_id=submission.pk,
        field_name=field,
        raw_value=value,
        actor=Actor.for_user(reviewer),
    )


def teach(company, reviewer, text: str, *, read: str, value: str) -> None:
    """A receipt read as ``read`` whose merchant name a reviewer corrects to ``value``."""
    first = SubmissionFactory(
        company=company, pages_text=[text], extracted_data={"merchantName": read}
    )
    correct(first, value, reviewer)


def recalled_receipt(company, text: str, read_name: str):
    """A receipt processed as the pipeline does: read, then given what the memory recalls."""
    merged = pipeline.Merged(
        fields={"merchantName": read_name}, confidences={"merchantName": 0.5}, pages_text=[text]
    )
    pipeline.recall_shop(SubmissionFactory(company=company), merged)
    return SubmissionFactory(
        company=company,
        pages_text=[text],
        extracted_data=merged.fields,
        field_confidences=merged.confidences,
        evidence=merged.evidence,
    )


def remembered(company) -> set[tuple[str, str, int, int]]:
    rows = MerchantMemory.objects.filter(company=company)
    return set(rows.values_list("key", "value", "times_right", "times_wrong"))


def test_correcting_a_value_the_memory_gave_overrules_it_under_every_key_it_came_from(
    company, reviewer
):
    text = "KEDAI BUKU MAJU\nGST ID: 000123456789"
    teach(company, reviewer, text, read="KEDAI BUKU MAJU", value="Kedai Wrong")
    given = recalled_receipt(company, text, "KEDAI BUKU MAJU")
    assert given.extracted_data["merchantName"] == "Kedai Wrong"
    assert given.evidence["merchantName"][-1]["read"] == "KEDAI BUKU MAJU"

    correct(given, "Kedai Buku Maju Sdn Bhd", reviewer)
    assert {value for _, value, _, _ in remembered(company)} == {"Kedai Buku Maju Sdn Bhd"}
    after = recalled_receipt(company, text, "KEDAI BUKU MAJU")
    assert after.extracted_data["merchantName"] == "Kedai Buku Maju Sdn Bhd"


def test_a_typo_corrected_back_leaves_the_memory_as_it_was(company, reviewer):
    text = "UNIHAKKA\nGST ID: 000999888777"
    for _ in range(2):
        teach(company, reviewer, text, read="UNIHAKKA", value="Unihakka Sdn Bhd")
    before = remembered(company)
    assert {right for _, _, right, _ in before} == {2}

    given = recalled_receipt(company, text, "UNIHAKKA")
    correct(given, "OOPS TYPO", reviewer)
    correct(given, "Unihakka Sdn Bhd", reviewer)
    assert remembered(company) == before


@pytest.mark.parametrize("decision", ["reject", "cancel"])
def test_a_rejected_or_cancelled_receipt_takes_back_what_its_corrections_taught(
    company, reviewer, decision
):
    from submissions import services

    text = "KEDAI BESI\nGST ID: 000777888999"
    teach(company, reviewer, text, read="KEDAI BESI", value="Kedai Besi Sdn Bhd")
    before = remembered(company)

    throwaway = SubmissionFactory(
        company=company, pages_text=[text], extracted_data={"merchantName": "KEDAI BESI"}
    )
    correct(throwaway, "JUNK FROM A THROWAWAY RECEIPT", reviewer)
    correct(throwaway, "NO. 1, JALAN JUNK 43000", reviewer, field="merchantAddress")
    assert remembered(company) != before
    decide = getattr(services, f"submission_{decision}")
    decide(submission_id=throwaway.pk, actor=Actor.for_user(reviewer), reason="not ours")
    assert remembered(company) == before


def test_forgetting_a_value_forgets_it_under_every_key_that_holds_it(company, reviewer):
    text = "KEDAI X\nGST ID: 000123456789\nTEL: 03-7781 2345"
    teach(company, reviewer, text, read="KEDAI X", value="Kedai X Sdn Bhd")
    other_shop = SubmissionFactory(company=company, pages_text=["KEDAI Y\nGST ID: 000111222333"])
    correct(other_shop, "Kedai Y Sdn Bhd", reviewer)
    assert len(remembered(company)) == 5  # gst, tel and name for X; gst and name for Y

    one = MerchantMemory.objects.filter(company=company, value="Kedai X Sdn Bhd").first()
    assert merchant_memory_forget(memory_ids=[one.pk]) == 3
    assert {value for _, value, _, _ in remembered(company)} == {"Kedai Y Sdn Bhd"}


def test_a_very_long_word_must_be_printed_exactly_to_support_an_address():
    from submissions.memory import support

    # One letter dropped would pass for a real word; for 2000 letters it is no address
    # word, and the one-slip search would take half a minute.
    assert support("A" * 2000, "A" * 1999) == 0.0
    assert support("A" * 2000, "A" * 2000) == 1.0


@pytest.mark.parametrize("order", ["first-taught-first", "last-taught-first"])
def test_cancelling_both_teaching_receipts_in_any_order_leaves_nothing_taught(
    company, reviewer, order
):
    from submissions.services import submission_cancel

    text = "GIN KEE\nGST ID: 000123456789"
    first = SubmissionFactory(
        company=company, pages_text=[text], extracted_data={"merchantName": "GIN KEE"}
    )
    correct(first, "GIN KEE HARDWARE", reviewer)
    second = recalled_receipt(company, text, "GIN KEE")
    correct(second, "GIN KEE SETAPAK", reviewer)
    both = [first, second] if order == "first-taught-first" else [second, first]
    for submission in both:
        submission_cancel(submission_id=submission.pk, actor=Actor.for_user(reviewer))
    assert remembered(company) == set()


def test_a_forgotten_value_does_not_come_back_when_a_correction_over_it_is_withdrawn(
    company, reviewer
):
    from submissions.services import submission_cancel

    text = "GIN KEE\nGST ID: 000123456789"
    first = SubmissionFactory(
        company=company, pages_text=[text], extracted_data={"merchantName": "GIN KEE"}
    )
    correct(first, "GIN KEE B", reviewer)
    other_reading = "GIN KE\nGST ID: 000123456789"
    later = recalled_receipt(company, other_reading, "GIN KE")
    correct(later, "GIN KEE C", reviewer)  # sets B aside under the tax number
    held_b = MerchantMemory.objects.get(company=company, key="name:GINKEE")
    assert held_b.value == "GIN KEE B"
    assert merchant_memory_forget(memory_ids=[held_b.pk]) == 2  # its row, and where it was aside
    submission_cancel(submission_id=later.pk, actor=Actor.for_user(reviewer))
    assert "GIN KEE B" not in {value for _, value, _, _ in remembered(company)}


def test_a_joiner_that_a_script_needs_is_kept(api, company):
    waiting = SubmissionFactory(company=company, pages_text=["KEDAI V\nGST ID: 000777666555"])
    name = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # Persian, with a ZWNJ
    response = api.post(url(waiting), {"fields": {"merchantName": name}}, format="json")
    assert response.status_code == 200, response.content


def test_a_correction_of_a_value_the_summary_names_puts_it_in_the_summary(api, company):
    summary = "Receipt from KED AI RUNCIT dated 2026-12-01 for MYR 12.50; total read under 2 cues."
    waiting = SubmissionFactory(company=company, ai_summary=summary)
    waiting.extracted_data["merchantName"] = "KED AI RUNCIT"
    waiting.save()
    fields = {"merchantName": "KEDAI RUNCIT", "totalAmount": 21.5}
    response = api.post(url(waiting), {"fields": fields}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["aiSummary"] == (
        "Receipt from KEDAI RUNCIT dated 2026-12-01 for MYR 21.50; total read under 2 cues."
    )


def test_a_summary_of_several_files_is_left_as_it_is(api, company):
    summary = "Receipt from A dated 2026-12-01 for MYR 12.50. Receipt from A for MYR 3.00."
    waiting = SubmissionFactory(company=company, ai_summary=summary)
    waiting.extracted_data["merchantName"] = "A"
    waiting.save()
    api.post(url(waiting), {"fields": {"merchantName": "B SDN BHD"}}, format="json")
    waiting.refresh_from_db()
    assert waiting.ai_summary == summary


def _summary_after(api, company, summary: str, data: dict, *corrections: dict) -> str:
    waiting = SubmissionFactory(company=company, ai_summary=summary, extracted_data=data)
    for fields in corrections:
        response = api.post(url(waiting), {"fields": fields}, format="json")
        assert response.status_code == 200, response.content
    waiting.refresh_from_db()
    return waiting.ai_summary


def test_a_name_the_memory_recalled_is_not_patched_into_the_name_the_reader_wrote(api, company):
    # The summary names the read "GIANT HYPERMARKET SDN BHD"; the memory gave the field
    # "GIANT HYPERMARKET". Replacing that would write "... KLANG LAMA SDN BHD".
    summary = "Receipt from GIANT HYPERMARKET SDN BHD dated 2026-01-31 for MYR 48.54."
    data = {"merchantName": "GIANT HYPERMARKET", "totalAmount": 48.54, "currency": "MYR"}
    after = _summary_after(
        api, company, summary, data, {"merchantName": "GIANT HYPERMARKET KLANG LAMA"}
    )
    assert after == summary


def test_a_cleared_and_refilled_field_reads_right_in_the_summary(api, company):
    summary = (
        "Receipt from KEDAI dated 2026-01-19 for MYR 48.54; total read under 2 cues; "
        "missing merchantAddress."
    )
    data = {"merchantName": "KEDAI", "date": "2026-01-19", "totalAmount": 48.54, "currency": "MYR"}
    after = _summary_after(
        api,
        company,
        summary,
        data,
        {"merchantName": None},
        {"merchantName": "cues"},
        {"merchantName": "BETTER NAME", "date": None, "totalAmount": None},
    )
    assert after == (
        "Receipt from BETTER NAME with no readable date with no readable total; "
        "total read under 2 cues; missing merchantAddress."
    )
    assert _summary_after(
        api,
        company,
        after,
        {"merchantName": "BETTER NAME", "currency": "MYR"},
        {"date": "2026-01-20", "totalAmount": 50, "merchantAddress": "1 JALAN X"},
    ) == ("Receipt from BETTER NAME dated 2026-01-20 for MYR 50.00; total read under 2 cues.")


@pytest.mark.parametrize(
    ("field", "new", "phrase"),
    [
        ("merchantName", "KEDAI BARU", "Receipt from KEDAI BARU dated"),
        ("date", "2026-01-20", "dated 2026-01-20 for"),
        ("totalAmount", 50, "for MYR 50.00"),
        ("totalAmount", None, "with no readable total"),
    ],
)
def test_a_correction_patches_the_summary_as_the_reader_writes_it(field, new, phrase):
    # The patch rebuilds the reader's phrases (jobs.extraction.summarise): this pins the two.
    from jobs.extraction.api import summarise
    from submissions.services import summary_with

    fields = {"merchantName": "KEDAI", "date": "2026-01-19", "totalAmount": 48.54}
    summary = summarise("receipt", {**fields, "currency": "MYR"}, {})
    patched = summary_with(summary, field, fields[field], new, "MYR")
    assert patched is not None and phrase in patched, (summary, patched)


@pytest.mark.parametrize("action", ["forget", "delete_selected"])
def test_forgetting_every_row_of_a_value_at_once_brings_back_the_value_before_it(
    client, company, reviewer, action
):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    text = "GIN KEE\nGST ID: 000123456789\nTEL: 03-7781 2345"
    teach(company, reviewer, text, read="GIN KEE", value="GIN KEE V1")
    correct(recalled_receipt(company, text, "GIN KEE"), "GIN KEE V2", reviewer)
    v2_rows = list(
        MerchantMemory.objects.filter(company=company, value="GIN KEE V2").values_list(
            "pk", flat=True
        )
    )
    assert len(v2_rows) == 3  # the tax number, the phone and the name

    operator = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-9876543")
    client.force_login(operator)
    response = client.post(
        reverse("admin:submissions_merchantmemory_changelist"),
        {"action": action, "_selected_action": v2_rows, "post": "yes"},
    )

    assert response.status_code == 302
    # V2 is forgotten once; V1, which the rows held before, is not forgotten with it.
    assert {value for _, value, _, _ in remembered(company)} == {"GIN KEE V1"}
    assert len(remembered(company)) == 3


def test_a_reviewers_first_correction_claims_before_it_is_recorded(company, reviewer):
    waiting = SubmissionFactory(company=company)
    submission_correct_field(
        submission_id=waiting.pk,
        field_name="merchantName",
        raw_value="Kedai Baru",
        actor=Actor.for_user(reviewer),
    )
    types = list(waiting.events.order_by("id").values_list("type", flat=True))
    assert types[-2:] == ["claimed", "field_corrected"]


def test_amounts_as_written_are_read_without_building_decimals(monkeypatch):
    """Two Decimals per number made reading a body of a few MB of numbers (the API takes
    25 MB) eleven times as long as json's own floats, seconds of a web worker's CPU; an
    amount of 15 digits or fewer with no exponent is exact as a float."""
    from steve import jsonnumbers
    from steve.api.parsers import ExactNumbersJSONParser

    built: list[object] = []

    def counted(value: object) -> object:
        built.append(value)
        return Decimal(value)

    monkeypatch.setattr(jsonnumbers, "Decimal", counted)
    amounts = ["12.50", "-0.5", "999999999999.99", "0.000000000001", "1234567890.12345"]
    body = f'{{"fields": {{"lineItems": [{", ".join(amounts * 200)}]}}}}'.encode()
    data = ExactNumbersJSONParser().parse(io.BytesIO(body), parser_context={})
    assert not built
    assert data["fields"]["lineItems"][:5] == [float(a) for a in amounts]
    # Longer or with an exponent, a number is still checked (and one inexact marked).
    parsed = ExactNumbersJSONParser().parse(
        io.BytesIO(b"[1.25e1, 12345678901234.56789]"), parser_context={}
    )
    assert len(built) == 4
    assert type(parsed[0]) is float and isinstance(parsed[1], jsonnumbers.InexactFloat)


def test_a_correction_against_a_backtracking_pattern_is_answered_at_once(api, company, reviewer):
    """Under "^(a+)+$" a 26-letter value took Python's re 2.7 s and every letter doubles
    it: a correction of 40 held a web thread for good. RE2 matches in linear time."""
    waiting = SubmissionFactory(company=company)
    version = waiting.workflow_version
    schema = copy.deepcopy(version.output_schema)  # not the shared default's own dict
    schema["properties"]["receiptNumber"] = {"type": "string", "pattern": "^(a+)+$"}
    version.output_schema = schema
    version.save()
    almost = "a" * 39 + "!"
    with at_most(5):
        over_api = api.post(url(waiting), {"fields": {"receiptNumber": almost}}, format="json")
        with pytest.raises(ServiceError) as on_desk:
            correct(waiting, almost, reviewer, field="receiptNumber")
        fits = api.post(url(waiting), {"fields": {"receiptNumber": "a" * 40}}, format="json")
    assert over_api.status_code == 422
    assert "(pattern ^(a+)+$)" in over_api.json()["errors"][0]["message"]
    assert "(pattern ^(a+)+$)" in on_desk.value.message
    assert fits.status_code == 200, fits.content
