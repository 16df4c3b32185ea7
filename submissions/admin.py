from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from steve.admin_site import (
    MAX_SEARCH_TERMS,
    EstimatedCountPaginator,
    NewestRows,
    ReadOnlyAdmin,
    SavesEditedFieldsOnly,
    SearchesWholeIds,
    all_rows_link,
    log_changes,
)
from steve.models import Workflow
from steve.text import shown
from submissions.memory import REMEMBERED_FIELDS
from submissions.models import MerchantMemory, Submission, SubmissionEvent, SubmissionFile
from submissions.selectors import sync_post_id
from submissions.services import (
    merchant_memory_forget,
    merchant_memory_forgetting,
    submissions_catch_up,
)


def shown_value_name(pk: Any) -> str:
    """The hidden input that carries a memory row's value, as a page showed it, into the
    forget (the list's action, the Delete pages' Yes)."""
    return f"shown-value-{pk}"


def split_by_shown_value(
    request: HttpRequest, selected: list[MerchantMemory]
) -> tuple[dict[Any, tuple[MerchantMemory, str]], list[tuple[MerchantMemory, str]]]:
    """The selected rows to forget, by id, each with the value to forget (the one the
    page showed; the one it holds where the post carried none), and the rows whose value
    changed since the page showed it, with what it showed. A row of a shop whose value
    another forget brought back (or a correction replaced) is left alone: forgetting it
    forgot a value nobody chose."""
    chosen: dict[Any, tuple[MerchantMemory, str]] = {}
    changed: list[tuple[MerchantMemory, str]] = []
    for row in selected:
        was_shown = request.POST.get(shown_value_name(row.pk))
        if was_shown is None or was_shown == row.value:
            chosen[row.pk] = (row, row.value)
        else:
            changed.append((row, was_shown))
    return chosen, changed


def changed_since_shown(row: MerchantMemory, was_shown: str) -> str:
    return (
        f"{row} holds {shown(row.value)} now, not {shown(was_shown)} as your page showed "
        "(another operator or a correction changed it meanwhile): left alone. Reload the "
        "list and choose again."
    )


class SubmissionFileInline(admin.TabularInline):
    model = SubmissionFile
    extra = 0
    can_delete = False
    fields = ["file_index", "label", "mime_type", "size", "sha256", "page_count", "uploaded_at"]
    readonly_fields = fields


