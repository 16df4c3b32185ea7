"""Schemathesis against a live server: no 5xx, and every response fits the schema.

All four of schemathesis' phases run in CI:
- examples and coverage (Hypothesis' explicit phase: the schema's examples, then
  boundary and negative values for every parameter and body field),
- fuzzing (generated cases, `MAX_EXAMPLES` per operation),
- stateful (`test_stateful_sequences_never_fail`: chains of calls following the links
  schemathesis infers, e.g. a created session's id into submit and poll).
Each documented operation (tags of Steve's own and the seeds' endpoints) is called as
the seeded key; an operation with path ids is also called with the ids of real seeded
rows, so success responses are checked too, not only 404s.

Bounded in time: each operation has `BUDGET_SECONDS` (a case reached after that is
skipped, with a warning) and the stateful test runs `STATEFUL_EXAMPLES` scenarios of
up to `STATEFUL_STEPS` calls, so CI time stays under 90 s while any 5xx fails the build.

A deeper run, e.g. before a release:
    SCHEMATHESIS_MAX_EXAMPLES=100 SCHEMATHESIS_BUDGET=120 SCHEMATHESIS_STATEFUL_EXAMPLES=200 \
        ./scripts/test tests/steve/test_schemathesis.py
"""

import os
import socket
import time
import warnings

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fraud.models import FraudMatch
from jobs.services import SessionRequest, session_create
from tests import factories

pytestmark = [pytest.mark.schemathesis, pytest.mark.django_db(transaction=True)]

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
# Seconds per operation (there are 16): each gets its share, later ones are not starved.
BUDGET_SECONDS = float(os.environ.get("SCHEMATHESIS_BUDGET", "2"))
# The stateful phase is bounded by its counts: scenarios, and calls per scenario.
STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "15"))
STATEFUL_STEPS = 6
# explicit: the examples and coverage phases; generate: the fuzzing phase.
PHASES = [Phase.explicit, Phase.generate]
REQUEST_TIMEOUT = 10
DOCUMENTED_TAGS = [
    "workflows",
    "sessions",
    "jobs",
    "submissions",
    "review",
    "fraud",
    "extraction-jobs",
]  # not "webhooks": fuzzing them would send test events to generated URLs
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
_started: dict[str, list[float]] = {}


@pytest.fixture
def seeded(db) -> dict[str, str]:
    """A company with workflows, a key, a pending session and a flagged submission."""
    company = factories.CompanyFactory()
    company.rate_limits = {b: 1_000_000 for b in ("read", "session", "submit", "write", "poll")}
    company.save()
    versions = factories.default_workflows(company)
    key = factories.api_key(company)
    session, _ = session_create(
        api_key=key.api_key,
        version=versions[0],
        request=SessionRequest(
            file_count=1,
            content_types=["image/jpeg"],
            client_submission_id="fuzz-1",
            metadata={"orderId": "1"},
            external_user=None,
            webhook_url="",
        ),
    )
    submission = factories.SubmissionFactory(company=company, fraud_status="flagged")
    target = factories.SubmissionFactory(company=company, workflow_version=versions[0])
    match = FraudMatch.objects.create(
        company=company,
        submission=submission,
        target_submission=target,
        check_type="visual",
        score=72.5,
        similarity=0.88,
    )
    return {
        "secret": key.secret,
        "slug": versions[0].workflow.slug,
        "version": str(versions[0].version),
        "session_id": session.pk,
        "submission_id": submission.pk,
        "match_id": match.pk,
    }


_schema_cache: dict[str, dict] = {}


@pytest.fixture
def loopback_dns(monkeypatch):
    """Every name resolves to 127.0.0.1: a fuzzed webhookUrl must not reach the network.

    Session creation resolves webhookUrl to refuse private targets; a generated host
    name would otherwise be looked up for real.
    """
    resolve = socket.getaddrinfo

    def loopback(host: object, port: object, *args: object, **kwargs: object) -> list:
        return resolve("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback)


@pytest.fixture
def api_schema(live_server, seeded, loopback_dns):
    # Fetched from the live server once: generating it takes seconds, and it is the same
    # for every operation's test.
    url = f"{live_server.url}/api/v1/schema?format=json"
    if url not in _schema_cache:
        response = requests.get(url, timeout=60)
        response.raise_for_status()
        _schema_cache[url] = response.json()
    return schemathesis.openapi.from_dict(_schema_cache[url])


schema = schemathesis.pytest.from_fixture("api_schema").include(tag=DOCUMENTED_TAGS)


_skipped: list[str] = []


def within_budget(operation: str) -> bool:
    """False once the operation's BUDGET_SECONDS have passed since its first case."""
    started = _started.setdefault(operation, [time.monotonic()])
    if time.monotonic() - started[0] <= BUDGET_SECONDS:
        return True
    if operation not in _skipped:
        _skipped.append(operation)
        warnings.warn(f"schemathesis: {operation}: budget spent, later cases skipped", stacklevel=2)
    return False


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=PHASES,
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, live_server, seeded, request) -> None:
    if not within_budget(case.operation.label):
        return
    headers = {"Authorization": f"Bearer {seeded['secret']}"}
    with requests.Session() as http:
        case.call_and_validate(
            base_url=live_server.url,
            headers=headers,
            checks=CHECKS,
            session=http,
            timeout=REQUEST_TIMEOUT,
        )
        if case.path_parameters:
            # The same request against real rows, so success bodies are validated too.
            case.path_parameters = {
                name: seeded.get(name, value) for name, value in case.path_parameters.items()
            }
            case.call_and_validate(
                base_url=live_server.url,
                headers=headers,
                checks=CHECKS,
                session=http,
                timeout=REQUEST_TIMEOUT,
            )


def test_stateful_sequences_never_fail(api_schema, live_server, seeded) -> None:
    """The stateful phase: chains of calls along the links schemathesis infers."""
    headers = {"Authorization": f"Bearer {seeded['secret']}"}
    http = requests.Session()
    calls: list[str] = []

    class Machine(api_schema.include(tag=DOCUMENTED_TAGS).as_state_machine()):
        def get_call_kwargs(self, case):
            calls.append(case.operation.label)
            return {
                "base_url": live_server.url,
                "headers": headers,
                "session": http,
                "timeout": REQUEST_TIMEOUT,
            }

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    try:
        Machine.run(
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=STATEFUL_STEPS,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
        )
    finally:
        http.close()
    # Not vacuous: scenarios followed links from one operation into another.
    assert len(set(calls)) > 3, calls
