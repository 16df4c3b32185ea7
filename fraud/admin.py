from django.contrib import admin

from fraud.models import FraudMatch


@admin.register(FraudMatch)
class FraudMatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "submission",
        "target_submission",
        "check_type",
        "score",
        "status",
        "resolution",
        "resolved_at",
    ]
    list_filter = ["check_type", "status", "resolution", "company"]
    search_fields = ["id", "submission__id", "target_submission__id"]
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
