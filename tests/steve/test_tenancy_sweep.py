"""A hostile integrator's sweep of the tenancy boundaries (docs/security.md, API1).

Two companies, A and B, each with a production and a sandbox key. One of every object an
integrator can name by id is made through each of A's keys' API. Every route that takes
an id is then tried, with every method, by every key that must not reach the object:
another company's keys, and the other environment of the same company (another key of
the same environment too, for sessions, which stay with the key that made them).

Each answer must be exactly the answer to the same request naming ids that exist
nowhere (the ids themselves aside, which the detail repeats back as sent): never a 403
or a 200, never a 500, no other code or message, nothing of A's in it; and A's data must
be as it was. Lists, filters and cursors must show the caller none of A's rows.
"""

import importlib
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from fraud.models import FraudMatch
from jobs.models import WorkflowSession
from steve.api import ratelimit
from steve.api.pagination import encode_cursor
from steve.ids import new_id
from steve.models import Company, Environment, IdempotencyKey
from steve.services import workflow_publish
from submissions.models import MerchantMemory, Submission, SubmissionEvent, SubmissionFile
from tests import factories
from tests.jobs.fixtures_docs import invoice_pdf
from tests.jobs.test_sessions_api import jpeg_bytes, put
from webhooks.models import (
    SessionWebhookSecret,
    SessionWebhookTarget,
    WebhookDelivery,
    WebhookEndpoint,
)
from webhooks.services import (
    session_target_record_outcome,
    session_target_suspend,
    webhook_emit,
)

pytestmark = pytest.mark.django_db

PRODUCTION, SANDBOX = Environment.PRODUCTION, Environment.SANDBOX
ONLY_A = "a-only-expenses"  # a workflow slug company B does not have


def secrets_of(environment: str) -> tuple[str, ...]:
    """What A's objects of an environment carry that no answer to another may repeat."""
    return (
        f"order-a-secret-{environment}",
        f"A-merchant-secret-{environment}",
        f"127.0.0.1:9/a-hooks/{environment}",
        f"A-only description {environment}",
    )


