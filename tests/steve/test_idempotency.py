"""Idempotency-Key on creates: replay, in flight, reuse, release on failure, races, purge."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from jobs.models import WorkflowSession
from steve.api.auth import ApiClient
from steve.api.idempotency import idempotent, request_fingerprint
from steve.models import Company, IdempotencyKey
from steve.services import idempotency_keys_purge
from submissions.models import Submission
from tests import factories
from tests.jobs.test_database_blip import drop_our_connection
from tests.openapi import published_schema
from tests.steve.test_query_parameters import view_of

pytestmark = pytest.mark.django_db

URL = "/api/v1/workflows/receipt-ocr/sessions"


def body(**overrides) -> dict:
    return {
        "fileCount": 1,
        "contentTypes": ["image/jpeg"],
        "clientSubmissionId": "idem-1",
        **overrides,
    }


def create(api: APIClient, key: str | None, payload: dict | None = None, url: str = URL):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(url, payload or body(), format="json", **headers)


def test_replay_returns_the_stored_status_and_body(api, workflows):
    first = create(api, "k-1")
    assert first.status_code == 201 and "X-Idempotent-Replay" not in first
    time.sleep(0.01)  # a recomputed body would carry a later uploadUrlsExpireAt
    second = create(api, "k-1")
    assert second.status_code == 201
    assert second["X-Idempotent-Replay"] == "true"
    assert second.json() == first.json()
    assert WorkflowSession.objects.count() == 1
    row = IdempotencyKey.objects.get()
    assert row.state == "done" and row.response_status == 201


def test_a_201_create_says_where_its_resource_is_and_its_replays_say_it_too(api, workflows):
    # RFC 9110 10.2.2: a 201 names the resource it made; the session's is its poll.
    first = create(api, "k-loc")
    location = f"/api/v1/jobs/{first.json()['sessionId']}"
    assert first["Location"] == location
    assert api.get(location).status_code == 200
    assert create(api, "k-loc")["Location"] == location  # Idempotency-Key replay
    assert create(api, None)["Location"] == location  # clientSubmissionId replay


def test_a_replay_is_byte_for_byte_the_first_answer(api, workflows):
    # The body was stored as jsonb, which orders an object's keys by length: the replay
    # answered the same members in another order ("state" before "sessionId").
    first = create(api, "k-bytes")
    replayed = create(api, "k-bytes")
    assert replayed["X-Idempotent-Replay"] == "true"
    assert replayed.content == first.content


def test_same_key_with_a_different_body_is_a_422(api, workflows):
    assert create(api, "k-1").status_code == 201
    response = create(api, "k-1", body(clientSubmissionId="idem-2"))
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert response.json()["type"].endswith("/idempotency-key-reused")
    assert WorkflowSession.objects.count() == 1


def test_same_key_on_another_path_is_a_422(api, workflows):
    assert create(api, "k-1").status_code == 201
    response = create(api, "k-1", url="/api/v1/workflows/invoice/sessions")
    assert response.status_code == 422
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_json_key_order_does_not_change_the_fingerprint(api, workflows):
    assert create(api, "k-1").status_code == 201
    reordered = dict(reversed(list(body().items())))
    assert create(api, "k-1", reordered)["X-Idempotent-Replay"] == "true"


def idempotency_row(created_key, key: str, fingerprint: str) -> IdempotencyKey:
    """An in-flight row of `key`, claimed through `created_key`."""
    api_key = created_key.api_key
    return IdempotencyKey.objects.create(
        api_key=api_key,
        company_id=api_key.company_id,
        environment=api_key.environment,
        key=key,
        fingerprint=fingerprint,
    )


def fingerprint_of(api, workflows_payload: dict) -> str:
    """The fingerprint the API computes for this body, read back from a finished key."""
    assert create(api, "probe", workflows_payload).status_code in (200, 201)
    return IdempotencyKey.objects.get(key="probe").fingerprint


def test_same_key_while_the_first_request_runs_is_a_409(api, api_key, workflows):
    fingerprint = fingerprint_of(api, body())
    idempotency_row(api_key, "k-1", fingerprint)
    response = create(api, "k-1")
    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT"
    assert response["Retry-After"] == "1"


def test_an_abandoned_in_flight_key_is_taken_over(api, api_key, workflows, settings):
    fingerprint = fingerprint_of(api, body(clientSubmissionId="other"))
    row = idempotency_row(api_key, "k-1", fingerprint)
    old = timezone.now() - settings.IDEMPOTENCY_IN_FLIGHT_TIMEOUT - timedelta(seconds=1)
    IdempotencyKey.objects.filter(pk=row.pk).update(created_at=old)
    response = create(api, "k-1", body(clientSubmissionId="other"))
    # The probe made the session: a clientSubmissionId replay, answered as the original.
    assert response.status_code == 201 and response["X-Idempotent-Replay"] == "true"
    assert IdempotencyKey.objects.get(pk=row.pk).state == "done"


def test_a_refused_create_releases_the_key_for_a_corrected_request(api, workflows):
    bad = create(api, "k-1", body(fileCount=0, contentTypes=[]))
    assert bad.status_code == 422 and bad.json()["code"] == "VALIDATION_ERROR"
    assert not IdempotencyKey.objects.exists()
    fixed = create(api, "k-1")
    assert fixed.status_code == 201 and "X-Idempotent-Replay" not in fixed


def test_a_server_error_releases_the_key(api, workflows, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("jobs.api.views.session_create", broken)
    assert create(api, "k-1").status_code == 500
    assert not IdempotencyKey.objects.exists()
    monkeypatch.undo()
    assert create(api, "k-1").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_mid_create_releases_the_key_for_the_retry(api, workflows, monkeypatch):
    # PostgreSQL restarted while the create ran: releasing the key on the lost connection
    # failed too, and the retry the 503 asks for was a 409 IDEMPOTENCY_KEY_IN_FLIGHT for
    # IDEMPOTENCY_IN_FLIGHT_TIMEOUT, though nothing was in flight.
    def lost(**kwargs):
        drop_our_connection()
        return WorkflowSession.objects.first()

    monkeypatch.setattr("jobs.api.views.session_create", lost)
    assert create(api, "k-1").status_code == 503
    monkeypatch.undo()
    close_old_connections()  # as the server does after each request
    assert create(api, "k-1").status_code == 201


def client_of(created_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {created_key.secret}")
    return client


def test_a_rotated_in_key_of_the_company_replays_the_first_result(api, company, workflows):
    # Rotating keys, an integrator retries through the new key: per API key, the retry
    # made a twin of the session the old key had made.
    first = create(api, "k-1")
    assert first.status_code == 201
    rotated = client_of(factories.api_key(company, "rotated in"))
    replayed = create(rotated, "k-1")
    assert replayed.status_code == 201 and replayed["X-Idempotent-Replay"] == "true"
    assert replayed.content == first.content
    assert replayed["Location"] == first["Location"]
    assert WorkflowSession.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_a_key_reused_for_another_body_through_another_api_key_is_a_422(api, company, workflows):
    assert create(api, "k-1").status_code == 201
    rotated = client_of(factories.api_key(company, "rotated in"))
    response = create(rotated, "k-1", body(clientSubmissionId="idem-2"))
    assert response.status_code == 422
    assert response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert WorkflowSession.objects.count() == 1


def test_a_key_in_flight_through_another_api_key_of_the_company_is_a_409(
    api, api_key, company, workflows
):
    fingerprint = fingerprint_of(api, body())
    idempotency_row(api_key, "k-1", fingerprint)  # the old key's create still runs
    response = create(client_of(factories.api_key(company, "rotated in")), "k-1")
    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT"


def test_another_companys_key_is_independent(api, workflows):
    other = factories.CompanyFactory()
    factories.default_workflows(other)
    first = create(api, "k-1")
    theirs = create(client_of(factories.api_key(other)), "k-1")
    assert theirs.status_code == 201 and "X-Idempotent-Replay" not in theirs
    assert theirs.json()["sessionId"] != first.json()["sessionId"]
    assert WorkflowSession.objects.count() == 2


def test_the_companys_sandbox_is_independent_of_production(api, company, workflows):
    first = create(api, "k-1")
    sandbox = client_of(factories.api_key(company, "sandbox", environment="sandbox"))
    theirs = create(sandbox, "k-1")
    assert theirs.status_code == 201 and "X-Idempotent-Replay" not in theirs
    assert theirs.json()["sessionId"] != first.json()["sessionId"]
    assert WorkflowSession.objects.count() == 2
    assert create(sandbox, "k-1")["X-Idempotent-Replay"] == "true"  # its own, kept apart


def test_a_create_retried_through_another_key_of_the_company_makes_no_twin(company):
    before = Company.objects.count()
    created = call_view(factories.api_key(company, "old"), "k-twin")
    replay = call_view(factories.api_key(company, "new"), "k-twin")
    assert replay["X-Idempotent-Replay"] == "true" and replay.data == created.data
    assert Company.objects.count() == before + 1


def test_deleting_the_api_key_keeps_the_companys_keys_for_their_ttl(company):
    # An API key with no sessions may be deleted in the admin: its idempotency records
    # still protect the company's creates (the replay goes through another key).
    first = factories.api_key(company, "retired")
    created = call_view(first, "k-del")
    assert created.status_code == 201
    first.api_key.delete()
    row = IdempotencyKey.objects.get(key="k-del")
    assert row.api_key is None and row.company == company
    replay = call_view(factories.api_key(company, "rotated in"), "k-del")
    assert replay["X-Idempotent-Replay"] == "true" and replay.data == created.data


def test_a_key_past_retention_counts_as_new(api, workflows, settings):
    assert create(api, "k-1").status_code == 201
    IdempotencyKey.objects.update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    )
    response = create(api, "k-1", body(clientSubmissionId="idem-2"))
    assert response.status_code == 201 and "X-Idempotent-Replay" not in response


def test_invalid_keys_are_a_400(api, workflows):
    for key in ("", "x" * 256, "caf\u00e9"):
        response = create(api, key)
        assert response.status_code == 400, key
        assert response.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
    assert not WorkflowSession.objects.exists()


def test_without_the_header_nothing_is_stored(api, workflows):
    assert create(api, None).status_code == 201
    assert not IdempotencyKey.objects.exists()


def test_purge_deletes_keys_older_than_seven_days(api_key):
    now = timezone.now()
    for name, age in (("old", timedelta(days=7, minutes=1)), ("new", timedelta(days=6))):
        row = idempotency_row(api_key, name, "f")
        IdempotencyKey.objects.filter(pk=row.pk).update(created_at=now - age)
    assert idempotency_keys_purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_beat_purges_idempotency_keys_past_their_retention(api_key, settings):
    """idempotency_keys_purge had no task and no beat entry: keys (with the response
    bodies they replay) piled up forever."""
    from steve.celery import app

    now = timezone.now()
    for name, age in (("old", timedelta(days=7, minutes=1)), ("new", timedelta(days=6))):
        row = idempotency_row(api_key, name, "f")
        IdempotencyKey.objects.filter(pk=row.pk).update(created_at=now - age)
    app.loader.import_default_modules()  # the apps' tasks, as a worker finds them
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        app.tasks[entry["task"]].apply().get()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_the_purge_is_bounded_per_run_and_the_next_run_takes_the_rest(api_key, settings):
    old = timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    for name in ("a", "b", "c"):
        row = idempotency_row(api_key, name, "f")
        IdempotencyKey.objects.filter(pk=row.pk).update(created_at=old)
    assert idempotency_keys_purge(limit=2) == 2
    assert idempotency_keys_purge(limit=2) == 1
    assert not IdempotencyKey.objects.exists()


class SlowCompanyCreate(APIView):
    """A create with no natural key of its own: only Idempotency-Key stops twins."""

    parser_classes = [JSONParser, MultiPartParser]

    @idempotent(scope="test-companies")
    def post(self, request: Request) -> Response:
        time.sleep(0.3)  # long enough for the racing requests to overlap
        company = Company.objects.create(name="Twin", slug=f"twin-{uuid.uuid4().hex[:10]}")
        return Response({"id": company.pk}, status=201)


def call_view(api_key, key: str) -> Response:
    request = APIRequestFactory().post(
        "/test/companies", {"name": "Twin"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    force_authenticate(request, user=ApiClient(api_key.api_key), token=api_key.api_key)
    return SlowCompanyCreate.as_view()(request)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_key_make_one_resource(api_key):
    before = Company.objects.count()
    responses: list[Response] = []

    def post() -> None:
        try:
            responses.append(call_view(api_key, "race-1"))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Company.objects.count() == before + 1
    fresh = [r for r in responses if r.status_code == 201 and "X-Idempotent-Replay" not in r]
    assert len(fresh) == 1
    assert {r.status_code for r in responses} <= {201, 409}
    replay = call_view(api_key, "race-1")
    assert replay["X-Idempotent-Replay"] == "true"
    assert replay.data == fresh[0].data


@pytest.mark.django_db(transaction=True)
def test_concurrent_session_creates_with_one_key_make_one_session(api_key, workflows):
    statuses: list[tuple[int, bool]] = []

    def post() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
        try:
            response = create(client, "race-2", body(clientSubmissionId="race-2"))
            statuses.append((response.status_code, "X-Idempotent-Replay" in response))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert WorkflowSession.objects.filter(client_submission_id="race-2").count() == 1
    assert statuses.count((201, False)) == 1
    assert set(statuses) <= {(201, False), (201, True), (409, False)}


def multipart(boundary: str) -> bytes:
    lines = [
        f"--{boundary}",
        'Content-Disposition: form-data; name="templateName"',
        "",
        "invoice",
        f"--{boundary}",
        'Content-Disposition: form-data; name="file"; filename="a.pdf"',
        "Content-Type: application/pdf",
        "",
        "%PDF-1.4 same bytes",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()


def multipart_request(boundary: str, data: bytes | None = None) -> Request:
    raw = APIRequestFactory().post(
        "/api/v1/extraction-jobs",
        data or multipart(boundary),
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    return Request(raw, parsers=[MultiPartParser()])


def test_multipart_fingerprint_ignores_the_boundary_but_not_the_file():
    first = request_fingerprint(multipart_request("aaaa1111"), "jobs")
    assert request_fingerprint(multipart_request("bbbb2222"), "jobs") == first
    changed = multipart("cccc3333").replace(b"same bytes", b"other bytes")
    assert request_fingerprint(multipart_request("cccc3333", changed), "jobs") != first


# ---- every write call, not only creates (docs/api.md, "Replays") ----

WRITE_METHODS = ("post", "patch", "delete")


def write_operations() -> list[tuple[str, str]]:
    return [
        (path, method)
        for path, item in published_schema()["paths"].items()
        for method in item
        if method in WRITE_METHODS
    ]


@pytest.mark.parametrize(("template", "method"), write_operations())
def test_every_write_call_honours_an_idempotency_key_and_documents_it(template, method):
    # Client libraries send the header on every POST: a review action, a redelivery or a
    # submit took it and ignored it, so a retry after a lost answer was carried out again
    # (a second redelivery) or refused as if the first had failed (409 on approve).
    _, view = view_of(template)
    assert getattr(getattr(view, method), "idempotency_scope", None), (method, template)
    operation = published_schema()["paths"][template][method]
    assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}
    answers = operation["responses"]
    for status, code in (
        ("400", "INVALID_IDEMPOTENCY_KEY"),
        ("409", "IDEMPOTENCY_KEY_IN_FLIGHT"),
        ("422", "IDEMPOTENCY_KEY_REUSED"),
    ):
        assert code in answers[status]["content"]["application/problem+json"]["examples"]
    success = next(s for s in answers if s.startswith("2"))
    assert "X-Idempotent-Replay" in answers[success]["headers"]


def approve(api: APIClient, submission_id: str, key: str | None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(f"/api/v1/submissions/{submission_id}/approve", **headers)


def test_an_approve_retried_with_its_key_replays_its_200_and_approves_once(api, company):
    submission = factories.SubmissionFactory(company=company)
    first = approve(api, submission.pk, "approve-1")
    assert first.status_code == 200 and "X-Idempotent-Replay" not in first
    retried = approve(api, submission.pk, "approve-1")
    assert retried.status_code == 200 and retried["X-Idempotent-Replay"] == "true"
    assert retried.content == first.content
    assert submission.events.filter(type="approved").count() == 1
    # Without the key Steve cannot tell a retry from a second approve: it says so.
    again = approve(api, submission.pk, None)
    assert again.status_code == 409
    assert (again.json()["code"], again.json()["currentStatus"]) == (
        "SUBMISSION_IS_APPROVED",
        "approved",
    )
    assert again.json()["detail"] == "The submission is already approved."


def test_a_key_sent_with_a_refused_action_is_released_for_the_retry(api, company):
    submission = factories.SubmissionFactory(company=company, status="processing")
    refused = approve(api, submission.pk, "approve-2")
    assert refused.status_code == 409 and not IdempotencyKey.objects.exists()
    Submission.objects.filter(pk=submission.pk).update(status="review")
    assert approve(api, submission.pk, "approve-2").status_code == 200


def test_one_key_on_two_actions_is_a_reuse(api, company):
    submission = factories.SubmissionFactory(company=company)
    assert approve(api, submission.pk, "decide-1").status_code == 200
    response = api.post(
        f"/api/v1/submissions/{submission.pk}/reject",
        {"reason": "illegible"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="decide-1",
    )
    assert response.status_code == 422 and response.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Submission.objects.get(pk=submission.pk).status == "approved"


def test_a_delete_retried_with_its_key_replays_its_204_not_a_404(api):
    created = api.post(
        "/api/v1/webhook-endpoints", {"url": "https://93.184.215.14/x"}, format="json"
    )
    path = f"/api/v1/webhook-endpoints/{created.json()['id']}"
    assert api.delete(path, HTTP_IDEMPOTENCY_KEY="del-1").status_code == 204
    retried = api.delete(path, HTTP_IDEMPOTENCY_KEY="del-1")
    assert retried.status_code == 204 and retried["X-Idempotent-Replay"] == "true"
    assert api.delete(path).status_code == 404  # without the key: it is gone


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        ("reject", {"reason": "Illegible."}, "SUBMISSION_IS_REJECTED"),
        ("cancel", {"reason": "Duplicate."}, "SUBMISSION_IS_CANCELLED"),
    ],
)
def test_a_review_action_retried_with_its_key_replays_and_without_it_says_it_was_done(
    api, company, action, body, code
):
    submission = factories.SubmissionFactory(company=company)
    url = f"/api/v1/submissions/{submission.pk}/{action}"
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"{action}-1")
    assert first.status_code == 200
    retried = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=f"{action}-1")
    assert (retried.status_code, retried["X-Idempotent-Replay"]) == (200, "true")
    assert retried.content == first.content
    assert submission.events.filter(to_status=first.json()["submissionStatus"]).count() == 1
    again = api.post(url, body, format="json")
    assert (again.status_code, again.json()["code"]) == (409, code)
    # The version the caller read before its own change: that change is named.
    stale = api.post(url, {**body, "expectedVersion": submission.version}, format="json")
    assert (stale.status_code, stale.json()["code"]) == (409, "SUBMISSION_CHANGED")
