"""The admin site: Steve's operators' tool, across companies."""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from functools import reduce
from operator import or_
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections, models, router, transaction
from django.db.models import Case, Count, F, Q, QuerySet, UniqueConstraint, When
from django.db.models.constants import LOOKUP_SEP
from django.db.models.deletion import get_candidate_relations_to_delete
from django.db.models.options import Options
from django.forms.fields import InvalidJSONInput
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import smart_split, unescape_string_literal

from steve.accounts import PasswordChangeView
from steve.api.parsers import MAX_JSON_DEPTH, BodyRefused, StrictJSONDecoder, check_json
from steve.errors import ServiceError
from steve.loginlimit import refused_if_limited
from steve.secret_once import forget_secrets

# How deep a refused deletion's relations are followed (company, workflow, version, …).
MAX_CASCADE_DEPTH = 8
# The rows of a log inline (a delivery's attempts, a submission's events, a workflow's
# versions, …) its owner's page shows, the newest; the rest are on their own list,
# linked from the page.
INLINE_ROWS = 20


class SteveAdminSite(admin.AdminSite):
    """Superusers only. The admin lists every company's submissions, keys and memories;
    a company's own staff (members with admin permissions) see theirs in the review UI,
    which is scoped by membership, and got everyone's here."""

    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Every list's actions say so when none of their rows is left (SaysWhenSelectionIsGone),
        no list is filtered on a secret (NeverFiltersOnSecrets), and a filter value no
        column can take is the list's "invalid filter" notice (RefusesUnreadableFilters)."""
        admin_class = admin_class or admin.ModelAdmin
        given = [SaysWhenSelectionIsGone, NeverFiltersOnSecrets, RefusesUnreadableFilters]
        if issubclass(admin_class.paginator, EstimatedCountPaginator):
            given.append(SortsThroughIndexes)  # a table that grows with every day of use
        mixins = [m for m in given if not issubclass(admin_class, m)]
        if mixins:
            admin_class = type(
                admin_class.__name__,
                (*mixins, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def login(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Refused, as the desk's, while the address has too many failed sign-ins."""
        return refused_if_limited(super().login)(request, extra_context)

    def password_change(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The desk's password form, whose wrong old passwords count as failed sign-ins:
        Django's own tried old passwords without limit for whoever held a superuser's
        session (the page drew the desk's form already; a post made by hand went here)."""
        request.current_app = self.name
        done = reverse("admin:password_change_done", current_app=self.name)
        return refused_if_limited(PasswordChangeView.as_view(success_url=done))(request)


class SaysWhenSelectionIsGone:
    """A ModelAdmin mixin (the site gives it to every admin): an action whose selected
    rows are none of them on the list any more, as another operator deleted them (or
    changed them out of its filter) since the list was read, says so and does nothing.

    Django ran the action on no rows: "Delete selected"'s Yes returned to the list
    without a word, and Steve's actions counted their nothing as done ("Forgot 0 memory
    row(s).", "Disabled 0 endpoint(s)."). Some of them gone, the action runs on the rest
    and counts those."""

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> Any:
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        across = request.POST.get("select_across") == "1"  # the whole list: no ids
        if selected and not across and not self._any_listed(queryset, selected):
            meta = self.model._meta  # type: ignore[attr-defined]
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"None of the {len(selected)} selected {meta.verbose_name_plural} are on this list any more "
                "(another operator deleted or changed them meanwhile): nothing was done.",
                messages.WARNING,
            )
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)  # type: ignore[misc]

    def _any_listed(self, queryset: QuerySet, selected: list[str]) -> bool:
        """Whether any selected row is on the list; False as well for a selection one of
        whose values is no id of the model ("abc" for a number, from a post made by
        hand), which Django's own filter failed on, a 500."""
        pk = queryset.model._meta.pk
        try:
            ids = [pk.to_python(value) for value in selected]
        except ValidationError:
            return False
        return queryset.filter(pk__in=ids).exists()


class RefusesUnreadableFilters:
    """A ModelAdmin mixin (the site gives it to every admin): a list filtered by a value
    its field cannot take (`?ip_address__exact=abc`, `?created_at__year=99999`, a year
    past datetime's) gets the admin's "invalid filter" notice: Django turns only some of
    these into IncorrectLookupParameters, the rest were 500s (on every list with a date,
    until only the login throttling lists refused them)."""

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        try:
            return super().get_changelist_instance(request)  # type: ignore[misc]
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error


# The columns that hold a secret in full (an endpoint's or a company's whsec_ secrets,
# current and in grace), by name, on any model; and an API key's digest, the SHA-256 the
# API looks a presented key up by (and names its cache entry with): read back by prefix
# from the key list, it was the one value a key is checked against.
SECRET_COLUMNS = frozenset({"secret", "previous_secret", "digest"})


class NeverFiltersOnSecrets:
    """A ModelAdmin mixin (the site gives it to every admin): a list filtered on a
    secret from its query string (?secret__startswith=whsec_A) is refused, a 400.

    Django lets a list be filtered on any of its model's own fields: whether a row was
    listed told a right prefix from a wrong one, and a few hundred requests read back a
    secret Steve shows only once, leaving nothing in the log (a rotation names who made
    it). Refused through a relation as well, whatever list filter leads there."""

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if SECRET_COLUMNS.intersection(lookup.split(LOOKUP_SEP)):
            return False
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]


# The rows an action's message names at most (the rest are "and others").
MAX_NAMED = 10


def named(names: Iterable[str]) -> str:
    """The first MAX_NAMED of `names`, for a message: an action on thousands of rows
    named every one of them."""
    names = list(names)
    return ", ".join(names[:MAX_NAMED]) + (" and others" if len(names) > MAX_NAMED else "")


def log_changes(
    request: HttpRequest,
    objects: Iterable[models.Model],
    message: str | Callable[[Any], str],
) -> None:
    """An admin action's history: one LogEntry per object it changed, under the operator
    who ran it (its actions wrote none, so who revoked, switched or forgot what could not
    be told). Written in one query, as an action may change thousands of rows; `objects`
    are given as read before the change (a row the change deletes is still named)."""
    entries = [
        LogEntry(
            user_id=request.user.pk,
            content_type_id=ContentType.objects.get_for_model(obj, for_concrete_model=False).pk,
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            action_flag=CHANGE,
            change_message=message(obj) if callable(message) else message,
        )
        for obj in objects
    ]
    LogEntry.objects.bulk_create(entries, batch_size=1000)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows Steve writes for itself (events, files, the API's and workers' machinery):
    shown to explain what happened, never added, changed or deleted by hand."""

    # Rows that are their owner's own log (an endpoint's notices): never deleted by hand,
    # but deleted with their owner, as the API deletes them (ExplainsRefusedDeletion).
    deleted_with_owner = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# The terms a search of a large table looks up at most, each through an index per
# column: support pastes a few ids.
MAX_SEARCH_TERMS = 5
# The longest term looked up: a clientSubmissionId or an Idempotency-Key is at most 255
# characters, the ids fewer; a longer term names nothing.
MAX_SEARCH_TERM = 255


def search_terms(search_term: str) -> list[str]:
    """The whole terms of a search, as Django splits them ("a quoted term" is one), each
    once, in order; the longer ones left out."""
    terms = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        bit = bit.strip()
        if bit and len(bit) <= MAX_SEARCH_TERM and bit not in terms:
            terms.append(bit)
    return terms


class SearchesWholeIds:
    """A ModelAdmin mixin for a table that grows with every day of use: its search finds
    the rows whose search_fields hold any of the first MAX_SEARCH_TERMS terms whole (OR:
    support pastes a few ids), each field through its own index, with a warning past that.

    Django's search is a case-insensitive "contains" of every term in every field (its
    "=" and "^" prefixes are case-insensitive too): no index serves one, so each term read
    the whole table, and the largest ones past the web's statement timeout. So each
    search field must be indexed, or lead an index (tests/steve/test_admin_searches.py
    reads the plans); one may name an expression of search_aliases, indexed as it is."""

    search_aliases: dict[str, Any] = {}

    def search_q(self, request: HttpRequest, terms: list[str]) -> Q:
        """The rows any of `terms` names: any search field holding one of them whole."""
        fields = self.get_search_fields(request)  # type: ignore[attr-defined]
        return reduce(or_, (Q(**{f"{field}__in": terms}) for field in fields))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet, search_term: str
    ) -> tuple[QuerySet, bool]:
        terms = search_terms(search_term)
        if not terms:
            # Only terms too long to be an id: they name nothing (not every row).
            return (queryset.none() if search_term.strip() else queryset), False
        if len(terms) > MAX_SEARCH_TERMS:
            messages.warning(
                request,
                f"Searched for the first {MAX_SEARCH_TERMS} of {len(terms)} terms only.",
            )
            terms = terms[:MAX_SEARCH_TERMS]
        if self.search_aliases:
            queryset = queryset.alias(**self.search_aliases)
        return queryset.filter(self.search_q(request, terms)), False


class EstimatedCountPaginator(Paginator):
    """The pages of a table that grows with every day of use (events, deliveries,
    attempts): unfiltered, its size is PostgreSQL's estimate of the table's rows, not a
    count of every row made (43 ms at 81,000 rows, a page, and growing). Filtered or
    searched, or small, or on SQLite, its rows are counted: the statistics know the
    table, not a filter's rows, and a small count is as cheap as the estimate."""

    # Below this estimate the rows are counted: exact, and as cheap.
    exact_below = 10_000

    @cached_property
    def estimated(self) -> bool:
        return self._estimate() is not None

    @cached_property
    def count(self) -> int:
        estimate = self._estimate()
        return self.object_list.count() if estimate is None else estimate

    def _estimate(self) -> int | None:
        queryset = self.object_list
        if queryset.query.where or connections[queryset.db].vendor != "postgresql":
            return None
        table = connections[queryset.db].ops.quote_name(queryset.model._meta.db_table)
        with connections[queryset.db].cursor() as cursor:
            # -1: never analyzed (nor vacuumed) yet, so no estimate.
            cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
            row = cursor.fetchone()
        estimate = int(row[0]) if row else -1
        return estimate if estimate >= self.exact_below else None

    def validate_number(self, number: Any) -> int:
        """Any page from 1 of an estimated list: the table may hold more rows than the
        estimate says, and a page past its end is an empty page, not an error."""
        try:
            return super().validate_number(number)
        except EmptyPage:
            if self.estimated and int(number) > 1:
                return int(number)
            raise

    def page(self, number: Any) -> Page:
        if not self.estimated:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)