class SubmissionEventInline(admin.TabularInline):
    model = SubmissionEvent
    formset = NewestRows  # the newest only: a submission may have thousands of events
    extra = 0
    can_delete = False
    ordering = ["-id"]
    fields = ["occurred_at", "type", "from_status", "to_status", "actor_label", "details"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # the history is append-only, written by services


class WorkflowListFilter(admin.RelatedFieldListFilter):
    """A workflow is named with its company (Workflow.__str__): read with the workflows,
    not once per choice."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list:
        workflows = Workflow.objects.select_related("company").order_by("company__name", "slug")
        return [(workflow.pk, str(workflow)) for workflow in workflows]


@admin.register(Submission)
class SubmissionAdmin(SearchesWholeIds, admin.ModelAdmin):
    """Read-only: every change of a submission goes through its services, which write the
    event and the webhook an edit here would skip (review it at /review/ instead)."""

    list_display = [
        "id",
        "company",
        "environment",
        "workflow",
        "status",
        "fraud_status",
        "confidence",
        "client_submission_id",
        "created_at",
    ]
    list_filter = [
        "environment",
        "status",
        "fraud_status",
        "company",
        ("workflow", WorkflowListFilter),
    ]
    # Whole ids, each through its index (SearchesWholeIds): the submission's and the
    # integrator's clientSubmissionId (submission_client_id).
    search_fields = ["id", "client_submission_id"]
    search_help_text = (
        f"Up to {MAX_SEARCH_TERMS} whole ids, any of them: a submission's or its "
        "clientSubmissionId."
    )
    # A workflow's name shows its company's: selected with it, not read once per row.
    list_select_related = ["company", "workflow__company"]
    readonly_fields = [
        "status",
        "fraud_status",
        "fraud_score",
        "version",
        "created_at",
        "updated_at",
        "decided_at",
        "all_events",
        "sync_post",
        "page_text",
    ]
    # The text read is shown as page_text, not as the one line of JSON it is stored as.
    exclude = ["pages_text"]
    inlines = [SubmissionFileInline, SubmissionEventInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # a row for every submission ever made

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description="events")
    def all_events(self, obj: Submission | None) -> str:
        return all_rows_link(SubmissionEvent, "submission", obj, "events")

    @admin.display(description="sync post")
    def sync_post(self, obj: Submission | None) -> str:
        """Its downstream-sync post, where each attempt is logged and "Redeliver now"
        resends it: the page showed the sync's attempts, but its post only as the
        deliveryId in its events, to be searched for by hand."""
        post_id = sync_post_id(submission_id=obj.pk) if obj and obj.pk else None
        if post_id is None:
            return "—"
        url = reverse("admin:webhooks_webhookdelivery_change", args=[post_id])
        return format_html('<a href="{}">{}</a>', url, post_id)

    @admin.display(description="pages text")
    def page_text(self, obj: Submission | None) -> SafeString | str:
        """Each page's text in its own block, its lines as read: as one line of JSON, a
        line with no space to break at (a barcode's digits, a run of dots) ran past the
        row's edge, where the admin hides it, unreadable. The block wraps anywhere and
        scrolls past a screenful (css/admin.css)."""
        pages = [p for p in (obj.pages_text if obj else None) or [] if isinstance(p, str)]
        return format_html_join(
            "", '<pre class="page-text" aria-label="Page {}">{}</pre>', enumerate(pages, 1)
        )

    # Sessions past their TTL are expired first (beat may be behind), so no submission the
    # sweep would have cancelled is listed or shown as created.
    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        submissions_catch_up()
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        submissions_catch_up(submission_id=unquote(object_id))
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # submissions come from sessions

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the audit trail stays; retention purges the data


@admin.register(SubmissionEvent)
class SubmissionEventAdmin(SearchesWholeIds, ReadOnlyAdmin):  # append-only, written by services
    # The submission by id, read from the event's own row: listed as an object, Django
    # joined every required key behind it, each row reading its submission whole (its
    # pages' text, extracted data, evidence) and its workflow version (the output schema).
    list_display = [
        "id",
        "submission_shown",
        "type",
        "from_status",
        "to_status",
        "actor_label",
        "occurred_at",
    ]
    list_filter = ["type", "actor_type"]
    # Whole ids, each through its index (SearchesWholeIds; event_submission_id leads
    # with the submission).
    search_fields = ["id", "submission__id"]
    search_help_text = (
        f"Up to {MAX_SEARCH_TERMS} whole ids, any of them: an event's or its submission's."
    )
    readonly_fields = [f.name for f in SubmissionEvent._meta.fields]
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # a row for every change of every submission

    @admin.display(description="submission", ordering="submission_id")
    def submission_shown(self, event: SubmissionEvent) -> str:
        return event.submission_id


@admin.register(SubmissionFile)
class SubmissionFileAdmin(SearchesWholeIds, ReadOnlyAdmin):
    """A submission's files are its evidence and the fraud checks' history; retention
    purges their bytes through its service."""

    # The submission by id, from the file's row, as on the event list (it was joined whole).
    list_display = ["id", "submission_shown", "file_index", "mime_type", "size", "sha256"]
    # Whole ids, each through its index (SearchesWholeIds): the file's, its submission's,
    # and its SHA-256 (which files are the same document), in either case.
    search_fields = ["id", "submission__id", "sha256"]
    search_help_text = (
        f"Up to {MAX_SEARCH_TERMS} whole ids, any of them: a file's, its submission's, or "
        "its SHA-256."
    )
    readonly_fields = [f.name for f in SubmissionFile._meta.fields]
    show_full_result_count = False  # counted once a page, as the submissions are
    paginator = EstimatedCountPaginator  # a row for every file of every submission

    @admin.display(description="submission", ordering="submission_id")
    def submission_shown(self, file: SubmissionFile) -> str:
        return file.submission_id

    def search_q(self, request: HttpRequest, terms: list[str]) -> Q:
        # Stored in lower case (hashlib's hexdigest); PowerShell's Get-FileHash, and
        # others, print it in upper case.
        return super().search_q(request, terms) | Q(sha256__in=[t.lower() for t in terms])


class RememberedFieldFilter(admin.SimpleListFilter):
    """The fields memory remembers: listed from the rows, every page load read the field
    of every memory row (one per shop key and field, and growing with corrections)."""

    title = "field"
    parameter_name = "field"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in REMEMBERED_FIELDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(field=self.value()) if self.value() else queryset


@admin.register(MerchantMemory)
class MerchantMemoryAdmin(SavesEditedFieldsOnly, admin.ModelAdmin):
    """What reviewers taught Steve about shops; an admin forgets a wrong one."""

    list_display = [
        "company",
        "field",
        "value_shown",
        "key",
        "times_right",
        "times_wrong",
        "updated_at",
    ]
    list_filter = [RememberedFieldFilter, "company"]
    search_fields = ["value", "key"]
    show_full_result_count = False  # one count a page: a row per shop key and field
    readonly_fields = ["company", "key", "field", "value", "times_right", "times_wrong", "previous"]
    actions = ["forget"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # memories come from corrections

    @admin.display(description="value", ordering="value")
    def value_shown(self, row: MerchantMemory) -> SafeString:
        """The value, and the same in a hidden input of the list's form: a forget acts on
        the value the operator saw, not on what the row holds when the post arrives."""
        return format_html(
            '{}<input type="hidden" name="{}" value="{}">',
            shown(row.value),
            shown_value_name(row.pk),
            row.value,
        )

    @admin.action(description="Forget the selected values (under every key that holds them)")
    def forget(self, request, queryset) -> None:
        # Read before they are forgotten: a forgotten row is deleted, or holds another value.
        selected = list(queryset.only("pk", "company", "key", "field", "value"))
        chosen, changed = split_by_shown_value(request, selected)
        for row, was_shown in changed:
            self.message_user(request, changed_since_shown(row, was_shown), messages.WARNING)
        if not chosen:
            return
        # The values as the page showed them (as read here where it showed none, for the
        # rows of a whole-list selection off the page): a forget read again at the post
        # forgot what another operator's forget had just brought back.
        forgotten = merchant_memory_forget(
            memory_ids=list(chosen), values={pk: value for pk, (_row, value) in chosen.items()}
        )
        done = [row for row, _value in chosen.values()]
        log_changes(request, done, lambda row: f"Forgot its value {shown(chosen[row.pk][1])}.")
        self.message_user(request, f"Forgot {forgotten} memory row(s).")

    # A deletion is the forget: the pages say so, and list every row it changes.
    delete_confirmation_template = "admin/submissions/merchantmemory/delete_confirmation.html"
    delete_selected_confirmation_template = (
        "admin/submissions/merchantmemory/delete_selected_confirmation.html"
    )

    def get_deleted_objects(self, objs, request) -> tuple:
        """Every row the deletion forgets a value in, under every key (the page listed
        the selected rows only, and the delete changed the others too), with what each
        goes back to."""
        values = {row.pk: row.value for row in objs}
        forgetting = merchant_memory_forgetting(memory_ids=list(values), values=values)
        listed = [
            f"{row} ({shown(row.value)}): "
            + ("deleted" if back is None else f"goes back to {shown(back)}")
            for row, back in forgetting
        ]
        counts = {self.model._meta.verbose_name_plural: len(listed)}
        return listed, counts, set(), []

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict | None = None
    ) -> HttpResponse:
        """The Yes of a row whose value changed since its page showed it (another
        operator's forget brought back the older value) is refused with a warning: it
        said the row was deleted, and forgot the value brought back."""
        if request.method == "POST" and request.POST.get("post"):
            row = self.get_object(request, unquote(object_id))
            if row is not None:
                _chosen, changed = split_by_shown_value(request, [row])
                if changed:
                    self.message_user(request, changed_since_shown(*changed[0]), messages.WARNING)
                    return HttpResponseRedirect(
                        reverse("admin:submissions_merchantmemory_changelist")
                    )
        return super().delete_view(request, object_id, extra_context)

    def get_actions(self, request: HttpRequest) -> dict:
        """Delete selected deletes (and logs, and counts) only the rows whose values are
        as its confirmation showed them; each other one is left alone with a warning."""
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            delete, name, description = actions["delete_selected"]

            def delete_as_shown(modeladmin, request, queryset):  # noqa: ANN001, ANN202
                if not request.POST.get("post"):
                    return delete(modeladmin, request, queryset)  # the confirmation
                chosen, changed = split_by_shown_value(request, list(queryset))
                for row, was_shown in changed:
                    self.message_user(
                        request, changed_since_shown(row, was_shown), messages.WARNING
                    )
                if not chosen:
                    return None
                return delete(modeladmin, request, queryset.filter(pk__in=list(chosen)))

            actions["delete_selected"] = (delete_as_shown, name, description)
        return actions

    def delete_model(self, request, obj) -> None:
        self._forgot(request, [obj])

    def delete_queryset(self, request, queryset) -> None:
        self._forgot(request, list(queryset.only("pk", "company", "key", "field", "value")))

    def _forgot(self, request: HttpRequest, selected: list[MerchantMemory]) -> None:
        """The Delete pages' forget, of the values their confirmation showed (as the
        action's): a row changed since is left alone, with a warning."""
        chosen, changed = split_by_shown_value(request, selected)
        for row, was_shown in changed:
            self.message_user(request, changed_since_shown(row, was_shown), messages.WARNING)
        values = {pk: value for pk, (_row, value) in chosen.items()}
        if not values:
            return
        forgotten = merchant_memory_forget(memory_ids=list(values), values=values)
        message = f"Forgot {forgotten} memory row(s): the value under every key that held it."
        self.message_user(request, message)
