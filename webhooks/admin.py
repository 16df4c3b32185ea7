"""Admin for endpoints, deliveries (webhooks and downstream syncs) and company secrets.

Secrets are never displayed after the moment they are made: creation and rotation show
them once, on the page answering that POST (steve.secret_once), never in a message. State changes (add, enable, disable, rotate, redeliver) go through
the services, so the admin leaves the same notices and logs as the API.
"""

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from steve.admin_site import (
    MAX_SEARCH_TERMS,
    EstimatedCountPaginator,
    ExplainsRefusedDeletion,
    FewRelatedFilter,
    FixedOnceCreated,
    NewestRows,
    ReadOnlyAdmin,
    SavesEditedFieldsOnly,
    SearchesWholeIds,
    ShowsRefusedSaves,
    all_rows_link,
    log_changes,
    named,
)
from steve.secret_once import ShowsSecretsOnce, remember_secret, secrets_page
from steve.text import shown
from submissions.services import Actor
from webhooks.catalogue import EVENT_TYPES, SYNC_EVENT, TEST_EVENT
from webhooks.models import (
    PAYLOAD_CLIENT_SUBMISSION_ID,
    PAYLOAD_SUBMISSION_ID,
    CompanySecret,
    SessionWebhookSecret,
    SessionWebhookTarget,
    SessionWebhookTargetNotice,
    SyncSigningSecret,
    SyncTarget,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointNotice,
)
from webhooks.services import (
    ENDPOINT_GONE,
    CompanySecretRotation,
    CompanySecretsRotated,
    EndpointChanges,
    WebhookError,
    default_grace,
    deliveries_redeliver,
    endpoint_create,
    endpoint_redeliver_failed,
    endpoint_update,
    endpoints_rotate_secret,
    endpoints_switch,
    session_secret_rotate,
    session_secrets_rotate,
    session_targets_resume,
    sync_secret_rotate,
    sync_secrets_rotate,
    validated_description,
)
from webhooks.targets import target_error

# What an endpoint's change page edits (its company and environment are fixed).
EDITABLE = ("url", "events", "description")
# The rows a Rotate secret action takes at most: all of them are rotated in one
# transaction, which stays well within the web server's timeout, and each new secret is
# copied by hand from the one page that shows it.
ROTATE_AT_MOST = 100
ROTATED = "Rotated the secret."