def leads_an_index(meta: Options, order: Any) -> bool:
    """Whether a list's sort by `order` (a column's admin ordering) is served by an index
    of its own table, leading with that column: a sort through a relation orders by the
    related model's ordering (a join), and an expression is served by none."""
    if not isinstance(order, str) or LOOKUP_SEP in order:
        return False
    try:
        field = meta.get_field(order.removeprefix("-"))
    except FieldDoesNotExist:
        return False
    by_relation = field.is_relation and field.name == order.removeprefix("-")
    if by_relation and field.related_model._meta.ordering:  # the related row's: a join
        return False
    if field.primary_key or field.unique or getattr(field, "db_index", False):
        return True
    whole = [index for index in meta.indexes if index.condition is None]
    whole += [
        c for c in meta.constraints if isinstance(c, UniqueConstraint) and c.condition is None
    ]
    return any(index.fields and index.fields[0].removeprefix("-") == field.name for index in whole)


class IndexSortedChangeList(ChangeList):
    """A list whose columns sort it only where an index leads with theirs: any other is
    neither offered (its header is plain text) nor followed from a hand-typed ?o=."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        offered = self.list_display if self.sortable_by is None else self.sortable_by
        self.sortable_by = [name for name in offered if self.get_ordering_field(name)]

    def get_ordering_field(self, field_name: Any) -> Any:
        order = super().get_ordering_field(field_name)
        return order if leads_an_index(self.lookup_opts, order) else None


class SortsThroughIndexes:
    """A ModelAdmin mixin (the site gives it to every list of a table that grows with
    every day of use, EstimatedCountPaginator's): its columns sort it only through an
    index of its own table (IndexSortedChangeList); ids sort by creation time.

    Django sorted by any column shown: a click on "status" (or ?o= typed by hand) read
    and sorted every submission, event or delivery ever made for one page's rows, and
    on the largest tables past the web's statement timeout (a 500)."""

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return IndexSortedChangeList


class FixedOnceCreated:
    """A ModelAdmin mixin: fields set when a row is added and read-only after, such as
    the company (and environment) a key, an endpoint or a secret belongs to: moving one
    would cross a tenancy boundary the API never crosses."""

    fixed_once_created: tuple[str, ...] = ()

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fixed = self.fixed_once_created if obj is not None else ()
        return [*super().get_readonly_fields(request, obj), *fixed]  # type: ignore[misc]


# The most rows a related filter lists in a list's sidebar (FewRelatedFilter).
FEW_ENOUGH_TO_LIST = 50


class FewRelatedFilter(admin.RelatedFieldListFilter):
    """A related field's filter that lists its choices only while there are few: with
    more than FEW_ENOUGH_TO_LIST it offers only the one chosen, if any (reached by its
    URL, ?<field>__id__exact=<pk>), and says what to do instead (`hint`).

    Django's lists every row of the related model, named, on each page load: a list of
    webhook deliveries read and sent every endpoint and every session's webhook host
    (thousands of them) to draw its sidebar."""

    template = "admin/few_related_filter.html"
    hint = "Too many to list: search instead."
    too_many = False

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list:
        related = field.remote_field.model._default_manager.all()
        ordering = self.field_admin_ordering(field, request, model_admin)
        few = list(related.order_by(*ordering)[: FEW_ENOUGH_TO_LIST + 1])
        self.too_many = len(few) > FEW_ENOUGH_TO_LIST
        if self.too_many:
            try:
                few = list(related.filter(pk__in=self.lookup_val or [])[:FEW_ENOUGH_TO_LIST])
            except (ValueError, ValidationError):
                few = []  # not a key of theirs: the list says the filter is invalid
        return [(row.pk, str(row)) for row in few]

    def has_output(self) -> bool:
        return self.too_many or super().has_output()


class ExplainsRefusedDeletion:
    """A ModelAdmin mixin: a deletion refused for the rows that depend on the object says
    so plainly ("This workflow has 12 submissions; it cannot be deleted.").

    Django refused it by telling the operator (a superuser: every operator is one) that
    their account lacked the permission to delete submissions, versions or deliveries; no
    account has it, as Steve keeps those for the record. The refusal stays: the reasons
    take the place of Django's list of protected objects, and with that list set the
    delete view and the "delete selected" action delete nothing.
    """

    delete_confirmation_template = "admin/explained_delete_confirmation.html"
    delete_selected_confirmation_template = "admin/explained_delete_selected_confirmation.html"
    # What to do instead, said after the reason (an API key is revoked, for instance).
    deletion_advice = ""

    # The relations of a refused row that its name reads (a workflow is named with its
    # company): read for all the refused rows at once, not one query each.
    named_with: tuple[str, ...] = ()

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple:
        objs = self._locked_if_confirmed(list(objs), request)
        kept = self.kept_dependents_of(objs, request)
        refusals = [(obj, kept[obj.pk]) for obj in objs if kept.get(obj.pk)]
        if not refusals:
            deleted, counts, lacking, protected = super().get_deleted_objects(objs, request)  # type: ignore[misc]
            # Django counts an owner's log as rows the operator may not delete.
            return deleted, counts, lacking - self._logs_of_owners(), protected
        models.prefetch_related_objects([obj for obj, _ in refusals], *self.named_with)
        reasons = [self.refusal(obj, kept, alone=len(objs) == 1) for obj, kept in refusals]
        return [], {}, set(), reasons

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> Any:
        """The "delete selected" action runs in one transaction, as the delete view
        does, so the rows stay locked from the count of their dependents to their
        deletion (_locked_if_confirmed)."""
        if "delete_selected" not in request.POST.getlist("action"):
            return super().response_action(request, queryset)  # type: ignore[misc]
        with transaction.atomic():
            return super().response_action(request, queryset)  # type: ignore[misc]

    def _locked_if_confirmed(self, objs: list[models.Model], request: HttpRequest) -> list:
        """On the confirmed deletion, `objs` locked (FOR UPDATE, until it commits) before
        their dependents are counted: a row the running system adds meanwhile (an event's
        delivery to an endpoint, holding it FOR KEY SHARE) is then either counted, and
        the deletion refused, or made after it, against no endpoint. Unlocked, one made
        between the count and the commit failed the deletion on its foreign key (a 500)
        or the change that made it."""
        confirmed = request.method == "POST" and request.POST.get("post")
        if not objs or not confirmed or not transaction.get_connection().in_atomic_block:
            return objs
        self.lock_before(objs)
        model = objs[0].__class__
        locked = model._base_manager.select_for_update().filter(pk__in=[o.pk for o in objs])
        return list(locked.order_by("pk"))  # one order: two deletions never deadlock

    def lock_before(self, objs: list[models.Model]) -> None:
        """Lock, before `objs`, what their deletion goes on to lock that other paths lock
        before rows naming them (nothing here): a path holding such a row and then writing
        one that names an object (FOR KEY SHARE on it) waited for this deletion, which
        waited for that row."""

    def kept_dependents(self, obj: models.Model, request: HttpRequest) -> Counter:
        """The rows that stop `obj` being deleted, by model (kept_dependents_of)."""
        return self.kept_dependents_of([obj], request).get(obj.pk, Counter())

    def kept_dependents_of(
        self, objs: list[models.Model], request: HttpRequest
    ) -> dict[Any, Counter]:
        """The rows that stop each of `objs` (of one model) being deleted, by model, keyed
        by the object's pk: the topmost only (a kept submission's own events and files go
        without saying).

        Counted by the relations a deletion would follow, a count per model: collecting
        the rows themselves read every one of them, all their columns (a company's every
        submission, event and fingerprint), only to say it could not be deleted. Every
        PROTECT key points at a model whose rows are kept anyway (submissions, sessions).
        Counted for all of `objs` at once, each count grouped by the object its row was
        reached from: one object at a time, a "delete selected" of 50 companies cost ~450
        queries to refuse. A row reached from two of them (by two relations) counts for
        the first relation's."""
        if not objs:
            return {}
        pks = [obj.pk for obj in objs]
        reached: dict[type[models.Model], list[tuple[models.QuerySet, str]]] = defaultdict(list)
        roots = objs[0].__class__._base_manager.filter(pk__in=pks)
        self._reach(roots, request, reached=reached, path="pk")
        by_model = {model: [qs for qs, _ in found] for model, found in reached.items()}
        kept: dict[Any, Counter] = defaultdict(Counter)
        for model, found in reached.items():
            rows = model._base_manager.filter(reduce(or_, (Q(pk__in=qs) for qs, _ in found)))
            # The object each row was reached from, by the first relation that reaches it.
            owner = Case(*(When(**{f"{path}__in": pks}, then=F(path)) for _, path in found))
            counts = (
                self._uncovered(rows, by_model)
                .annotate(owner=owner)
                .values("owner")
                .annotate(n=Count("pk"))
                .order_by()
            )
            for row in counts:
                if row["owner"] is not None:
                    kept[row["owner"]][model] = row["n"]
        return kept

    def _reach(
        self,
        rows: models.QuerySet,
        request: HttpRequest,
        *,
        reached: dict[type[models.Model], list[tuple[models.QuerySet, str]]],
        path: str,
        depth: int = 0,
    ) -> None:
        """Follows the deletion of `rows` down to the rows that may not be deleted, which
        go to `reached` (their own rows are theirs, not followed), each with the `path`
        from its rows to the pk of the object they were reached from."""
        for relation in get_candidate_relations_to_delete(rows.model._meta):
            on_delete = relation.field.remote_field.on_delete
            if on_delete not in (models.CASCADE, models.PROTECT, models.RESTRICT):
                continue  # SET_NULL and the like: the row stays
            model = relation.related_model
            related = model._base_manager.filter(**{f"{relation.field.name}__in": rows})
            related_path = f"{relation.field.name}{LOOKUP_SEP}{path}"
            if on_delete is not models.CASCADE or not self._may_delete(model, request):
                reached[model].append((related.values("pk"), related_path))
            elif depth < MAX_CASCADE_DEPTH:
                self._reach(related, request, reached=reached, path=related_path, depth=depth + 1)

    @staticmethod
    def _uncovered(
        rows: models.QuerySet, reached: dict[type[models.Model], list[models.QuerySet]]
    ) -> models.QuerySet:
        """`rows` less those that go with a kept row of another model (a kept submission's
        fraud matches, reached from the company too)."""
        for field in rows.model._meta.concrete_fields:
            parent = field.related_model if field.is_relation else None
            cascades = field.is_relation and field.remote_field.on_delete is models.CASCADE
            if cascades and parent in reached and parent is not rows.model:
                parents = reduce(or_, (Q(pk__in=qs) for qs in reached[parent]))
                rows = rows.exclude(**{f"{field.name}__in": parent._base_manager.filter(parents)})
        return rows

    def _may_delete(self, model: type[models.Model], request: HttpRequest) -> bool:
        """Whether a deletion may take rows of `model` with their owner: an owner's log
        (ReadOnlyAdmin.deleted_with_owner) goes with it. Counted as rows to keep since
        they had a read-only list, an endpoint's notices refused its deletion, and its
        company's, naming the notices, which nobody may delete, for the endpoints."""
        model_admin = self.admin_site._registry.get(model)  # type: ignore[attr-defined]
        if model_admin is None or getattr(model_admin, "deleted_with_owner", False):
            return True
        return model_admin.has_delete_permission(request)

    def _logs_of_owners(self) -> set[str]:
        """The names Django lists the owners' logs under, as lacking a permission."""
        registry = self.admin_site._registry  # type: ignore[attr-defined]
        return {
            str(model._meta.verbose_name)
            for model, model_admin in registry.items()
            if getattr(model_admin, "deleted_with_owner", False)
        }

    def refusal(self, obj: models.Model, kept: Counter, *, alone: bool) -> str:
        counts = [
            f"{n} {model._meta.verbose_name if n == 1 else model._meta.verbose_name_plural}"
            for model, n in sorted(kept.items(), key=lambda item: -item[1])
        ]
        listed = counts[0] if len(counts) == 1 else f"{', '.join(counts[:-1])} and {counts[-1]}"
        if not alone:
            return f"{obj} has {listed}."
        reason = f"This {obj._meta.verbose_name} has {listed}; it cannot be deleted."
        return f"{reason} {self.deletion_advice}".strip()


# Where a refused save's ServiceError waits, on the request, for the form drawn again.
REFUSED_SAVE_ATTRIBUTE = "_steve_refused_save"


class ShowsRefusedSaves:
    """A ModelAdmin mixin: a service refusing a save the form let through (a ServiceError
    raised by save_model or save_related) is the form's error, as a validation error
    is: the page is drawn again with what the operator typed and the refusal on it (on
    the field the service names, when the form has it), not a 500.

    The form checks what it can; the service checks again as it saves, and some of it
    can change in between (a URL's host resolved by the form no longer does). Django
    validates the form before the save and offers no hook between the save and the
    page, so the refused post is answered by a second pass over it: the same form,
    bound to the same post, with the refusal added to its errors, which Django draws as
    it draws any invalid form (no save is tried). Both passes are one transaction, in
    which Django's own (a savepoint) holds the save: the refusal rolls back all of it.
    It had been a message over the page read again, which lost every value typed.
    A secret the refused save made (ShowsSecretsOnce) goes with it, never shown.
    """

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        view = super().changeform_view  # type: ignore[misc]
        if request.method != "POST":
            return view(request, object_id, form_url, extra_context)
        with transaction.atomic(using=router.db_for_write(self.model)):  # type: ignore[attr-defined]
            try:
                return view(request, object_id, form_url, extra_context)
            except ServiceError as refusal:
                forget_secrets(request)  # made by the save rolled back: they open nothing
                setattr(request, REFUSED_SAVE_ATTRIBUTE, refusal)
                return view(request, object_id, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.BaseForm]:
        form = super().get_form(request, obj, change, **kwargs)  # type: ignore[misc]
        refusal = getattr(request, REFUSED_SAVE_ATTRIBUTE, None)
        return form if refusal is None else refused_form(form, refusal)


def refused_form(form: type[forms.BaseForm], refusal: ServiceError) -> type[forms.BaseForm]:
    """`form`, refused by `refusal` after its own checks: never valid, never saved."""

    class Refused(form):  # type: ignore[valid-type,misc]
        def full_clean(self) -> None:
            super().full_clean()
            if self.is_bound:
                add_refusal(self, refusal)

    Refused.__name__ = Refused.__qualname__ = form.__name__
    Refused.__module__ = form.__module__
    return Refused


def add_refusal(form: forms.BaseForm, refusal: ServiceError) -> None:
    """The refusal's errors on the fields of `form` they name; its message above the
    form when it names none of them (or a field the form does not edit)."""
    named = [error for error in refusal.errors if error.get("field") in form.fields]
    for error in named:
        form.add_error(error["field"], error["message"])
    if not named:
        form.add_error(None, refusal.message)


class SavesEditedFieldsOnly:
    """A ModelAdmin mixin: saving a change writes only the fields the operator edited.

    The admin reads the row when the form is posted and a plain save writes every column
    back, read-only ones too: a key revoked, a secret rotated or a memory counted by
    someone else in the meantime was undone by an operator renaming the key."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)  # type: ignore[misc]
            return
        columns = {field.name for field in obj._meta.concrete_fields}
        if edited := [name for name in form.changed_data if name in columns]:
            obj.save(update_fields=edited)


class CheckedJSONField(forms.JSONField):
    """An admin form's JSON, held to the API's body rules (steve.api.parsers): nested too
    deep, a NUL or a lone surrogate is the form's error, where it had been a 500 (json's
    RecursionError, or PostgreSQL refusing the text). NaN, Infinity, an integer past
    Python's 4,300 digits and a member named twice are refused too, as the API does: the
    first two were a 500 as they saved, the third as json read it, and the last lost one
    of the two values silently."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("decoder", StrictJSONDecoder)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Any:
        try:
            converted = super().to_python(value)
        except RecursionError:
            raise ValidationError(
                f"The JSON nests deeper than {MAX_JSON_DEPTH} levels.", code="too_deep"
            ) from None
        except ValueError as error:  # not json's JSONDecodeError, which Django words itself
            raise ValidationError(f"Enter a valid JSON: {error}", code="invalid") from None
        try:
            check_json(converted)
        except BodyRefused as refused:
            raise ValidationError(str(refused.detail), code=refused.problem_code) from None
        return converted

    def bound_data(self, data: Any, initial: Any) -> Any:
        # The form shown again with its error holds the refused text as typed: decoded,
        # a lone surrogate could not even be written into the page.
        try:
            bound = super().bound_data(data, initial)
            if not isinstance(bound, InvalidJSONInput):
                check_json(bound)
        except (RecursionError, ValueError, BodyRefused):
            return InvalidJSONInput(data)
        return bound


class NewestRows(BaseInlineFormSet):
    """The newest INLINE_ROWS rows only (the inline's ordering is newest first): shown
    whole, a delivery retried thousands of times (or an endpoint disabled and enabled as
    often, a submission's events, a workflow's versions) made a page of megabytes that
    took seconds to read and draw."""

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_newest"):
            self._newest = super().get_queryset()[:INLINE_ROWS]
        return self._newest


def all_rows_link(model: type, field: str, owner: Any, what: str) -> str:
    """The link from an owner's page to its rows' own list, past the newest shown."""
    if owner is None or owner.pk is None:
        return "—"
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return format_html(
        'The newest {} are below: <a href="{}?{}={}">all {}</a>.',
        INLINE_ROWS,
        url,
        field,
        owner.pk,
        what,
    )
