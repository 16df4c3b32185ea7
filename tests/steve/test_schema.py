"""The OpenAPI schema at /api/v1/schema and the docs page at /api/docs."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from drf_spectacular.validation import validate_schema
from openapi_schema_validator import OAS30Validator

from steve.api.schema import PROBLEM_CODES
from steve.middleware import CONTENT_SECURITY_POLICY
from tests.openapi import SchemaMismatch, validate_body

pytestmark = pytest.mark.django_db

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"
SEED_OPERATIONS = [
    ("/api/v1/jobs/{session_id}", "get"),
    ("/api/v1/submissions", "get"),
    ("/api/v1/submissions/{submission_id}", "get"),
    ("/api/v1/submissions/{submission_id}/fraud-matches", "get"),
    ("/api/v1/submissions/{submission_id}/fraud-matches/{match_id}/resolve", "post"),
    ("/api/v1/submissions/{submission_id}/approve", "post"),
    ("/api/v1/submissions/{submission_id}/reject", "post"),
    ("/api/v1/submissions/{submission_id}/cancel", "post"),
    ("/api/v1/extraction-jobs", "post"),
    ("/api/v1/extraction-jobs/{job_id}", "get"),
    ("/api/v1/extraction-jobs/{job_id}/result", "get"),
    ("/api/v1/workflows", "get"),
    ("/api/v1/workflows/{slug}", "get"),
    ("/api/v1/workflows/{slug}/versions/{version}", "get"),
    ("/api/v1/workflows/{slug}/sessions", "post"),
    ("/api/v1/workflows/{slug}/sessions/{session_id}/submit", "post"),
    ("/api/v1/webhooks/test", "post"),
    ("/api/v1/webhook-endpoints", "post"),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return json.loads(response.content)


def seed_json_blocks(name: str) -> list[dict]:
    """The JSON objects printed in a seed page (the pages are plain text)."""
    text = next(SEEDS.glob(f"{name}_*.txt")).read_text()
    decoder, found, index = json.JSONDecoder(), [], 0
    while (start := text.find("{", index)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        found.append(value)
        index = end
    return found


def examples_of(operation: dict, status: str) -> list:
    content = operation["responses"][status]["content"]
    return [e["value"] for media in content.values() for e in media.get("examples", {}).values()]


def request_examples(operation: dict) -> list:
    content = operation.get("requestBody", {}).get("content", {})
    return [e["value"] for media in content.values() for e in media.get("examples", {}).values()]


def test_the_job_create_documents_seed_003s_delivery_alias_and_ignored_bounding_boxes(schema):
    """Seed 003: "delivery.mode is accepted as a compatibility alias for deliveryMode";
    "returnBoundingBoxes is deprecated and ignored". Steve takes both; its schema named
    neither, so a generated client could send neither."""
    content = schema["paths"]["/api/v1/extraction-jobs"]["post"]["requestBody"]["content"]
    modes = ["poll", "webhook"]
    form = content["multipart/form-data"]["schema"]["properties"]
    assert form["delivery.mode"]["enum"] == modes
    body = content["application/json"]["schema"]["properties"]
    assert body["delivery"]["properties"]["mode"]["enum"] == modes
    for fields in (form, body):
        assert fields["returnBoundingBoxes"]["deprecated"] is True


def test_schema_is_public_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_every_seed_and_steve_endpoint_is_documented(schema):
    for path, method in SEED_OPERATIONS:
        assert method in schema["paths"].get(path, {}), (method, path)


def test_seed_response_examples_appear_verbatim(schema):
    paths = schema["paths"]
    job = paths["/api/v1/jobs/{session_id}"]["get"]
    [seed_job] = [b for b in seed_json_blocks("000") if "sessionId" in b]
    assert seed_job in examples_of(job, "200")
    seed_001 = seed_json_blocks("001")
    submission = "/api/v1/submissions/{submission_id}"
    operations = [
        paths["/api/v1/submissions"]["get"],
        paths[submission]["get"],
        paths[f"{submission}/fraud-matches"]["get"],
        paths[f"{submission}/fraud-matches/{{match_id}}/resolve"]["post"],
        paths[f"{submission}/approve"]["post"],
        paths[f"{submission}/reject"]["post"],
        paths[f"{submission}/cancel"]["post"],
    ]
    documented = [e for op in operations for e in examples_of(op, "200") + request_examples(op)]
    for block in seed_001:
        assert block in documented, block


def test_seed_extraction_job_examples_appear(schema):
    seed_003 = [b for b in seed_json_blocks("003") if b.get("success")]
    paths = schema["paths"]
    documented = (
        examples_of(paths["/api/v1/extraction-jobs"]["post"], "202")
        + examples_of(paths["/api/v1/extraction-jobs/{job_id}"]["get"], "200")
        + examples_of(paths["/api/v1/extraction-jobs/{job_id}/result"]["get"], "200")
    )
    shapes = {json.dumps(sorted(b["job"])) for b in documented}
    for block in seed_003:
        assert json.dumps(sorted(block["job"])) in shapes, block


def problem_codes(operation: dict) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for status, response in operation["responses"].items():
        media = response.get("content", {}).get("application/problem+json")
        if media:
            out[status] = {e["value"]["code"] for e in media["examples"].values()}
    return out


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/api/v1/jobs/{session_id}", "get", "404", "JOB_NOT_FOUND"),
        ("/api/v1/jobs/{session_id}", "get", "429", "RATE_LIMIT_EXCEEDED"),
        ("/api/v1/jobs/{session_id}", "get", "401", "INVALID_API_KEY"),
        ("/api/v1/jobs/{session_id}", "get", "403", "API_KEY_REVOKED"),
        (
            "/api/v1/submissions/{submission_id}/approve",
            "post",
            "409",
            "UNRESOLVED_FRAUD_MATCHES",
        ),
        ("/api/v1/workflows/{slug}/sessions", "post", "409", "IDEMPOTENCY_KEY_IN_FLIGHT"),
        ("/api/v1/workflows/{slug}/sessions", "post", "422", "IDEMPOTENCY_KEY_REUSED"),
        ("/api/v1/workflows/{slug}/sessions/{session_id}/submit", "post", "422", "FILES_MISSING"),
        # An S3 upload the local upload would refuse is refused at the submit.
        ("/api/v1/workflows/{slug}/sessions/{session_id}/submit", "post", "422", "INVALID_FILES"),
        # A file processing would refuse is refused at the create, in processing's code.
        ("/api/v1/extraction-jobs", "post", "400", "UNSUPPORTED_FILE"),
        ("/api/v1/extraction-jobs", "post", "400", "PASSWORD_REQUIRED"),
        ("/api/v1/extraction-jobs", "post", "400", "PAGE_LIMIT_EXCEEDED"),
        ("/api/v1/extraction-jobs/{job_id}/result", "get", "409", "RESULT_NOT_READY"),
        ("/api/v1/extraction-jobs/{job_id}/result", "get", "409", "REVIEW_REQUIRED"),
        ("/api/v1/extraction-jobs/{job_id}/result", "get", "409", "JOB_FAILED"),
        ("/api/v1/extraction-jobs/{job_id}/result", "get", "410", "RESULT_EXPIRED"),
        ("/api/v1/extraction-jobs/{job_id}/cancel", "post", "404", "JOB_NOT_FOUND"),
        ("/api/v1/extraction-jobs/{job_id}/cancel", "post", "409", "JOB_CANCELED"),
        ("/api/v1/extraction-jobs/{job_id}/cancel", "post", "409", "JOB_COMPLETED"),
        ("/api/v1/extraction-jobs/{job_id}/cancel", "post", "400", "INVALID_REQUEST"),
    ],
)
def test_problem_responses_name_their_codes(schema, path, method, status, code):
    assert code in problem_codes(schema["paths"][path][method])[status]


SEED_CODES = {
    "JOB_NOT_FOUND",
    "UNAUTHORIZED",
    "INVALID_API_KEY",
    "FORBIDDEN",
    "RATE_LIMIT_EXCEEDED",
    "OCR_FAILED",
    "PROCESSING_ERROR",
    "RESULT_NOT_READY",
    "REVIEW_REQUIRED",
    "JOB_FAILED",
    "RESULT_EXPIRED",
}


def test_every_code_of_the_seeds_and_the_catalogue_is_described(schema):
    seeds_text = "".join(path.read_text() for path in SEEDS.glob("*.txt"))
    description = schema["info"]["description"]
    for code in SEED_CODES:
        assert code in seeds_text and code in PROBLEM_CODES, code
    for code in PROBLEM_CODES:
        assert f"`{code}`" in description


def test_responses_document_request_id_and_rate_limit_headers(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                headers = response.get("headers", {})
                assert "Request-Id" in headers, (method, path, status)
                if operation.get("security"):
                    assert "X-RateLimit-Remaining" in headers, (method, path, status)


@pytest.mark.parametrize(
    "path, method",
    [
        ("/api/v1/jobs/{session_id}", "get"),
        ("/api/v1/workflows/{slug}/sessions/{session_id}/submit", "post"),
        ("/api/v1/extraction-jobs/{job_id}", "get"),
    ],
)
def test_a_running_jobs_retry_after_is_documented_on_its_200(schema, path, method):
    # docs/api.md: a job still running sends Retry-After on its 200 (retryAfterMs in s).
    headers = schema["paths"][path][method]["responses"]["200"]["headers"]
    assert headers["Retry-After"]["schema"]["type"] == "integer"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "/api/v1/webhook-endpoints/session-secret/rotate",
        "/api/v1/webhook-endpoints/sync-secret/rotate",
    ],
)
def test_secret_rotations_document_the_idempotency_key_they_honour(schema, path):
    # docs/webhooks.md: send an Idempotency-Key with every rotate; the replay is marked.
    operation = schema["paths"][path]["post"]
    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
    assert "X-Idempotent-Replay" in operation["responses"]["200"]["headers"]
    codes = problem_codes(operation)
    assert "IDEMPOTENCY_KEY_REUSED" in codes["422"]
    assert "IDEMPOTENCY_KEY_IN_FLIGHT" in codes["409"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
        "/api/v1/webhook-endpoints/session-secret/rotate",
        "/api/v1/webhook-endpoints/sync-secret/rotate",
    ],
)
def test_a_rotations_grace_period_is_documented_as_whole_hours_0_to_168(schema, path):
    # The rotations refuse 1.5 (and 2.0) with INVALID_GRACE_PERIOD: a number is not enough.
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    grace = body["schema"]["properties"]["gracePeriodHours"]
    assert (grace["type"], grace["minimum"], grace["maximum"]) == ("integer", 0, 168)


@pytest.mark.parametrize(
    ("path", "method", "member", "nullable"),
    [
        ("/api/v1/workflows/{slug}/sessions", "post", "metadata", True),
        ("/api/v1/workflows/{slug}/sessions", "post", "externalUser", True),
        ("/api/v1/workflows/{slug}/sessions", "post", "webhookUrl", True),
        ("/api/v1/workflows/{slug}/sessions", "post", "fileCount", False),
        ("/api/v1/submissions/{submission_id}/cancel", "post", "reason", True),
        ("/api/v1/extraction-jobs/{job_id}/cancel", "post", "reason", True),
        ("/api/v1/submissions/{submission_id}/reject", "post", "reason", False),
        ("/api/v1/submissions/{submission_id}/approve", "post", "expectedVersion", True),
        ("/api/v1/submissions/{submission_id}/corrections", "post", "expectedVersion", True),
        (
            "/api/v1/submissions/{submission_id}/fraud-matches/{match_id}/resolve",
            "post",
            "reason",
            True,
        ),
        ("/api/v1/webhook-endpoints", "post", "events", False),
        ("/api/v1/webhook-endpoints/{endpoint_id}", "patch", "enabled", False),
        (
            "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
            "post",
            "gracePeriodHours",
            False,
        ),
        ("/api/v1/webhooks/test", "post", "endpointId", True),
    ],
)
def test_a_request_member_is_nullable_exactly_where_the_api_takes_null(
    schema, path, method, member, nullable
):
    # tests/steve/test_validation_errors.py: null is taken as left out where nullable,
    # refused (422) where not.
    body = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert body["properties"][member].get("nullable", False) is nullable


def email_of_length(length: int) -> str:
    """A valid address of exactly `length` characters: a 64-character local part, then
    63-character domain labels (the most EmailValidator takes of each)."""
    domain_length = length - 65
    labels = []
    while domain_length - sum(len(label) + 1 for label in labels) > 63 + 4:
        labels.append("d" * 63)
    labels.append("e" * (domain_length - sum(len(label) + 1 for label in labels) - 4))
    return "a" * 64 + "@" + ".".join(labels) + ".com"


LOCAL_URL = "http://127.0.0.1:9/"  # tests allow private targets; nothing listens there


def url_of_length(length: int) -> str:
    return LOCAL_URL + "u" * (length - len(LOCAL_URL))


def session_with_external_user(member: str) -> Callable:
    def send(api, endpoint, value: str):
        body = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": value[:9]}
        body["externalUser"] = {member: value}
        return api.post(SESSIONS, body, format="json")

    return send


def session_with_idempotency_key(api, endpoint, value: str):
    body = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "c"}
    return api.post(SESSIONS, body, format="json", HTTP_IDEMPOTENCY_KEY=value)


def endpoint_create_with(member: str) -> Callable:
    def send(api, endpoint, value: str):
        # Not the test's endpoint's URL: one URL is one endpoint of an environment.
        body = {"url": f"{LOCAL_URL}created", member: value}
        return api.post("/api/v1/webhook-endpoints", body, format="json")

    return send


def endpoint_update_with(member: str) -> Callable:
    def send(api, endpoint, value: str):
        url = f"/api/v1/webhook-endpoints/{endpoint.pk}"
        return api.patch(url, {member: value}, format="json")

    return send


def send_test_event(api, endpoint, value: str):
    return api.post("/api/v1/webhooks/test", {"url": value}, format="json")


SESSIONS = "/api/v1/workflows/receipt-ocr/sessions"
SESSION_CREATE = ("/api/v1/workflows/{slug}/sessions", "post")
ENDPOINT_CREATE = ("/api/v1/webhook-endpoints", "post")
ENDPOINT_UPDATE = ("/api/v1/webhook-endpoints/{endpoint_id}", "patch")


@pytest.mark.parametrize(
    ("operation", "member", "limit", "value_of_length", "send"),
    [
        (SESSION_CREATE, "externalUser.id", 256, "x".__mul__, session_with_external_user("id")),
        (
            SESSION_CREATE,
            "externalUser.name",
            256,
            "x".__mul__,
            session_with_external_user("name"),
        ),
        (
            SESSION_CREATE,
            "externalUser.email",
            256,
            email_of_length,
            session_with_external_user("email"),
        ),
        (SESSION_CREATE, "Idempotency-Key", 255, "k".__mul__, session_with_idempotency_key),
        (ENDPOINT_CREATE, "url", 2000, url_of_length, endpoint_create_with("url")),
        (ENDPOINT_CREATE, "description", 200, "d".__mul__, endpoint_create_with("description")),
        (ENDPOINT_UPDATE, "url", 2000, url_of_length, endpoint_update_with("url")),
        (ENDPOINT_UPDATE, "description", 200, "d".__mul__, endpoint_update_with("description")),
        (("/api/v1/webhooks/test", "post"), "url", 2000, url_of_length, send_test_event),
    ],
)
def test_a_request_members_length_limit_is_the_one_the_schema_documents(
    schema, api, workflows, company, operation, member, limit, value_of_length, send
):
    # A client generated from the schema checks maxLength before sending; without it, a
    # 257-character externalUser.name or a 201-character description was only found out
    # by the 422 (or, for the Idempotency-Key, the 400).
    from webhooks.services import endpoint_create

    path, method = operation
    assert documented_max_length(schema, path, method, member) == limit
    endpoint = endpoint_create(company=company, url=LOCAL_URL)[0]
    assert len(value_of_length(limit)) == limit
    taken = send(api, endpoint, value_of_length(limit))
    assert taken.status_code in (200, 201), taken.json()
    refused = send(api, endpoint, value_of_length(limit + 1)).json()
    assert refused["status"] in (400, 422)
    assert [e["field"] for e in refused.get("errors", [])] in ([member], [])


def documented_max_length(schema: dict, path: str, method: str, member: str) -> int | None:
    operation = schema["paths"][path][method]
    if member[0].isupper():  # a header
        (parameter,) = [p for p in operation["parameters"] if p["name"] == member]
        return parameter["schema"].get("maxLength")
    part = operation["requestBody"]["content"]["application/json"]["schema"]
    for name in member.split("."):
        if "$ref" in part:
            part = schema["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]]
        part = part["properties"][name]
    return part.get("maxLength")


def documented_examples(schema: dict) -> list[tuple[str, dict, object]]:
    """(where, schema, value) of every response and request example in the document."""
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            bodies = [(s, r.get("content", {})) for s, r in operation["responses"].items()]
            bodies.append(("request", operation.get("requestBody", {}).get("content", {})))
            for status, content in bodies:
                for media in content.values():
                    for name, example in media.get("examples", {}).items():
                        where = f"{method.upper()} {path} {status} {name}"
                        found.append((where, media["schema"], example["value"]))
    return found


def test_every_documented_example_matches_its_own_schema(schema):
    # A client generator or a mock server reads the examples beside the schemas: the
    # seeds' examples among them must be valid answers, as every real one is.
    examples = documented_examples(schema)
    assert len(examples) > 50
    mismatches = []
    for where, part, value in examples:
        try:
            validate_body(part, value, where)
        except SchemaMismatch as mismatch:
            mismatches.append(str(mismatch))
    assert not mismatches, "\n".join(mismatches)


def oas30_errors(schema: dict, part: dict, value: object) -> list[str]:
    """What OpenAPI 3.0.3's own reading of `part` refuses in `value`: openapi-core's
    validator (openapi-schema-validator), where `nullable` admits null only beside a
    `type` in the same schema object, not through an `allOf` around a `$ref`."""
    validator = OAS30Validator({**part, "components": schema["components"]})
    return [
        f"at {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:120]}"
        for e in validator.iter_errors(value)
    ]


def test_every_documented_example_is_valid_as_openapi_3_tools_read_the_schema(schema):
    # tests/openapi.py reads `nullable` as "or null" wherever it stands; an integrator
    # validating with openapi-core reads OpenAPI 3.0.3, which refused the seeds' own
    # `"resolution": null` and `"fraudStatus": null` (allOf [$ref] beside nullable).
    mismatches = [
        f"{where}: {error}"
        for where, part, value in documented_examples(schema)
        for error in oas30_errors(schema, part, value)
    ]
    assert not mismatches, "\n".join(mismatches[:20])


def nullable_schemas(node: object, where: str = "") -> list[tuple[str, dict]]:
    found = []
    if isinstance(node, dict):
        if node.get("nullable") is True:
            found.append((where, node))
        for key, value in node.items():
            found += nullable_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += nullable_schemas(value, f"{where}[{index}]")
    return found


def test_every_member_documented_nullable_takes_null_as_openapi_3_tools_read_it(schema):
    nullable = nullable_schemas(schema["components"]) + nullable_schemas(schema["paths"])
    assert len(nullable) > 20
    refused = [where for where, part in nullable if oas30_errors(schema, part, None)]
    assert not refused, "null refused at:\n" + "\n".join(refused)


def test_security_schemes_cover_the_three_key_headers(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyHeader"]["name"] == "X-API-Key"
    assert schemes["apiKeyAuthorization"]["name"] == "Authorization"
    job = schema["paths"]["/api/v1/jobs/{session_id}"]["get"]
    assert {"bearerAuth": []} in job["security"] and {"apiKeyHeader": []} in job["security"]


def test_schema_needs_no_key_and_spends_the_anonymous_bucket(client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response["X-RateLimit-Bucket"] == "anonymous"


def test_docs_page_serves_swagger_ui_from_local_static_files(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert not re.search(r"https?://(cdn|unpkg|fonts)\.", html)


def test_docs_page_runs_no_inline_code_under_the_desks_csp(client):
    """The docs page had no policy at all, because Swagger UI's start-up script and a
    style were inline; they now come from URLs, so the desk's strict policy holds."""
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    html = response.content.decode()
    assert "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    script = re.search(r'<script src="(/api/docs\?[^"]*)"', html)
    assert script is not None
    start_up = client.get(script.group(1).replace("&amp;", "&"))
    assert start_up.status_code == 200
    assert start_up["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in start_up.content.decode()
    assert "/api/v1/schema" in start_up.content.decode()


def test_the_docs_page_opened_with_a_language_loads_its_schema(client, schema):
    # drf-spectacular's docs page passes its ?lang on to the schema's URL, which refused it.
    page = client.get("/api/docs?lang=de").content.decode()
    script = re.search(r'<script src="(/api/docs\?[^"]*)"', page).group(1).replace("&amp;", "&")
    start_up = client.get(script).content.decode()
    schema_url = json.loads(re.search(r'"/api/v1/schema\?[^"]*"', start_up).group())
    assert "lang=de" in schema_url
    response = client.get(schema_url, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content
    # One language: the schema is the same whatever ?lang says (USE_I18N is off).
    assert json.loads(response.content) == schema
    assert "/api/v1/schema" not in schema["paths"]  # the schema's own view is no operation


@pytest.mark.parametrize("query", ["bogus=1", "lang=de&bogus=1", "version=2"])
def test_the_schema_refuses_a_parameter_other_than_lang_and_format(client, query):
    # ?version only relabelled the one schema "1.0.0 (2)": the API's version is its path.
    # The refusal names both parameters the schema reads: it said "it takes lang." to a
    # client who could also have asked for ?format=yaml.
    response = client.get(f"/api/v1/schema?{query}", HTTP_ACCEPT="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    refused = query.rpartition("&")[2].partition("=")[0]
    assert (body["code"], body["errors"]) == (
        "INVALID_PARAMETER",
        [
            {
                "field": refused,
                "message": "Not a query parameter of this operation; it takes format, lang.",
                "code": "unknown_field",
            }
        ],
    )


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", "/api/v1/jobs/ses_a%00b", None),
        ("get", "/api/v1/submissions/sub_a%00b", None),
        ("get", "/api/v1/submissions?workflow=a%00b", None),
        ("post", "/api/v1/workflows/receipt-ocr/sessions", {"clientSubmissionId": "a\u0000b"}),
        ("post", "/api/v1/workflows/receipt-ocr/sessions", {"metadata": {"k": "\u0000"}}),
    ],
)
def test_nul_characters_are_a_documented_400_not_a_500(api, workflows, method, url, body):
    """Found by fuzzing: PostgreSQL refuses NUL in text, which used to surface as a 500."""
    if body is not None:
        body = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "x", **body}
    response = getattr(api, method)(url, body, format="json") if body else api.get(url)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CHARACTERS"
    assert "INVALID_CHARACTERS" in PROBLEM_CODES