def client_for(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@dataclass
class Tenant:
    company: Company
    keys: dict[str, Any]  # "production", "production-2", "sandbox": CreatedApiKey

    def client(self, key: str) -> APIClient:
        return client_for(self.keys[key].secret)


@dataclass
class Objects:
    """One of every object a key can name, made through that key's API."""

    ids: dict[str, str]
    upload_url: str = ""
    download_url: str = ""
    cursor: str = ""  # the submissions list's second page


def tenant(name: str) -> Tenant:
    company = factories.CompanyFactory(name=f"Company {name}", slug=f"company-{name.lower()}")
    factories.default_workflows(company)
    keys = {
        PRODUCTION: factories.api_key(company, f"{name} production"),
        "production-2": factories.api_key(company, f"{name} production 2"),
        SANDBOX: factories.api_key(company, f"{name} sandbox", environment=SANDBOX),
    }
    return Tenant(company, keys)


class World(dict):
    """Tenants "a" and "b", and A's objects of an environment (world[PRODUCTION]), made
    through A's API when a test first names that environment: making them is most of a
    test's setup here, and most tests name one environment's, or none."""

    def __missing__(self, environment: str) -> Objects:
        if environment not in (PRODUCTION, SANDBOX):
            raise KeyError(environment)
        objects = self[environment] = make_objects(self["a"], environment)
        return objects


@pytest.fixture
def world() -> World:
    a, b = tenant("A"), tenant("B")
    invoice = a.company.workflows.get(slug="invoice").latest
    workflow_publish(
        company=a.company,
        slug=ONLY_A,
        name="A-only expenses",
        kind=invoice.kind,
        upload=invoice.upload,
        output_schema=invoice.output_schema,
        review_threshold=80,
    )
    return World(a=a, b=b)


def make_objects(owner: Tenant, environment: str) -> Objects:
    api = owner.client(environment)
    company = owner.company
    sessions = []
    for n in range(2):
        created = api.post(
            f"/api/v1/workflows/{ONLY_A}/sessions",
            {
                "fileCount": 1,
                "contentTypes": ["image/jpeg"],
                "clientSubmissionId": f"order-a-secret-{environment}-{n}",
                "metadata": {"note": f"A-merchant-secret-{environment}"},
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        sessions.append(created.json())
    session = sessions[0]
    upload_url = session["uploadUrls"][0]["uploadUrl"]
    assert put(api, upload_url, jpeg_bytes()).status_code == 200
    submission = Submission.objects.get(pk=session["submissionId"])
    Submission.objects.filter(pk=submission.pk).update(
        status="review",
        extracted_data={"merchantName": f"A-merchant-secret-{environment}", "totalAmount": 1},
    )
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        target_submission_id=sessions[1]["submissionId"],
        check_type="duplicate",
        score=80,
        similarity=0.8,
    )
    endpoint = api.post(
        "/api/v1/webhook-endpoints",
        {
            "url": f"http://127.0.0.1:9/a-hooks/{environment}",
            "description": f"A-only description {environment}",
        },
        format="json",
    ).json()
    with transaction.atomic():
        (delivery, *_) = webhook_emit(
            company_id=company.pk,
            event_id=new_id("evt"),
            event_type="submission.approved",
            payload={"clientSubmissionId": f"order-a-secret-{environment}-0"},
            environment=environment,
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=3)
    job = api.post(
        "/api/v1/extraction-jobs",
        {"templateName": ONLY_A, "file": SimpleUploadedFile("i.pdf", invoice_pdf())},
        format="multipart",
    )
    assert job.status_code == 202, job.content
    page = api.get("/api/v1/submissions?limit=1").json()
    assert page["pagination"]["nextCursor"], page
    detail = api.get(f"/api/v1/submissions/{submission.pk}").json()
    return Objects(
        ids={
            "session": session["sessionId"],
            "submission": submission.pk,
            "match": match.pk,
            "endpoint": endpoint["id"],
            "delivery": delivery.pk,
            "job": job.json()["job"]["id"],
        },
        upload_url=upload_url,
        download_url=detail["files"][0]["downloadUrl"],
        cursor=page["pagination"]["nextCursor"],
    )


PREFIXES = {
    "session": "ses",
    "submission": "sub",
    "match": "fm",
    "endpoint": "we",
    "delivery": "whd",
    "job": "ses",
}

# Every route that names an object, with a body each write could plausibly take.
ROUTES: list[tuple[str, dict[str, Any] | None]] = [
    ("/api/v1/jobs/{session}", None),
    ("/api/v1/workflows/" + ONLY_A + "/sessions/{session}/submit", {}),
    ("/api/v1/workflows/receipt-ocr/sessions/{session}/submit", {}),
    ("/api/v1/extraction-jobs/{job}", None),
    ("/api/v1/extraction-jobs/{job}/result", None),
    ("/api/v1/extraction-jobs/{job}/cancel", {"reason": "Evil reason"}),
    ("/api/v1/extraction-jobs/{session}", None),
    ("/api/v1/submissions/{submission}", None),
    ("/api/v1/submissions/{submission}/approve", {}),
    ("/api/v1/submissions/{submission}/reject", {"reason": "no"}),
    ("/api/v1/submissions/{submission}/cancel", {}),
    ("/api/v1/submissions/{submission}/corrections", {"fields": {"merchantName": "Evil"}}),
    ("/api/v1/submissions/{submission}/fraud-matches", None),
    (
        "/api/v1/submissions/{submission}/fraud-matches/{match}/resolve",
        {"resolution": "false_positive"},
    ),
    ("/api/v1/webhook-endpoints/{endpoint}", {"enabled": False}),
    ("/api/v1/webhook-endpoints/{endpoint}/rotate-secret", {"gracePeriodHours": 0}),
    ("/api/v1/webhook-endpoints/{endpoint}/redeliver", {"since": "2020-01-01T00:00:00Z"}),
    ("/api/v1/webhook-endpoints/{endpoint}/deliveries", None),
    ("/api/v1/webhook-deliveries/{delivery}", None),
    ("/api/v1/webhook-deliveries/{delivery}/redeliver", {}),
    ("/api/v1/webhooks/test", {"endpointId": "{endpoint}"}),
]
METHODS = ("get", "head", "options", "post", "put", "patch", "delete")

# Who must not reach which object: (environment of A's objects, tenant, key).
INTRUDERS = [
    (PRODUCTION, "b", PRODUCTION),
    (PRODUCTION, "b", SANDBOX),
    (PRODUCTION, "a", SANDBOX),
    (SANDBOX, "b", PRODUCTION),
    (SANDBOX, "b", SANDBOX),
    (SANDBOX, "a", PRODUCTION),
]

# Workflows are shared by a company's environments (docs/environments.md).
OTHER_COMPANY = [intruder for intruder in INTRUDERS if intruder[1] == "b"]


def filled(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value


# Headers that could tell an object that exists from one that does not (the rate-limit
# headers too: a bucket only an existing object spent, such as a job's own poll limit).
COMPARED_HEADERS = (
    "Content-Type",
    "Allow",
    "Location",
    "Retry-After",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
)


def normalised(response, ids: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    """The answer with the ids it was asked about (repeated back as sent) named by their
    role, and the request's own id left out: what must not differ between a foreign id
    and a missing one."""
    text = response.content.decode()
    for name, value in sorted(ids.items(), key=lambda item: -len(item[1])):
        text = text.replace(value, "{" + name + "}")
    try:
        body = json.loads(text) if text.strip() else text
    except json.JSONDecodeError:
        body = text  # compared as it is
    if isinstance(body, dict):
        body.pop("requestId", None)
    headers = {name: response.get(name, "") for name in COMPARED_HEADERS}
    return response.status_code, headers, body


def missing_ids() -> dict[str, str]:
    return {name: new_id(prefix) for name, prefix in PREFIXES.items()}


def snapshot() -> list:
    """A's data, and everything any probe could have changed."""
    return [
        list(
            Submission.objects.order_by("pk").values_list(
                "pk", "status", "version", "extracted_data", "claimed_by", "reject_reason"
            )
        ),
        list(SubmissionEvent.objects.order_by("pk").values_list("pk", "type")),
        list(SubmissionFile.objects.order_by("pk").values_list("pk", "uploaded_at", "size")),
        list(FraudMatch.objects.order_by("pk").values_list("pk", "resolution", "status")),
        list(
            WebhookEndpoint.objects.order_by("pk").values_list(
                "pk", "secret", "enabled", "url", "description"
            )
        ),
        list(
            WebhookDelivery.objects.order_by("pk").values_list(
                "pk", "status", "attempts", "next_attempt_at"
            )
        ),
        list(WorkflowSession.objects.order_by("pk").values_list("pk", "state")),
        list(SessionWebhookSecret.objects.order_by("pk").values_list("environment", "secret")),
        list(MerchantMemory.objects.order_by("pk").values_list("pk", "value")),
    ]


def probe(client: APIClient, method: str, route: str, body: Any, ids: dict[str, str]):
    path = route.format(**ids)
    payload = filled(body, ids) if method not in ("get", "head", "options") else None
    return getattr(client, method)(path, payload, format="json")


def refusals(method: str) -> tuple[int, ...]:
    """What a probe may be answered: not found, or a method the route does not take.
    OPTIONS describes the route, whoever asks and whatever the id (docs/api.md)."""
    return (204,) if method == "options" else (404, 405)


def fresh_counters(monkeypatch) -> None:
    """Rate-limit counters from zero, so a foreign probe and its missing twin are counted
    alike (their headers compared) and hundreds of probes meet no 429."""
    monkeypatch.setattr(ratelimit, "KEY_PREFIX", f"steve:rl:{uuid.uuid4().hex[:12]}:")


@pytest.mark.parametrize(("owner_env", "who", "key"), INTRUDERS)
def test_every_id_route_answers_a_foreign_id_exactly_as_a_missing_one(
    world, owner_env, who, key, monkeypatch
):
    objects: Objects = world[owner_env]
    owner = world["a"].client(owner_env)
    for route, _ in ROUTES:
        if "{session}" in route and "extraction-jobs" not in route:
            # The owner's key does reach it: the sweep names live objects.
            assert (
                probe(owner, "get", "/api/v1/jobs/{session}", None, objects.ids).status_code == 200
            )
    intruder = world[who].client(key)
    before = snapshot()
    leaks = []
    for route, body in ROUTES:
        for method in METHODS:
            fresh_counters(monkeypatch)
            foreign = probe(intruder, method, route, body, objects.ids)
            missing_ids_ = missing_ids()
            fresh_counters(monkeypatch)
            missing = probe(intruder, method, route, body, missing_ids_)
            seen = normalised(foreign, objects.ids)
            expected = normalised(missing, missing_ids_)
            text = foreign.content.decode()
            if (
                seen != expected
                or foreign.status_code not in refusals(method)
                or any(value in text for value in secrets_of(owner_env))
                or world["a"].company.pk in text
            ):
                leaks.append((method.upper(), route, seen, expected))
    assert leaks == []
    assert snapshot() == before


def test_another_key_of_the_company_reaches_no_session_of_its_own_key(world, monkeypatch):
    """Sessions stay with the key that made them (STEVE-API.md), and a session is no
    extraction job to read under /extraction-jobs (another key's jobs are readable)."""
    objects: Objects = world[PRODUCTION]
    intruder = world["a"].client("production-2")
    before = snapshot()
    routes = [
        ("/api/v1/jobs/{session}", None),
        ("/api/v1/workflows/" + ONLY_A + "/sessions/{session}/submit", {}),
        ("/api/v1/extraction-jobs/{session}", None),
        ("/api/v1/extraction-jobs/{session}/result", None),
    ]
    for route, body in routes:
        for method in METHODS:
            fresh_counters(monkeypatch)
            foreign = probe(intruder, method, route, body, objects.ids)
            missing_ids_ = missing_ids()
            fresh_counters(monkeypatch)
            missing = probe(intruder, method, route, body, missing_ids_)
            assert foreign.status_code in refusals(method), (method, route, foreign.content)
            assert normalised(foreign, objects.ids) == normalised(missing, missing_ids_)
    assert snapshot() == before


@pytest.mark.parametrize(("owner_env", "who", "key"), OTHER_COMPANY)
def test_a_workflow_of_another_company_is_named_as_a_missing_one(
    world, owner_env, who, key, monkeypatch
):
    """Company B has no workflow ONLY_A: its key is answered as for a slug nobody has.
    (Workflows are shared by a company's environments, so A's sandbox key sees them.)"""
    intruder = world[who].client(key)
    session = {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "x"}
    for method, route, body in [
        ("get", "/api/v1/workflows/{slug}", None),
        ("get", "/api/v1/workflows/{slug}/versions/1", None),
        ("get", "/api/v1/workflows/{slug}/versions/latest", None),
        ("post", "/api/v1/workflows/{slug}/sessions", session),
    ]:
        fresh_counters(monkeypatch)
        foreign = getattr(intruder, method)(route.format(slug=ONLY_A), body, format="json")
        fresh_counters(monkeypatch)
        missing = getattr(intruder, method)(route.format(slug="no-such-flow"), body, format="json")
        assert foreign.status_code == 404, foreign.content
        assert normalised(foreign, {"slug": ONLY_A}) == normalised(
            missing, {"slug": "no-such-flow"}
        )
    assert [w["slug"] for w in intruder.get("/api/v1/workflows").json()["data"]] == [
        "invoice",
        "receipt-ocr",
    ]
    job = {"templateName": ONLY_A, "file": SimpleUploadedFile("i.pdf", invoice_pdf())}
    fresh_counters(monkeypatch)
    foreign = intruder.post("/api/v1/extraction-jobs", job, format="multipart")
    job = {"templateName": "no-such-flow", "file": SimpleUploadedFile("i.pdf", invoice_pdf())}
    fresh_counters(monkeypatch)
    missing = intruder.post("/api/v1/extraction-jobs", job, format="multipart")
    assert foreign.status_code == 404
    assert normalised(foreign, {"slug": ONLY_A}) == normalised(missing, {"slug": "no-such-flow"})


@pytest.mark.parametrize(("owner_env", "who", "key"), INTRUDERS)
def test_lists_filters_and_client_ids_show_nothing_of_another_tenant(world, owner_env, who, key):
    objects: Objects = world[owner_env]
    intruder = world[who].client(key)
    # The intruder's own objects, so its lists are not empty by accident.
    own = intruder.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        # A's order number: unique per company and environment, so taken here again.
        {
            "fileCount": 1,
            "contentTypes": ["image/jpeg"],
            "clientSubmissionId": f"order-a-secret-{owner_env}-0",
        },
        format="json",
    )
    assert own.status_code == 201, own.content
    endpoint = intruder.post(
        "/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/b-hooks/"}, format="json"
    ).json()
    intruder.post(f"/api/v1/submissions/{own.json()['submissionId']}/cancel", {}, format="json")
    a_ids = set(objects.ids.values())
    reads = [
        "/api/v1/submissions",
        "/api/v1/submissions?limit=100",
        "/api/v1/submissions?status=review",
        "/api/v1/submissions?fraudStatus=clean",
        f"/api/v1/submissions?workflow={ONLY_A}",
        "/api/v1/webhook-endpoints",
        f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries",
        f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries?status=failed",
        f"/api/v1/submissions/{own.json()['submissionId']}",
        f"/api/v1/submissions/{own.json()['submissionId']}/fraud-matches",
        f"/api/v1/jobs/{own.json()['sessionId']}",
    ]
    for path in reads:
        response = intruder.get(path)
        assert response.status_code == 200, (path, response.content)
        text = response.content.decode()
        assert not any(i in text for i in a_ids), path
        # (Its own session took A's order number: that one it sent itself.)
        assert not any(value in text for value in secrets_of(owner_env)[1:]), path
    # The intruder's redelivery of its own failed deliveries redelivers none of A's.
    before = snapshot()
    redelivered = intruder.post(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/redeliver",
        {"since": "2020-01-01T00:00:00Z"},
        format="json",
    )
    assert redelivered.status_code == 202 and redelivered.json()["redelivered"] == 0
    assert snapshot() == before
    # The session secret of A's environment is not the intruder's.
    assert intruder.get("/api/v1/webhook-endpoints/session-secret").json()["exists"] is False


@pytest.mark.parametrize(("owner_env", "who", "key"), INTRUDERS)
def test_a_cursor_of_another_tenant_or_tampered_with_is_refused_as_a_forged_one(
    world, owner_env, who, key, monkeypatch
):
    objects: Objects = world[owner_env]
    intruder = world[who].client(key)
    for _ in range(2):  # two pages of the intruder's own, so its own cursors exist
        intruder.post(
            "/api/v1/workflows/receipt-ocr/sessions",
            {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": new_id("o")},
            format="json",
        )
    own_cursor = intruder.get("/api/v1/submissions?limit=1").json()["pagination"]["nextCursor"]
    assert own_cursor
    assert intruder.get(f"/api/v1/submissions?cursor={own_cursor}").status_code == 200
    payload, signature = own_cursor.rsplit(":", 1)
    a_scope = f"submissions:{world['a'].company.pk}:{owner_env}"
    forged = "eyJhZnRlciI6InN1Yl96In0:forged"
    refusals = [
        objects.cursor,  # A's own, as A's listing signed it
        # The intruder's signature over a cursor pointing past A's newest row.
        f"{objects.cursor.rsplit(':', 1)[0]}:{signature}",
        f"{payload}:{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        encode_cursor(a_scope, objects.ids["submission"]),
        forged,
    ]
    fresh_counters(monkeypatch)
    expected = intruder.get(f"/api/v1/submissions?cursor={forged}")
    assert expected.status_code == 400 and expected.json()["code"] == "INVALID_CURSOR"
    for cursor in refusals:
        fresh_counters(monkeypatch)
        response = intruder.get(f"/api/v1/submissions?cursor={cursor}")
        assert normalised(response, {"c": cursor}) == normalised(expected, {"c": forged}), cursor


def test_fraud_match_and_delivery_cursors_are_bound_to_their_own_listing(world):
    """A cursor from A's submission's fraud matches or A's endpoint's deliveries is refused
    on B's (B cannot list A's at all: the ids are 404)."""
    objects: Objects = world[PRODUCTION]
    a = world["a"].client(PRODUCTION)
    b = world["b"].client(PRODUCTION)
    b_sub = b.post(
        "/api/v1/workflows/receipt-ocr/sessions",
        {"fileCount": 1, "contentTypes": ["image/jpeg"], "clientSubmissionId": "b-1"},
        format="json",
    ).json()["submissionId"]
    b_endpoint = b.post(
        "/api/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/b-hooks/"}, format="json"
    ).json()["id"]
    matches = encode_cursor(f"fraud-matches:{objects.ids['submission']}", objects.ids["match"])
    own = a.get(f"/api/v1/submissions/{objects.ids['submission']}/fraud-matches?cursor={matches}")
    assert own.status_code == 200
    refused = b.get(f"/api/v1/submissions/{b_sub}/fraud-matches?cursor={matches}")
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_CURSOR"
    deliveries = encode_cursor(
        f"webhook-deliveries:{objects.ids['endpoint']}:", objects.ids["delivery"]
    )
    refused = b.get(f"/api/v1/webhook-endpoints/{b_endpoint}/deliveries?cursor={deliveries}")
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_CURSOR"


def test_upload_and_download_urls_cannot_be_retargeted(world, api_client_anonymous):
    """Upload and download URLs are bearer URLs bound, by their signature, to one file:
    a token edited to name another file is refused as one Steve never signed."""
    objects: Objects = world[PRODUCTION]
    other: Objects = world[SANDBOX]
    before = snapshot()
    upload = objects.upload_url.removeprefix("http://testserver")
    token = upload.rsplit("/", 1)[1]
    other_token = other.upload_url.rsplit("/", 1)[1]
    spliced = f"{token.rsplit(':', 2)[0]}:{other_token.split(':', 1)[1]}"
    for bad in (spliced, token[:-1] + ("A" if token[-1] != "A" else "B")):
        response = api_client_anonymous.generic(
            "PUT", f"/api/v1/uploads/{bad}", jpeg_bytes("black"), content_type="image/jpeg"
        )
        assert response.status_code == 403, response.content
        assert response.json()["code"] == "UPLOAD_URL_INVALID"
    download = objects.download_url.removeprefix("http://testserver")
    assert api_client_anonymous.get(download).status_code == 200
    other_download = other.download_url.rsplit("/", 1)[1]
    d_token = download.rsplit("/", 1)[1]
    spliced = f"{d_token.rsplit(':', 2)[0]}:{other_download.split(':', 1)[1]}"
    assert api_client_anonymous.get(f"/files/{spliced}").status_code == 403
    # An upload token is no download token, nor the other way round.
    assert api_client_anonymous.get(f"/files/{token}").status_code == 403
    response = api_client_anonymous.generic(
        "PUT", f"/api/v1/uploads/{d_token}", jpeg_bytes("black"), content_type="image/jpeg"
    )
    assert response.status_code == 403
    assert snapshot() == before


@pytest.fixture
def api_client_anonymous() -> APIClient:
    return APIClient()


def test_idempotency_keys_are_the_callers_own(world):
    """The same Idempotency-Key from another tenant is a new request, never A's replay."""
    a = world["a"].client(PRODUCTION)
    body = {"url": "http://127.0.0.1:9/a-hooks/idem", "description": "A's"}
    made = a.post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert made.status_code == 201
    for who, key in (("b", PRODUCTION), ("b", SANDBOX), ("a", SANDBOX)):
        other = (
            world[who]
            .client(key)
            .post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="same")
        )
        assert other.status_code == 201 and "X-Idempotent-Replay" not in other
        assert other.json()["id"] != made.json()["id"]
    assert IdempotencyKey.objects.filter(key="same").count() == 4


def session_url_delivery(company: Company, environment: str, url: str) -> WebhookDelivery:
    """A failed delivery of an event of an `environment` session to its own webhookUrl."""
    with transaction.atomic():
        emitted = webhook_emit(
            company_id=company.pk,
            event_id=new_id("evt"),
            event_type="session.completed",
            payload={},
            session_id=new_id("ses"),
            session_url=url,
            environment=environment,
        )
    (delivery,) = [d for d in emitted if d.endpoint_id is None]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=3)
    return delivery