def rotations_refused_past_cap(request: HttpRequest, selected: int, rows: str) -> bool:
    """Refuse a rotation of more than ROTATE_AT_MOST rows (a "select all"), rotating none
    and saying so: True when refused. `selected` is counted up to one past the cap."""
    if selected <= ROTATE_AT_MOST:
        return False
    messages.error(
        request,
        f"More than {ROTATE_AT_MOST:,} {rows} selected: no secret was rotated. Select fewer: "
        "each new secret is shown once, on the page this answers.",
    )
    return True


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(
        choices=[(name, name) for name in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every event.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["company", "url", "description", "events", "environment"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if why := target_error(url):
            raise forms.ValidationError(why)
        return url

    def clean_description(self) -> str:
        """The API's rules (length, no control or bidi character), from its service."""
        try:
            return validated_description(self.cleaned_data.get("description") or "")
        except WebhookError as error:
            raise forms.ValidationError(error.message) from None


class RedeliverSinceForm(forms.Form):
    since = forms.SplitDateTimeField(
        widget=admin.widgets.AdminSplitDateTime,
        help_text="Failed deliveries made since then, in UTC.",
    )


class NoticeInline(admin.TabularInline):
    model = WebhookEndpointNotice
    formset = NewestRows
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "kind", "message"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(
    ExplainsRefusedDeletion,
    FixedOnceCreated,
    ShowsSecretsOnce,
    ShowsRefusedSaves,
    admin.ModelAdmin,
):
    form = WebhookEndpointForm
    fixed_once_created = ("company", "environment")  # and its deliveries with it
    list_display = [
        "url",
        "company",
        "enabled",
        "disabled_reason",
        "failing_since",
        "held_until",
        "created_at",
    ]
    list_filter = ["environment", "enabled", "company"]
    search_fields = ["url", "id"]
    readonly_fields = [
        "id",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "last_succeeded_at",
        "held_until",
        "all_notices",
        "deliveries",
    ]
    inlines = [NoticeInline]
    actions = [
        "rotate_secret",
        "redeliver_failed_since_last_success",
        "redeliver_failed_since",
        "enable",
        "disable",
    ]
    deletion_advice = "Disable it instead: nothing more is sent to it and its log stays."

    @admin.display(description="notices")
    def all_notices(self, obj: WebhookEndpoint | None) -> str:
        return all_rows_link(WebhookEndpointNotice, "endpoint", obj, "notices")

    @admin.display(description="deliveries")
    def deliveries(self, obj: WebhookEndpoint | None) -> str:
        return deliveries_link("endpoint", obj)

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if change:
            # Through the API's service, on the row as it is now (locked): a plain save
            # wrote back every column as read, undoing a rotation or a disabling made
            # meanwhile.
            edited = {
                name: form.cleaned_data[name] for name in EDITABLE if name in form.changed_data
            }
            if edited:
                obj.__dict__.update(
                    endpoint_update(endpoint_id=obj.pk, changes=EndpointChanges(**edited)).__dict__
                )
            return
        # Through the API's create, which checks the URL again as it saves (the form's
        # check and the save are apart) and stores the events as the API does (each once,
        # in the catalogue's order); a refusal is the form's error (ShowsRefusedSaves).
        endpoint, secret = endpoint_create(
            company=obj.company,
            url=form.cleaned_data["url"],
            events=form.cleaned_data["events"],
            description=form.cleaned_data["description"],
            environment=obj.environment,
        )
        obj.__dict__.update(endpoint.__dict__)
        remember_secret(request, endpoint.url, secret)

    @admin.action(description="Rotate secret (old one stays valid for the grace period)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """All the selected endpoints or none, in one service call, at most ROTATE_AT_MOST:
        their new secrets are shown only on the page this answers."""
        urls = dict(queryset.values_list("pk", "url")[: ROTATE_AT_MOST + 1])
        if rotations_refused_past_cap(request, len(urls), "endpoints"):
            return None
        done = endpoints_rotate_secret(
            endpoint_ids=list(urls), grace=default_grace(), actor=Actor.for_user(request.user)
        )
        for pk in done.gone:  # deleted since the list was read
            messages.error(request, f"Endpoint {urls[pk]}: {ENDPOINT_GONE}")
        log_changes(request, [rotation.endpoint for rotation in done.rotations], ROTATED)
        for endpoint, secret, superseded in done.rotations:
            remember_secret(request, endpoint.url, secret)
            if superseded:  # another operator's rotation moments before
                messages.warning(request, f"Endpoint {endpoint.url}: {superseded.message}")
        return secrets_page(request, next_url=request.get_full_path())

    @admin.action(description="Enable")
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch(request, queryset, enabled=True)

    @admin.action(description="Disable")
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._switch(request, queryset, enabled=False)

    def _switch(self, request: HttpRequest, queryset: QuerySet, *, enabled: bool) -> None:
        """Counts and logs only the endpoints this switched, all in one service call (one
        each outlived the request at thousands), and says which were so already (they
        keep their state: a disabled one its reason) and which were deleted meanwhile."""
        urls = dict(queryset.values_list("pk", "url"))
        done = endpoints_switch(
            endpoint_ids=list(urls),
            enabled=enabled,
            reason="Disabled in Steve's admin.",
            actor=Actor.for_user(request.user),
        )
        log_changes(request, done.switched, "Enabled." if enabled else "Disabled.")
        for pk in done.gone:  # deleted since the list was read
            messages.error(request, f"Endpoint {urls[pk]}: {ENDPOINT_GONE}")
        word = "Enabled" if enabled else "Disabled"
        self.message_user(request, f"{word} {len(done.switched)} endpoint(s).")
        if done.already:
            state = "enabled" if enabled else "disabled"
            urls_already = named(endpoint.url for endpoint in done.already)
            self.message_user(
                request, f"Already {state}, left as they were: {urls_already}.", messages.INFO
            )

    @admin.action(description="Redeliver failed deliveries since…")
    def redeliver_failed_since(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        form = RedeliverSinceForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._redeliver(request, queryset, form.cleaned_data["since"])
            return None
        if not form.is_bound:
            form = RedeliverSinceForm(initial={"since": timezone.now() - timedelta(days=1)})
        context = {
            **self.admin_site.each_context(request),
            "title": "Redeliver failed deliveries",
            "endpoints": queryset,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/webhooks/redeliver_since.html", context)

    @admin.action(description="Redeliver what failed since its last success")
    def redeliver_failed_since_last_success(self, request: HttpRequest, queryset: QuerySet) -> None:
        """The recovery of a re-enabled endpoint, with no time to choose (the failing
        run's start was cleared by enabling it)."""
        self._redeliver(request, queryset, None)

    def _redeliver(self, request: HttpRequest, queryset: QuerySet, since: Any) -> None:
        for endpoint in queryset:
            try:
                count = endpoint_redeliver_failed(endpoint_id=endpoint.pk, since=since)
            except WebhookError as error:
                messages.error(request, f"Endpoint {endpoint.url}: {error.message}")
                continue
            self.log_change(request, endpoint, f"Queued again {count} failed delivery(ies).")
            messages.success(
                request, f"Endpoint {endpoint.url}: {count} delivery(ies) queued again."
            )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    formset = NewestRows
    extra = 0
    can_delete = False
    readonly_fields = [
        "number",
        "attempted_at",
        "finished_at",
        "status_code",
        "latency_ms",
        "address",
        "response_body",
        "error",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventTypeFilter(admin.SimpleListFilter):
    """The event types from the catalogue: listed from the deliveries, every page load
    read the event type of every delivery ever made."""

    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(name, name) for name in (*EVENT_TYPES, TEST_EVENT, SYNC_EVENT)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(event_type=self.value()) if self.value() else queryset


class ReceiverFilter(FewRelatedFilter):
    """An endpoint or a session's webhook host, listed while there are few."""

    hint = "Too many to list: open its deliveries from its own page."


def deliveries_link(field: str, obj: WebhookEndpoint | SessionWebhookTarget | None) -> str:
    """The link from an endpoint's or a session target's page to its deliveries: the
    delivery list's filter no longer lists every one of them (ReceiverFilter)."""
    if obj is None or obj.pk is None:
        return "—"
    url = reverse("admin:webhooks_webhookdelivery_changelist")
    query = urlencode({f"{field}__id__exact": obj.pk})
    return format_html('<a href="{}?{}">its deliveries</a>', url, query)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SearchesWholeIds, SavesEditedFieldsOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "event_type",
        "url",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "created_at",
    ]
    list_filter = [
        "environment",
        "purpose",
        "status",
        EventTypeFilter,
        "company",
        ("endpoint", ReceiverFilter),
        ("session_target", ReceiverFilter),
    ]
    # Support asks "did submission X reach us?" by submission id or their own client id:
    # a webhook event carries them at the top of its payload, a sync post inside the
    # submission it posts. Looked up whole, each through its index (SearchesWholeIds);
    # the payload's ids as webhooks.models' expressions, indexed as they are.
    search_fields = [
        "id",
        "event_id",
        "session_id",
        "searched_submission_id",
        "searched_client_submission_id",
    ]
    search_aliases = {
        "searched_submission_id": PAYLOAD_SUBMISSION_ID,
        "searched_client_submission_id": PAYLOAD_CLIENT_SUBMISSION_ID,
    }
    search_help_text = (
        f"Up to {MAX_SEARCH_TERMS} whole ids, any of them: a delivery's, its event's, its "
        "session's, or its submission's id or clientSubmissionId. A receiver's deliveries "
        "are linked from its endpoint or session target."
    )
    readonly_fields = [*(f.name for f in WebhookDelivery._meta.fields), "all_attempts"]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]
    # One delivery per event and endpoint: the largest table, counted once a page, and
    # unfiltered, its size estimated.
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    @admin.display(description="attempts made")
    def all_attempts(self, obj: WebhookDelivery) -> str:
        return all_rows_link(WebhookAttempt, "delivery", obj, "attempts")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A delivery is at least once and its attempts are the audit log: never deleted
        # by hand (retention purges old ones).
        return False

    @admin.action(description="Redeliver now")
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        # One service call for all: one per delivery outlived the request at thousands.
        done = deliveries_redeliver(delivery_ids=list(queryset.values_list("pk", flat=True)))
        queued = WebhookDelivery.objects.filter(pk__in=done.queued).only("pk", "event_type", "url")
        log_changes(request, queued, "Queued for redelivery.")
        if done.queued:  # "queued" only for what was, beside each refusal
            messages.success(request, f"{len(done.queued)} redelivery(ies) queued.")
        for reason, ids in done.refused.items():
            messages.error(request, f"{len(ids)} not redelivered: {reason} ({named(ids)})")


class TargetNoticeInline(NoticeInline):
    model = SessionWebhookTargetNotice


@admin.register(SessionWebhookTarget)
class SessionWebhookTargetAdmin(ExplainsRefusedDeletion, admin.ModelAdmin):
    """The hosts of sessions' own webhookUrl: which are failing, which Steve suspended."""

    list_display = [
        "origin",
        "company",
        "environment",
        "failing_since",
        "held_until",
        "suspended_at",
        "suspended_reason",
    ]
    list_filter = [("suspended_at", admin.EmptyFieldListFilter), "environment", "company"]
    search_fields = ["origin"]
    readonly_fields = [
        *(f.name for f in SessionWebhookTarget._meta.fields),
        "all_notices",
        "deliveries",
    ]
    inlines = [TargetNoticeInline]
    actions = ["resume"]
    deletion_advice = (
        "Resume it instead, if it is suspended: its deliveries stay as they are, and a "
        "notice says who resumed it."
    )

    def kept_dependents_of(
        self, objs: list[SessionWebhookTarget], request: HttpRequest
    ) -> dict[Any, Counter]:
        """Their deliveries too, which only lose their target with it (set null): deleted,
        a suspended, held or failing target was a resume with no notice and no service,
        as the next event to its host made a new target, none of these, and was sent.
        Counted for all of them at once, as the rest (ExplainsRefusedDeletion)."""
        kept = super().kept_dependents_of(objs, request)
        deliveries = (
            WebhookDelivery.objects.filter(session_target__in=[obj.pk for obj in objs])
            .values("session_target")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in deliveries:
            kept.setdefault(row["session_target"], Counter())[WebhookDelivery] = row["n"]
        return kept

    @admin.display(description="notices")
    def all_notices(self, obj: SessionWebhookTarget) -> str:
        return all_rows_link(SessionWebhookTargetNotice, "target", obj, "notices")

    @admin.display(description="deliveries")
    def deliveries(self, obj: SessionWebhookTarget | None) -> str:
        return deliveries_link("session_target", obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Resume deliveries")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Sends new events again; those failed while suspended are redelivered from the
        deliveries' list (filter by this target). Counts only the targets it resumed and
        names those that were not suspended (another operator's, a 2xx's resume since the
        list was read): a green "Resumed 0" read as done."""
        origins = dict(queryset.values_list("pk", "origin"))
        why = f"by {shown(Actor.for_user(request.user).label)}"
        resumed = session_targets_resume(target_ids=list(origins), why=why)
        log_changes(request, resumed, "Resumed deliveries.")
        done = {target.pk for target in resumed}
        left = [origin for pk, origin in origins.items() if pk not in done]
        if resumed:
            self.message_user(request, f"Resumed {len(resumed)} suspended target(s).")
        if left:
            end = "." if resumed else "; nothing was changed."
            self.message_user(
                request, f"Not suspended, left as they were: {named(left)}{end}", messages.WARNING
            )


@admin.register(SyncTarget)
class SyncTargetAdmin(ReadOnlyAdmin):
    """The downstream-sync targets (workflows' sync_url) that answered a Retry-After:
    while `held_until` is to come none of their posts is sent. A hold ends at its time,
    at a 2xx, or at "Redeliver now" on one of the target's sync deliveries."""

    list_display = ["url", "company", "held_until", "updated_at", "posts"]
    list_filter = ["company"]
    list_select_related = ["company"]
    search_fields = ["url"]
    readonly_fields = [*(f.name for f in SyncTarget._meta.fields), "posts"]

    @admin.display(description="posts")
    def posts(self, target: SyncTarget) -> str:
        """Its sync deliveries still waiting, where "Redeliver now" ends the hold."""
        query = urlencode(
            {
                "purpose__exact": WebhookDelivery.Purpose.SYNC,
                "status__exact": WebhookDelivery.Status.PENDING,
                "company__id__exact": target.company_id,
                # By the column: the search looks up ids only (get_search_results).
                "url": target.url,
            }
        )
        url = reverse("admin:webhooks_webhookdelivery_changelist")
        return format_html('<a href="{}?{}">pending posts</a>', url, query)


class LogAdmin(ReadOnlyAdmin):
    """The rows a page shows only the newest of (INLINE_ROWS), listed whole, newest first
    by id (the tables only grow, and the id is indexed), one count a page, and that one
    estimated when unfiltered and large."""

    ordering = ["-id"]
    show_full_result_count = False
    paginator = EstimatedCountPaginator


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(SearchesWholeIds, LogAdmin):
    list_display = [
        "attempted_at",
        "delivery_shown",
        "number",
        "finished_at",
        "status_code",
        "latency_ms",
        "address",
        "error",
    ]
    # A delivery's attempts, by its whole id through the attempts' index of it: a
    # "contains" read every attempt ever made (SearchesWholeIds).
    search_fields = ["delivery__id"]
    search_help_text = f"Up to {MAX_SEARCH_TERMS} whole delivery ids, any of them."
    readonly_fields = [f.name for f in WebhookAttempt._meta.fields]

    @admin.display(description="delivery", ordering="delivery_id")
    def delivery_shown(self, attempt: WebhookAttempt) -> str:
        return attempt.delivery_id  # by id, from the row: the delivery is not read


@admin.register(WebhookEndpointNotice)
class WebhookEndpointNoticeAdmin(LogAdmin):
    deleted_with_owner = True  # the endpoint's log, deleted with it (as by the API)
    list_display = ["created_at", "endpoint", "kind", "message"]
    list_select_related = ["endpoint"]
    list_filter = ["kind"]
    readonly_fields = ["endpoint", "kind", "message", "created_at"]


@admin.register(SessionWebhookTargetNotice)
class SessionWebhookTargetNoticeAdmin(LogAdmin):
    deleted_with_owner = True
    list_display = ["created_at", "target", "kind", "message"]
    list_select_related = ["target"]
    list_filter = ["kind"]
    readonly_fields = ["target", "kind", "message", "created_at"]


class CompanySecretAdmin(
    FixedOnceCreated, ShowsSecretsOnce, SavesEditedFieldsOnly, admin.ModelAdmin
):
    """A company's generated secret: shown once when made or rotated, never again."""

    purpose = ""  # what the secret signs, for the page that shows it
    list_display = ["company", "created_at", "previous_secret_expires_at"]
    fields = ["company", "created_at", "previous_secret_expires_at"]
    readonly_fields = ["created_at", "previous_secret_expires_at"]
    fixed_once_created: tuple[str, ...] = ("company",)
    actions = ["rotate_secret"]

    # The services that rotate (or first create) one secret of this kind, and that
    # rotate many (the action), all or none.
    rotate: Callable[..., CompanySecretRotation]
    rotate_many: Callable[..., CompanySecretsRotated]

    def save_model(self, request: HttpRequest, obj: CompanySecret, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Through the API's create-or-rotate: a delivery makes a secret lazily (never
        # shown to anyone) and can do so after the form found none, which a plain save
        # then failed on (a 500); the service rotates it into the one shown here.
        owner, secret, _ = self.rotate(
            company_id=obj.company_id, grace=default_grace(), **self.scope(obj)
        )
        obj.__dict__.update(owner.__dict__)
        remember_secret(request, f"{self.purpose} of {owner.company}", secret)

    @admin.action(description="Rotate secret (old one stays valid for the grace period)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        """All the selected secrets or none, as an endpoint's action rotates them."""
        ids = list(queryset.values_list("pk", flat=True)[: ROTATE_AT_MOST + 1])
        if rotations_refused_past_cap(request, len(ids), "secrets"):
            return None
        done = self.rotate_many(secret_ids=ids, grace=default_grace())
        if done.gone:  # their company deleted since the list was read
            messages.error(
                request, f"Deleted meanwhile, not rotated: {named(map(str, done.gone))}."
            )
        log_changes(request, [rotation.owner for rotation in done.rotations], ROTATED)
        for owner, secret, superseded in done.rotations:
            if superseded:  # another operator's rotation moments before (docs/webhooks.md)
                messages.warning(
                    request, f"The {self.purpose} secret of {owner.company}: {superseded.message}"
                )
            remember_secret(request, f"{self.purpose} of {owner.company}", secret)
        return secrets_page(request, next_url=request.get_full_path())

    def scope(self, owner: CompanySecret) -> dict[str, str]:
        return {}

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The next post would sign with a new secret nobody was shown, and no grace for
        # the old one: every receiver's check fails. Rotate it instead.
        return False


@admin.register(SessionWebhookSecret)
class SessionWebhookSecretAdmin(CompanySecretAdmin):
    purpose = "session webhooks"
    rotate = staticmethod(session_secret_rotate)
    rotate_many = staticmethod(session_secrets_rotate)
    list_display = ["company", "environment", "created_at", "previous_secret_expires_at"]
    list_filter = ["environment", "company"]
    fields = ["company", "environment", "created_at", "previous_secret_expires_at"]
    fixed_once_created = ("company", "environment")

    def scope(self, owner: CompanySecret) -> dict[str, str]:
        return {"environment": owner.environment}


@admin.register(SyncSigningSecret)
class SyncSigningSecretAdmin(CompanySecretAdmin):
    """Signs downstream-sync posts to the company's workflows' sync_url."""

    purpose = "downstream sync"
    rotate = staticmethod(sync_secret_rotate)
    rotate_many = staticmethod(sync_secrets_rotate)
