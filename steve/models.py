"""The core every app shares: companies, their API keys and reviewers, and workflows."""

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from steve.ids import id_factory


class Company(models.Model):
    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("cmp"), editable=False
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    # Per-company overrides of the API rate limits, e.g. {"read": 600}.
    rate_limits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Environment(models.TextChoices):
    """A tenancy boundary inside a company (docs/environments.md): every object an
    integrator can reach belongs to the environment of the key that made it."""

    PRODUCTION = "production"
    SANDBOX = "sandbox"


def environment_field(*, db_default: bool = False) -> models.CharField:
    """`db_default` for a column added to a table the previous release writes
    (tests/steve/test_deploy_overlap.py)."""
    extra = {"db_default": Environment.PRODUCTION} if db_default else {}
    return models.CharField(
        max_length=20, choices=Environment.choices, default=Environment.PRODUCTION, **extra
    )


class ApiKey(models.Model):
    Environment = Environment

    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("key"), editable=False
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    environment = environment_field()
    # The first characters of the key, so people can tell keys apart; never the secret.
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Membership(models.Model):
    class Role(models.TextChoices):
        # What each may do in the review UI: steve.accounts.membership_allows.
        VIEWER = "viewer"
        REVIEWER = "reviewer"
        LEAD = "lead"
        ADMIN = "admin"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REVIEWER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "company"], name="membership_unique_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.company} ({self.role})"


class Workflow(models.Model):
    """A named workflow of a company; its behaviour lives in immutable versions."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("wf"), editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="workflows")
    slug = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(fields=["company", "slug"], name="workflow_unique_slug")
        ]

    def __str__(self) -> str:
        return f"{self.slug} ({self.company})"

    @property
    def latest(self) -> "WorkflowVersion":
        return self.versions.order_by("-version").first()


# Upload format names of a workflow's `acceptedFormats` and the MIME type each stands for.
FORMAT_MIME = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "pdf": "application/pdf",
}


# What a version's upload rules mean when they leave these out (WorkflowVersion.upload_rules).
DEFAULT_MAX_FILE_SIZE_MB = 10
DEFAULT_FILE_LABEL = "file"


class WorkflowVersion(models.Model):
    class Kind(models.TextChoices):
        RECEIPT = "receipt"
        INVOICE = "invoice"

    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # {"minFiles", "maxFiles", "acceptedFormats", "fileLabels", "maxFileSizeMb"}
    upload = models.JSONField()
    output_schema = models.JSONField()
    review_threshold = models.PositiveSmallIntegerField(default=80)
    auto_approve = models.BooleanField(default=False)
    # Thresholds and switches of the fraud checks; the fraud app reads its own keys.
    fraud_policy = models.JSONField(default=dict, blank=True)
    sync_url = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workflow", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "version"], name="workflow_version_unique"),
            models.CheckConstraint(
                condition=Q(review_threshold__gte=1) & Q(review_threshold__lte=99),
                name="workflow_version_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.workflow.slug} v{self.version}"

    @property
    def accepted_mime_types(self) -> set[str]:
        formats = self.upload.get("acceptedFormats", [])
        return {FORMAT_MIME[name] for name in formats if name in FORMAT_MIME}

    @property
    def upload_rules(self) -> dict[str, Any]:
        """`upload` with every rule Steve applies, as the API serves it (STEVE-API.md's
        five members): rules may leave out `fileLabels` and `maxFileSizeMb`, which then
        take their defaults; served without them, a client never saw the 10-MB limit its
        uploads were held to."""
        return {
            **self.upload,
            "fileLabels": list(self.upload.get("fileLabels") or []) or [DEFAULT_FILE_LABEL],
            "maxFileSizeMb": self.upload.get("maxFileSizeMb", DEFAULT_MAX_FILE_SIZE_MB),
        }

    @property
    def max_file_bytes(self) -> int:
        return int(float(self.upload_rules["maxFileSizeMb"]) * 1024 * 1024)


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` of a company's environment (steve.api.idempotency): what it
    protects belongs to them, so every key of theirs replays it (a retry through the key
    rotated in makes no twin) and no other company's or environment's does."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        DONE = "done"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="idempotency_keys")
    environment = environment_field(db_default=True)
    # The API key of the first request, for the admin. Not the scope: deleting that key
    # must not drop the company's records mid-TTL and let a retry through another run twice.
    api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="idempotency_keys",
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The JSON as first rendered, as text: jsonb reorders an object's keys, and a replay
    # must be the first answer's very bytes (steve.api.idempotency.replay).
    response_body = models.TextField(null=True, blank=True)
    # A 201's Location (the resource the create made), sent again with the replay.
    response_location = models.CharField(max_length=2000, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "environment", "key"], name="idempotency_unique_key"
            )
        ]
        # The admin's search by key, across companies: the unique constraint leads with
        # the company, and served no search of the key alone.
        indexes = [models.Index(fields=["key"], name="idempotency_key")]

    def __str__(self) -> str:
        return self.key


class OutboxMessage(models.Model):
    """A Celery task to send, written in the transaction of the change that needs it.

    So a change and its task are committed together: a broker outage at commit delays the
    task (the relay sends it once the broker is back) and never loses it.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task}{tuple(self.args)}"


class RedisEpoch(models.Model):
    """The mark Steve keeps in Redis, and here: Redis keeps nothing on disk, so one that
    comes back without its mark has lost every message queued in it (steve.services.
    redis_epoch_check). One row; `value` is empty until the first check writes a mark."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    value = models.CharField(max_length=32, blank=True)
    # When the mark in `value` was written: Redis held every message queued since.
    since = models.DateTimeField(null=True, blank=True)
    # When Redis was last found without its mark, while work it lost is still being
    # queued again (a batch a check); None once all of it is.
    lost_at = models.DateTimeField(null=True, blank=True)
    # Where the requeue of that loss goes on at the next check, in what it goes through in
    # key order (the last delivery whose lease it dropped); empty once through. A default
    # in the database too: a previous release's check inserts the row without it.
    resume_after = models.CharField(max_length=40, blank=True, default="", db_default="")

    def __str__(self) -> str:
        return f"Redis epoch {self.value or '(none yet)'}"
