"""A match against a submission that later failed or was cancelled is withdrawn: that
submission was never a claim (docs/fraud.md), so the one matched against it no longer waits
in review, flagged or blocked, for a duplicate of nothing.

The withdrawal follows the cancel's commit (fraud._withdraw_matches_against): the tests
without real transactions run what was queued on commit themselves (ended())."""

import logging
import time
from functools import partial

import pytest
from django.db import connection, transaction

from fraud import services as fraud_services
from fraud.models import FraudMatch
from fraud.services import (
    FraudMatchError,
    _lock_company,
    fraud_match_resolve,
    fraud_matches_withdraw,
    fraud_matches_withdraw_missed,
    fraud_resolution_undo,
    fraud_run_checks,
)
from fraud.tasks import withdraw_missed_fraud_matches
from submissions.models import EventType, Submission
from submissions.services import (
    Actor,
    SubmissionActionError,
    locked_submission,
    submission_approve,
    submission_cancel,
    submission_fail,
    submission_reject,
)
from tests import factories
from tests.commit_order import in_thread, open_transaction
from tests.fraud.helpers import make_submission, refetch

pytestmark = pytest.mark.django_db
M = FraudMatch
WITHDRAWN = "withdrawn"


def checked(submission: Submission, *, status: str = "review") -> Submission:
    """The checks, then the decision the pipeline makes of a flagged one: review."""
    fraud_run_checks(submission_id=submission.pk, pages=[], fields={}, text="")
    Submission.objects.filter(pk=submission.pk).update(status=status)
    return refetch(submission)


def duplicate_pair(company, digest: str = "a" * 64) -> tuple[Submission, Submission, FraudMatch]:
    """An earlier submission in review and a later one of the same file, blocked in review
    by a duplicate match against it."""
    earlier, _ = make_submission(company, sha256=digest)
    later, _ = make_submission(company, sha256=digest)
    earlier = checked(earlier)
    later = checked(later)
    match = M.objects.get(submission=later, target_submission=earlier)
    assert later.fraud_status == "blocked"
    return earlier, later, match


def failing_pair(company, digest: str) -> tuple[Submission, Submission, FraudMatch]:
    """A later submission in review, blocked by a duplicate of one still processing
    (checked, a later step still ahead of it: it may yet fail)."""
    earlier, _ = make_submission(company, sha256=digest)
    later, _ = make_submission(company, sha256=digest)
    earlier = checked(earlier, status="processing")
    later = checked(later)
    return earlier, later, M.objects.get(submission=later, target_submission=earlier)


@pytest.fixture
def ended(django_capture_on_commit_callbacks):
    """Cancel (or fail) a submission as the API does, and run what its commit triggers."""

    def end(submission: Submission, *, failed: bool = False, reason: str | None = None) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            if failed:
                submission_fail(submission_id=submission.pk, code="OCR_FAILED", reason="unread")
            else:
                submission_cancel(submission_id=submission.pk, actor=Actor.system(), reason=reason)

    return end


def withdrawals(submission: Submission) -> list:
    return list(submission.events.filter(type=EventType.FRAUD_MATCH_WITHDRAWN))


def resolve(match: FraudMatch, resolution: str = M.Resolution.FALSE_POSITIVE) -> FraudMatch:
    return fraud_match_resolve(
        submission_id=match.submission_id,
        match_id=match.pk,
        resolution=resolution,
        actor=Actor.system(),
    )


def test_a_match_against_a_submission_cancelled_later_is_withdrawn(company, ended):
    earlier, later, match = duplicate_pair(company)
    ended(earlier, reason="sent twice")

    match.refresh_from_db()
    assert match.resolution == WITHDRAWN
    assert match.resolved_by == "Steve" and match.resolved_at is not None
    later = refetch(later)
    assert (later.status, later.fraud_status, later.fraud_score) == ("review", "clean", 0.0)
    [event] = withdrawals(later)
    assert event.actor_type == "system"
    assert event.details == {
        "fraudMatchIds": [match.pk],
        "targetSubmissionId": earlier.pk,
        "targetStatus": "cancelled",
    }
    # Nothing left for a reviewer to resolve: it can be approved.
    submission_approve(submission_id=later.pk, actor=Actor.system())
    assert refetch(later).status == "approved"


