"""Every /api/v1/ response the suite's API clients receive is checked against the schema.

As Zulip does: the published OpenAPI document (built once per test session, with the
same generator and hooks that serve /api/v1/schema) must describe each response's
path, method and status, and its JSON body must validate against the documented
schema. So a view cannot change its wire shape without its schema changing too.

OpenAPI 3.0 is not JSON Schema: `nullable` is translated to `anyOf [..., null]` before
validating with jsonschema. Objects are closed (`additionalProperties: false` unless the
schema says otherwise): a field the schema does not name fails too, and so does a
problem whose `code` the operation does not document for that status. `format` is not
checked (the schema is prose there). A header that tells a client what to do next
(`Retry-After`, `X-Idempotent-Replay`) must be documented for the status it comes with.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft4Validator

API_PREFIX = "/api/v1/"
PROBLEM = "application/problem+json"
# Responses under /api/v1/ that the schema does not describe, and why. Keep it short:
# every entry is a response integrators get without a contract.
NOT_VALIDATED: dict[str, str] = {
    "/api/v1/schema": "the schema itself",
    "/api/v1/uploads/": (
        "pre-signed upload URLs: opaque, handed out in uploadUrls; with S3 storage the "
        "store answers them, so their answers are not Steve's contract"
    ),
}


class SchemaMismatch(AssertionError):
    """A response that the published schema does not describe."""


def _nullable_to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable_to_json_schema(value) for key, value in node.items()}
    if "allOf" in out:
        out = _merge_objects(out)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False  # an undocumented field is drift too
    if out.pop("nullable", False):
        out.pop("example", None)
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _resolved(part: dict[str, Any]) -> dict[str, Any]:
    if "$ref" not in part:
        return part
    name = part["$ref"].rsplit("/", 1)[-1]
    return _nullable_to_json_schema(published_schema()["components"]["schemas"][name])


def _merge_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """allOf of plain objects as one object, so additionalProperties sees every field."""
    parts = [_resolved(part) for part in schema["allOf"]]
    if not all("properties" in part and "anyOf" not in part for part in parts):
        return schema
    merged: dict[str, Any] = {"type": "object", "properties": {}}
    required: list[str] = []
    for part in parts:
        merged["properties"].update(part["properties"])
        required += part.get("required", [])
    if required:
        merged["required"] = required
    return {**{k: v for k, v in schema.items() if k != "allOf"}, **merged}


@functools.cache
def published_schema() -> dict[str, Any]:
    """The document /api/v1/schema serves, as JSON (round-tripped: no lazy strings)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    from steve.views import SCHEMA_BUILD_LOCK

    with SCHEMA_BUILD_LOCK:  # two test threads' first responses checked at once
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


@functools.cache
def _components() -> dict[str, Any]:
    return _nullable_to_json_schema(published_schema().get("components", {}))


@functools.cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    routes = []
    for template in published_schema()["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        routes.append((re.compile(f"^{pattern}$"), template))
    # Literal segments first: /webhook-endpoints/session-secret before /{endpoint_id}.
    routes.sort(key=lambda route: route[1].count("{"))
    return routes


def path_template(path: str) -> str | None:
    for pattern, template in _routes():
        if pattern.match(path):
            return template
    return None


def _skipped(path: str) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in NOT_VALIDATED)


# Headers that change what a client does next: one sent on a response must be documented
# for that status, or a client generated from the schema never sees it.
CONTRACT_HEADERS = ("Retry-After", "X-Idempotent-Replay", "Location")


def check_headers(documented: dict[str, Any], headers: Mapping[str, str], where: str) -> None:
    declared = {name.lower() for name in documented.get("headers", {})}
    sent = {name.lower() for name in headers}
    for name in CONTRACT_HEADERS:
        if name.lower() in sent and name.lower() not in declared:
            raise SchemaMismatch(f"{where}: header {name} is sent but not documented")


