"""The webhook outbox. This app knows nothing of the others: callers hand it an event
name and a JSON payload."""

from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from steve.ids import id_factory
from steve.models import ApiKey, Company, environment_field


class WebhookEndpoint(models.Model):
    Environment = ApiKey.Environment

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("we"), editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # Event types this endpoint receives; empty means every event.
    events = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    # Events of sessions opened with an API key of this environment (ApiKey.environment).
    environment = environment_field()
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Start of the current run of failed attempts; cleared by any 2xx.
    failing_since = models.DateTimeField(null=True, blank=True)
    # The run's latest failure (or interrupted attempt, which keeps a run going without
    # counting): a run with a longer silence than any retry gap is over.
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # The receiver's Retry-After (capped): none of its deliveries is attempted before
    # then (webhooks.delivery._held); cleared by a 2xx or a redelivery.
    held_until = models.DateTimeField(null=True, blank=True)
    # Its latest 2xx, written at most once a minute (so up to a minute early, never
    # late): kept through disabling and enabling, it bounds "redeliver what failed
    # since the endpoint last worked" (services.endpoint_redeliver_failed).
    last_succeeded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class CompanySecret(models.Model):
    """A company's generated `whsec_` secret, rotatable with a grace period."""

    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the current secret was rotated in (null: made, never rotated, or rotated before
    # this was kept): a rotation replacing it within its grace names that time.
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class SessionWebhookSecret(CompanySecret):
    """The secret of a company's environment for signing deliveries to sessions' own
    `webhookUrl`: a sandbox key rotating it leaves production signatures alone."""

    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="session_webhook_secrets"
    )
    environment = environment_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["company", "environment"], name="session_secret_unique_environment"
            )
        ]

    def __str__(self) -> str:
        return f"session webhook secret of {self.company} ({self.environment})"


class SyncSigningSecret(CompanySecret):
    """The company's secret for signing downstream-sync posts to its workflows' sync_url.

    Generated, never derived from SECRET_KEY or shared with another company.
    """

    company = models.OneToOneField(
        Company, on_delete=models.CASCADE, related_name="sync_signing_secret"
    )

    def __str__(self) -> str:
        return f"sync signing secret of {self.company}"


class SessionWebhookTarget(models.Model):
    """Where a company's sessions' own `webhookUrl` deliveries go: one row per scheme,
    host and port. Thousands of sessions can point at one host, and with no endpoint row
    a dead one was retried for every session for days, unnoticed; this row carries the
    same failing run as an endpoint, and suspends the host's deliveries after it."""

    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("wht"), editable=False
    )
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, related_name="session_webhook_targets"
    )
    # That of the sessions whose deliveries it carries: one row per environment, so a
    # sandbox's failures (signed with the sandbox's secret, which a production receiver
    # refuses) never suspend or hold production's deliveries, nor does a sandbox key's
    # redelivery resume them (docs/environments.md).
    environment = environment_field(db_default=True)
    # "https://hooks.example.com:443": lowercased, with the port the scheme implies.
    origin = models.CharField(max_length=2000)  # as long as a URL may be
    # As WebhookEndpoint's: the current run of failed attempts, cleared by any 2xx.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=200, blank=True)
    # As WebhookEndpoint's: the host's Retry-After holds all of its deliveries.
    held_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "environment", "origin"], name="session_target_unique_origin"
            )
        ]

    def __str__(self) -> str:
        return self.origin


class SessionWebhookTargetNotice(models.Model):
    """What an admin must see about a session target: why Steve suspended it, who
    resumed it."""

    class Kind(models.TextChoices):
        SUSPENDED = "suspended"
        RESUMED = "resumed"

    target = models.ForeignKey(
        SessionWebhookTarget, on_delete=models.CASCADE, related_name="notices"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class SyncTarget(models.Model):
    """A company's downstream-sync target (a workflow's sync_url), held by its
    Retry-After as an endpoint or session host is (`held_until`). Written the first time
    the target answers with one: every approval's post goes to that one URL, and with no
    row holding them the others went on being posted throughout an ERP's maintenance.
    Identified as the failing-target limit identifies it (company and URL), so a
    workflow published with another sync_url posts to a target with no hold."""

    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("wst"), editable=False
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="sync_targets")
    url = models.URLField(max_length=2000)
    # The target's Retry-After (capped): none of its posts is attempted before then;
    # cleared by a 2xx or a redelivery of one of its posts.
    held_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["company", "url"], name="sync_target_unique_url")
        ]

    def __str__(self) -> str:
        return self.url


