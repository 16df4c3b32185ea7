"""What makes a workflow version usable: JSON Schemas of its upload rules and of its
output schema, checked before a version is saved (the admin's form uses them), and
whether a value fits a field of its output schema (the pipeline and corrections)."""

import json
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from steve.models import FORMAT_MIME

UPLOAD_RULES_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Upload rules",
    "type": "object",
    "required": ["minFiles", "maxFiles", "acceptedFormats"],
    "additionalProperties": False,
    "properties": {
        "minFiles": {"type": "integer", "minimum": 1, "maximum": 50},
        "maxFiles": {"type": "integer", "minimum": 1, "maximum": 50},
        "acceptedFormats": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": sorted(FORMAT_MIME)},
        },
        "fileLabels": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "maxFileSizeMb": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    },
}

# An output schema must describe an object of named fields (what the review page shows).
OUTPUT_SCHEMA_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["type", "properties"],
    "properties": {
        "type": {"const": "object"},
        "properties": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "object"},
        },
    },
}


def _messages(schema: dict[str, Any], value: Any, what: str) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{what}: {'/'.join(str(p) for p in error.absolute_path) or 'top level'}: {error.message}"
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    ]


def upload_rules_errors(upload: Any) -> list[str]:
    """Why these upload rules cannot work (empty: they can)."""
    errors = _messages(UPLOAD_RULES_SCHEMA, upload, "Upload rules")
    if not errors and upload["minFiles"] > upload["maxFiles"]:
        errors.append("Upload rules: minFiles is above maxFiles, so no upload could ever pass.")
    return errors


def output_schema_errors(schema: Any) -> list[str]:
    """Why this is not a usable JSON Schema of extracted data (empty: it is)."""
    import jsonschema

    errors = _messages(OUTPUT_SCHEMA_SHAPE, schema, "Output schema")
    if errors:
        return errors
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return [f"Output schema is not valid JSON Schema: {error.message}"]
    # The review page and the corrections read each field's own schema (its type, format
    # and items), so a field must not take them from elsewhere.
    referring = sorted(name for name, spec in schema["properties"].items() if _refers(spec))
    if referring:
        return [f"Output schema: {', '.join(referring)}: a field's schema cannot use $ref."]
    return []


def _refers(spec: Any) -> bool:
    """Whether a field's schema, at any depth, takes part of itself from elsewhere."""
    if isinstance(spec, dict):
        return any(k in ("$ref", "$dynamicRef") or _refers(v) for k, v in spec.items())
    return isinstance(spec, list) and any(_refers(item) for item in spec)


def schema_refusal(schema: dict[str, Any], name: str, value: Any) -> str | None:
    """Why the output schema cannot hold ``value`` as its field ``name`` (None: it can).

    The field is checked inside the whole schema, so its references ("$ref":
    "#/$defs/money") resolve; a reference that resolves nowhere refuses every value."""
    import jsonschema
    import referencing.exceptions

    validator = _exact_validator()(schema, format_checker=jsonschema.FormatChecker())
    try:
        for error in validator.iter_errors({name: value}):
            if list(error.absolute_path)[:1] == [name]:
                return _as_json(error.message, error.instance)
    except referencing.exceptions.Unresolvable as error:
        return f"the output schema refers to {error.ref!r}, which it does not define"
    return None


@cache
def _exact_validator() -> Any:
    """Draft 2020-12 with multipleOf checked on the numbers as written: jsonschema divides
    binary floats, so 19.99 was "not a multiple of 0.01" (1998.9999…) and a correct total
    was refused over the API, on the desk and in the pipeline alike."""
    import jsonschema

    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator, {"multipleOf": _multiple_of}
    )


def _multiple_of(validator: Any, divisor: Any, instance: Any, schema: Any) -> Iterator[Any]:
    import jsonschema

    if not validator.is_type(instance, "number"):
        return
    # repr is the shortest text that reads back as the float: the number as it was written.
    written = Decimal(repr(instance))
    if (
        not written.is_finite()
        or (Fraction(written) / Fraction(Decimal(repr(divisor)))).denominator != 1
    ):
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {divisor}")


def _as_json(message: str, instance: Any) -> str:
    """jsonschema names the value as Python writes it ("True is not of type 'number'");
    callers sent JSON (true, null, {"x": 1})."""
    python = repr(instance)
    if not message.startswith(python):
        return message
    try:
        written = json.dumps(instance, ensure_ascii=False)
    except (TypeError, ValueError):
        return message
    return written + message[len(python) :]
