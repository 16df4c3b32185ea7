from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from fraud.models import FalsePositivePair, FraudMatch, KnownFraud
from fraud.services import false_positive_pairs_remove, known_frauds_remove
from steve.admin_site import (
    MAX_SEARCH_TERMS,
    EstimatedCountPaginator,
    SavesEditedFieldsOnly,
    SearchesWholeIds,
)
from submissions.services import Actor


@admin.register(FraudMatch)
class FraudMatchAdmin(SearchesWholeIds, admin.ModelAdmin):
    # The submissions by id, read from the match's own row: listing them as objects read
    # the (nullable, so never joined) target once per row, with every stored result.
    list_display = [
        "id",
        "submission_shown",
        "target_shown",
        "check_type",
        "score",
        "status",
        "resolution",
        "resolved_at",
    ]
    list_filter = ["check_type", "status", "resolution", "submission__environment", "company"]
    # Whole ids, each through its index (SearchesWholeIds): the match's, its
    # submission's (fraud_match_submission), its target's.
    search_fields = ["id", "submission__id", "target_submission__id"]
    search_help_text = (
        f"Up to {MAX_SEARCH_TERMS} whole ids, any of them: a match's, or a submission's "
        "(matched or matched on)."
    )
    show_full_result_count = False  # counted once a page, as the submissions are
    paginator = EstimatedCountPaginator  # rows for every submission the checks flag
    readonly_fields = [
        "submission",
        "target_submission",
        "check_type",
        "score",
        "similarity",
        "status",
        "details",
        "resolution",
        "resolved_by",
        "resolved_at",
    ]

    @admin.display(description="submission", ordering="submission")
    def submission_shown(self, match: FraudMatch) -> str:
        return match.submission_id

    @admin.display(description="target submission", ordering="target_submission")
    def target_shown(self, match: FraudMatch) -> str | None:
        return match.target_submission_id  # None (a tampering finding) shows as "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # matches come from the checks

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # resolved on the review page or over the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A match goes by its resolution (the review page or the API), never by deletion:
        # deleting a blocked submission's open matches let it be approved.
        return False


@admin.register(KnownFraud)
class KnownFraudAdmin(SavesEditedFieldsOnly, admin.ModelAdmin):
    """The company's known-fraud list: deleting a row lets matching uploads through again."""

    # The submission by id, read from the row: listed as an object, every required
    # foreign key was joined (the submission with its stored results, its workflow, its
    # version), for a page the more costly the more submissions there are.
    list_display = ["id", "company", "submission_shown", "confirmed_by", "created_at"]
    list_select_related = ["company"]
    list_filter = ["environment", "company"]
    search_fields = ["submission__id"]
    show_full_result_count = False  # one count a page: the list grows with resolutions
    # Every field: a row is the reviewers' resolution as made (the environment too: the
    # checks only block within the submission's own), and deleting it is the one change.
    readonly_fields = [
        "company",
        "environment",
        "submission",
        "sha256s",
        "confirmed_by",
        "created_at",
    ]

    @admin.display(description="submission", ordering="submission_id")
    def submission_shown(self, row: KnownFraud) -> str:
        return row.submission_id

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from reviewers' resolutions

    # Deleting (one or the selected) goes through the service, which records it on each
    # submission's timeline: deleted directly, nobody could tell who had let its copies
    # through again.
    def delete_model(self, request: HttpRequest, obj: KnownFraud) -> None:
        known_frauds_remove(known_fraud_ids=[obj.pk], actor=Actor.for_user(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        known_frauds_remove(
            known_fraud_ids=list(queryset.values_list("pk", flat=True)),
            actor=Actor.for_user(request.user),
        )


@admin.register(FalsePositivePair)
class FalsePositivePairAdmin(SavesEditedFieldsOnly, admin.ModelAdmin):
    """Pairs a reviewer declared unrelated: deleting a row lets the checks flag them again."""

    # The submissions by id, as on the known-fraud list (both were joined, whole).
    list_display = ["id", "company", "first_shown", "second_shown", "resolved_by", "created_at"]
    list_select_related = ["company"]
    list_filter = ["company"]
    search_fields = ["first__id", "second__id"]
    show_full_result_count = False  # one count a page: the list grows with resolutions
    readonly_fields = ["company", "first", "second", "resolved_by", "created_at"]

    @admin.display(description="first", ordering="first_id")
    def first_shown(self, pair: FalsePositivePair) -> str:
        return pair.first_id

    @admin.display(description="second", ordering="second_id")
    def second_shown(self, pair: FalsePositivePair) -> str:
        return pair.second_id

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # rows come from reviewers' resolutions

    # As the known-fraud list's: through the service, on both submissions' timelines.
    def delete_model(self, request: HttpRequest, obj: FalsePositivePair) -> None:
        false_positive_pairs_remove(pair_ids=[obj.pk], actor=Actor.for_user(request.user))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        false_positive_pairs_remove(
            pair_ids=list(queryset.values_list("pk", flat=True)),
            actor=Actor.for_user(request.user),
        )
