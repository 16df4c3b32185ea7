from django.contrib import admin

from jobs.models import WorkflowSession


@admin.register(WorkflowSession)
class WorkflowSessionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "company",
        "environment",
        "workflow_version",
        "state",
        "progress",
        "client_submission_id",
        "created_at",
        "expires_at",
    ]
    list_filter = ["environment", "state", "source", "company"]
    search_fields = ["id", "client_submission_id", "submission__id"]
    list_select_related = ["company", "workflow_version__workflow"]
    readonly_fields = [
        "state",
        "progress",
        "submission",
        "api_key",
        "submitted_at",
        "processed_at",
        "error_code",
        "error_step",
        "failed_reason",
        "requeue_count",
        "heartbeat_at",
        "created_at",
        "updated_at",
    ]
    show_full_result_count = False
