"""Output schemas a careless or hostile admin could publish: each is refused at publish
with its reason, or works at the API, on the desk and in corrections; none is a 500 or
holds a request for seconds."""

import copy
import json

import pytest
from django.urls import reverse

from jobs.defaults import kind_defaults
from steve.models import WorkflowVersion
from steve.workflow_rules import output_schema_errors, schema_refusal
from submissions.models import Submission
from tests.steve.test_admin_review_desk import ADD_VERSION, version_post
from tests.submissions.test_review_support import submission_with_file
from tests.time_guard import at_most

pytestmark = pytest.mark.django_db


def receipt_schema(**fields: object) -> dict[str, object]:
    schema = copy.deepcopy(kind_defaults("receipt")["output_schema"])
    schema["properties"].update(fields)
    return schema


def stored_as(submission: Submission, schema: dict[str, object]) -> None:
    """The schema on the submission's version, as a version published before a check."""
    WorkflowVersion.objects.filter(pk=submission.workflow_version_id).update(output_schema=schema)
    submission.refresh_from_db()


def correct_over_api(api, submission: Submission, fields: dict[str, object]):
    return api.post(
        f"/api/v1/submissions/{submission.pk}/corrections", {"fields": fields}, format="json"
    )


def correct_on_desk(ui, submission: Submission, field: str, value: str):
    return ui.post(
        reverse("review:correct", args=[submission.pk]),
        {"version": submission.version, "field": field, "value": value},
        HTTP_HX_REQUEST="true",
    )


SELF_REFERRING = {
    "root $ref": {"$ref": "#"},
    "root allOf $ref": {"allOf": [{"$ref": "#"}]},
    "$defs loop": {
        "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
        "$ref": "#/$defs/a",
    },
}


@pytest.mark.parametrize("extra", SELF_REFERRING.values(), ids=SELF_REFERRING.keys())
def test_a_schema_referring_to_itself_is_refused_at_publish(operator, workflows, extra):
    """Only a field's $ref was refused: the schema's own loop reached every correction
    as a RecursionError (a 500 over the API and on the desk)."""
    schema = {**receipt_schema(), **extra}
    [error] = output_schema_errors(schema)
    assert "$ref" in error
    response = operator.post(
        reverse(ADD_VERSION),
        version_post(workflows[0].workflow_id, output_schema=json.dumps(schema)),
    )
    assert response.status_code == 200
    assert "$ref" in str(response.context["adminform"].form.errors["output_schema"])


@pytest.mark.parametrize("extra", SELF_REFERRING.values(), ids=SELF_REFERRING.keys())
def test_a_correction_under_a_self_referring_schema_published_before_is_refused(
    api, ui, company, extra
):
    waiting = submission_with_file(company)
    stored_as(waiting, {**receipt_schema(), **extra})
    with at_most(5):
        response = correct_over_api(api, waiting, {"totalAmount": 12.5})
        desk = correct_on_desk(ui, waiting, "totalAmount", "12.50")
    assert response.status_code == 422, response.content
    [error] = response.json()["errors"]
    assert error["field"] == "fields.totalAmount" and "refers to itself" in error["message"]
    assert desk.status_code == 422 and "refers to itself" in desk.content.decode()


def test_type_lists_work_on_the_desk_over_the_api_and_in_getworkflow(api, ui, company):
    """["number", "null"] made the desk's page and its saves a 500 (a list is no set
    member) and getWorkflow's outputSchema a list where its schema says a string."""
    schema = receipt_schema(
        totalAmount={"type": ["number", "null"]},
        receiptNumber={"type": ["string", "null"], "minLength": 1},
        extra={"type": ["array", "string"]},
    )
    assert output_schema_errors(schema) == []
    waiting = submission_with_file(company)
    stored_as(waiting, schema)
    page = ui.get(reverse("review:detail", args=[waiting.pk]))
    assert page.status_code == 200
    assert correct_on_desk(ui, waiting, "totalAmount", "14.20").status_code == 200
    assert correct_on_desk(ui, waiting, "receiptNumber", "R-1").status_code == 200
    waiting.refresh_from_db()
    assert waiting.extracted_data["totalAmount"] == 14.2
    assert waiting.extracted_data["receiptNumber"] == "R-1"
    assert correct_over_api(api, waiting, {"extra": ["a"]}).status_code == 200
    version = waiting.workflow_version
    detail = api.get(f"/api/v1/workflows/{version.workflow.slug}/versions/{version.version}")
    assert detail.status_code == 200
    types = detail.json()["outputSchema"]
    assert (types["totalAmount"], types["receiptNumber"], types["extra"]) == (
        "number",
        "string",
        None,
    )