def test_a_match_against_a_submission_that_failed_later_is_withdrawn(company, ended):
    # Its checks ran (it was found), then a later step failed it.
    earlier, _ = make_submission(company, sha256="b" * 64)
    later, _ = make_submission(company, sha256="b" * 64)
    earlier = checked(earlier, status="processing")
    later = checked(later)
    match = M.objects.get(submission=later, target_submission=earlier)
    ended(earlier, failed=True)

    assert M.objects.get(pk=match.pk).resolution == WITHDRAWN
    assert refetch(later).fraud_status == "clean"
    assert withdrawals(later)[0].details["targetStatus"] == "failed"


def test_every_check_of_the_pair_is_withdrawn_in_one_event_and_other_pairs_stay(company, ended):
    earlier, later, match = duplicate_pair(company)
    other = factories.SubmissionFactory(company=company, status="review")
    also = M.objects.create(
        company=company, submission=later, target_submission=earlier, check_type="data",
        score=60, similarity=1.0,
    )  # fmt: skip
    standing = M.objects.create(
        company=company, submission=later, target_submission=other, check_type="visual",
        score=80, similarity=0.9,
    )  # fmt: skip
    ended(earlier)

    assert {m.resolution for m in M.objects.filter(pk__in=[match.pk, also.pk])} == {WITHDRAWN}
    assert M.objects.get(pk=standing.pk).resolution is None
    [event] = withdrawals(later)
    assert sorted(event.details["fraudMatchIds"]) == sorted([match.pk, also.pk])
    later = refetch(later)
    assert (later.fraud_status, later.fraud_score) == ("flagged", 80.0)
    with pytest.raises(SubmissionActionError) as refused:
        submission_approve(submission_id=later.pk, actor=Actor.system())
    assert refused.value.code == "UNRESOLVED_FRAUD_MATCHES"


def test_a_match_a_reviewer_already_resolved_stays_as_resolved(company, ended):
    earlier, later, match = duplicate_pair(company)
    resolve(match)
    ended(earlier)

    match.refresh_from_db()
    assert match.resolution == M.Resolution.FALSE_POSITIVE
    assert not withdrawals(later)


@pytest.mark.parametrize("decided", ["approved", "rejected"])
def test_a_decided_submission_keeps_its_matches_as_they_were_decided(company, ended, decided):
    earlier, later, match = duplicate_pair(company)
    if decided == "approved":
        resolve(match)
        submission_approve(submission_id=later.pk, actor=Actor.system())
    else:
        submission_reject(submission_id=later.pk, actor=Actor.system(), reason="blurry")
    before, fraud_before = M.objects.get(pk=match.pk).resolution, refetch(later).fraud_status
    ended(earlier)

    assert M.objects.get(pk=match.pk).resolution == before
    later = refetch(later)
    assert (later.status, later.fraud_status) == (decided, fraud_before)
    assert not withdrawals(later)


def test_a_rejected_submission_still_stands_as_a_claim(company):
    earlier, later, match = duplicate_pair(company)
    submission_reject(submission_id=earlier.pk, actor=Actor.system(), reason="blurry")
    assert M.objects.get(pk=match.pk).resolution is None
    assert refetch(later).fraud_status == "blocked"


def test_a_twin_still_processing_drops_the_match_before_its_own_decision(company, ended):
    # The twin was found before its own check ran: it carries the match (fraud._carrier).
    twin, _ = make_submission(company, sha256="c" * 64)
    found, _ = make_submission(company, sha256="c" * 64)
    found = checked(found)
    match = M.objects.get(submission=twin, target_submission=found)
    ended(found)

    assert M.objects.get(pk=match.pk).resolution == WITHDRAWN
    assert refetch(twin).fraud_status == "clean"
    # Its own check comes later: it neither counts the withdrawn match nor finds the pair.
    assert fraud_run_checks(submission_id=twin.pk, fields={}, text="").status == "clean"
    assert M.objects.filter(submission=twin).count() == 1