def test_a_sandbox_redelivery_leaves_the_production_host_suspended_and_held(world):
    """Deliveries to sessions' webhookUrl are suspended per host after days of failures,
    and held by its Retry-After: production's host was one row with the sandbox's, so a
    sandbox key redelivering its own delivery resumed production's suspended host (and
    lifted its hold), and sandbox failures (signed with the sandbox secret, which the
    production receiver refuses) suspended production's deliveries to it."""
    company = world["a"].company
    url = "http://127.0.0.1:9/a-receiver"
    production = session_url_delivery(company, PRODUCTION, url)
    session_target_suspend(target_id=production.session_target_id, reason="Down for days.")
    SessionWebhookTarget.objects.filter(pk=production.session_target_id).update(
        held_until=timezone.now() + timedelta(hours=1)
    )
    sandbox = session_url_delivery(company, SANDBOX, url)
    before = SessionWebhookTarget.objects.filter(pk=production.session_target_id).values().get()
    sandbox_key = world["a"].client(SANDBOX)
    redelivered = sandbox_key.post(f"/api/v1/webhook-deliveries/{sandbox.pk}/redeliver")
    assert redelivered.status_code == 202, redelivered.content
    after = SessionWebhookTarget.objects.filter(pk=production.session_target_id).values().get()
    assert after == before
    # The sandbox's failures run on its own row, and suspend only the sandbox's host.
    assert sandbox.session_target_id != production.session_target_id
    session_target_record_outcome(target_id=sandbox.session_target_id, succeeded=False)
    assert SessionWebhookTarget.objects.get(pk=production.session_target_id).last_failure_at is None


