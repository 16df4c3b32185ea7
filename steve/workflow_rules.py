"""What makes a workflow version usable: JSON Schemas of its upload rules and of its
output schema, checked before a version is saved (the admin's form uses them)."""

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
    return []
