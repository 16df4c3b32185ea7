"""Submissions: what an upload session produces, and what reviewers decide on."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from steve.ids import id_factory
from steve.models import Company, Workflow, WorkflowVersion, environment_field


class SubmissionStatus(models.TextChoices):
    CREATED = "created"
    PROCESSING = "processing"
    REVIEW = "review"
    APPROVED = "approved"
    SYNCED = "synced"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


# Not yet decided, cancelled or failed: what the review queue counts (a company's
# decided submissions grow with every day of use; its open ones stay few).
OPEN_STATUSES = (SubmissionStatus.CREATED, SubmissionStatus.PROCESSING, SubmissionStatus.REVIEW)


class FraudStatus(models.TextChoices):
    CLEAN = "clean"
    FLAGGED = "flagged"
    BLOCKED = "blocked"


class Submission(models.Model):
    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("sub"), editable=False
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="submissions")
    # That of the API key whose session made it; files, events and fraud matches follow it.
    environment = environment_field()
    workflow = models.ForeignKey(Workflow, on_delete=models.PROTECT, related_name="submissions")
    workflow_version = models.ForeignKey(
        WorkflowVersion, on_delete=models.PROTECT, related_name="submissions"
    )
    status = models.CharField(
        max_length=20, choices=SubmissionStatus.choices, default=SubmissionStatus.CREATED
    )
    fraud_status = models.CharField(max_length=20, choices=FraudStatus.choices, null=True)
    fraud_score = models.FloatField(null=True, blank=True)
    extracted_data = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    field_confidences = models.JSONField(default=dict, blank=True)
    # field -> [{"page", "bbox"}]: where each value was read, for the review page.
    evidence = models.JSONField(default=dict, blank=True)
    pages_text = models.JSONField(default=list, blank=True)
    certainty = models.FloatField(null=True, blank=True)
    ai_summary = models.TextField(blank=True)
    review_flagged_fields = models.JSONField(default=list, blank=True)
    failed_reason = models.TextField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    reject_reason = models.TextField(null=True, blank=True)
    cancel_reason = models.TextField(null=True, blank=True)
    client_submission_id = models.CharField(max_length=255)
    metadata = models.JSONField(default=dict, blank=True)
    # Optimistic concurrency: every change bumps it; a form posted with an older
    # version is refused instead of silently overwriting someone else's decision.
    version = models.PositiveIntegerField(default=1)
    # The versions a submission can have: from the default up to the column's (PostgreSQL
    # integer) largest. An API's expectedVersion outside them is refused as invalid.
    VERSION_MIN, VERSION_MAX = 1, 2**31 - 1
    # What each version changed, for the review desk's corrections, which are refused
    # only when what they overwrite or depend on changed since the page was drawn
    # (services.refuse_stale_correction): the last change of anything but a field or the
    # claim (status, decision, a recomputed fraud status, purge), the last change of the
    # claim's holder, per field the version of its last correction and who made it
    # ({"merchantName": {"version": 7, "by": "user:3"}}), and per actor the version of
    # their last fraud resolution or undo ({"user:3": 9}): a reviewer's own does not make
    # their own correction stale, anyone else's does.
    state_version = models.PositiveIntegerField(default=1, db_default=1)
    claim_version = models.PositiveIntegerField(default=1, db_default=1)
    field_versions = models.JSONField(default=dict, blank=True, db_default={})
    fraud_versions = models.JSONField(default=dict, blank=True, db_default={})
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    # When it moved into review: the time of that move's event, set with it by the one
    # transition there (services.submission_transition) and kept after a decision, as the
    # event is. The queue's age, paging, SLA count and the overview's oldest waiting count
    # from it (selectors.in_review_since); read per row from the events, each poll sorted
    # every submission in review by a subquery. Null for one never in review, and for one
    # made in review before events kept statuses (its age counts from its creation).
    review_entered_at = models.DateTimeField(null=True, blank=True)
    sync_attempts = models.PositiveSmallIntegerField(default=0)
    sync_next_attempt_at = models.DateTimeField(null=True, blank=True)
    results_purged_at = models.DateTimeField(null=True, blank=True)
    # When the retention purge last raised on it: such submissions are listed after the
    # others (retention_purge), so a batch of them never fills every run.
    purge_failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "environment", "client_submission_id"],
                name="submission_unique_client_id",
            )
        ]
        indexes = [
            # Keyset listing, newest first (ids sort by creation time).
            models.Index(fields=["company", "-id"], name="submission_company_id"),
            # The overview's rates of the submissions made in its last 30 days: by the
            # company's ids, it read every submission the company ever had.
            models.Index(fields=["company", "created_at"], name="submission_company_created"),
            models.Index(fields=["company", "status", "-id"], name="submission_company_status"),
            # The API's list by fraud status, newest first (its keyset order): a page of
            # the few blocked ones read back through every clean one until it filled.
            models.Index(
                fields=["company", "fraud_status", "-id"], name="submission_company_fraud"
            ),
            models.Index(
                fields=["company", "workflow", "status", "-id"], name="submission_company_wf"
            ),
            # The review tab in age order (its pages, its poll, the SLA's count, the
            # overview's oldest waiting): the expression selectors.in_review_since orders
            # and filters by, so a page reads its rows, not every row in review.
            models.Index(
                F("company"),
                F("environment"),
                F("status"),
                Coalesce("review_entered_at", "created_at"),
                F("id"),
                name="submission_review_since",
            ),
            models.Index(
                fields=["sync_next_attempt_at"],
                name="submission_sync_due",
                condition=Q(status="approved", sync_next_attempt_at__isnull=False),
            ),
            # The admin's search by clientSubmissionId, across companies: the unique
            # constraint leads with the company, and served no search of the id alone.
            models.Index(fields=["client_submission_id"], name="submission_client_id"),
        ]

    def __str__(self) -> str:
        return self.id


class SubmissionFile(models.Model):
    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("file"), editable=False
    )
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="files")
    file_index = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=100, blank=True)
    declared_content_type = models.CharField(max_length=100)
    mime_type = models.CharField(max_length=100, blank=True)  # sniffed from the bytes
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    storage_key = models.CharField(max_length=500)
    uploaded_at = models.DateTimeField(null=True, blank=True)
    page_count = models.PositiveSmallIntegerField(null=True, blank=True)
    # Per page, how OCR straightened and turned it ({"skew": deg, "turn": 0|90|180|270}):
    # the review page shows the page as read, where the evidence boxes belong.
    page_transforms = models.JSONField(default=list, blank=True)
    # Read with a password (an extraction job's), which is dropped when the job ends: its
    # pages cannot be rendered again, and the review desk says so instead of broken images.
    password_protected = models.BooleanField(default=False, db_default=False)
    exif = models.JSONField(default=dict, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submission", "file_index"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "file_index"], name="file_unique_index")
        ]

    def __str__(self) -> str:
        return f"{self.submission_id}#{self.file_index}"


class EventType(models.TextChoices):
    """What a SubmissionEvent records: the one list every app writes and reads (the
    timeline, the API's `events`, the review stats). The database refuses any other type.

    Webhook event names (`submission.approved`, …) are another contract:
    webhooks.catalogue.WebhookEventType.
    """

    CREATED = "created"
    SESSION_SUBMITTED = "session_submitted"
    SESSION_COMPLETED = "session_completed"
    SESSION_FAILED = "session_failed"
    SESSION_EXPIRED = "session_expired"
    PROCESSING_STARTED = "processing_started"
    PROCESSING_REQUEUED = "processing_requeued"
    READY_FOR_REVIEW = "ready_for_review"
    REVIEW_REQUIRED = "review_required"
    APPROVED = "approved"
    SYNCED = "synced"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"
    SYNC_FAILED = "sync_failed"
    SYNC_ABANDONED = "sync_abandoned"
    SYNC_DROPPED = "sync_dropped"
    # Its post not delivered yet was moved to the workflow's new sync_url (submissions.sync).
    SYNC_RETARGETED = "sync_retargeted"
    COMMENT = "comment"
    CLAIMED = "claimed"
    CLAIM_TAKEN_OVER = "claim_taken_over"
    CLAIM_RELEASED = "claim_released"
    FIELD_CORRECTED = "field_corrected"
    RESULTS_PURGED = "results_purged"
    FRAUD_STATUS_CHANGED = "fraud_status_changed"
    FRAUD_MATCH_RESOLVED = "fraud_match_resolved"
    FRAUD_RESOLUTION_UNDONE = "fraud_resolution_undone"
    FRAUD_MATCH_WITHDRAWN = "fraud_match_withdrawn"
    # An admin took a submission off the known-fraud list, or forgot a pair a reviewer
    # declared unrelated (fraud.services): what the checks do with it changed.
    KNOWN_FRAUD_REMOVED = "known_fraud_removed"
    FALSE_POSITIVE_REMOVED = "false_positive_removed"


class SubmissionEvent(models.Model):
    """Append-only history: one row per change of a submission or its session."""

    class ActorType(models.TextChoices):
        SYSTEM = "system"
        API_KEY = "api_key"
        USER = "user"

    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("evt"), editable=False
    )
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=60, choices=EventType.choices)
    # Set by record_event (submissions.services), later than the submission's last event
    # as the API renders it; the clock's time for a row made otherwise.
    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    actor_type = models.CharField(
        max_length=20, choices=ActorType.choices, default=ActorType.SYSTEM
    )
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The submission's version once the event was recorded: a change's event carries the
    # version it produced, so the events after a page drawn at version v are those above
    # v (a stale page's refusal names them). Not in `details`, which the API and webhooks
    # show and the retention purge rewrites; null on events recorded before it was kept.
    # A plain integer: a positive one's CHECK made adding the column scan the whole table.
    version = models.IntegerField(null=True, blank=True)
    # The one-time token of the page form that posted a comment: the same form sent again
    # (its answer was lost on the way back) is that comment, not a second one. Not in the
    # API's or webhooks' view of the event.
    form_token = models.CharField(max_length=36, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["submission", "-id"], name="event_submission_id"),
            # The overview's decisions of its last 30 days (submissions.selectors): only
            # approvals and rejections, a small part of a table that grows with every change.
            models.Index(
                fields=["occurred_at"],
                name="event_decided_at",
                condition=Q(type__in=["approved", "rejected"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="event_type_known"),
            models.UniqueConstraint(
                fields=["submission", "form_token"],
                condition=~Q(form_token=""),
                name="event_form_token_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} on {self.submission_id}"


class MerchantMemory(models.Model):
    """A merchant name or address a reviewer corrected, remembered for one company under
    one key that identifies the shop on a receipt (see submissions/memory.py)."""

    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("mem"), editable=False
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=160)  # "gst:000123456789", "tel:0312345678", …
    field = models.CharField(max_length=40)
    value = models.TextField()
    # Receipts on which reviewers set or kept this value, and on which they overruled it.
    times_right = models.PositiveIntegerField(default=1)
    times_wrong = models.PositiveIntegerField(default=0)
    # The values, with their counts, that overwriting corrections replaced, newest last (at
    # most MAX_PREVIOUS): the newest comes back when the value over it is withdrawn
    # (corrected back, or its receipt rejected or cancelled).
    previous = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "merchant memories"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "key", "field"], name="merchant_memory_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.field} under {self.key}"
