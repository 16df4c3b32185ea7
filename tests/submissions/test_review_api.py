"""Submission review over the API (seed 001): list, detail, approve, reject, cancel."""

import re
import threading

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from fraud.models import FraudMatch
from steve.ids import new_id
from steve.timefmt import iso
from submissions.models import Submission, SubmissionEvent
from tests import factories
from tests.factories import SubmissionFactory, SubmissionFileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_review(company):
    return SubmissionFactory(company=company)


def flag(submission, target) -> FraudMatch:
    return FraudMatch.objects.create(
        company=submission.company,
        submission=submission,
        target_submission=target,
        check_type="visual",
        score=72.5,
        similarity=0.88,
    )


def test_list_is_company_scoped_newest_first_with_the_seed_shape(api, company):
    mine = [SubmissionFactory(company=company) for _ in range(3)]
    SubmissionFactory()  # another company's
    body = api.get("/api/v1/submissions").json()
    assert [row["id"] for row in body["data"]] == [s.pk for s in reversed(mine)]
    assert body["pagination"] == {"hasMore": False, "nextCursor": None}
    row = body["data"][0]
    assert set(row) == {
        "id", "submissionStatus", "fraudStatus", "fraudScore", "workflow", "extractedData",
        "confidence", "createdAt", "clientSubmissionId",
    }  # fmt: skip
    assert row["workflow"] == {"slug": "receipt-ocr", "name": "Receipt OCR", "version": 1}


def test_list_pages_with_an_opaque_cursor_and_clamps_limit(api, company):
    made = [SubmissionFactory(company=company) for _ in range(5)]
    first = api.get("/api/v1/submissions?limit=2").json()
    assert first["pagination"]["hasMore"] is True
    second = api.get(f"/api/v1/submissions?limit=2&cursor={first['pagination']['nextCursor']}")
    ids = [r["id"] for r in first["data"] + second.json()["data"]]
    assert ids == [s.pk for s in reversed(made)][:4]
    assert len(api.get("/api/v1/submissions?limit=0").json()["data"]) == 1
    assert len(api.get("/api/v1/submissions?limit=1000").json()["data"]) == 5


def test_paging_rows_made_in_one_transaction_at_one_instant_lists_each_once(api, company):
    """A bulk insert: one transaction, one created_at, ids from one millisecond (their
    random parts, not the order they were made, sort them). The cursor is the last id,
    unique, never the time: no row of the tie is skipped or repeated across pages."""
    with transaction.atomic():
        made = [SubmissionFactory(company=company) for _ in range(10)]
        at = made[0].created_at
        for submission in made:  # a fresh id, so the rows' order is the ids' own
            Submission.objects.filter(pk=submission.pk).update(
                id=new_id("sub", at_ms=int(at.timestamp() * 1000)), created_at=at
            )
    seen: list[str] = []
    url = "/api/v1/submissions?limit=3"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["data"]]
        assert {row["createdAt"] for row in body["data"]} <= {iso(at)}
        cursor = body["pagination"]["nextCursor"]
        url = f"/api/v1/submissions?limit=3&cursor={cursor}" if cursor else ""
    assert sorted(seen, reverse=True) == seen
    assert set(seen) == set(Submission.objects.filter(company=company).values_list("pk", flat=True))
    assert len(seen) == 10


def test_forged_or_foreign_cursor_is_a_400(api, company):
    SubmissionFactory(company=company)
    forged = api.get("/api/v1/submissions?cursor=eyJhZnRlciI6InN1Yl96In0:forged")
    assert forged.status_code == 400 and forged.json()["code"] == "INVALID_CURSOR"
    from steve.api.pagination import encode_cursor

    foreign = encode_cursor("submissions:cmp_someoneelse", "sub_zzzz")
    response = api.get(f"/api/v1/submissions?cursor={foreign}")
    assert response.status_code == 400 and response.json()["code"] == "INVALID_CURSOR"


def test_list_filters_and_unknown_filter_values(api, company):
    SubmissionFactory(company=company, status="approved")
    flagged = SubmissionFactory(company=company, fraud_status="flagged")
    assert [r["id"] for r in api.get("/api/v1/submissions?fraudStatus=flagged").json()["data"]] == [
        flagged.pk
    ]
    assert len(api.get("/api/v1/submissions?status=approved").json()["data"]) == 1
    assert len(api.get("/api/v1/submissions?workflow=invoice").json()["data"]) == 0
    bad = api.get("/api/v1/submissions?status=bogus")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "status"


