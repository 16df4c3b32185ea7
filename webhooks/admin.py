from django.contrib import admin

from webhooks.models import SessionWebhookSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "company", "enabled", "disabled_reason", "created_at"]
    list_filter = ["enabled", "company"]
    search_fields = ["url", "id"]
    exclude = ["secret", "previous_secret"]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "status_code", "latency_ms", "response_body", "error"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event_type",
        "url",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
    ]
    list_filter = ["status", "event_type", "company"]
    search_fields = ["id", "event_id", "session_id", "url"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [WebhookAttemptInline]


@admin.register(SessionWebhookSecret)
class SessionWebhookSecretAdmin(admin.ModelAdmin):
    list_display = ["company", "created_at"]
    exclude = ["secret", "previous_secret"]
