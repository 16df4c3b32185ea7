"""Admin of sessions and of workflow versions (a version's defaults come from the
extractor kinds, which live here)."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from fraud.policy import policy_errors
from jobs.defaults import kind_defaults
from jobs.models import WorkflowSession
from jobs.selectors import session_last_beat
from jobs.services import session_expire, sessions_expire_stale, sessions_requeue_stuck
from steve.admin_site import (
    MAX_SEARCH_TERMS,
    CheckedJSONField,
    EstimatedCountPaginator,
    SearchesWholeIds,
    ShowsRefusedSaves,
    log_changes,
    named,
)
from steve.models import FORMAT_MIME, Workflow, WorkflowVersion
from steve.services import VERSIONED_FIELDS, workflow_publish, workflow_version_number
from steve.workflow_rules import output_schema_errors, upload_rules_errors
from submissions.services import CATCH_UP_PER_PAGE, Actor
from webhooks.targets import target_error

# The sessions the re-queue action takes at most: its one transaction stays within the
# web server's timeout.
REQUEUE_AT_MOST = 1000


@admin.register(WorkflowSession)
class WorkflowSessionAdmin(SearchesWholeIds, admin.ModelAdmin):
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
    # Whole ids, each through its index (SearchesWholeIds): the session's, the
    # integrator's clientSubmissionId (session_client_id), its submission's.
    search_fields = ["id", "client_submission_id", "submission__id"]
    search_help_text = (
        f"Up to {MAX_SEARCH_TERMS} whole ids, any of them: a session's, its "
        "clientSubmissionId, or its submission's."
    )
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
        "interrupted_by",
        "heartbeat_at",
        "last_beat",
        "created_at",
        "updated_at",
    ]
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # a row for every session ever opened
    actions = ["requeue_stuck"]

    @admin.display(description="last beat")
    def last_beat(self, session: WorkflowSession) -> Any:
        # Beats while a step runs live in a row of their own (SessionHeartbeat).
        return session_last_beat(session_id=session.pk)

    # A session past its TTL is expired first (beat may be behind): never listed pending.
    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        sessions_expire_stale(limit=CATCH_UP_PER_PAGE)
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        session_expire(session_id=unquote(object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Re-queue the stuck ones (as beat's sweep does)")
    def requeue_stuck(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Beat's stuck-session sweep by hand, for when beat is down: the selected
        sessions that are stuck are queued again (or given up, their re-queues spent),
        their events and log lines naming the operator, in one service call; the others
        are named back, left as they were. Refused past REQUEUE_AT_MOST (a "select all"
        of every session ever opened): nothing is done."""
        ids = list(queryset.values_list("pk", flat=True)[: REQUEUE_AT_MOST + 1])
        if len(ids) > REQUEUE_AT_MOST:
            self.message_user(
                request,
                f"More than {REQUEUE_AT_MOST:,} sessions selected: nothing was re-queued. "
                "Filter the list (state: submitted) and select fewer.",
                messages.ERROR,
            )
            return
        done = sessions_requeue_stuck(session_ids=ids, actor=Actor.for_user(request.user))
        log_changes(request, done.requeued, "Re-queued (stuck).")
        log_changes(request, done.failed, "Given up (stuck, its re-queues spent).")
        if done.requeued:
            message = f"Re-queued {len(done.requeued)} stuck session(s)."
            self.message_user(request, message, messages.SUCCESS)
        if done.failed:
            self.message_user(
                request,
                f"Gave up {len(done.failed)} stuck session(s) whose re-queues were spent, as "
                f"beat's sweep does (their workers died on them each time): "
                f"{named(s.pk for s in done.failed)}.",
                messages.WARNING,
            )
        if done.busy:
            self.message_user(
                request,
                f"Busy, left as they were ({len(done.busy)}): {named(done.busy)}. Another "
                "process (beat's sweep, a worker) held them that moment: they were stuck "
                "and may still be; try again in a moment.",
                messages.WARNING,
            )
        if done.not_stuck:
            end = "." if done.requeued or done.failed else "; nothing was re-queued."
            self.message_user(
                request,
                f"Not stuck, left as they were ({len(done.not_stuck)}): "
                f"{named(done.not_stuck)}{end} A session is stuck once submitted and no "
                "worker took it for a while, or its worker stopped beating; one whose "
                "message still waits in the task outbox is queued already.",
                messages.WARNING,
            )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A session changes through its services only: an edit here had moved one to
        # another company (its keys then saw it) and skipped every check of the API.
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions come from the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Its clientSubmissionId stays bound (a replay would be refused for good), and
        # its submission's history with it; cancel it through the API or the review page.
        return False