def test_a_withdrawn_match_is_neither_resolved_nor_undone(company, ended):
    earlier, later, match = duplicate_pair(company)
    ended(earlier)

    with pytest.raises(FraudMatchError) as refused:
        resolve(match, M.Resolution.CONFIRMED_FRAUD)
    assert refused.value.code == "FRAUD_MATCH_WITHDRAWN"
    with pytest.raises(FraudMatchError) as refused:
        fraud_resolution_undo(submission_id=later.pk, match_ids=[match.pk], actor=Actor.system())
    assert refused.value.code == "FRAUD_MATCH_WITHDRAWN"
    assert M.objects.get(pk=match.pk).resolution == WITHDRAWN
    assert refetch(later).status == "review"


def test_nobody_resolves_a_match_as_withdrawn(company):
    _, _, match = duplicate_pair(company)
    with pytest.raises(Exception) as refused:
        resolve(match, WITHDRAWN)
    assert getattr(refused.value, "code", None) == "INVALID_RESOLUTION"
    assert M.objects.get(pk=match.pk).resolution is None


# --- What the commit's withdrawal missed: beat's sweep ------------------------------------


def test_a_withdrawal_lost_with_its_process_is_made_by_the_sweep(company):
    """The process died between the cancel's commit and its on-commit withdrawal: the
    callback never ran (no capture executes it here), and the match stayed open."""
    earlier, later, match = duplicate_pair(company)
    submission_cancel(submission_id=earlier.pk, actor=Actor.system(), reason="sent twice")
    assert M.objects.get(pk=match.pk).resolution is None  # what the crash left

    assert fraud_matches_withdraw_missed() == 1

    match.refresh_from_db()
    assert (match.resolution, match.resolved_by) == (WITHDRAWN, "Steve")
    later = refetch(later)
    assert (later.status, later.fraud_status) == ("review", "clean")
    [event] = withdrawals(later)
    assert event.details["targetStatus"] == "cancelled"
    # Once is enough: the next runs find nothing and record nothing.
    assert fraud_matches_withdraw_missed() == 0
    assert len(withdrawals(later)) == 1


