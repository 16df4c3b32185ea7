from celery import shared_task

from steve.sweeps import ERRORS, sweep_rows
from submissions.sync import due_syncs, submission_sync


@shared_task(acks_late=True)
def sync_submission(submission_id: str) -> None:
    submission_sync(submission_id=submission_id)


@shared_task
def retry_due_syncs() -> int:
    """Beat: queue the sync attempts whose backoff has passed."""
    due = due_syncs()
    counts = sweep_rows("retry-syncs", due, sync_submission.delay)
    return len(due) - counts[ERRORS]