def test_the_migration_moves_sandbox_deliveries_to_a_sandbox_twin_of_their_host(world):
    """Before targets had an environment, one row carried both environments' deliveries:
    the migration leaves it production's and gives the sandbox's their own copy of it."""
    from django.apps import apps

    migration = importlib.import_module("webhooks.migrations.0016_session_targets_per_environment")
    company = world["a"].company
    url = "http://127.0.0.1:9/a-receiver"
    production = session_url_delivery(company, PRODUCTION, url)
    sandbox = session_url_delivery(company, SANDBOX, url)
    session_target_suspend(target_id=production.session_target_id, reason="Down for days.")
    shared = SessionWebhookTarget.objects.get(pk=production.session_target_id)
    WebhookDelivery.objects.filter(pk=sandbox.pk).update(session_target=shared)
    SessionWebhookTarget.objects.filter(environment=SANDBOX).delete()
    with connection.schema_editor() as editor:  # it runs its deferred checks through it
        migration.split_sandbox_deliveries(apps, editor)
    sandbox.refresh_from_db()
    twin = sandbox.session_target
    assert twin.pk != shared.pk
    assert (twin.environment, twin.origin, twin.suspended_at) == (
        SANDBOX,
        shared.origin,
        shared.suspended_at,
    )
    assert WebhookDelivery.objects.get(pk=production.pk).session_target_id == shared.pk
