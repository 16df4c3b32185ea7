"""Fraud checks, scoring and resolution: the services the pipeline, API and UI share."""

import zlib
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from fraud.models import FraudMatch
from submissions.events import announce
from submissions.models import FraudStatus, Submission, SubmissionFile, SubmissionStatus
from submissions.services import Actor, SubmissionActionError, record_event, submission_reject

M = FraudMatch


@dataclass(frozen=True)
class PageImage:
    """One rendered page of a submission's file, as the pipeline hands it to the checks."""

    file_id: str
    page: int
    image: Any  # PIL.Image.Image


@dataclass(frozen=True)
class FraudOutcome:
    status: str
    score: float
    match_count: int


def _lock_company(company_id: str) -> None:
    """Serialise lookup-and-insert per company, so two workers checking the same receipt
    at the same moment find each other and write one row, not zero or two."""
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"fraud:{company_id}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _ordered_pair(a: str, b: str) -> tuple[str, str]:
    """The later submission carries the match and points at the earlier one."""
    return (a, b) if a > b else (b, a)


def match_pair(
    *,
    company_id: str,
    submission_id: str,
    other_id: str,
    check_type: str,
    score: float,
    similarity: float,
    status: str = M.Status.FLAG,
    details: dict[str, Any] | None = None,
) -> FraudMatch | None:
    """Record one match between two submissions; None when the pair already has one."""
    later, earlier = _ordered_pair(submission_id, other_id)
    exists = M.objects.filter(
        submission_id__in=[later, earlier],
        target_submission_id__in=[later, earlier],
        check_type=check_type,
    ).exists()
    if exists:
        return None
    match = M.objects.create(
        company_id=company_id,
        submission_id=later,
        target_submission_id=earlier,
        check_type=check_type,
        score=score,
        similarity=similarity,
        status=status,
        details=details or {},
    )
    if later != submission_id:
        # The pair was found while checking the earlier submission: the later one,
        # already processed, learns of it now.
        fraud_refresh(submission_id=later, reason={"fraudMatchId": match.pk})
    return match


def _duplicate_check(submission: Submission) -> None:
    digests = [f.sha256 for f in submission.files.all() if f.sha256]
    twins = (
        SubmissionFile.objects.filter(
            sha256__in=digests, submission__company_id=submission.company_id
        )
        .exclude(submission_id=submission.pk)
        .values_list("submission_id", "sha256")
    )
    seen: set[str] = set()
    for other_id, digest in twins:
        if other_id in seen:
            continue
        seen.add(other_id)
        match_pair(
            company_id=submission.company_id,
            submission_id=submission.pk,
            other_id=other_id,
            check_type=M.CheckType.DUPLICATE,
            score=100.0,
            similarity=1.0,
            details={"sha256": digest},
        )


def fraud_run_checks(
    *, submission_id: str, pages: list[PageImage], fields: dict[str, Any], text: str
) -> FraudOutcome:
    """Run the checks for one submission and store its fraud score and status.

    `pages`, `fields` and `text` feed the visual, data and text checks.
    """
    with transaction.atomic():
        submission = Submission.objects.get(pk=submission_id)
        _lock_company(submission.company_id)
        _duplicate_check(submission)
        return _store_outcome(submission_id)


def outcome_for(submission_id: str) -> FraudOutcome:
    matches = list(
        M.objects.filter(submission_id=submission_id).exclude(
            resolution=M.Resolution.FALSE_POSITIVE
        )
    )
    if any(m.status == M.Status.BLOCK for m in matches):
        status = FraudStatus.BLOCKED
    elif matches:
        status = FraudStatus.FLAGGED
    else:
        status = FraudStatus.CLEAN
    score = max((m.score for m in matches), default=0.0)
    return FraudOutcome(status=status, score=round(score, 2), match_count=len(matches))


def _store_outcome(submission_id: str) -> FraudOutcome:
    outcome = outcome_for(submission_id)
    Submission.objects.filter(pk=submission_id).update(
        fraud_status=outcome.status, fraud_score=outcome.score
    )
    return outcome


def fraud_refresh(*, submission_id: str, reason: dict[str, Any]) -> FraudOutcome:
    """Recompute a processed submission's fraud status after its matches changed."""
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        before = submission.fraud_status
        outcome = outcome_for(submission_id)
        submission.fraud_status = outcome.status
        submission.fraud_score = outcome.score
        submission.version += 1
        submission.save(update_fields=["fraud_status", "fraud_score", "version", "updated_at"])
        record_event(
            submission=submission,
            type="fraud_status_changed",
            actor=Actor.system(),
            details={"from": before, "to": outcome.status, **reason},
        )
    return outcome


class FraudMatchError(SubmissionActionError):
    pass


def fraud_match_resolve(
    *,
    submission_id: str,
    match_id: str,
    resolution: str,
    actor: Actor,
    user: Any = None,
    expected_version: int | None = None,
) -> FraudMatch:
    if resolution not in M.Resolution.values:
        raise ValueError(f"resolution must be one of {', '.join(M.Resolution.values)}")
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        if expected_version is not None and expected_version != submission.version:
            raise FraudMatchError(
                "SUBMISSION_CHANGED",
                "The submission changed since you opened it; review its new state.",
                current_status=submission.status,
            )
        match = M.objects.select_for_update().get(pk=match_id, submission_id=submission_id)
        if match.resolution:
            raise FraudMatchError(
                "FRAUD_MATCH_ALREADY_RESOLVED",
                f"This match was already resolved as {match.resolution}.",
                current_status=submission.status,
            )
        match.resolution = resolution
        match.resolved_by = actor.label
        match.resolved_by_user = user
        match.resolved_at = timezone.now()
        match.save()
        outcome = outcome_for(submission_id)
        submission.fraud_status = outcome.status
        submission.fraud_score = outcome.score
        submission.version += 1
        submission.save(update_fields=["fraud_status", "fraud_score", "version", "updated_at"])
        event = record_event(
            submission=submission,
            type="fraud_match_resolved",
            actor=actor,
            details={"fraudMatchId": match.pk, "resolution": resolution},
        )
        announce(submission=submission, event_type="submission.fraud_match_resolved", event=event)
        if resolution == M.Resolution.CONFIRMED_FRAUD:
            _reject_confirmed(submission, actor)
    return match


def _reject_confirmed(submission: Submission, actor: Actor) -> None:
    policy = submission.workflow_version.fraud_policy or {}
    if not policy.get("reject_on_confirmed_fraud", True):
        return
    if submission.status != SubmissionStatus.REVIEW:
        return
    submission_reject(
        submission_id=submission.pk, actor=actor, reason="Confirmed fraud by a reviewer."
    )
