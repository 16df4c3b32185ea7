from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from steve.accounts import users_deleting
from steve.admin_site import (
    MAX_SEARCH_TERMS,
    CheckedJSONField,
    EstimatedCountPaginator,
    ExplainsRefusedDeletion,
    FixedOnceCreated,
    NewestRows,
    ReadOnlyAdmin,
    SavesEditedFieldsOnly,
    SearchesWholeIds,
    ShowsRefusedSaves,
    all_rows_link,
    log_changes,
)
from steve.api.ratelimit import rate_limit_errors
from steve.celery import app as celery_app
from steve.errors import ServiceError
from steve.models import (
    ApiKey,
    Company,
    IdempotencyKey,
    Membership,
    OutboxMessage,
    Workflow,
    WorkflowVersion,
)
from steve.secret_once import ShowsSecretsOnce, remember_secret
from steve.services import api_key_create, api_keys_revoke, checked_api_key_name


class MembershipInlineForm(forms.ModelForm):
    """A member's row names its user, fixed once added (a membership is that user's in
    this company): the autocomplete widget read its user again for every row."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            user = self.fields["user"]
            user.disabled = True
            user.widget = forms.Select(choices=[(self.instance.user_id, str(self.instance.user))])


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipInlineForm
    extra = 0
    autocomplete_fields = ["user"]  # for the rows added

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # Each row is named with its user and company (Membership.__str__): read with it.
        return super().get_queryset(request).select_related("user", "company")


class CompanyForm(forms.ModelForm):
    rate_limits = CheckedJSONField(required=False)

    class Meta:
        model = Company
        fields = ["name", "slug", "rate_limits"]

    def clean_rate_limits(self) -> Any:
        limits = self.cleaned_data.get("rate_limits") or {}
        if errors := rate_limit_errors(limits):
            raise forms.ValidationError(errors)
        return limits


@admin.register(Company)
class CompanyAdmin(ExplainsRefusedDeletion, SavesEditedFieldsOnly, admin.ModelAdmin):
    form = CompanyForm
    list_display = ["name", "slug", "id", "created_at"]
    search_fields = ["name", "slug", "id"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["company", "name", "environment"]

    def clean_name(self) -> str:
        """The service's rules for a name, on adding a key and on renaming one."""
        try:
            return checked_api_key_name(self.cleaned_data.get("name") or "")
        except ServiceError as error:
            raise forms.ValidationError(error.message) from None


