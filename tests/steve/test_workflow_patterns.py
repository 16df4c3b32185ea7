"""An output schema's patterns are matched in bounded time (RE2), and its field names
are ones a page can show: checked when a version is published, and when one published
before is used."""

import copy
import json

import pytest

from jobs.defaults import kind_defaults
from steve.workflow_rules import output_schema_errors, schema_refusal
from tests.time_guard import at_most

BACKTRACKING = "^(a+)+$"  # Python's re: 2.7 s at 26 letters, twice that at each one more
ALMOST = "a" * 39 + "!"


def receipt_schema(**fields: object) -> dict[str, object]:
    schema = copy.deepcopy(kind_defaults("receipt")["output_schema"])
    schema["properties"].update(fields)
    return schema


@pytest.mark.parametrize(
    "field, says",
    [
        ({"type": "string", "pattern": r"^(\d)\1$"}, r"^(\d)\1$"),
        ({"type": "string", "pattern": "^(?!VOID)"}, "^(?!VOID)"),
        ({"type": "string", "pattern": "(?<=RM)[0-9]+"}, "(?<=RM)[0-9]+"),
        ({"type": "object", "patternProperties": {"^(?=x)": {}}}, "^(?=x)"),
        (
            {
                "type": "array",
                "items": {"type": "object", "properties": {"sku": {"pattern": r"(a)\1"}}},
            },
            r"(a)\1",
        ),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_publish(field, says):
    errors = output_schema_errors(receipt_schema(receiptNumber=field))
    assert len(errors) == 1
    assert says in errors[0]
    assert "backreferences" in errors[0] and "lookaround" in errors[0]


def test_a_backtracking_pattern_is_published_as_re2_runs_it_in_linear_time():
    schema = receipt_schema(receiptNumber={"type": "string", "pattern": BACKTRACKING})
    assert output_schema_errors(schema) == []


def test_an_ecma_unicode_escape_is_published_and_matched():
    """JSON Schema's patterns are ECMA-262's, which write a code point as \\uXXXX."""
    schema = receipt_schema(receiptNumber={"type": "string", "pattern": r"^No\u00b0\d+$"})
    assert output_schema_errors(schema) == []
    assert schema_refusal(schema, "receiptNumber", "No°12") is None
    assert schema_refusal(schema, "receiptNumber", "No12") is not None


def test_a_backtracking_pattern_refuses_a_long_value_at_once():
    schema = receipt_schema(receiptNumber={"type": "string", "pattern": BACKTRACKING})
    with at_most(5):
        refusal = schema_refusal(schema, "receiptNumber", ALMOST)
        fits = schema_refusal(schema, "receiptNumber", "a" * 40)
    assert refusal == f'"{ALMOST}" is not in the form this field takes (pattern {BACKTRACKING})'
    assert fits is None


@pytest.mark.parametrize(
    "field, refused, fits",
    [
        (
            {"type": "object", "patternProperties": {BACKTRACKING: {"type": "integer"}}},
            {"a" * 40: "x", ALMOST: "x"},
            {"a" * 40: 1, ALMOST: "x"},
        ),
        (
            {
                "type": "object",
                "patternProperties": {BACKTRACKING: {}},
                "additionalProperties": False,
            },
            {ALMOST: 1},
            {"a" * 40: 1},
        ),
        (
            {"type": "object", "propertyNames": {"pattern": BACKTRACKING}},
            {ALMOST: 1},
            {"a" * 40: 1},
        ),
    ],
)
def test_a_backtracking_pattern_property_checks_a_long_member_name_at_once(field, refused, fits):
    schema = receipt_schema(extra=field)
    with at_most(5):
        refusal = schema_refusal(schema, "extra", refused)
        allowed = schema_refusal(schema, "extra", fits)
    assert refusal is not None
    assert allowed is None


def test_unevaluated_properties_beside_pattern_properties_is_refused_at_publish():
    """jsonschema matches patternProperties with Python's re where it works out which
    members unevaluatedProperties has left: no custom keyword reaches it."""
    field = {
        "type": "object",
        "patternProperties": {BACKTRACKING: {}},
        "unevaluatedProperties": False,
    }
    [error] = output_schema_errors(receipt_schema(extra=field))
    assert "unevaluatedProperties" in error and "additionalProperties" in error
    with at_most(5):  # a version published before this check refuses, at once
        assert schema_refusal(receipt_schema(extra=field), "extra", {ALMOST: 1}) is not None


def test_a_pattern_a_version_was_published_with_that_re2_cannot_run_matches_nothing():
    schema = receipt_schema(
        receiptNumber={"type": "string", "pattern": r"^(a)\1$"},
        extra={"type": "object", "patternProperties": {"^(?=x)": {"type": "integer"}}},
    )
    assert schema_refusal(schema, "receiptNumber", "aa") is not None
    assert schema_refusal(schema, "extra", {"x": "not checked by the pattern's schema"}) is None


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 101, id="101 characters"),
        pytest.param("x" * 5000, id="5000 characters"),
        pytest.param("total\namount", id="line break"),
        pytest.param("total\x00", id="NUL"),
        pytest.param("\u202etotal", id="bidi override"),
        pytest.param("   ", id="blank"),
    ],
)
def test_a_field_name_a_page_cannot_show_is_refused_at_publish(name):
    [error] = output_schema_errors(receipt_schema(**{name: {"type": "string"}}))
    assert "1 to 100 characters" in error and "control" in error


