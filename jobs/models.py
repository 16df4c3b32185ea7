"""Workflow sessions: the integrator's upload-and-process lifecycle."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from steve.ids import id_factory
from steve.models import ApiKey, Company, WorkflowVersion, environment_field
from submissions.models import Submission


class SessionState(models.TextChoices):
    PENDING = "pending"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


TERMINAL_STATES = {SessionState.COMPLETED, SessionState.FAILED, SessionState.EXPIRED}


class WorkflowSession(models.Model):
    class Source(models.TextChoices):
        SESSION = "session"
        EXTRACTION_JOB = "extraction_job"

    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("ses"), editable=False
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="sessions")
    api_key = models.ForeignKey(ApiKey, on_delete=models.PROTECT, related_name="sessions")
    environment = environment_field()  # the api_key's, copied so queries need no join
    workflow_version = models.ForeignKey(
        WorkflowVersion, on_delete=models.PROTECT, related_name="sessions"
    )
    submission = models.OneToOneField(Submission, on_delete=models.CASCADE, related_name="session")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.SESSION)
    state = models.CharField(
        max_length=20, choices=SessionState.choices, default=SessionState.PENDING
    )
    client_submission_id = models.CharField(max_length=255)
    metadata = models.JSONField(default=dict, blank=True)
    external_user = models.JSONField(null=True, blank=True)
    file_count = models.PositiveSmallIntegerField()
    content_types = models.JSONField(default=list)
    webhook_url = models.URLField(max_length=2000, blank=True)
    # Extraction-job options (password, returnText, documentReview, deliveryMode).
    options = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    failed_reason = models.TextField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_step = models.CharField(max_length=40, blank=True)
    error_retryable = models.BooleanField(default=False)
    requeue_count = models.PositiveSmallIntegerField(default=0)
    # Set when a worker starts the pipeline and renewed while it runs; null while the
    # session waits on the queue. A stale heartbeat means the worker died mid-job.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The claim stamp of the run that holds the job (session_start_run): a run frozen past
    # its lease (SIGSTOP) whose job another run took meanwhile finds another stamp here when
    # it resumes, and stops instead of working beside it.
    run_claimed_at = models.DateTimeField(null=True, blank=True)
    # How its last run ended without an outcome, when its worker lived to see it: the
    # process reading a file killed from outside (its signal, e.g. SIGKILL from the
    # kernel's out-of-memory killer). Empty for a worker that died with the run. The stuck
    # sweep re-queues it as either, says which, and gives it up saying so; cleared then.
    interrupted_by = models.CharField(max_length=40, blank=True, db_default="")
    # When the expiry or the stuck sweep last raised on it (a session is due to one of
    # them at a time): such sessions are listed after the others, so a batch of them
    # never fills every run.
    sweep_failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "environment", "client_submission_id"],
                name="session_unique_client_id",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="session_progress_range"),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], name="session_pending_expiry", condition=Q(state="pending")
            ),
            models.Index(
                fields=["updated_at"], name="session_submitted", condition=Q(state="submitted")
            ),
            models.Index(
                fields=["heartbeat_at"],
                name="session_running",
                condition=Q(state="submitted", heartbeat_at__isnull=False),
            ),
            # The admin's search by clientSubmissionId, across companies: the unique
            # constraint leads with the company, and served no search of the id alone.
            models.Index(fields=["client_submission_id"], name="session_client_id"),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def lapsed(self) -> bool:
        """Pending past its TTL, not yet expired by the sweep: it takes nothing more."""
        return self.state == SessionState.PENDING and self.expires_at <= timezone.now()


class SessionHeartbeat(models.Model):
    """A running session's heartbeat, in a row of its own that no step ever locks.

    A step holds its session's row lock for as long as it runs (the fraud checks take it
    with the submission's, `submission_locking`), and beside another session's (a twin's).
    A heartbeat written to the session row waited behind that lock and came through
    stale: the stuck sweep then re-queued the live job, and a duplicate message claimed
    it, a second run beside the first. The liveness of a run is the fresher of this and
    the session's `heartbeat_at` (the claim and each step).
    """

    # No database constraint: its check (FOR KEY SHARE on the session row) waits behind
    # the session's FOR UPDATE lock, which is what this row is kept apart from.
    session = models.OneToOneField(
        WorkflowSession,
        on_delete=models.CASCADE,
        primary_key=True,
        db_constraint=False,
        related_name="beat",
    )
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.session_id} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