@admin.register(ApiKey)
class ApiKeyAdmin(
    ExplainsRefusedDeletion,
    FixedOnceCreated,
    ShowsSecretsOnce,
    ShowsRefusedSaves,
    SavesEditedFieldsOnly,
    admin.ModelAdmin,
):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "company",
        "environment",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["environment", "company", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "id", "company__slug"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fixed_once_created = ("company", "environment")
    fields = [
        "company",
        "name",
        "environment",
        "prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    actions = ["revoke"]
    deletion_advice = "Revoke it instead: it stops working and its history stays."

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A refusal (the name, checked again as it saves) is the form's error, as typed.
        created = api_key_create(company=obj.company, name=obj.name, environment=obj.environment)
        obj.pk = created.api_key.pk
        obj.__dict__.update(created.api_key.__dict__)
        # The secret exists only now: shown once on the next page, it is never stored.
        remember_secret(request, f"API key {obj.name} ({obj.environment})", created.secret)

    @admin.action(description="Revoke selected API keys…")
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """Asks first; then revokes the keys it listed that are still active, and counts
        and logs only those it revoked (a key made or selected after the question is not
        revoked with them; one another operator revoked meanwhile is theirs)."""
        active = queryset.filter(revoked_at__isnull=True)
        if "confirm" in request.POST and "keys" in request.POST:
            active = active.filter(pk__in=request.POST["keys"].split(","))
        active = list(active)
        if "confirm" not in request.POST:
            context = {
                **self.admin_site.each_context(request),
                "title": "Revoke API keys?",
                "active": active,
                "already": list(queryset.filter(revoked_at__isnull=False)),
                "queryset": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/steve/apikey/revoke_confirm.html", context)
        revoked = api_keys_revoke(api_keys=active)
        if not revoked:
            # The Yes sent again, or every key revoked by someone else meanwhile: a green
            # "Revoked 0 key(s)." read as if this had worked.
            self.message_user(
                request, "Those keys were already revoked; nothing was changed.", messages.WARNING
            )
            return None
        log_changes(request, revoked, "Revoked.")
        self.message_user(request, f"Revoked {len(revoked)} key(s).", messages.SUCCESS)
        return None


@admin.register(Membership)
class MembershipAdmin(SavesEditedFieldsOnly, admin.ModelAdmin):
    list_display = ["user", "company", "role"]
    list_filter = ["role", "company"]
    list_select_related = ["user", "company"]
    search_fields = ["user__username", "company__slug"]


class WorkflowVersionInline(admin.TabularInline):
    """A workflow's versions in brief, each linked to its own page: every version's
    whole output schema and rules inline made a page of megabytes (one version's
    schema may be large, and versions only accumulate)."""

    model = WorkflowVersion
    formset = NewestRows  # the newest only: versions only accumulate
    extra = 0
    can_delete = False
    fields = ["contract", "kind", "review_threshold", "auto_approve", "created_at"]
    readonly_fields = fields

    @admin.display(description="version")
    def contract(self, obj: WorkflowVersion) -> str:
        url = reverse("admin:steve_workflowversion_change", args=[obj.pk])
        return format_html('<a href="{}">v{}</a>', url, obj.version)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        versions = super().get_queryset(request).select_related("workflow")
        return versions.defer("output_schema", "upload", "fraud_policy")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # versions are immutable: publish a new one instead

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a new version comes from its own checked form (Add workflow version)


@admin.register(Workflow)
class WorkflowAdmin(
    ExplainsRefusedDeletion, FixedOnceCreated, SavesEditedFieldsOnly, admin.ModelAdmin
):
    list_display = ["slug", "name", "company", "created_at", "new_version"]
    list_filter = ["company"]
    search_fields = ["slug", "name", "id"]
    readonly_fields = ["new_version", "all_versions"]
    # Integrators name a workflow by its slug, and its versions and submissions belong
    # to its company: neither changes once it exists.
    fixed_once_created = ("company", "slug")
    inlines = [WorkflowVersionInline]
    named_with = ("company",)  # a workflow is named with its company (Workflow.__str__)

    def response_add(self, request: HttpRequest, obj: Workflow, *args: Any) -> HttpResponse:
        self.message_user(
            request,
            f"Workflow {obj.slug} has no version yet: the API finds it once one is published "
            "(Add a version from a checked form, on its page).",
            messages.WARNING,
        )
        return super().response_add(request, obj, *args)

    @admin.display(description="versions")
    def all_versions(self, obj: Workflow | None) -> str:
        return all_rows_link(WorkflowVersion, "workflow", obj, "versions")

    @admin.display(description="New version")
    def new_version(self, obj: Workflow) -> str:
        if not obj.pk:
            return "—"
        url = reverse("admin:steve_workflowversion_add") + f"?workflow={obj.pk}"
        return format_html('<a href="{}">Add a version from a checked form</a>', url)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(SearchesWholeIds, ReadOnlyAdmin):
    """Keys of the POSTs the API answered: deleting one let a retry of that POST run twice.
    Expired keys are purged by beat, and a request that died in flight is taken over by
    its retry after IDEMPOTENCY_IN_FLIGHT_TIMEOUT, so there is nothing to clear by hand."""

    list_display = [
        "key",
        "company",
        "environment",
        "api_key",
        "state",
        "response_status",
        "created_at",
    ]
    # The key is nullable, which the admin's automatic join leaves out: a query a row.
    list_select_related = ["company", "api_key"]
    list_filter = ["state", "environment"]
    # Whole keys, through their index (idempotency_key; SearchesWholeIds): the unique
    # one leads with the company, so it served no search of a key alone.
    search_fields = ["key"]
    search_help_text = f"Up to {MAX_SEARCH_TERMS} whole Idempotency-Keys, any of them."
    show_full_result_count = False  # one count a page: every keyed POST of a day is a row
    paginator = EstimatedCountPaginator  # and unfiltered, its size estimated


class OutboxTaskFilter(admin.SimpleListFilter):
    """The tasks Steve registers (any of them can wait in the outbox): listed from the
    rows, every page load read the task of every waiting message, and the outbox is
    largest exactly when the broker is down and an operator is looking at it."""

    title = "task"
    parameter_name = "task"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        celery_app.loader.import_default_modules()  # the apps' tasks modules, as a worker
        names = sorted(name for name in celery_app.tasks if not name.startswith("celery."))
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(task=self.value()) if self.value() else queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Tasks waiting for the broker: rows here for long mean the broker is unreachable.
    Deleting one dropped its task (a submission then never processed): the relay sends
    and removes each once the broker answers."""

    list_display = ["task", "args", "attempts", "last_error", "created_at"]
    list_filter = [OutboxTaskFilter]
    show_full_result_count = False  # one count a page: thousands wait while the broker is down


# django-axes' lists (login throttling: operators unlock users there): each keeps its own
# admin, counting its rows once a page (the logs keep every sign-in ever made).
for _model in (AccessAttempt, AccessLog, AccessFailureLog):
    _admin = type(admin.site._registry[_model])
    admin.site.unregister(_model)
    admin.site.register(
        _model,
        type(
            _admin.__name__,
            (_admin,),
            {"show_full_result_count": False},
        ),
    )


class KeepsOperatorsHistory(ExplainsRefusedDeletion):
    """A user's deletion is refused while the admin's log holds anything they did, and
    they are deactivated instead.

    Django deleted the log with its user (its key cascades): who revoked the keys,
    switched the endpoints or forgot the memories (log_changes) went with the operator
    who did it, after a confirmation listing every line of it. Their memberships still
    go with them; a reviewer's claims and resolutions keep their names (set null)."""

    deletion_advice = (
        "Deactivate it instead (untick Active on its page): it can no longer sign in, "
        "and the log of what it did stays."
    )

    def _may_delete(self, model: type, request: HttpRequest) -> bool:
        return model is not LogEntry and super()._may_delete(model, request)

    def lock_before(self, objs: list[Any]) -> None:
        # Their claims are released as they go (submissions.access), each submission
        # locked then: taken after the users' rows, a reviewer's action holding one of
        # them and writing a row that names its user (a fraud resolution's resolver)
        # deadlocked with the deletion.
        users_deleting.send(sender=get_user_model(), user_ids=[obj.pk for obj in objs])


# Django's own user admin (registered by importing UserAdmin's module), as it was, with
# the refusal above.
_user_admin: type[UserAdmin] = type(admin.site._registry[get_user_model()])
admin.site.unregister(get_user_model())
admin.site.register(
    get_user_model(),
    type(_user_admin.__name__, (KeepsOperatorsHistory, _user_admin), {}),
)