class PrettyJSONField(CheckedJSONField):
    """JSON shown indented, so an operator reads and edits the defaults, not one line."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


def _json_area(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "cols": 90, "class": "vLargeTextField"})


class WorkflowVersionForm(forms.ModelForm):
    upload = PrettyJSONField(
        widget=_json_area(10),
        help_text="Prefilled with the kind's defaults. Keys: minFiles, maxFiles, acceptedFormats "
        f"({', '.join(sorted(FORMAT_MIME))}), fileLabels, maxFileSizeMb.",
    )
    output_schema = PrettyJSONField(
        widget=_json_area(18),
        help_text="JSON Schema of extractedData: an object with named properties. "
        "Prefilled with the kind's schema.",
    )
    fraud_policy = PrettyJSONField(
        required=False, widget=_json_area(4), help_text="Empty: the default fraud policy."
    )
    # "<workflow id>:<version>" the form was filled from (0: the workflow had none).
    based_on = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = WorkflowVersion
        fields = ["workflow", *VERSIONED_FIELDS]

    def based_on_version(self) -> int | None:
        """The version of the chosen workflow this form was filled from (None: it was
        filled from a kind's defaults, or from another workflow's version)."""
        workflow = self.cleaned_data.get("workflow")
        pk, _, number = (self.cleaned_data.get("based_on") or "").rpartition(":")
        # ASCII digits only: "²".isdigit() is true, and int() refuses it.
        if workflow is None or pk != workflow.pk or not (number.isascii() and number.isdigit()):
            return None
        return int(number)

    def clean(self) -> dict[str, Any]:
        """Refuses a form filled from a version that is no longer the latest: its unchanged
        fields would undo what was published since (two admins editing at once)."""
        cleaned = super().clean()
        based_on = self.based_on_version()
        if based_on is None:
            return cleaned
        workflows = Workflow.objects.filter(pk=cleaned["workflow"].pk)
        if transaction.get_connection().in_atomic_block:
            # The admin saves in the same transaction: no publish gets in before ours.
            workflows = workflows.select_for_update()
        now = workflow_version_number(workflows.get())
        if now != based_on:
            raise forms.ValidationError(
                f"{cleaned['workflow'].slug} changed since this form was opened from "
                f"v{based_on}: v{now} is now the latest. Open the form again to start from it."
            )
        return cleaned

    def clean_upload(self) -> Any:
        upload = self.cleaned_data["upload"]
        if errors := upload_rules_errors(upload):
            raise forms.ValidationError(errors)
        return upload

    def clean_output_schema(self) -> Any:
        schema = self.cleaned_data["output_schema"]
        if errors := output_schema_errors(schema):
            raise forms.ValidationError(errors)
        return schema

    def clean_review_threshold(self) -> int:
        # The table's constraint says the same, as a database error.
        value = self.cleaned_data["review_threshold"]
        if not 1 <= value <= 99:
            raise forms.ValidationError("A review threshold is a confidence from 1 to 99 (%).")
        return value

    def clean_sync_url(self) -> str:
        """Checked as a webhook endpoint's URL is: a target the sync would refuse at every
        attempt (ftp://, a private address) is refused here, once."""
        url = self.cleaned_data.get("sync_url") or ""
        if url and (why := target_error(url)):
            raise forms.ValidationError(why)
        return url

    def clean_fraud_policy(self) -> Any:
        policy = self.cleaned_data.get("fraud_policy")
        if policy in (None, ""):
            return {}
        if errors := policy_errors(policy):
            raise forms.ValidationError(errors)
        return policy


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(ShowsRefusedSaves, admin.ModelAdmin):
    """New versions from a checked form; existing versions are immutable (view only).
    A publish the service refuses as it saves (WorkflowChanged: another version got in
    after the form's check) is the form's error, with the settings typed."""

    form = WorkflowVersionForm
    list_display = ["workflow", "version", "kind", "review_threshold", "auto_approve", "created_at"]
    list_filter = ["kind", "workflow__company"]
    search_fields = ["workflow__slug", "workflow__name", "id"]
    list_select_related = ["workflow__company"]  # a workflow is shown with its company

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # sessions pin versions

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # Each workflow is offered by its name, which shows its company's: read with it.
        if db_field.name == "workflow":
            kwargs["queryset"] = Workflow.objects.select_related("company")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """The kind's defaults, or the workflow's current version when one is picked."""
        initial = super().get_changeform_initial_data(request)
        workflow = latest = None
        if workflow_id := request.GET.get("workflow"):
            workflow = Workflow.objects.filter(pk=workflow_id).first()
            latest = workflow.latest if workflow else None
        kind = request.GET.get("kind")
        if latest and (not kind or kind == latest.kind):
            base = {f: getattr(latest, f) for f in VERSIONED_FIELDS}
        else:
            base = kind_defaults(kind or WorkflowVersion.Kind.RECEIPT)
        if workflow is not None:  # what was current when the form opened, kind changed or not
            base["based_on"] = f"{workflow.pk}:{latest.version if latest else 0}"
        return {**base, **{k: v for k, v in initial.items() if k in {"workflow"}}}

    def save_model(
        self, request: HttpRequest, obj: WorkflowVersion, form: Any, change: bool
    ) -> None:
        workflow = obj.workflow
        before = workflow.latest
        version = workflow_publish(
            company=workflow.company,
            slug=workflow.slug,
            name=workflow.name,
            based_on=form.based_on_version(),
            **{f: form.cleaned_data[f] for f in VERSIONED_FIELDS},
        )
        obj.pk = version.pk
        obj.__dict__.update(version.__dict__)
        if before is not None and before.pk == version.pk:
            messages.info(request, f"Nothing changed: {version} already has these settings.")
