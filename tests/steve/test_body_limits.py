"""A write call's body over its operation's limit is 413 BODY_TOO_LARGE, refused from its
Content-Length before a byte is parsed (steve.api.bodysize).

Every operation took a JSON body up to the request cap (25 MB): one of eight million
`{}` cost a web worker seconds of CPU and ~580 MB to parse before the view refused it.
The largest valid body of each operation (every text at its longest, each character
escaped as \\uXXXX) still passes.
"""

import base64
import io
import json
import os
from typing import Any

import pytest
from django.urls import resolve
from PIL import Image

from jobs.api.serializers import MAX_CLIENT_ID, MAX_EXTERNAL_USER_CHARS, MAX_METADATA_BYTES
from jobs.models import WorkflowSession
from steve.api import bodysize
from steve.api.parsers import BoundedJSONParser
from steve.models import FORMAT_MIME
from steve.services import workflow_publish
from steve.workflow_rules import UPLOAD_RULES_SCHEMA
from submissions.models import SubmissionEvent
from submissions.services import CORRECTION_MAX, MAX_LINE_ITEMS, REASON_MAX
from tests import factories
from tests.steve.test_chunked_bodies import ALL_WRITES, everything, production_objects
from tests.steve.test_environments import receiver_url
from webhooks.catalogue import EVENT_TYPES
from webhooks.services import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH

pytestmark = pytest.mark.django_db
__all__ = ["production_objects", "receiver_url"]  # fixtures the tests below take

SESSIONS = "/api/v1/workflows/receipt-ocr/sessions"
MAX_FILES = UPLOAD_RULES_SCHEMA["properties"]["maxFiles"]["maximum"]


def escaped(text: str) -> str:
    """`text` as a JSON string whose every character is a \\uXXXX escape: the longest a
    valid text can be sent (6 bytes a character; the limits count characters)."""
    return '"' + "".join(f"\\u{ord(c):04x}" for c in text) + '"'