@pytest.mark.parametrize(
    "name",
    [pytest.param("x" * 100, id="100 characters"), "montant total", "<b>total</b>", "合計"],
)
def test_a_field_name_of_up_to_100_characters_that_shows_is_published(name):
    """The review page escapes what it shows: "<b>" is shown as written."""
    assert output_schema_errors(receipt_schema(**{name: {"type": "string"}})) == []


@pytest.mark.parametrize("kind", ["receipt", "invoice"])
def test_the_default_output_schemas_pass_the_pattern_and_name_checks(kind):
    assert output_schema_errors(kind_defaults(kind)["output_schema"]) == []


def line_items_with(name: str) -> dict[str, object]:
    items = copy.deepcopy(kind_defaults("receipt")["output_schema"]["properties"]["lineItems"])
    items["items"]["properties"][name] = {"type": "string"}
    return items


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("x" * 101, id="101 characters"),
        pytest.param("sku\n", id="line break"),
        pytest.param("\u202esku", id="bidi override"),
        pytest.param("  ", id="blank"),
    ],
)
def test_a_nested_member_name_a_page_cannot_show_is_refused_at_publish_naming_its_path(name):
    """A line item's members are named on the review page and in the API's refusals
    (lineItems[2].<name>): only the top-level names were checked."""
    [error] = output_schema_errors(receipt_schema(lineItems=line_items_with(name)))
    shown = json.dumps(name[:40] + ("…" if len(name) > 40 else ""))
    assert f"lineItems.items.properties.{shown}" in error
    assert "1 to 100 characters" in error and "control" in error


def test_member_names_are_checked_at_any_depth_and_in_branches():
    field = {
        "anyOf": [
            {"type": "object", "properties": {"box": {"properties": {"a\tb": {}}}}},
            {"type": "null"},
        ]
    }
    [error] = output_schema_errors(receipt_schema(extra=field))
    assert 'extra.anyOf.0.properties.box.properties."a\\tb"' in error


def test_a_nested_member_name_that_shows_is_published_and_names_in_data_are_not_checked():
    items = line_items_with("x" * 100)
    items["examples"] = [[{"": "an example's member is data, not a name"}]]
    items["items"]["patternProperties"] = {"^\\s+$": {}}  # a pattern, not a name
    assert output_schema_errors(receipt_schema(lineItems=items)) == []
