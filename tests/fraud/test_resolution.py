"""Resolution: false positives are remembered, confirmed fraud blocks later uploads."""

import pytest

from fraud.models import FalsePositivePair, FraudMatch, KnownFraud
from fraud.services import fraud_match_resolve, fraud_resolution_undo, fraud_run_checks
from submissions.models import Submission
from submissions.services import Actor, submission_cancel, submission_reject
from tests.fraud.helpers import make_submission, refetch

pytestmark = pytest.mark.django_db
M = FraudMatch
FIELDS = {"merchantName": "Toko Maju", "totalAmount": "19.90", "date": "2024-02-01"}


def run(submission, **kwargs):
    """The checks, then the decision a flagged submission gets: review."""
    outcome = fraud_run_checks(submission_id=submission.pk, pages=[], fields={}, text="", **kwargs)
    Submission.objects.filter(pk=submission.pk).update(status="review")
    return outcome


def resolve(match, resolution):
    return fraud_match_resolve(
        submission_id=match.submission_id,
        match_id=match.pk,
        resolution=resolution,
        actor=Actor.system(),
    )


def test_false_positive_is_remembered_for_the_pair(company):
    first, _ = make_submission(company, sha256="e" * 64)
    second, _ = make_submission(company, sha256="e" * 64)
    run(first)
    run(second)
    match = M.objects.get(submission=second)
    resolve(match, M.Resolution.FALSE_POSITIVE)
    assert refetch(second).fraud_status == "clean"
    assert FalsePositivePair.objects.filter(first=second, second=first).exists()
    # A re-run (or another check finding the same pair) does not flag them again.
    M.objects.filter(pk=match.pk).delete()
    assert run(second).status == "clean"
    assert not M.objects.filter(submission=second).exists()


def test_confirmed_fraud_rejects_and_blocks_the_next_upload(company):
    original, _ = make_submission(company, sha256="f" * 64)
    fraud, _ = make_submission(company, sha256="f" * 64)
    run(original)
    run(fraud)
    resolve(M.objects.get(submission=fraud), M.Resolution.CONFIRMED_FRAUD)
    fraud = refetch(fraud)
    assert fraud.status == "rejected" and "fraud" in fraud.reject_reason.lower()
    assert KnownFraud.objects.filter(company=company, submission=fraud).exists()

    again, _ = make_submission(company, sha256="f" * 64)
    outcome = run(again)
    to_fraud = M.objects.get(submission=again, target_submission=fraud)
    assert to_fraud.status == "block" and to_fraud.details.get("knownFraud") is True
    assert outcome.status == "blocked"


def test_confirmed_fraud_does_not_reject_when_the_workflow_says_so(company):
    policy = {"reject_on_confirmed_fraud": False}
    first, _ = make_submission(company, sha256="9" * 64, policy=policy)
    second, _ = make_submission(company, sha256="9" * 64, policy=policy)
    run(first)
    run(second)
    resolve(M.objects.get(submission=second), M.Resolution.CONFIRMED_FRAUD)
    assert refetch(second).status == "review"
    assert KnownFraud.objects.filter(submission=second).exists()


@pytest.mark.parametrize("decided", ["approved", "rejected", "cancelled"])
def test_a_decided_submissions_matches_can_no_longer_be_resolved(company, decided):
    from submissions.services import SubmissionActionError

    first, _ = make_submission(company, sha256="7" * 64)
    second, _ = make_submission(company, sha256="7" * 64)
    run(first)
    run(second)
    match = M.objects.get(submission=second)
    type(second).objects.filter(pk=second.pk).update(status=decided)
    with pytest.raises(SubmissionActionError) as refused:
        resolve(match, M.Resolution.FALSE_POSITIVE)
    assert refused.value.code == f"SUBMISSION_IS_{decided.upper()}"
    assert M.objects.get(pk=match.pk).resolution is None
    assert not FalsePositivePair.objects.exists()


def test_the_summary_says_what_is_left_once_matches_are_resolved(company):
    first, _ = make_submission(company, sha256="5" * 64)
    second, _ = make_submission(company, sha256="5" * 64)
    run(first)
    run(second)
    Submission.objects.filter(pk=second.pk).update(
        ai_summary="Receipt from Kedai dated 2024-02-01. 1 blocked fraud match; a reviewer "
        "must resolve them."
    )
    resolve(M.objects.get(submission=second), M.Resolution.FALSE_POSITIVE)
    assert refetch(second).ai_summary == "Receipt from Kedai dated 2024-02-01. No fraud signals."


def _twice_matched(company, sha256: str, policy: dict | None = None):
    """A submission whose file two earlier ones hold: two pairs, one match each, with the
    summary's sentence the pipeline wrote for them."""
    for _ in range(2):
        earlier, _ = make_submission(company, sha256=sha256, policy=policy)
        run(earlier)
    third, _ = make_submission(company, sha256=sha256, policy=policy)
    status = run(third).status
    Submission.objects.filter(pk=third.pk).update(
        ai_summary=f"Receipt from Kedai. 2 {status} fraud matches; a reviewer must resolve them."
    )
    return third, status, list(M.objects.filter(submission=third).order_by("pk"))


def test_a_confirmation_that_rejects_does_not_ask_a_reviewer_to_resolve_what_is_left(company):
    third, status, (confirmed, left) = _twice_matched(company, "4" * 64)
    resolve(confirmed, M.Resolution.CONFIRMED_FRAUD)
    third = refetch(third)
    assert third.status == "rejected"
    # A rejected submission's matches cannot be resolved (SUBMISSION_IS_REJECTED).
    assert third.ai_summary == (
        f"Receipt from Kedai. 1 confirmed fraud match; 1 {status} fraud match left unresolved."
    )


def test_the_summary_counts_confirmed_matches_apart_from_the_open_ones(company):
    policy = {"reject_on_confirmed_fraud": False}  # it stays in review
    third, status, (first, second) = _twice_matched(company, "3" * 64, policy)
    resolve(first, M.Resolution.CONFIRMED_FRAUD)
    assert refetch(third).ai_summary == (
        "Receipt from Kedai. 1 confirmed fraud match; "
        f"1 {status} fraud match; a reviewer must resolve them."
    )
    resolve(second, M.Resolution.CONFIRMED_FRAUD)
    # Nothing is left to resolve: it was "2 blocked fraud matches; a reviewer must
    # resolve them." with none open.
    assert refetch(third).ai_summary == "Receipt from Kedai. 2 confirmed fraud matches."
    fraud_resolution_undo(submission_id=third.pk, match_ids=[second.pk], actor=Actor.system())
    assert refetch(third).ai_summary == (
        "Receipt from Kedai. 1 confirmed fraud match; "
        f"1 {status} fraud match; a reviewer must resolve them."
    )


@pytest.mark.parametrize("decision", ["reject", "cancel"])
def test_a_submission_rejected_or_cancelled_with_open_matches_does_not_ask_for_a_reviewer(
    company, decision
):
    third, status, _ = _twice_matched(company, "5" * 64)
    if decision == "reject":
        submission_reject(submission_id=third.pk, actor=Actor.system(), reason="Not ours.")
    else:
        submission_cancel(submission_id=third.pk, actor=Actor.system())
    # No one can resolve a decided submission's matches: it went on saying "2 blocked
    # fraud matches; a reviewer must resolve them."
    assert refetch(third).ai_summary == (
        f"Receipt from Kedai. 2 {status} fraud matches left unresolved."
    )