def spelt(value: Any) -> str:
    """`value` as compact JSON with every string escaped (escaped)."""
    if isinstance(value, str):
        return escaped(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{escaped(k)}:{spelt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(spelt(item) for item in value) + "]"
    return json.dumps(value)


def parser_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    parse = BoundedJSONParser.parse

    def counted(self, *args, **kwargs):
        calls.append(1)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(BoundedJSONParser, "parse", counted)
    return calls


def test_a_2mb_body_to_session_create_is_413_and_never_parsed(api, workflows, monkeypatch):
    calls = parser_calls(monkeypatch)
    body = b"{" * (2 * 1024 * 1024)  # no JSON: a parser that read it would answer 400
    response = api.generic("POST", SESSIONS, body, content_type="application/json")
    assert response.status_code == 413, response.content
    problem = response.json()
    assert problem["code"] == "BODY_TOO_LARGE"
    assert problem["type"] == "https://steve.dev/problems/payload-too-large"
    assert problem["detail"] == (
        "The request body is larger than this operation reads: at most 1,048,576 bytes."
    )
    assert calls == []
    assert not WorkflowSession.objects.exists()


def test_a_body_of_exactly_the_limit_is_read(api, workflows):
    body = json.dumps({"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "a"})
    padded = body.encode() + b" " * (bodysize.DEFAULT_MAX_BODY_BYTES - len(body))
    response = api.generic("POST", SESSIONS, padded, content_type="application/json")
    assert response.status_code == 201, response.content


def limit_of(path: str) -> int | None:
    return bodysize.max_body_bytes(resolve(path).func.view_class)


@pytest.mark.parametrize(("method", "path", "body"), ALL_WRITES)
def test_every_write_refuses_a_body_one_byte_over_its_limit_unparsed(
    api, production_objects, monkeypatch, method, path, body
):
    url = path.format(**production_objects)
    limit = limit_of(url)
    if limit is None:
        pytest.skip("the extraction-job create holds its body to its own limit (its tests)")
    calls = parser_calls(monkeypatch)
    before = everything()
    response = api.generic(method.upper(), url, b"[" * (limit + 1), content_type="application/json")
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "BODY_TOO_LARGE"
    assert calls == []
    assert everything() == before


def test_a_large_body_without_a_key_is_still_401(anon_api, workflows):
    response = anon_api.generic("POST", SESSIONS, b"[" * 2_000_000, content_type="application/json")
    assert response.status_code == 401


def test_every_write_operation_documents_413_body_too_large():
    from tests.openapi import published_schema

    missing = [
        (method, path)
        for path, operations in published_schema()["paths"].items()
        for method, operation in operations.items()
        if method in {"post", "put", "patch", "delete"}
        and "BODY_TOO_LARGE"
        not in operation["responses"]
        .get("413", {})
        .get("content", {})
        .get("application/problem+json", {})
        .get("examples", {})
    ]
    assert missing == []


# ---- the largest valid bodies pass, with room to spare ----


def largest_session_create() -> str:
    longest_type = max(FORMAT_MIME.values(), key=len)
    # Every metadata byte an ASCII character: 1 byte stored, 6 sent.
    metadata_text = "m" * (MAX_METADATA_BYTES - len('{"k":""}'))
    local, label = "e" * 64, "d" * 63
    email = f"{local}@{label}.{label}.{label}.com"[:MAX_EXTERNAL_USER_CHARS]
    webhook = "https://93.184.215.14/"
    body = {
        "fileCount": MAX_FILES,
        "contentTypes": [longest_type] * MAX_FILES,
        "clientSubmissionId": "é" * MAX_CLIENT_ID,
        "metadata": {"k": metadata_text},
        "externalUser": {
            "id": "i" * MAX_EXTERNAL_USER_CHARS,
            "name": "é" * MAX_EXTERNAL_USER_CHARS,
            "email": email,
        },
        "webhookUrl": webhook + "p" * (MAX_URL_LENGTH - len(webhook)),
    }
    return spelt(body)


def test_the_largest_valid_session_create_is_accepted_with_room_to_spare(api, company):
    workflow_publish(
        company=company,
        slug="receipt-ocr",
        name="Receipts",
        kind="receipt",
        upload={"minFiles": 1, "maxFiles": MAX_FILES, "acceptedFormats": sorted(FORMAT_MIME)},
        output_schema=factories.default_workflows(company)[0].output_schema,
    )
    body = largest_session_create()
    response = api.generic("POST", SESSIONS, body.encode(), content_type="application/json")
    assert response.status_code == 201, response.content
    assert len(response.json()["uploadUrls"]) == MAX_FILES
    assert 4 * len(body) <= limit_of(SESSIONS)


def test_the_largest_valid_bodies_of_the_other_writes_fit_four_times_under_their_limit(
    api, production_objects
):
    objects = production_objects
    url = "https://93.184.215.14/" + "p" * (MAX_URL_LENGTH - 22)
    reason = {"reason": "é" * REASON_MAX, "expectedVersion": 2**31 - 1}
    largest = {
        f"/api/v1/submissions/{objects['submission']}/reject": reason,
        f"/api/v1/submissions/{objects['submission']}/cancel": reason,
        f"/api/v1/submissions/{objects['submission']}/approve": {"expectedVersion": 2**31 - 1},
        f"/api/v1/submissions/{objects['submission']}/fraud-matches/{objects['match']}/resolve": {
            "resolution": "confirmed_fraud",
            **reason,
        },
        "/api/v1/extraction-jobs/ses_x/cancel": {"reason": "é" * REASON_MAX},
        "/api/v1/webhook-endpoints": {
            "url": url,
            "events": list(EVENT_TYPES),
            "description": "é" * MAX_DESCRIPTION_LENGTH,
        },
        f"/api/v1/webhook-endpoints/{objects['endpoint']}": {
            "url": url,
            "events": list(EVENT_TYPES),
            "description": "é" * MAX_DESCRIPTION_LENGTH,
            "enabled": False,
        },
        "/api/v1/webhooks/test": {"endpointId": "é" * 40, "url": url},
        f"/api/v1/webhook-endpoints/{objects['endpoint']}/redeliver": {
            "since": "2024-01-01T00:00:00.000000+00:00"
        },
        "/api/v1/webhook-endpoints/session-secret/rotate": {"gracePeriodHours": 168},
    }
    for path, body in largest.items():
        assert 4 * len(spelt(body)) <= limit_of(path), path
    # The longest of them is read, not refused for its size.
    endpoint = api.post(
        "/api/v1/webhook-endpoints",
        spelt(largest["/api/v1/webhook-endpoints"]).encode(),
        content_type="application/json",
    )
    assert endpoint.status_code == 201, endpoint.content


def largest_corrections() -> str:
    text = "語" * CORRECTION_MAX
    rows = [
        {"description": text, "quantity": 99999.9999, "amount": -99999999999.9999}
    ] * MAX_LINE_ITEMS
    fields = {"merchantName": text, "merchantAddress": text, "receiptNumber": text}
    return spelt({"fields": {**fields, "lineItems": rows}, "expectedVersion": 1})


def test_the_largest_valid_corrections_body_is_read_though_over_the_default(api, company):
    submission = factories.SubmissionFactory(company=company)
    url = f"/api/v1/submissions/{submission.pk}/corrections"
    body = largest_corrections()
    assert len(body) > bodysize.DEFAULT_MAX_BODY_BYTES  # the corrections' own limit reads it
    response = api.generic("POST", url, body.encode(), content_type="application/json")
    assert response.status_code == 200, response.content
    assert len(response.json()["extractedData"]["lineItems"]) == MAX_LINE_ITEMS
    assert SubmissionEvent.objects.filter(submission=submission, type="field_corrected").count()
    assert len(body) <= limit_of(url)


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: `side`² random pixels, ~3 bytes each."""
    image = Image.frombytes("RGB", (side, side), os.urandom(3 * side * side))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_an_extraction_job_still_takes_a_json_body_of_megabytes(api, workflows):
    file = noise_png(800)  # ~1.9 MB, ~2.6 MB as base64: over the default limit
    body = json.dumps({"templateName": "invoice", "file": base64.b64encode(file).decode()})
    assert len(body) > 2 * bodysize.DEFAULT_MAX_BODY_BYTES
    response = api.generic(
        "POST", "/api/v1/extraction-jobs", body.encode(), content_type="application/json"
    )
    assert response.status_code == 202, response.content


def test_the_corrections_operation_names_its_own_limit():
    from submissions.api.serializers import CORRECTIONS_MAX_BODY_BYTES
    from tests.openapi import published_schema

    paths = published_schema()["paths"]
    operation = paths["/api/v1/submissions/{submission_id}/corrections"]["post"]
    assert f"{CORRECTIONS_MAX_BODY_BYTES:,} bytes" in operation["description"]
    default = f"{bodysize.DEFAULT_MAX_BODY_BYTES:,} bytes"
    assert default in operation["responses"]["413"]["description"]


def test_a_reads_body_is_not_parsed_to_order_its_errors(api, workflows, monkeypatch):
    """A read reads no body, and no size limit holds one: the errors' order (the body's
    members, then the query's) parsed it, so a GET refused for two filters carried 24 MB
    of JSON into the parser."""
    calls = parser_calls(monkeypatch)
    response = api.generic(
        "GET",
        "/api/v1/submissions?status=x&fraudStatus=y",
        b"[" * 2_000_000,
        content_type="application/json",
    )
    assert response.status_code == 400 and response.json()["code"] == "INVALID_FILTER"
    assert [e["field"] for e in response.json()["errors"]] == ["status", "fraudStatus"]
    assert calls == []
