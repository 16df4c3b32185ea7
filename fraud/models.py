"""Fraud matches: evidence that a submission re-uses another one's document."""

from django.conf import settings
from django.db import models

from fraud import normalise
from steve.ids import id_factory
from steve.models import Company, environment_field


class FraudMatch(models.Model):
    class CheckType(models.TextChoices):
        DUPLICATE = "duplicate"
        VISUAL = "visual"
        DATA = "data"
        TEXT = "text"
        TAMPERING = "tampering"

    class Status(models.TextChoices):
        FLAG = "flag"
        BLOCK = "block"

    class Resolution(models.TextChoices):
        FALSE_POSITIVE = "false_positive"
        CONFIRMED_FRAUD = "confirmed_fraud"
        # Steve's, never a reviewer's: the matched submission failed or was cancelled
        # after the match was found, so it was never a claim (fraud.services
        # fraud_matches_withdraw). Closes the match like a resolution, counts for nothing.
        WITHDRAWN = "withdrawn"

    # What a reviewer (page or API) may resolve a match as.
    REVIEWER_RESOLUTIONS = (Resolution.FALSE_POSITIVE, Resolution.CONFIRMED_FRAUD)

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("fm"), editable=False)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="fraud_matches"
    )
    target_submission = models.ForeignKey(
        "submissions.Submission",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="fraud_matches_as_target",
    )
    check_type = models.CharField(max_length=20, choices=CheckType.choices)
    score = models.FloatField()
    similarity = models.FloatField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FLAG)
    details = models.JSONField(default=dict, blank=True)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, null=True, blank=True)
    resolved_by = models.CharField(max_length=200, blank=True)
    resolved_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The submission's version at this match's last resolution or undo, and who made it
    # ("user:3", as Submission.field_versions keeps it): the review desk's panel refuses a
    # resolution or undo of a pair only when someone else changed it since the panel was
    # drawn (fraud.services.refuse_stale_resolution). Empty until one is made.
    resolution_version = models.PositiveIntegerField(null=True, blank=True)
    resolution_by = models.CharField(max_length=200, blank=True, db_default="")
    # When beat's withdrawal sweep last raised on this match's pair
    # (fraud.services.fraud_matches_withdraw_missed lists such pairs last, so a batch of
    # them never keeps the others waiting).
    withdraw_failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "fraud matches"
        ordering = ["-id"]
        constraints = [
            # One row per pair and check, even when two workers find the pair at once.
            models.UniqueConstraint(
                fields=["submission", "target_submission", "check_type"],
                name="fraud_match_unique_pair",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["submission", "-id"], name="fraud_match_submission")]

    def __str__(self) -> str:
        return f"{self.check_type} match {self.id}"


class PageFingerprint(models.Model):
    """Perceptual hash of one normalised page view; the source of truth of the visual index.

    Ids only grow, and per company rows are inserted under the company's advisory lock, so a
    worker's in-memory index catches up exactly by loading rows with id > last seen id.
    """

    class Variant(models.TextChoices):
        # One row per view of fraud.hashing.VIEWS, hashed with the v2 normalisation.
        PAPER_V2 = "v2-paper"  # the whole upright paper
        PRINT_V2 = "v2-print"  # the box of the blobs that look like print
        STRONG_V2 = "v2-strong"  # the box of the strong ink
        INK_V2 = "v2-ink"  # the box of all ink
        DARK_V2 = "v2-dark"  # the box of the darkest pixels
        TEXT_V2 = "v2-text"  # the box of the words OCR read
        # v1 views (before the v2 normalisation): no longer searched; recomputed as v2 by
        # `manage.py fraud_refingerprint --pages`.
        CONTENT = "content"
        PAPER = "paper"

    id = models.BigAutoField(primary_key=True)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # The submission's: sandbox and production never search each other's rows.
    environment = environment_field()
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="+"
    )
    file_id = models.CharField(max_length=40)
    page = models.PositiveIntegerField(default=0)
    variant = models.CharField(max_length=10, choices=Variant.choices)
    pdq = models.BinaryField(max_length=32)
    quality = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["company", "environment", "variant", "id"], name="fraud_page_fp_scan"
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "file_id", "page", "variant"], name="fraud_page_fp_unique"
            )
        ]

    def __str__(self) -> str:
        return f"PageFingerprint {self.pk}"