@pytest.mark.parametrize("query", ["status=review&status=approved", "workflow=a&workflow=b"])
def test_a_filter_given_twice_is_a_400_not_silently_one_of_them(api, company, query):
    SubmissionFactory(company=company, status="approved")
    response = api.get(f"/api/v1/submissions?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_FILTER"


def test_a_page_parameter_given_twice_is_a_400_not_silently_the_last(api, company):
    # The filters refuse a repeat; limit and cursor took the last one given, so a client
    # that built "limit=2&limit=50" or appended a second cursor read a page it never asked
    # for (here 5 rows for limit=2, or the first page again for an empty second cursor).
    for _ in range(5):
        SubmissionFactory(company=company)
    cursor = api.get("/api/v1/submissions?limit=2").json()["pagination"]["nextCursor"]
    for query, code in [
        ("limit=2&limit=50", "INVALID_LIMIT"),
        ("limit=2&limit=", "INVALID_LIMIT"),
        (f"cursor={cursor}&cursor={cursor}", "INVALID_CURSOR"),
        (f"cursor={cursor}&cursor=", "INVALID_CURSOR"),
    ]:
        response = api.get(f"/api/v1/submissions?{query}")
        assert response.status_code == 400, query
        body = response.json()
        assert body["code"] == code
        assert [(e["field"], e["code"]) for e in body["errors"]] == [
            (query.split("=")[0], "repeated")
        ]
    # The same rule on every keyset listing (one helper): a webhook endpoint list.
    response = api.get("/api/v1/webhook-endpoints?limit=1&limit=2")
    assert response.status_code == 400 and response.json()["code"] == "INVALID_LIMIT"


def test_detail_has_every_seed_field(api, in_review):
    SubmissionFileFactory(submission=in_review, uploaded_at=in_review.created_at)
    body = api.get(f"/api/v1/submissions/{in_review.pk}").json()
    assert set(body) >= {
        "id", "submissionStatus", "fraudStatus", "fraudScore", "extractedData", "confidence",
        "fieldConfidences", "certainty", "aiSummary", "failedReason", "rejectReason",
        "cancelReason", "workflow", "files", "fraudMatches", "events", "clientSubmissionId",
        "metadata", "createdAt",
    }  # fmt: skip
    assert set(body["files"][0]) >= {
        "id",
        "fileIndex",
        "label",
        "mimeType",
        "fileSize",
        "downloadUrl",
    }


def test_approve_from_review_returns_the_seed_shape_and_writes_an_event(api, in_review):
    response = api.post(f"/api/v1/submissions/{in_review.pk}/approve")
    assert response.status_code == 200
    assert response.json() == {
        "submissionId": in_review.pk,
        "workflow": {"slug": "receipt-ocr", "version": 1},
        "submissionStatus": "approved",
    }
    event = SubmissionEvent.objects.get(submission=in_review)
    assert (event.type, event.from_status, event.to_status) == ("approved", "review", "approved")
    assert event.actor_type == "api_key"


def _read_then_corrected(api, submission) -> int:
    """The version a caller read, made stale by a correction since; returns it."""
    read = api.get(f"/api/v1/submissions/{submission.pk}").json()["version"]
    corrected = api.post(
        f"/api/v1/submissions/{submission.pk}/corrections",
        {"fields": {"merchantName": "Kedai Baru"}, "expectedVersion": read},
        format="json",
    )
    assert corrected.status_code == 200
    return read


@pytest.mark.parametrize(
    ("action", "body"),
    [("approve", {}), ("reject", {"reason": "Illegible."}), ("cancel", {"reason": "Duplicate."})],
)
def test_a_decision_on_a_version_the_caller_did_not_read_is_refused(api, in_review, action, body):
    read = _read_then_corrected(api, in_review)
    url = f"/api/v1/submissions/{in_review.pk}/{action}"
    stale = api.post(url, {**body, "expectedVersion": read}, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "SUBMISSION_CHANGED"
    # The body keeps its shape; its detail, the desk's sentence, names the change since.
    assert re.search(
        r": API key test key corrected Merchant name at \d\d:\d\d UTC;", stale.json()["detail"]
    )
    in_review.refresh_from_db()
    assert in_review.status == "review"
    current = api.post(url, {**body, "expectedVersion": in_review.version}, format="json")
    assert current.status_code == 200


@pytest.mark.parametrize("version", ["3", True, 1.5])
def test_a_decision_with_an_expected_version_that_is_no_integer_is_a_422(api, in_review, version):
    response = api.post(
        f"/api/v1/submissions/{in_review.pk}/approve", {"expectedVersion": version}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expectedVersion"
    in_review.refresh_from_db()
    assert in_review.status == "review"


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("-1", "range"),
        ("0", "range"),
        ("2147483648", "range"),
        ("10000000000000000000000", "range"),
        ("1e22", "invalid"),
    ],
)
@pytest.mark.parametrize("action", ["approve", "reject", "cancel", "corrections", "resolve"])
def test_an_expected_version_no_submission_can_have_is_a_422_not_a_conflict(
    api, company, in_review, action, written, code
):
    """-1 or 10^22 was compared with the submission's version and answered 409
    SUBMISSION_CHANGED, as if another client had changed it: the caller's version is
    wrong, not stale. A version is a whole number from 1 up (the column's range)."""
    members = {
        "approve": "",
        "reject": '"reason": "Illegible.", ',
        "cancel": "",
        "corrections": '"fields": {"merchantName": "Kedai Baru"}, ',
        "resolve": '"resolution": "false_positive", ',
    }
    path = f"/api/v1/submissions/{in_review.pk}/{action}"
    if action == "resolve":
        match = flag(in_review, SubmissionFactory(company=company))
        path = f"/api/v1/submissions/{in_review.pk}/fraud-matches/{match.pk}/resolve"
    body = f'{{{members[action]}"expectedVersion": {written}}}'
    response = api.post(path, body.encode(), content_type="application/json")
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["code"] == "VALIDATION_ERROR"
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("expectedVersion", code)]
    in_review.refresh_from_db()
    assert (in_review.status, in_review.version) == ("review", 1)