@pytest.mark.parametrize("field", [True, False], ids=["true", "false"])
def test_a_boolean_field_schema_is_refused_at_publish_and_survives_if_stored(
    api, ui, company, field
):
    assert output_schema_errors(receipt_schema(receiptNumber=field))
    waiting = submission_with_file(company)
    stored_as(waiting, receipt_schema(receiptNumber=field))
    version = waiting.workflow_version
    detail = api.get(f"/api/v1/workflows/{version.workflow.slug}/versions/{version.version}")
    assert detail.status_code == 200
    assert detail.json()["outputSchema"]["receiptNumber"] is None
    assert ui.get(reverse("review:detail", args=[waiting.pk])).status_code == 200
    saved = correct_on_desk(ui, waiting, "receiptNumber", "R-1")
    assert saved.status_code == (200 if field else 422)


@pytest.mark.parametrize("items", [True, {}, {"type": ["object", "string", "number"]}])
def test_line_items_a_schema_leaves_free_are_checked_without_a_500(api, company, items):
    """items: true let through rows with no quantity, or no object at all: the line
    items rule read row["quantity"] (KeyError, a 500)."""
    waiting = submission_with_file(company)
    stored_as(waiting, receipt_schema(lineItems={"type": "array", "items": items}))
    response = correct_over_api(api, waiting, {"lineItems": [{"a": 1}, "two", 3]})
    assert response.status_code == 200, response.content
    refused = correct_over_api(api, waiting, {"lineItems": [{"quantity": 0}]})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "fields.lineItems[0].quantity"


def test_more_fields_than_a_page_can_show_are_refused_at_publish():
    """20,000 fields fit in 256 KB; the desk took tens of seconds to draw them."""
    fields = {f"f{n}": {} for n in range(20_000)}
    with at_most(3):
        [error] = output_schema_errors(receipt_schema(**fields))
    assert "at most 500 fields" in error


def test_a_long_pattern_is_refused_at_publish_at_once():
    """A 200 KB pattern took seconds to check (compiled as Python's re and RE2)."""
    with at_most(2):
        [error] = output_schema_errors(receipt_schema(receiptNumber={"pattern": "(a|b)" * 40_000}))
    assert "at most 1000 characters" in error


@pytest.mark.parametrize(
    "field, value, fits",
    [
        ({"type": "string", "format": "iban"}, "not an iban", True),  # an unknown format
        ({"type": "number", "maximum": 10**400}, 12.5, True),
        ({"type": "integer"}, 12.5, False),
        ({"type": "integer"}, 12.0, True),
        ({"type": "string", "maxLength": 5.0}, "123456", False),
    ],
)
def test_odd_but_valid_keywords_are_published_and_checked(field, value, fits):
    schema = receipt_schema(receiptNumber=field)
    assert output_schema_errors(schema) == []
    assert (schema_refusal(schema, "receiptNumber", value) is None) is fits


def test_nesting_deeper_than_the_form_takes_is_refused_by_the_admin(operator, workflows):
    inner = '{"type":"object","properties":{"x":' * 1000 + "{}" + "}}" * 1000
    body = '{"type":"object","properties":{"merchantName":' + inner + "}}"
    with at_most(3):
        response = operator.post(
            reverse(ADD_VERSION), version_post(workflows[0].workflow_id, output_schema=body)
        )
    assert response.status_code == 200
    assert "nests deeper" in str(response.context["adminform"].form.errors["output_schema"])


def test_a_member_whose_schema_is_false_refuses_a_row_that_has_it(api, company):
    """jsonschema reports a false schema's refusal with no path: the refusal was dropped
    as not the field's, and a row with a member the schema forbids was stored."""
    items = copy.deepcopy(kind_defaults("receipt")["output_schema"]["properties"]["lineItems"])
    items["items"]["properties"]["sku"] = False
    schema = receipt_schema(lineItems=items)
    assert output_schema_errors(schema) == []
    waiting = submission_with_file(company)
    stored_as(waiting, schema)
    row = {"description": "Teh", "quantity": 1, "amount": 2.5}
    refused = correct_over_api(api, waiting, {"lineItems": [{**row, "sku": "A-1"}]})
    assert refused.status_code == 422, refused.content
    assert '"A-1" is not allowed' in refused.json()["errors"][0]["message"]
    assert correct_over_api(api, waiting, {"lineItems": [row]}).status_code == 200