def check_response(
    method: str,
    path: str,
    status: int,
    content_type: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> None:
    """Raise SchemaMismatch unless the schema documents this answer, its JSON body and
    the CONTRACT_HEADERS it carries."""
    if not path.startswith(API_PREFIX) or _skipped(path):
        return
    template = path_template(path)
    where = f"{method} {path} -> {status}"
    if method == "OPTIONS" and template:
        check_options(template, status, body, headers or {}, where)
        return
    head = method == "HEAD"
    if head:
        # GET without its body (RFC 9110 9.3.2): GET's statuses, nothing to parse (the
        # body-less answer was read as JSON and failed on b"").
        method = "GET"
    operation = published_schema()["paths"][template].get(method.lower()) if template else None
    if head:
        if operation is None and status not in (404, 405):
            raise SchemaMismatch(f"{where}: the route and method are not in the schema")
        if operation is not None and str(status) not in operation["responses"]:
            raise SchemaMismatch(f"{where}: status {status} is not documented for {template}")
        return
    if operation is None:
        # An unknown route or method: only a 404 / 405 problem is a right answer.
        if status not in (404, 405) or not content_type.startswith(PROBLEM):
            raise SchemaMismatch(f"{where}: the route and method are not in the schema")
        validate_body({"$ref": "#/components/schemas/Problem"}, json.loads(body), where)
        return
    documented = operation["responses"].get(str(status))
    if documented is None:
        raise SchemaMismatch(f"{where}: status {status} is not documented for {template}")
    check_headers(documented, headers or {}, where)
    media = content_type.split(";")[0].strip()
    content = documented.get("content")
    if not content:
        if body:
            raise SchemaMismatch(f"{where}: documented without a body, answered {body[:200]!r}")
        return
    if media not in content:
        raise SchemaMismatch(f"{where}: content type {media!r} is not one of {sorted(content)}")
    data = json.loads(body)
    validate_body(content[media].get("schema", {}), data, where)
    documented_codes = content[media].get("examples", {})
    if media == PROBLEM and documented_codes and data.get("code") not in documented_codes:
        raise SchemaMismatch(
            f"{where}: problem code {data.get('code')!r} is not documented for this status "
            f"(documented: {sorted(documented_codes)}); add it to the operation's problems"
        )


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "trace")


def check_options(
    template: str, status: int, body: bytes, headers: Mapping[str, str], where: str
) -> None:
    """OPTIONS on a documented path (the API description): 204, no body, and an `Allow`
    naming exactly the methods the schema documents there, with HEAD beside GET."""
    if status != 204 or body:
        raise SchemaMismatch(f"{where}: OPTIONS answers 204 without a body, got {body[:200]!r}")
    documented = {m.upper() for m in published_schema()["paths"][template] if m in HTTP_METHODS}
    if "GET" in documented:
        documented.add("HEAD")
    allow = {m.strip() for m in dict(headers).get("Allow", "").split(",") if m.strip()}
    if allow != documented | {"OPTIONS"}:
        raise SchemaMismatch(f"{where}: Allow {sorted(allow)}, documented {sorted(documented)}")


@functools.cache
def _validator(schema_json: str) -> Draft4Validator:
    schema = _nullable_to_json_schema(json.loads(schema_json))
    return Draft4Validator({"allOf": [schema], "components": _components()})


def validate_body(schema: dict[str, Any], data: Any, where: str) -> None:
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    if errors:
        lines = [f"  at {'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in errors]
        raise SchemaMismatch(f"{where}: body does not match the schema\n" + "\n".join(lines[:10]))


def check_test_response(response: Any) -> None:
    """check_response for a Django test client's response."""
    request = response.request
    if getattr(response, "streaming", False):
        return
    check_response(
        request["REQUEST_METHOD"],
        request["PATH_INFO"],
        response.status_code,
        response.get("Content-Type", ""),
        response.content,
        dict(response.headers),
    )


def documented_problem_type(method: str, template: str, status: int, code: str) -> str:
    """The problem `type` the schema's example of `code` gives for this operation's status."""
    operation = published_schema()["paths"][template][method.lower()]
    examples = operation["responses"][str(status)]["content"][PROBLEM]["examples"]
    return examples[code]["value"]["type"]