def test_approve_is_refused_while_fraud_matches_are_unresolved(api, company, in_review):
    match = flag(in_review, SubmissionFactory(company=company))
    refused = api.post(f"/api/v1/submissions/{in_review.pk}/approve")
    assert refused.status_code == 409
    assert refused.json()["code"] == "UNRESOLVED_FRAUD_MATCHES"
    assert refused.json()["type"].endswith("/unresolved-fraud-matches")
    resolved = api.post(
        f"/api/v1/submissions/{in_review.pk}/fraud-matches/{match.pk}/resolve",
        {"resolution": "false_positive"},
        format="json",
    )
    assert resolved.status_code == 200
    assert resolved.json()["resolution"] == "false_positive"
    assert resolved.json()["resolvedAt"] is not None
    assert api.post(f"/api/v1/submissions/{in_review.pk}/approve").status_code == 200


def test_fraud_match_list_and_bad_resolution(api, company, in_review):
    target = SubmissionFactory(company=company)
    match = flag(in_review, target)
    body = api.get(f"/api/v1/submissions/{in_review.pk}/fraud-matches").json()
    assert body["data"][0]["targetSubmission"]["id"] == target.pk
    assert body["pagination"]["hasMore"] is False
    bad = api.post(
        f"/api/v1/submissions/{in_review.pk}/fraud-matches/{match.pk}/resolve",
        {"resolution": "ignore"},
        format="json",
    )
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_RESOLUTION"
    missing = api.post(
        f"/api/v1/submissions/{in_review.pk}/fraud-matches/fm_nope/resolve",
        {"resolution": "false_positive"},
        format="json",
    )
    assert missing.status_code == 404


def test_confirmed_fraud_rejects_the_submission(api, company, in_review):
    match = flag(in_review, SubmissionFactory(company=company))
    api.post(
        f"/api/v1/submissions/{in_review.pk}/fraud-matches/{match.pk}/resolve",
        {"resolution": "confirmed_fraud"},
        format="json",
    )
    in_review.refresh_from_db()
    assert in_review.status == "rejected"
    assert in_review.reject_reason


def test_reject_needs_a_reason(api, in_review):
    missing = api.post(f"/api/v1/submissions/{in_review.pk}/reject", {}, format="json")
    assert missing.status_code == 422 and missing.json()["code"] == "REASON_REQUIRED"
    blank = api.post(f"/api/v1/submissions/{in_review.pk}/reject", {"reason": "  "}, format="json")
    assert blank.status_code == 422
    ok = api.post(
        f"/api/v1/submissions/{in_review.pk}/reject",
        {"reason": "Document is illegible."},
        format="json",
    )
    assert ok.json()["submissionStatus"] == "rejected"
    assert api.get(f"/api/v1/submissions/{in_review.pk}").json()["rejectReason"] == (
        "Document is illegible."
    )


@pytest.mark.parametrize("action", ["reject", "cancel"])
@pytest.mark.parametrize("reason", ["x" * 2001, "\u202eevil reason", "bell\u0007 rings", "nul\x00"])
def test_a_reason_too_long_or_with_control_or_bidi_characters_is_a_422(
    api, in_review, action, reason
):
    response = api.post(
        f"/api/v1/submissions/{in_review.pk}/{action}", {"reason": reason}, format="json"
    )
    assert response.status_code in (400, 422), response.content  # NUL: INVALID_UNICODE
    assert response.status_code == 400 or response.json()["errors"][0]["field"] == "reason"
    in_review.refresh_from_db()
    assert in_review.status == "review"


