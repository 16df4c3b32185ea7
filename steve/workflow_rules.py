"""What makes a workflow version usable: JSON Schemas of its upload rules and of its
output schema, checked before a version is saved (the admin's form uses them), and
whether a value fits a field of its output schema (the pipeline and corrections)."""

import json
import re
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from functools import cache, lru_cache
from typing import Any

from steve.models import FORMAT_MIME
from steve.text import hides_text

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
        # A file's label is stored in 100 characters (SubmissionFile.label): a longer one
        # made every session of the version a 500.
        "fileLabels": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 100},
        },
        "maxFileSizeMb": {"type": "number", "exclusiveMinimum": 0, "maximum": 100},
    },
}

# An output schema is read at every submit and review and served whole by getWorkflow:
# the admin's form took up to the request body limit (25 MB). The default ones are ~1 KB.
MAX_OUTPUT_SCHEMA_KB = 256

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

    # First: checking a schema of many megabytes as JSON Schema takes seconds.
    size = len(json.dumps(schema, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_OUTPUT_SCHEMA_KB * 1024:
        return [
            f"Output schema: {size / 1024:,.0f} KB of JSON, above the {MAX_OUTPUT_SCHEMA_KB} KB "
            "an output schema may have (it is read at every submit and review)."
        ]
    # Before the JSON Schema check, which compiles every pattern with Python's re.
    if long := sorted({p for p in _patterns(schema) if len(p) > MAX_PATTERN}, key=len):
        return [
            f"Output schema: a pattern of {len(long[-1]):,} characters: a pattern is at most "
            f"{MAX_PATTERN} characters (patternProperties' names too)."
        ]
    # Before the shape check too, which reads every field (0.3 s for 20,000).
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if isinstance(properties, dict) and len(properties) > MAX_FIELDS:
        return [
            f"Output schema: {len(properties):,} fields: an output schema has at most "
            f"{MAX_FIELDS} fields (the review page shows every one)."
        ]
    errors = _messages(OUTPUT_SCHEMA_SHAPE, schema, "Output schema")
    if errors:
        return errors
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        return [f"Output schema is not valid JSON Schema: {error.message}"]
    # The review page and the corrections read each field's own schema (its type, format
    # and items), so a field must not take them from elsewhere.
    if errors := _field_name_errors(schema["properties"]) or _pattern_errors(schema):
        return errors
    referring = sorted(name for name, spec in schema["properties"].items() if _refers(spec))
    if referring:
        return [f"Output schema: {', '.join(referring)}: a field's schema cannot use $ref."]
    # Nor the schema around them: its "$ref": "#" (or a loop of $defs) reached every
    # correction as a RecursionError, and no field may use what $defs hold.
    if _refers(schema):
        return [
            "Output schema: $ref (or $dynamicRef) cannot be used: each field's schema says "
            "all of its form, and a schema's reference to itself never ends."
        ]
    # Such a field was dropped from every extraction and refused at every correction: a
    # required one stayed missing for good.
    empty = sorted(name for name, spec in schema["properties"].items() if _holds_nothing(spec))
    if empty:
        return [f"Output schema: {', '.join(empty)}: no value fits this field's schema."]
    return []


# The review page shows every field (20,000 fit in 256 KB and took it tens of seconds);
# the default schemas have 9 and 10.
MAX_FIELDS = 500
# A pattern says a field's form (a date's is 25 characters): one of 200 KB took seconds
# to check, compiled by Python's re (JSON Schema's check of "regex") and by RE2.
MAX_PATTERN = 1000

# The review page shows a field by its name (its label's title, its input's id), and
# MerchantMemory and events store it: longer names are documents, not names.
MAX_FIELD_NAME = 100


def _field_name_errors(properties: dict[str, Any]) -> list[str]:
    """A field named "", by 5,000 characters, or by a line break, NUL or bidi override
    published: no page shows it as a name. A member of a field's objects (a line item's)
    is named by the same rules, at any depth: the desk shows them and the API's refusals
    name them (lineItems[2].<name>)."""
    bad = [_shown_name(name) for name in properties if _unshowable(name)]
    nested = [
        f"{_shown_name(name) if _unshowable(name) else name}.{path}"
        for name, spec in properties.items()
        for path in _bad_members(spec)
    ]
    if not bad and not nested:
        return []
    rules = (
        f"is 1 to {MAX_FIELD_NAME} characters, not all spaces, with no control or invisible "
        "characters (line breaks, bidi marks)."
    )
    errors = [f"Output schema: {', '.join(bad)}: a field's name {rules}"] if bad else []
    if nested:
        errors.append(f"Output schema: {', '.join(nested[:10])}: a member's name {rules}")
    return errors


def _unshowable(name: str) -> bool:
    return not 0 < len(name) <= MAX_FIELD_NAME or not name.strip() or hides_text(name, allowed="")


def _shown_name(name: str) -> str:
    return json.dumps(name[:40] + ("…" if len(name) > 40 else ""))


def _bad_members(schema: Any) -> Iterator[str]:
    """The schema paths ("items.properties."a\\nb"") of the members named in a field's
    schema, at any depth, that a page cannot show; a name in data (examples) or a
    pattern (patternProperties) is no member's name."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from (f"{index}.{path}" for path in _bad_members(item))
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key in DATA_KEYWORDS or not isinstance(value, dict | list):
            continue
        if key in NAMED_SCHEMAS and isinstance(value, dict):
            for name, subschema in value.items():
                if key == "properties" and _unshowable(name):
                    yield f"{key}.{_shown_name(name)}"
                else:
                    yield from (f"{key}.{name}.{path}" for path in _bad_members(subschema))
        else:
            yield from (f"{key}.{path}" for path in _bad_members(value))


# Keywords whose values are data, not schemas: a "pattern" in an example is no pattern.
DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})
# Keywords whose values map names (not keywords) to schemas: a field may be "pattern".
NAMED_SCHEMAS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})


def _patterns(schema: Any) -> Iterator[str]:
    """Every regular expression of a schema, at any depth: its patterns and the names
    of its patternProperties."""
    if isinstance(schema, list):
        for item in schema:
            yield from _patterns(item)
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        if key == "pattern" and isinstance(value, str):
            yield value
        elif key in NAMED_SCHEMAS and isinstance(value, dict):
            if key == "patternProperties":
                yield from value
            for subschema in value.values():
                yield from _patterns(subschema)
        elif key not in DATA_KEYWORDS:
            yield from _patterns(value)


def _uses(schema: Any, keyword: str) -> bool:
    """Whether ``keyword`` is used at any depth of a schema (or a name in it is it)."""
    if isinstance(schema, dict):
        return keyword in schema or any(_uses(v, keyword) for v in schema.values())
    return isinstance(schema, list) and any(_uses(item, keyword) for item in schema)


def _pattern_errors(schema: dict[str, Any]) -> list[str]:
    """Patterns are matched by RE2, in time linear in the value: Python's re took 2.7 s to
    refuse 26 letters under "^(a+)+$", twice as long for each more, holding a web thread
    or a worker. RE2 runs no backreference or lookaround, so they cannot be published."""
    errors = [
        f"Output schema: the pattern {pattern} cannot be matched in bounded time ({why}): "
        "backreferences (\\1) and lookaround ((?=, (?!, (?<=, (?<!) are not supported, "
        "nor repeats above {1000}; write it without them."
        for pattern in dict.fromkeys(_patterns(schema))
        if (why := _re2_refusal(pattern))
    ]
    if _uses(schema, "unevaluatedProperties") and _uses(schema, "patternProperties"):
        errors.append(
            "Output schema: unevaluatedProperties cannot be used with patternProperties "
            "(its members' names would be matched without a time bound); use "
            "additionalProperties."
        )
    return errors


# JSON Schema's types as disjoint sets: "number" is the integers and the fractions.
ALL_TYPES = frozenset({"null", "boolean", "object", "array", "string", "integer", "fraction"})
# A type's lower and upper bounds (and their exclusive forms), which cross only when
# the field holds nothing but that type.
NUMBER_BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")
BOUNDS = {
    frozenset({"integer", "fraction"}): NUMBER_BOUNDS,
    frozenset({"integer"}): NUMBER_BOUNDS,
    frozenset({"fraction"}): NUMBER_BOUNDS,
    frozenset({"string"}): ("minLength", None, "maxLength", None),
    frozenset({"array"}): ("minItems", None, "maxItems", None),
    frozenset({"object"}): ("minProperties", None, "maxProperties", None),
}


def _holds_nothing(spec: Any) -> bool:
    """Whether no value can fit this (valid, $ref-free) field schema, by the plain ways
    one is written so: false, not {}, no type left, an enum none of whose members fits,
    bounds that cross, or a combination that leaves nothing. Not every such schema."""
    if spec is False:
        return True
    if not isinstance(spec, dict):
        return False
    if spec.get("not") is True or spec.get("not") == {}:
        return True
    types = _types(spec)
    if not types or any(_holds_nothing(part) for part in spec.get("allOf", [])):
        return True
    if any(
        key in spec and not any(_fits_some(part, types) for part in spec[key])
        for key in ("anyOf", "oneOf")
    ):
        return True
    candidates = [spec["const"]] if "const" in spec else spec.get("enum")
    if candidates is not None:
        validator = _exact_validator()(spec)
        return not any(validator.is_valid(candidate) for candidate in candidates)
    return _bounds_cross(spec, types)


def _fits_some(part: Any, types: frozenset[str]) -> bool:
    """Whether a branch of anyOf/oneOf holds a value of one of the field's types."""
    if isinstance(part, dict) and not types & _types(part):
        return False
    return not _holds_nothing(part)


def _types(spec: dict[str, Any]) -> frozenset[str]:
    """The types a value may have under this schema's `type` and its allOf's."""
    allowed = ALL_TYPES
    for part in [spec, *(p for p in spec.get("allOf", []) if isinstance(p, dict))]:
        named = part.get("type")
        if named is None:
            continue
        names = {named} if isinstance(named, str) else set(named)
        if "number" in names:
            names |= {"integer", "fraction"}
        allowed = allowed & names
    return allowed


def _bounds_cross(spec: dict[str, Any], types: frozenset[str]) -> bool:
    if types not in BOUNDS:
        return False
    low_key, low_open_key, high_key, high_open_key = BOUNDS[types]
    lows = [(spec[k], k == low_open_key) for k in (low_key, low_open_key) if k and k in spec]
    highs = [(spec[k], k == high_open_key) for k in (high_key, high_open_key) if k and k in spec]
    return any(
        low > high or (low == high and (low_open or high_open))
        for low, low_open in lows
        for high, high_open in highs
    )


def _refers(spec: Any) -> bool:
    """Whether a field's schema, at any depth, takes part of itself from elsewhere."""
    if isinstance(spec, dict):
        return any(k in ("$ref", "$dynamicRef") or _refers(v) for k, v in spec.items())
    return isinstance(spec, list) and any(_refers(item) for item in spec)


def schema_refusal(schema: dict[str, Any], name: str, value: Any) -> str | None:
    """Why the output schema cannot hold ``value`` as its field ``name`` (None: it can).

    The field is checked inside the whole schema, so its references ("$ref":
    "#/$defs/money") resolve; a reference that resolves nowhere refuses every value."""
    refusal = schema_refusal_at(schema, name, value)
    return refusal[1] if refusal else None


# Where in a field's value a refusal lies: its items' indexes and members' names, below
# the field (`[2, "amount"]` is lineItems[2].amount; `[]` the value itself).
Steps = list[str | int]


def schema_refusal_at(schema: dict[str, Any], name: str, value: Any) -> tuple[Steps, str] | None:
    """schema_refusal, with where in the value it lies: the item and member the validator
    refused, so a caller is told which of 300 line items to fix. A member missing or not
    allowed is named by its own name (jsonschema reports it at the object holding it)."""
    import jsonschema
    import referencing.exceptions

    validator = _exact_validator()(schema, format_checker=jsonschema.FormatChecker())
    try:
        for error in validator.iter_errors({name: value}):
            path = list(error.absolute_path)
            if path[:1] == [name]:
                # The field's own annotations say the form of its whole value, also when
                # the refusing part is a $ref's or an allOf's.
                field = schema.get("properties", {}).get(name) if path == [name] else None
                steps = [*path[1:], *_members_named(error)[:1]]
                return steps, _readable(error, field) or _said(error)
            if error.schema is False:
                # jsonschema drops where a field's `false` schema refused (no path): it is
                # still this field's refusal, or the value was let through.
                return [], _said(error)
    except referencing.exceptions.Unresolvable as error:
        return [], f"the output schema refers to {error.ref!r}, which it does not define"
    except RecursionError:
        # A version published before $ref was refused, whose schema refers to itself.
        return [], SELF_REFERRING
    return None


SELF_REFERRING = (
    "the output schema refers to itself without end ($ref), so no value can be checked "
    "against it; publish a version without $ref"
)


def field_type(spec: Any) -> str | None:
    """The one JSON type a field's values have besides null ("number" for ["number",
    "null"]), which the desk types them by; None when it names none or several, or the
    field's schema is no object (true, false)."""
    named = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(named, list):
        kinds = [kind for kind in named if kind != "null"]
        named = kinds[0] if len(kinds) == 1 else None
    return named if isinstance(named, str) else None


def _members_named(error: Any) -> list[str]:
    """The members a `required` or `additionalProperties` refusal is about, in the
    object's order (jsonschema puts the refusal on the object, naming them in words)."""
    instance = error.instance
    if not isinstance(instance, dict):
        return []
    if error.validator == "required":
        return [member for member in error.validator_value if member not in instance]
    if error.validator == "additionalProperties":
        return _extra_members(error.schema, instance)
    return []


def _extra_members(schema: dict[str, Any], instance: dict[str, Any]) -> list[str]:
    """The members of `instance` that neither `properties` nor `patternProperties` of
    `schema` take (matched by pattern_search), in the object's order."""
    known = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return [
        name
        for name in instance
        if name not in known and not any(pattern_search(p, name) for p in patterns)
    ]


# jsonschema's refusals of a value's form name the schema, not the form: "is not a 'date'",
# "does not match '^INV-\\d{6}$'" (a regular expression, its backslashes doubled). A
# reviewer who typed a date day first, as receipts print it, or an invoice number without
# its prefix, was told neither what was wrong nor what to type. A date is JSON Schema's own
# format, so the core says it; any other form is said by the field's schema itself.
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
AS_DATE = "is not a date as YYYY-MM-DD, e.g. 2024-02-29"
NOT_IN_FORM = "is not in the form this field takes"
# Longer descriptions document the field rather than its form: left out of a refusal.
FORM_DESCRIPTION_MAX = 200


NOT_IN_ANY_FORM = "is not in any of the forms this field takes"
# jsonschema refuses a value no branch takes as "is not valid under any of the given
# schemas", the branches' own refusals (their patterns) kept only in its context.
BRANCHES = ("anyOf", "oneOf")


def _readable(error: Any, field: Any) -> str | None:
    """A refusal in words of a string's date format, or of its pattern or other format
    by the annotations of its schema (or, those missing, of the field's), also when they
    are anyOf/oneOf's branches; None for others."""
    instance = error.instance
    if not isinstance(instance, str):
        return None
    if error.validator in BRANCHES:
        return _branches_readable(error, field)
    if error.validator not in ("format", "pattern"):
        return None
    written = json.dumps(instance, ensure_ascii=False)
    if error.validator == "format" and error.validator_value == "date":
        if ISO_DATE.fullmatch(instance):
            return f"{written} is not a day of the calendar"
        return f"{written} {AS_DATE}"
    form = _form_in_words(error.schema) or _form_in_words(field)
    if form is not None:
        return f"{written} {NOT_IN_FORM}{form}"
    if error.validator == "pattern":
        # A version published without annotations (the built-in schemas before they had
        # them, stored as published): the pattern as the schema writes it, unescaped.
        return f"{written} {NOT_IN_FORM} (pattern {error.validator_value})"
    return None


def _branches_readable(error: Any, field: Any) -> str | None:
    """A string no branch of anyOf/oneOf took, refused in the words of its forms: those
    of the schema holding the branches (or the field's), else each branch's own (its
    description and example, or its pattern). None when a branch that takes text refused
    it for other than its form (a length, an enum): jsonschema's words stand."""
    forms = _branch_forms(error)
    if not forms:
        return None
    written = json.dumps(error.instance, ensure_ascii=False)
    if words := _form_in_words(error.schema) or _form_in_words(field):
        return f"{written} {NOT_IN_FORM}{words}"
    if len(forms) == 1:
        return f"{written} {NOT_IN_FORM}{forms[0]}"
    return f"{written} {NOT_IN_ANY_FORM}: " + "; or ".join(_bare(form) for form in forms)


def _bare(form: str) -> str:
    """A form as it follows NOT_IN_FORM (": a time, e.g. 21:30", " (pattern ^x$)"), as
    one of a list."""
    return form.removeprefix(": ").removeprefix(", ").removeprefix(" (").removesuffix(")")


def _branch_forms(error: Any) -> list[str]:
    """The forms (as they follow NOT_IN_FORM) of the branches that take the value's type;
    empty unless every one of them refused it by its form (a pattern or a format, or
    branches of its own so refused)."""
    branches: dict[int, list[Any]] = {}
    for refusal in error.context or []:
        branches.setdefault(refusal.relative_schema_path[0], []).append(refusal)
    forms = []
    for index, refusals in sorted(branches.items()):
        mine = [r for r in refusals if not r.relative_path]  # of the value, not a member
        if any(r.validator == "type" for r in mine):
            continue  # a branch for another type (null, a number) says nothing of text
        branch = error.schema[error.validator][index]
        form = next((f for r in mine if (f := _branch_form(r, branch))), None)
        if form is None:
            return []
        forms.append(form)
    return list(dict.fromkeys(forms))


def _branch_form(refusal: Any, branch: Any) -> str | None:
    """The form a branch refused a value for not being in, as it follows NOT_IN_FORM:
    by the annotations of the refusing schema or of the branch, a date as Steve says it,
    or the pattern as written; None when the refusal is not of a form."""
    if refusal.validator in BRANCHES:
        inner = _branch_forms(refusal)
        if words := _form_in_words(refusal.schema) or _form_in_words(branch):
            return words if inner else None
        return ": " + "; or ".join(_bare(form) for form in inner) if inner else None
    if refusal.validator not in ("format", "pattern"):
        return None
    if words := _form_in_words(refusal.schema) or _form_in_words(branch):
        return words
    if refusal.validator == "format" and refusal.validator_value == "date":
        return ": " + AS_DATE.removeprefix("is not ")
    return f" ({refusal.validator} {refusal.validator_value})"


def _form_in_words(schema: Any) -> str | None:
    """What a schema's own annotations say of its form, to follow NOT_IN_FORM:
    ": <description>, e.g. <first example>", or either part; None when it has neither."""
    description, example = form_description(schema), form_example(schema)
    words = f": {description.rstrip('.')}" if description else ""
    if example is not None:
        words += f", e.g. {example}"
    return words or None


def form_description(schema: Any) -> str:
    """A schema's description when short enough to say a field's form (one line, its
    spaces collapsed); "" when it has none or a longer one, which documents the field.
    The review desk shows it under the field's input, before a save is refused."""
    description = schema.get("description") if isinstance(schema, dict) else None
    if isinstance(description, str) and 0 < len(description.strip()) <= FORM_DESCRIPTION_MAX:
        return " ".join(description.split())
    return ""


def form_example(schema: Any) -> str | None:
    """A schema's first example as a reviewer would type it (JSON for a non-string)."""
    examples = schema.get("examples") if isinstance(schema, dict) else None
    if not isinstance(examples, list) or not examples:
        return None
    example = examples[0]
    return example if isinstance(example, str) else json.dumps(example, ensure_ascii=False)


@cache
def _exact_validator() -> Any:
    """Draft 2020-12 with multipleOf checked on the numbers as written: jsonschema divides
    binary floats, so 19.99 was "not a multiple of 0.01" (1998.9999…) and a correct total
    was refused over the API, on the desk and in the pipeline alike. Its patterns are
    matched by RE2 (pattern_search): jsonschema's re.search can take forever."""
    import jsonschema

    return jsonschema.validators.extend(
        jsonschema.Draft202012Validator,
        {
            "multipleOf": _multiple_of,
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
            "unevaluatedProperties": _unevaluated_properties,
        },
    )


# ECMA-262 (JSON Schema's dialect) writes a code point \uXXXX, which Python's re reads too
# and RE2 writes \x{XXXX}; an escaped backslash before it ("\\u") is no such escape.
_ECMA_CODE_POINT = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9A-Fa-f]{4})")