def test_a_withdrawal_that_raised_after_the_commit_is_made_by_the_sweep(
    company, monkeypatch, django_capture_on_commit_callbacks
):
    earlier, later, match = failing_pair(company, "e" * 64)

    def broken(**_: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(fraud_services, "fraud_matches_withdraw", broken)
    with django_capture_on_commit_callbacks(execute=True):  # robust: logged, not raised
        submission_fail(submission_id=earlier.pk, code="OCR_FAILED", reason="unread")
    assert M.objects.get(pk=match.pk).resolution is None
    monkeypatch.undo()

    assert fraud_matches_withdraw_missed() == 1
    assert M.objects.get(pk=match.pk).resolution == WITHDRAWN
    assert withdrawals(later)[0].details["targetStatus"] == "failed"


def test_the_sweep_leaves_what_was_decided_and_what_still_stands(company):
    # A rejected one still stands as a claim; a decided carrier keeps its matches; a
    # match a reviewer resolved before the cancel stays as resolved.
    rejected, carrier_of_rejected, against_rejected = duplicate_pair(company, "1" * 64)
    submission_reject(submission_id=rejected.pk, actor=Actor.system(), reason="blurry")
    cancelled, approved, against_cancelled = duplicate_pair(company, "2" * 64)
    resolve(against_cancelled)
    submission_approve(submission_id=approved.pk, actor=Actor.system())
    Submission.objects.filter(pk=cancelled.pk).update(status="cancelled")
    gone, waiting, resolved = duplicate_pair(company, "3" * 64)
    resolve(resolved)
    Submission.objects.filter(pk=gone.pk).update(status="failed")

    assert fraud_matches_withdraw_missed() == 0
    assert M.objects.get(pk=against_rejected.pk).resolution is None
    assert M.objects.get(pk=against_cancelled.pk).resolution == M.Resolution.FALSE_POSITIVE
    assert M.objects.get(pk=resolved.pk).resolution == M.Resolution.FALSE_POSITIVE
    assert not M.objects.filter(resolution=WITHDRAWN).exists()


def test_the_sweep_is_bounded_per_run_and_the_next_run_takes_the_rest(company):
    pairs = [duplicate_pair(company, digest * 64) for digest in "456"]
    for earlier, _, _ in pairs:
        Submission.objects.filter(pk=earlier.pk).update(status="cancelled")  # no callback

    assert fraud_matches_withdraw_missed(limit=2) == 2
    assert fraud_matches_withdraw_missed(limit=2) == 1
    assert fraud_matches_withdraw_missed(limit=2) == 0
    assert set(M.objects.values_list("resolution", flat=True)) == {WITHDRAWN}


def test_a_pair_the_sweep_raised_on_is_listed_after_the_others(company, monkeypatch, caplog):
    """One that raises every run (a batch of them) never keeps the others waiting."""
    (first, stuck, _), (second, fine, _) = (duplicate_pair(company, d * 64) for d in "78")
    for earlier in (first, second):
        Submission.objects.filter(pk=earlier.pk).update(status="cancelled")
    real = fraud_services.fraud_matches_withdraw

    def raises_on_stuck(*, submission_id: str, target_id: str) -> list[FraudMatch]:
        if submission_id == stuck.pk:
            raise RuntimeError("corrupt")
        return real(submission_id=submission_id, target_id=target_id)

    monkeypatch.setattr(fraud_services, "fraud_matches_withdraw", raises_on_stuck)
    # The stuck pair is the older: listed first until it raised once, then last.
    assert fraud_matches_withdraw_missed(limit=1) == 0
    assert fraud_matches_withdraw_missed(limit=1) == 1
    assert not withdrawals(stuck) and len(withdrawals(fine)) == 1
    assert "withdraw-fraud-matches: row" in caplog.text


def test_the_sweep_is_quiet_when_there_is_nothing_to_do(company, caplog):
    earlier, later, match = duplicate_pair(company)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name.startswith(("fraud", "steve"))]

    with caplog.at_level(logging.INFO):
        assert withdraw_missed_fraud_matches.apply().get() == 0
        assert lines() == []
        Submission.objects.filter(pk=earlier.pk).update(status="cancelled")
        assert withdraw_missed_fraud_matches.apply().get() == 1
    assert lines() == [
        "Withdrawal sweep withdrew the fraud matches of 1 pair(s) their commit left open"
    ]


# --- Races, on real PostgreSQL row locks -------------------------------------------------


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _wait_for_a_lock() -> None:
    deadline = time.monotonic() + 10
    while not _waiting_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _waiting_for_a_lock()