def test_a_reason_keeps_its_line_breaks(api, in_review):
    reason = "Duplicate of last week's receipt.\nSame shop, same total."
    api.post(f"/api/v1/submissions/{in_review.pk}/cancel", {"reason": reason}, format="json")
    assert api.get(f"/api/v1/submissions/{in_review.pk}").json()["cancelReason"] == reason


def test_cancel_until_approved_and_illegal_transitions_name_the_status(api, company):
    waiting = SubmissionFactory(company=company)
    assert api.post(f"/api/v1/submissions/{waiting.pk}/cancel").json()["submissionStatus"] == (
        "cancelled"
    )
    approved = SubmissionFactory(company=company, status="approved")
    refused = api.post(f"/api/v1/submissions/{approved.pk}/cancel", {"reason": "x"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "SUBMISSION_IS_APPROVED"
    assert refused.json()["currentStatus"] == "approved"
    again = api.post(f"/api/v1/submissions/{waiting.pk}/approve")
    assert again.json()["code"] == "SUBMISSION_IS_CANCELLED"


def test_review_actions_on_another_companys_submission_are_404(api):
    foreign = SubmissionFactory()
    for action in ("approve", "cancel"):
        assert api.post(f"/api/v1/submissions/{foreign.pk}/{action}").status_code == 404
    assert api.get(f"/api/v1/submissions/{foreign.pk}/fraud-matches").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_actions_exactly_one_succeeds(api_key, company):
    submission = SubmissionFactory(company=company)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def act(path: str, body: dict) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
        barrier.wait()
        try:
            statuses.append(client.post(path, body, format="json").status_code)
        finally:
            connection.close()

    base = f"/api/v1/submissions/{submission.pk}"
    threads = [
        threading.Thread(target=act, args=(f"{base}/approve", {})),
        threading.Thread(target=act, args=(f"{base}/reject", {"reason": "duplicate"})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    submission.refresh_from_db()
    assert submission.status in {"approved", "rejected"}
    assert SubmissionEvent.objects.filter(submission=submission).count() == 1
    assert Submission.objects.get(pk=submission.pk).version == 2


def test_a_purged_submission_says_when_its_results_were_purged(api, company):
    from jobs.services import _purge_one

    kept = SubmissionFactory(company=company, status="approved")
    purged = SubmissionFactory(company=company, status="approved")
    _purge_one(purged.pk, company.pk)

    body = api.get(f"/api/v1/submissions/{purged.pk}").json()
    assert body["resultsPurgedAt"] is not None and body["extractedData"] is None
    assert "results_purged" in {e["type"] for e in body["events"]}
    assert api.get(f"/api/v1/submissions/{kept.pk}").json()["resultsPurgedAt"] is None


def test_an_api_confirmation_rejects_with_its_reason_or_names_the_key(api, api_key, company):
    reasons = []
    for body in ({"reason": "Same receipt, total edited."}, {}):
        submission = SubmissionFactory(company=company)
        match = flag(submission, SubmissionFactory(company=company))
        resolved = api.post(
            f"/api/v1/submissions/{submission.pk}/fraud-matches/{match.pk}/resolve",
            {"resolution": "confirmed_fraud", **body},
            format="json",
        )
        assert resolved.status_code == 200
        submission.refresh_from_db()
        reasons.append((submission.status, submission.reject_reason))
    assert reasons == [
        ("rejected", "Same receipt, total edited."),
        ("rejected", f"Confirmed fraud by API key {api_key.api_key.name}."),
    ]


def test_an_api_confirmation_reason_of_another_type_is_refused(api, company, in_review):
    match = flag(in_review, SubmissionFactory(company=company))
    refused = api.post(
        f"/api/v1/submissions/{in_review.pk}/fraud-matches/{match.pk}/resolve",
        {"resolution": "confirmed_fraud", "reason": 5},
        format="json",
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "reason"
    assert FraudMatch.objects.get(pk=match.pk).resolution is None


@pytest.mark.parametrize("resolution", ["false_positive", "confirmed_fraud"])
def test_a_resolution_on_a_version_the_caller_did_not_read_is_refused(
    api, company, in_review, resolution
):
    # Confirming fraud rejects: an integrator that must not overrule what changed since it
    # read the submission sends expectedVersion, as for approve, reject and corrections.
    match = flag(in_review, SubmissionFactory(company=company))
    read = _read_then_corrected(api, in_review)
    url = f"/api/v1/submissions/{in_review.pk}/fraud-matches/{match.pk}/resolve"
    stale = api.post(url, {"resolution": resolution, "expectedVersion": read}, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "SUBMISSION_CHANGED"
    match.refresh_from_db()
    in_review.refresh_from_db()
    assert (match.resolution, in_review.status) == (None, "review")
    bad = api.post(url, {"resolution": resolution, "expectedVersion": "3"}, format="json")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "expectedVersion"
    body = {"resolution": resolution, "expectedVersion": in_review.version}
    current = api.post(url, body, format="json")
    assert current.status_code == 200
    assert current.json()["resolution"] == resolution


def test_approve_is_refused_while_the_submission_is_still_processing(api, company):
    # Seed 001: approve "a submission that is currently in review". One still processing
    # has no extraction or fraud result yet (no match to block it); only the pipeline
    # approves it, when its checks found nothing to review.
    processing = SubmissionFactory(company=company, status="processing", fraud_status=None)
    refused = api.post(f"/api/v1/submissions/{processing.pk}/approve")
    assert refused.status_code == 409
    assert refused.json()["code"] == "SUBMISSION_IS_PROCESSING"
    assert refused.json()["currentStatus"] == "processing"
    assert refused.json()["type"].endswith("/invalid-status-transition")
    processing.refresh_from_db()
    assert processing.status == "processing"
    assert not processing.events.exists()


def test_a_confirmation_without_a_reason_is_not_refused_over_its_keys_name(company):
    # The reject reason Steve writes for it names the key; a name an admin typed with a
    # bidi override must not make the reason the caller never sent "invalid" (422).
    key = legacy_key(company, "ci\u202eyek")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    submission = SubmissionFactory(company=company)
    match = flag(submission, SubmissionFactory(company=company))
    resolved = client.post(
        f"/api/v1/submissions/{submission.pk}/fraud-matches/{match.pk}/resolve",
        {"resolution": "confirmed_fraud"},
        format="json",
    )
    assert resolved.status_code == 200, resolved.content
    submission.refresh_from_db()
    assert submission.status == "rejected"
    assert submission.reject_reason.startswith("Confirmed fraud")
    assert "\u202e" not in submission.reject_reason


def legacy_key(company, name: str):
    """A key named before names were checked (api_key_create refuses such a name now)."""
    key = factories.api_key(company, name="legacy")
    type(key.api_key).objects.filter(pk=key.api_key.pk).update(name=name)
    return key


def test_a_key_named_before_names_were_checked_is_shown_without_its_hidden_characters(
    company,
):
    # resolvedBy and the event's actor are read as who acted: an override in the name
    # reversed how they show, so the hidden character is written out instead.
    key = legacy_key(company, "ci\u202eyek")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    submission = SubmissionFactory(company=company)
    match = flag(submission, SubmissionFactory(company=company))
    resolved = client.post(
        f"/api/v1/submissions/{submission.pk}/fraud-matches/{match.pk}/resolve",
        {"resolution": "false_positive", "reason": "another shop"},
        format="json",
    )
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["resolvedBy"] == "API key ci[U+202E]yek"
    events = client.get(f"/api/v1/submissions/{submission.pk}").json()["events"]
    assert {event["actor"]["label"] for event in events} >= {"API key ci[U+202E]yek"}


def test_paging_while_submissions_are_created_and_decided_lists_each_existing_one_once(
    api, company
):
    """A polling client walking the list with its cursor while Steve keeps writing: the
    rows there when it began come once each, in order, whatever is created or decided
    between its pages (a submission keeps its place when its status changes; a new one
    sorts before the cursor and waits for the next walk). docs/api.md, Jobs and reviews."""
    existing = [SubmissionFactory(company=company) for _ in range(7)]
    seen: list[str] = []
    decided: set[str] = set()
    url = "/api/v1/submissions?limit=2"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["data"]]
        SubmissionFactory(company=company)  # created meanwhile
        # Decided meanwhile: the oldest not listed yet, and one already listed.
        for listed in (False, True):
            for submission in existing:
                if (submission.pk in seen) == listed and submission.pk not in decided:
                    approved = api.post(f"/api/v1/submissions/{submission.pk}/approve")
                    assert approved.status_code == 200, approved.content
                    decided.add(submission.pk)
                    break
        cursor = body["pagination"]["nextCursor"]
        url = f"/api/v1/submissions?limit=2&cursor={cursor}" if cursor else ""
    assert seen == [s.pk for s in reversed(existing)]
    assert len(decided) == 6  # 2 before the pages that list them, 4 after