class PageFeatures(models.Model):
    """ORB keypoints and the print of one page (fraud.local), for the local-feature check.

    Read only for the few candidate pages the hashes, text and data checks point at.
    """

    VERSION = 1

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="+"
    )
    file_id = models.CharField(max_length=40)
    page = models.PositiveIntegerField(default=0)
    version = models.PositiveSmallIntegerField(default=VERSION)
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "page features"
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "file_id", "page"], name="fraud_page_features_unique"
            )
        ]

    def __str__(self) -> str:
        return f"PageFeatures {self.pk}"


class TextFingerprint(models.Model):
    """A submission's text as digit shingles (fraud.textsim): the exact set gives the
    similarity, a MinHash signature's LSH band keys (TextBandKey) find the candidates.

    Rows of version 1 (MinHash of character shingles, no shingle set) match nothing;
    `manage.py fraud_refingerprint` recomputes them from Submission.pages_text.
    """

    VERSION = 2

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    submission = models.OneToOneField(
        "submissions.Submission", on_delete=models.CASCADE, related_name="+"
    )
    version = models.PositiveSmallIntegerField(default=1)
    signature = models.BinaryField()
    shingles = models.BinaryField(default=b"")
    band_keys = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"TextFingerprint {self.pk}"


class TextBandKey(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # The submission's: sandbox and production never search each other's rows.
    environment = environment_field()
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="+"
    )
    key = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["company", "environment", "key"], name="fraud_text_band")]

    def __str__(self) -> str:
        return f"TextBandKey {self.pk}"


class DataFingerprint(models.Model):
    """Normalised merchant, total, date, time and receipt number, for the data check.

    Looked up by total and date, or by receipt number; the merchant is compared by
    similarity (OCR reads names differently on every capture), time and receipt number
    only when both sides have one.

    One row per submission of what was read, and for a PDF whose page shows a checked
    field otherwise than its text layer says (jobs.extraction.shown) a second, ``shown``,
    of what its page shows: an edited copy of an earlier receipt whose invisible text
    names another shop and total is found by the one its page copies.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # The submission's: sandbox and production never search each other's rows.
    environment = environment_field()
    # No index of its own: the unique constraint below leads with it.
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The values its page shows where the text layer says otherwise (False: as read).
    shown = models.BooleanField(default=False, db_default=False)
    merchant = models.CharField(max_length=200)
    # Any amount normalise.amount gives: 14 digits failed a dong invoice of a trillion.
    total = models.DecimalField(max_digits=normalise.AMOUNT_DIGITS, decimal_places=2)
    date = models.DateField()
    time = models.CharField(max_length=5, blank=True, default="")  # "HH:MM"
    receipt_number = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["company", "environment", "merchant", "total", "date"],
                name="fraud_data_key",
            ),
            models.Index(
                fields=["company", "environment", "total", "date"], name="fraud_data_total_date"
            ),
            models.Index(
                fields=["company", "environment", "total", "time"], name="fraud_data_total_time"
            ),
            # The same receipt number whatever the total (fraud.services._data_findings).
            models.Index(
                fields=["company", "environment", "receipt_number"],
                name="fraud_data_number",
                condition=~models.Q(receipt_number=""),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "shown"], name="fraud_data_one_per_reading"
            )
        ]

    def __str__(self) -> str:
        return f"DataFingerprint {self.pk}"


class KnownFraud(models.Model):
    """A submission whose document a reviewer confirmed as fraud: later matches block."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # The submission's: sandbox and production never search each other's rows.
    environment = environment_field()
    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="+"
    )
    sha256s = models.JSONField(default=list)
    confirmed_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["company", "submission"], name="fraud_known_unique")
        ]

    def __str__(self) -> str:
        # By its submission (the admin's delete question and its history name it so).
        return f"known fraud {self.submission_id}"


class FalsePositivePair(models.Model):
    """Two submissions a reviewer declared unrelated: no check flags this pair again."""

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="+")
    # Stored ordered (first > second) so one row covers both directions.
    first = models.ForeignKey("submissions.Submission", on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey("submissions.Submission", on_delete=models.CASCADE, related_name="+")
    resolved_by = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["first", "second"], name="fraud_fp_pair_unique")
        ]

    def __str__(self) -> str:
        return f"false positive {self.first_id} / {self.second_id}"