@pytest.fixture
def postgres(db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_that_raises_on_commit_neither_fails_the_cancel_nor_stops_the_others(
    postgres, monkeypatch, caplog
):
    """Robust on-commit callbacks are logged by name (__qualname__): a functools.partial
    has none, so the log line itself raised AttributeError out of the committed cancel
    (a 500 for a cancel that stood) and dropped the callbacks queued after it."""
    company = factories.CompanyFactory()
    earlier, first, _ = duplicate_pair(company, "9" * 64)
    second, _ = make_submission(company, sha256="9" * 64)
    second = checked(second)
    assert M.objects.filter(target_submission=earlier, resolution__isnull=True).count() == 2
    real = fraud_services.fraud_matches_withdraw
    carriers = sorted([first.pk, second.pk])

    def raises_on_the_first(*, submission_id: str, target_id: str) -> list[FraudMatch]:
        if submission_id == carriers[0]:
            raise RuntimeError("the database went away")
        return real(submission_id=submission_id, target_id=target_id)

    monkeypatch.setattr(fraud_services, "fraud_matches_withdraw", raises_on_the_first)
    submission_cancel(submission_id=earlier.pk, actor=Actor.system())  # commits; no raise

    assert refetch(earlier).status == "cancelled"
    assert M.objects.get(submission_id=carriers[0], target_submission=earlier).resolution is None
    assert M.objects.get(submission_id=carriers[1], target_submission=earlier).resolution == (
        WITHDRAWN
    )
    assert "the database went away" in caplog.text
    monkeypatch.undo()
    assert fraud_matches_withdraw_missed() == 1  # beat's sweep makes the one that raised
    assert not M.objects.filter(target_submission=earlier, resolution__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_resolution_made_while_the_cancel_waits_stands(postgres):
    earlier, later, match = duplicate_pair(factories.CompanyFactory())
    with open_transaction(partial(resolve, match)) as resolving:
        thread, cancel = in_thread(
            partial(submission_cancel, submission_id=earlier.pk, actor=Actor.system())
        )
        _wait_for_a_lock()  # the cancel waits for the reviewer's lock on the matched one
    thread.join(30)

    assert "error" not in resolving and "error" not in cancel, (resolving, cancel)
    assert refetch(earlier).status == "cancelled"
    assert M.objects.get(pk=match.pk).resolution == M.Resolution.FALSE_POSITIVE
    assert not withdrawals(later)


@pytest.mark.django_db(transaction=True)
def test_a_false_positive_made_while_the_cancel_commits_stands(postgres):
    """The cancel holds the cancelled row; the reviewer's false positive remembers the
    pair, whose foreign key waits for that row, while holding the matched one's: a
    withdrawal inside the cancel's transaction, waiting for the matched one, deadlocked."""
    earlier, later, match = duplicate_pair(factories.CompanyFactory())
    cancel = partial(submission_cancel, submission_id=earlier.pk, actor=Actor.system())
    with open_transaction(cancel) as cancelling:
        thread, resolving = in_thread(partial(resolve, match))
        _wait_for_a_lock()  # the remembered pair waits for the cancelled row
    thread.join(30)

    assert "error" not in resolving and "error" not in cancelling, (resolving, cancelling)
    assert refetch(earlier).status == "cancelled"
    assert M.objects.get(pk=match.pk).resolution == M.Resolution.FALSE_POSITIVE
    assert not withdrawals(later)


@pytest.mark.django_db(transaction=True)
def test_a_resolution_that_waited_for_the_withdrawal_is_refused(postgres):
    earlier, later, match = duplicate_pair(factories.CompanyFactory())
    Submission.objects.filter(pk=earlier.pk).update(status="cancelled")  # committed
    withdraw = partial(fraud_matches_withdraw, submission_id=later.pk, target_id=earlier.pk)
    with open_transaction(withdraw):
        thread, resolving = in_thread(partial(resolve, match))
        _wait_for_a_lock()  # the reviewer waits for the withdrawal's lock on the matched one
    thread.join(30)

    assert isinstance(resolving.get("error"), FraudMatchError), resolving
    assert resolving["error"].code == "FRAUD_MATCH_WITHDRAWN"
    assert M.objects.get(pk=match.pk).resolution == WITHDRAWN
    assert len(withdrawals(later)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_cancel_while_the_twins_checks_run_waits_for_neither(postgres):
    """The twin carries a match against the cancelled one and its checks are running: they
    hold the company's fraud lock and the twin's row, and may want the cancelled one's row
    (fraud._carrier). The cancel neither waits for the twin while it holds its own row (a
    deadlock) nor leaves the match: it commits, then withdraws the match once the checks
    are done."""
    company = factories.CompanyFactory()
    twin, _ = make_submission(company, sha256="d" * 64)
    found, _ = make_submission(company, sha256="d" * 64)
    found = checked(found)
    match = M.objects.get(submission=twin, target_submission=found)

    def checks_running() -> None:
        _lock_company(company.pk)
        locked_submission(submission_id=twin.pk)

    with open_transaction(checks_running) as checks:
        thread, cancel = in_thread(
            partial(submission_cancel, submission_id=found.pk, actor=Actor.system())
        )
        deadline = time.monotonic() + 10
        while refetch(found).status != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert refetch(found).status == "cancelled"  # committed while the checks held on
        with transaction.atomic():
            # What the checks do next (_carrier): lock the found one's row. It is free.
            locked_submission(submission_id=found.pk)
        assert M.objects.get(pk=match.pk).resolution is None  # not yet: the twin is held
    thread.join(30)

    assert "error" not in checks and "error" not in cancel, (checks, cancel)
    assert M.objects.get(pk=match.pk).resolution == WITHDRAWN
    assert len(withdrawals(twin)) == 1
    # The checks go on: the withdrawn match counts for nothing.
    assert fraud_run_checks(submission_id=twin.pk, fields={}, text="").status == "clean"


# --- What the API and the review page show -----------------------------------------------


def test_the_api_shows_a_withdrawn_match_and_why(api, company, ended):
    earlier, later, match = duplicate_pair(company)
    ended(earlier)

    listed = api.get(f"/api/v1/submissions/{later.pk}/fraud-matches").json()["data"]
    [item] = listed
    assert item["resolution"] == WITHDRAWN and item["resolvedBy"] == "Steve"
    assert item["targetSubmission"]["submissionStatus"] == "cancelled"
    detail = api.get(f"/api/v1/submissions/{later.pk}").json()
    assert detail["fraudStatus"] == "clean"
    assert detail["fraudMatches"][0]["resolution"] == WITHDRAWN
    assert detail["events"][0]["type"] == "fraud_match_withdrawn"

    url = f"/api/v1/submissions/{later.pk}/fraud-matches/{match.pk}/resolve"
    refused = api.post(url, {"resolution": "confirmed_fraud"}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "FRAUD_MATCH_WITHDRAWN"
    refused = api.post(url, {"resolution": WITHDRAWN}, format="json")
    assert refused.status_code == 422 and refused.json()["code"] == "INVALID_RESOLUTION"


def test_the_review_page_shows_a_withdrawn_pair_with_nothing_to_resolve(ui, company, ended):
    from django.urls import reverse

    earlier, later, match = duplicate_pair(company)
    ended(earlier, reason="sent twice")

    html = ui.get(reverse("fraud:panel", args=[later.pk]), HTTP_HX_REQUEST="true").content
    html = html.decode()
    assert 'data-fraud-panel data-unresolved="0"' in html
    assert "data-withdrawn" in html and "was cancelled" in html
    assert 'data-resolve="false_positive"' not in html
    assert 'data-action="undo-resolution"' not in html


def test_a_resolution_from_a_panel_drawn_before_the_withdrawal_says_why_it_is_refused(
    ui, company, ended
):
    """Not "resolved or undone by someone else": Steve withdrew it, and the reviewer
    learns that the matched submission was cancelled (or failed)."""
    from django.urls import reverse

    earlier, later, match = duplicate_pair(company)
    drawn_at = refetch(later).version
    ended(earlier, reason="sent twice")

    response = ui.post(
        reverse("fraud:resolve_pair", args=[later.pk]),
        {"version": drawn_at, "match": [match.pk], "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 409, html
    assert 'data-code="FRAUD_MATCH_WITHDRAWN"' in html
    assert "someone else" not in html
    assert "withdrawn by Steve: the submission it matched was cancelled" in html
    assert "data-withdrawn" in html  # the panel, drawn again, shows the pair withdrawn
    assert M.objects.get(pk=match.pk).resolution == WITHDRAWN


def test_a_panel_drawn_before_a_failure_withdrew_the_pair_names_the_failure(ui, company, ended):
    from django.urls import reverse

    earlier, later, match = failing_pair(company, "f" * 64)
    drawn_at = refetch(later).version
    ended(earlier, failed=True)

    response = ui.post(
        reverse("fraud:resolve_pair", args=[later.pk]),
        {"version": drawn_at, "match": [match.pk], "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 409 and 'data-code="FRAUD_MATCH_WITHDRAWN"' in html
    assert "the submission it matched was failed" not in html  # it reads naturally
    assert "the submission it matched failed after" in html and "someone else" not in html
