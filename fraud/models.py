"""Fraud matches: evidence that a submission re-uses another one's document."""

from django.conf import settings
from django.db import models

from steve.ids import id_factory
from steve.models import Company


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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