# The submission id and the integrator's clientSubmissionId a delivery's payload carries:
# a webhook event at its top, a sync post in the submission it posts. The admin's search
# looks them up by these very expressions, each indexed (delivery_submission_id,
# delivery_client_submission_id): a search of a payload path no index has read every
# delivery ever made. Two indexes more on the largest table (written at every event): the
# other paths a search read (a payload's contents) are not looked up.
PAYLOAD_SUBMISSION_ID = Coalesce(KT("payload__submissionId"), KT("payload__submission__id"))
PAYLOAD_CLIENT_SUBMISSION_ID = Coalesce(
    KT("payload__clientSubmissionId"), KT("payload__submission__clientSubmissionId")
)


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    class Purpose(models.TextChoices):
        WEBHOOK = "webhook"
        # A downstream-sync post of an approved submission (submissions.sync), signed
        # with the company's SyncSigningSecret; same leases, retries and target checks.
        SYNC = "sync"

    id = models.CharField(
        primary_key=True, max_length=40, default=id_factory("whd"), editable=False
    )
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    environment = environment_field()  # that of the event's session (or endpoint)
    # Null for deliveries to a session's own webhookUrl.
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    url = models.URLField(max_length=2000)
    # The host of a delivery to a session's own webhookUrl (null for the others).
    session_target = models.ForeignKey(
        SessionWebhookTarget,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
    )
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.WEBHOOK)
    # A plain id, not a foreign key: this app does not know the jobs app.
    session_id = models.CharField(max_length=40, blank=True, db_index=True)
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Every attempt ever made, as many as the attempt log holds; never reset. An integer,
    # not a smallint: redeliveries have no limit, and ~4,000 of a failing one passed 32,767.
    attempts = models.PositiveIntegerField(default=0)
    # The attempts made before the latest redelivery: its fresh retry budget counts from
    # there, and an answer to one of them is stale.
    attempts_before_redelivery = models.PositiveIntegerField(default=0, db_default=0)
    # When its current retry budget started: its queueing, or its latest redelivery. A
    # sync post's budget is bounded in time too (delivery.BUDGET_WINDOW): its target's
    # Retry-After holds it with no attempt counted.
    budget_started_at = models.DateTimeField(default=timezone.now, db_default=Now())
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Lease of the worker sending an attempt: nobody else sends until it passes, and a
    # worker killed mid-request leaves the delivery claimable again once it does.
    locked_until = models.DateTimeField(null=True, blank=True)
    # A task message is already on the queue until then; keeps beat from piling up copies.
    queued_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # When it became failed (given up, a 410, kept unsent); null unless failed (and for
    # rows failed before it was recorded). A recovery selects on it, not on created_at:
    # an event older than the endpoint's last success can fail in the outage after it.
    failed_at = models.DateTimeField(null=True, blank=True)
    # When its submission's retention purge blanked its results and its replies' text
    # (deliveries_forget_results): a reply recorded after, from an attempt still in
    # flight then or a redelivery, keeps no text either. This app does not know the
    # submissions, so the mark is the delivery's own.
    results_forgotten_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "endpoint"], name="delivery_unique_endpoint_event"
            ),
            models.UniqueConstraint(
                fields=["event_id", "url"],
                condition=Q(endpoint__isnull=True),
                name="delivery_unique_session_event",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(
                fields=["endpoint", "status", "created_at"], name="delivery_endpoint_status"
            ),
            # An endpoint's deliveries, newest first (the API's keyset pages): by id alone,
            # a quiet endpoint's page read back through every other endpoint's deliveries.
            models.Index(fields=["endpoint", "-id"], name="delivery_endpoint_id"),
            # Beat's selection asks of each due sync post whether another post to its
            # target is due before it (webhooks.delivery._waiting_on_failing_owner): a
            # company's pending posts in due order, read to the first (the target's URL,
            # up to 2,000 characters, is left to the filter).
            models.Index(
                fields=["company", "next_attempt_at"],
                name="delivery_sync_due",
                condition=Q(status="pending", purpose="sync"),
            ),
            # A publish with another or no sync_url reads the company's sync posts not
            # delivered yet (submissions.sync._unsent_post_batches, the workflow's lock
            # held), in id order: the given-up ones are in no other index, and by company
            # alone it read every webhook the company was ever sent.
            models.Index(
                fields=["company", "id"],
                name="delivery_sync_unsent",
                condition=Q(purpose="sync", status__in=["pending", "failed"]),
            ),
            # Beat's sweep of lapsed leases (webhooks.delivery.lapsed_leases), every 5 s:
            # the few rows with an attempt in flight, not every pending one.
            models.Index(
                fields=["locked_until"],
                name="delivery_leased",
                condition=Q(locked_until__isnull=False),
            ),
            # The admin's search by submission id and by clientSubmissionId (above).
            models.Index(PAYLOAD_SUBMISSION_ID, name="delivery_submission_id"),
            models.Index(PAYLOAD_CLIENT_SUBMISSION_ID, name="delivery_client_submission_id"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.url}"


class WebhookAttempt(models.Model):
    """One HTTP attempt. Written before the request is sent, so an attempt cut short by a
    dead worker stays visible (finished_at null)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField(default=0)  # WebhookDelivery.attempts at the time
    attempted_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # The receiver's resolved address that took the connection (a host can have several,
    # tried in turn); blank when none did.
    address = models.CharField(max_length=100, blank=True, db_default="")

    class Meta:
        ordering = ["-attempted_at"]

    def __str__(self) -> str:
        return f"attempt on {self.delivery_id} at {self.attempted_at}"


class WebhookEndpointNotice(models.Model):
    """Things an admin must see about an endpoint, e.g. why Steve disabled it."""

    class Kind(models.TextChoices):
        DISABLED = "disabled"
        ENABLED = "enabled"
        SECRET_ROTATED = "secret_rotated"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.CharField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"