@lru_cache(maxsize=512)
def _re2(pattern: str) -> Any:
    """The pattern compiled by RE2, or the reason it cannot be (a str)."""
    import re2

    options = re2.Options()
    options.log_errors = False  # a refusal is returned, not also printed
    try:
        return re2.compile(_ECMA_CODE_POINT.sub(r"\1\\x{\2}", pattern), options)
    except re2.error as error:
        why = error.args[0] if error.args else error
        return why.decode(errors="replace") if isinstance(why, bytes) else str(why)


def _re2_refusal(pattern: str) -> str | None:
    """Why RE2 cannot run this pattern (None: it can)."""
    compiled = _re2(pattern)
    return compiled if isinstance(compiled, str) else None


def pattern_search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``, in time linear in it. A pattern
    RE2 cannot run (published before they were refused) matches nothing: its field
    refuses every value rather than hold the worker that checks it."""
    compiled = _re2(pattern)
    return not isinstance(compiled, str) and compiled.search(text) is not None


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    import jsonschema

    if validator.is_type(instance, "string") and not pattern_search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            if pattern_search(pattern, name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """jsonschema's, with the members patternProperties takes found by pattern_search."""
    import jsonschema

    if not validator.is_type(instance, "object"):
        return
    patterns = schema.get("patternProperties", {})
    extras = _extra_members(schema, instance)
    if validator.is_type(extra, "object"):
        for name in extras:
            yield from validator.descend(instance[name], extra, path=name)
    elif not extra and extras:
        listed = ", ".join(repr(name) for name in sorted(extras))
        if patterns:
            regexes = ", ".join(repr(p) for p in sorted(patterns))
            verb = "does" if len(extras) == 1 else "do"
            yield jsonschema.ValidationError(
                f"{listed} {verb} not match any of the regexes: {regexes}"
            )
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield jsonschema.ValidationError(
                f"Additional properties are not allowed ({listed} {verb} unexpected)"
            )


def _unevaluated_properties(
    validator: Any, value: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    """jsonschema's, but refusing where patternProperties would be matched by re (in a
    version published before that was refused): jsonschema finds the members they
    evaluated in a helper no keyword of ours replaces."""
    import jsonschema

    if not validator.is_type(instance, "object"):
        return
    if _uses(schema, "patternProperties"):
        yield jsonschema.ValidationError(
            "cannot be checked: the output schema has unevaluatedProperties beside "
            "patternProperties (publish a version with additionalProperties instead)"
        )
        return
    base = jsonschema.Draft202012Validator.VALIDATORS["unevaluatedProperties"]
    yield from base(validator, value, instance, schema)


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


def _said(error: Any) -> str:
    """jsonschema's refusal, its value written as JSON; a `false` schema's in words
    (it said "False schema does not allow 'A-1'")."""
    if error.schema is False:
        written = _as_json(repr(error.instance), error.instance)
        return f"{written} is not allowed: the output schema takes no value there"
    return _as_json(error.message, error.instance)


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
