"""Downstream sync: post an approved submission to the workflow's sync target."""

import json
import random
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from submissions.api.serializers import detail
from submissions.models import Submission, SubmissionStatus
from submissions.services import Actor, record_event, submission_mark_synced
from webhooks.signing import signed_headers

SYNC_TIMEOUT_SECONDS = 15
MAX_SYNC_ATTEMPTS = 8
BASE_DELAY_SECONDS = 30


def sync_secret() -> str:
    return settings.SYNC_SIGNING_SECRET


def _post(submission: Submission) -> tuple[int | None, str]:
    body = json.dumps({"submission": detail(submission)}, separators=(",", ":")).encode()
    headers = signed_headers(
        secrets=[sync_secret()],
        event_id=f"sync_{submission.pk}",
        event_type="submission.sync",
        timestamp=int(time.time()),
        body=body,
    )
    try:
        response = requests.post(
            submission.workflow_version.sync_url,
            data=body,
            headers=headers,
            timeout=SYNC_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    return response.status_code, "" if response.ok else f"HTTP {response.status_code}"


def submission_sync(*, submission_id: str) -> None:
    """One sync attempt; on failure the next one is scheduled with exponential backoff."""
    submission = Submission.objects.select_related("workflow", "workflow_version").get(
        pk=submission_id
    )
    if submission.status != SubmissionStatus.APPROVED or not submission.workflow_version.sync_url:
        return
    status_code, error = _post(submission)
    if status_code is not None and 200 <= status_code < 300:
        submission_mark_synced(
            submission_id=submission_id,
            details={"statusCode": status_code, "attempt": submission.sync_attempts + 1},
        )
        return
    _schedule_retry(submission_id, status_code, error)


def _schedule_retry(submission_id: str, status_code: int | None, error: str) -> None:
    with transaction.atomic():
        submission = Submission.objects.select_for_update().get(pk=submission_id)
        submission.sync_attempts += 1
        gave_up = submission.sync_attempts >= MAX_SYNC_ATTEMPTS
        delay = BASE_DELAY_SECONDS * 2 ** (submission.sync_attempts - 1)
        submission.sync_next_attempt_at = (
            None if gave_up else timezone.now() + timedelta(seconds=delay * random.uniform(1, 1.2))
        )
        submission.save(update_fields=["sync_attempts", "sync_next_attempt_at", "updated_at"])
        record_event(
            submission=submission,
            type="sync_abandoned" if gave_up else "sync_failed",
            actor=Actor.system(),
            details={
                "attempt": submission.sync_attempts,
                "statusCode": status_code,
                "error": error,
                "nextAttemptAt": (
                    submission.sync_next_attempt_at.isoformat()
                    if submission.sync_next_attempt_at
                    else None
                ),
            },
        )


def due_syncs(limit: int = 100) -> list[str]:
    return list(
        Submission.objects.filter(
            status=SubmissionStatus.APPROVED, sync_next_attempt_at__lte=timezone.now()
        )
        .order_by("sync_next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
