"""Read queries of submissions: the API's, the review queue's, the submission page's and
the overview's."""

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Any

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from steve.models import Company
from submissions.forms import ALL, MINE, UNCLAIMED
from submissions.memory import (
    REMEMBERED_FIELDS,
    Recall,
    Remembered,
    choose,
    recall_keys,
    same_value,
    shop_keys,
)
from submissions.models import (
    OPEN_STATUSES,
    EventType,
    MerchantMemory,
    Submission,
    SubmissionEvent,
    SubmissionFile,
    SubmissionStatus,
)


def company_submissions(company: Company, environment: str | None = None) -> QuerySet[Submission]:
    """The company's submissions; of one environment when given (an API key always gives
    its own: another environment's submission is a 404 like another company's)."""
    queryset = Submission.objects.filter(company=company)
    if environment is not None:
        queryset = queryset.filter(environment=environment)
    return queryset.select_related("workflow", "workflow_version")


def company_submission(
    company: Company, submission_id: str, environment: str | None = None
) -> Submission | None:
    return company_submissions(company, environment).filter(pk=submission_id).first()


def field_label(name: str, spec: dict[str, Any]) -> str:
    """What a reviewer reads: the schema's title, else the key de-camelCased
    ("totalAmount" → "Total amount")."""
    title = spec.get("title")
    if isinstance(title, str) and title.strip():
        return title.strip()
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_", " ", name).split()
    return " ".join(words).capitalize() if words else name


# What a stale page's refusal says of each change made since the page was drawn ({who}:
# the event's actor, {field}: the corrected field as the page labels it). The others
# (a comment, a sync attempt) changed nothing the page's actions depend on.
CHANGES_SAID: dict[str, str] = {
    EventType.FIELD_CORRECTED: "{who} corrected {field}",
    EventType.CLAIMED: "{who} started reviewing it",
    EventType.CLAIM_TAKEN_OVER: "{who} took it over",
    EventType.CLAIM_RELEASED: "{who} released the claim",
    EventType.FRAUD_MATCH_RESOLVED: "{who} resolved {count}",
    EventType.FRAUD_RESOLUTION_UNDONE: "{who} undid a fraud resolution",
    EventType.FRAUD_MATCH_WITHDRAWN: "{who} withdrew {count}",
    EventType.FRAUD_STATUS_CHANGED: "{who} rechecked it for fraud",
}


# The actions that claim the submission for their reviewer as they land (hold_for_actor):
# the claim they record just before (same or previous version, same actor) is part of
# that one action, and a refusal names the action alone, not a claim and the action.
CLAIMING_ACTIONS = [EventType.FIELD_CORRECTED, EventType.FRAUD_MATCH_RESOLVED]

# Where a reviewer's own change came from, as their stale page's refusal says it: their
# page there moved on, this one did not (their username read as someone else's change).
ELSEWHERE = "in another tab or window"


def changes_since(
    submission: Submission, *, version: int, shown: int, reviewer_id: str | None = None
) -> tuple[list[str], int]:
    """The latest `shown` changes made to the submission after a page drawn at `version`,
    newest first, as a refusal names them ("demo corrected Shop at 05:44 UTC"), and how
    many more there were. One change is one version: a resolution of two matches at once
    is one ("bob resolved 2 fraud matches"); so is one action that also claimed the
    submission (a first Save reads "demo corrected Shop", not that and "demo started
    reviewing it"). Start review and then a Save by the same reviewer, nothing between,
    cannot be told from that and read the same: the Save says more.

    The changes of `reviewer_id` (the desk user whose page was refused) are theirs: "you
    corrected Shop in another tab or window", not their username.

    Only events that say the version they produced count: those recorded before events
    kept it cannot say whether they came after the page, and are not named."""
    its_action = SubmissionEvent.objects.filter(
        Q(version=OuterRef("version")) | Q(version=OuterRef("version") + 1),
        submission_id=OuterRef("submission_id"),
        actor_type=OuterRef("actor_type"),
        actor_id=OuterRef("actor_id"),
        type__in=CLAIMING_ACTIONS,
    )
    changes = (
        submission.events.filter(version__gt=version, type__in=list(CHANGES_SAID))
        .exclude(Q(type=EventType.CLAIMED) & Exists(its_action))
        .values("version", "type", "actor_type", "actor_id", "actor_label")
        .annotate(field=KeyTextTransform("field", "details"), n=Count("id"), at=Max("occurred_at"))
        .order_by("-version", "-at")
    )
    latest = list(changes[:shown])
    if not latest:
        return [], 0
    more = changes.count() - len(latest) if len(latest) == shown else 0
    properties = schema_fields(submission)
    said, placed = [], False
    for change in latest:
        yours = is_reviewers(change, reviewer_id)
        # Where they made it is said once: "you released the claim in another tab or
        # window at 05:44 UTC and you corrected Shop at 05:43 UTC".
        said.append(_change_said(change, properties, yours=yours, elsewhere=yours and not placed))
        placed = placed or yours
    return said, more


def is_reviewers(event: dict[str, Any], reviewer_id: str | None) -> bool:
    """Whether an event's values (actor_type, actor_id) say the desk user `reviewer_id`
    made it."""
    return (
        reviewer_id is not None
        and event["actor_type"] == SubmissionEvent.ActorType.USER
        and event["actor_id"] == reviewer_id
    )


def _change_said(
    change: dict[str, Any], properties: dict[str, Any], *, yours: bool, elsewhere: bool
) -> str:
    name = change["field"] or ""
    n = change["n"]
    said = CHANGES_SAID[change["type"]].format(
        who="you" if yours else change["actor_label"] or "someone",
        field=field_label(name, properties.get(name) or {}) if name else "a field",
        count="a fraud match" if n == 1 else f"{n} fraud matches",
    )
    where = f" {ELSEWHERE}" if elsewhere else ""
    return f"{said}{where} at {_when(change['at'])}"


def _when(at: datetime) -> str:
    """A change's time as a refusal says it: the time alone today (UTC), else the day too."""
    at = at.astimezone(UTC)
    today = timezone.now().astimezone(UTC).date()
    return f"{at:%H:%M} UTC" if at.date() == today else f"{at:%Y-%m-%d %H:%M} UTC"


def shop_memory(
    *, company_id: str, text: str, read_address: str | None, read_name: str | None
) -> dict[str, Recall]:
    """What this company's reviewers taught Steve about the shop of a receipt, by field."""
    # With the company numbers' older keys: rows taught before a key changed are under them.
    keys = recall_keys(shop_keys(text, read_address, read_name))
    if not keys:
        return {}
    rows = [
        Remembered(m.key, m.field, m.value, m.times_right, m.times_wrong, m.pk)
        for m in MerchantMemory.objects.filter(company_id=company_id, key__in=keys)
    ]
    found = {name: choose(rows, name, keys, text) for name in REMEMBERED_FIELDS}
    return {name: recall for name, recall in found.items() if recall is not None}


HELD, SET_ASIDE, FORGOTTEN = "held", "set_aside", "forgotten"


def memory_standing(*, memory_ids: Iterable[str], value: object) -> str:
    """Where a recalled ``value`` stands in the memory rows that gave it: still ``HELD``
    (in any spelling: another reviewer may have changed only its case or spaces since),
    ``SET_ASIDE`` by a later correction of the shop (it comes back if that is taken
    back), or ``FORGOTTEN`` (an admin forgot it: neither held nor kept aside)."""
    if not isinstance(value, str):
        return FORGOTTEN
    rows = MerchantMemory.objects.filter(pk__in=list(memory_ids)).values_list("value", "previous")
    standing = FORGOTTEN
    for held, aside in rows:
        if same_value(held, value):
            return HELD
        if any(isinstance(a, dict) and same_value(str(a.get("value")), value) for a in aside or []):
            standing = SET_ASIDE
    return standing


def memory_still_holds(*, memory_ids: Iterable[str], value: object) -> bool:
    """Whether any of these memory rows still holds ``value`` (an admin may have
    forgotten it since it was recalled, or a reviewer set it aside); a respelling of
    it by another reviewer (same_value) still holds it: it is the same name."""
    return memory_standing(memory_ids=memory_ids, value=value) == HELD


def values_as_given(submission: Submission) -> dict[str, Any]:
    """The corrected fields of a submission as Steve gave them: each one's first
    correction's old value (absent where the event left it out for its size)."""
    given: dict[str, Any] = {}
    corrections = submission.events.filter(type=EventType.FIELD_CORRECTED).order_by("id")
    for details in corrections.values_list("details", flat=True):
        field = details.get("field") if isinstance(details, dict) else None
        if isinstance(field, str) and field not in given:
            given[field] = details.get("old", _OMITTED)
    return given


_OMITTED = object()  # never equal to a value


def schema_fields(submission: Submission) -> dict[str, Any]:
    """The fields of the workflow version's output schema, by name."""
    return (submission.workflow_version.output_schema or {}).get("properties", {})


def workflow_choices(company: Company) -> list[tuple[str, str]]:
    """The company's workflows as (slug, name), for the queue's workflow filter."""
    return [(w.slug, w.name) for w in company.workflows.order_by("name")]


# --- The review queue ----------------------------------------------------------------------
# `filters` are the queue filter form's values (submissions.forms.QueueFilterForm.values).

QUEUE_PAGE = 50
# A poll refreshes every row the reviewer has loaded, up to this many.
POLL_WINDOW = 500
# Other orders than the default read one bounded window (keyset paging follows ids).
SORTED_WINDOW = 200
QUEUE_ORDERS = {
    "confidence": [F("confidence").asc(nulls_last=True), "id"],
    "amount": [F("extracted_data__totalAmount").desc(nulls_last=True), "id"],
    "fraud": [F("fraud_score").desc(nulls_last=True), "id"],
}
# The age orders (age_ordered): oldest first (the default, paged) or newest first (a
# window, as the orders above).
NEWEST_FIRST = "-age"


def in_review_since(submissions: QuerySet[Submission]) -> QuerySet[Submission]:
    """The submissions with `review_since`: when they went into review (processing's move
    there), which is what waiting and the SLA are counted from. Their creation time was:
    a session's files may come hours after it is made, and processing takes its time, so
    a submission in review for two hours read as waiting for two days.

    Stored on the row by the move (Submission.review_entered_at) and read, ordered and
    filtered through the index of this very expression (submission_review_since): read
    per row from the events by a subquery, each poll of each reviewer sorted every
    submission in review by it, over half a second of database time at 20,000 waiting
    (bench/queue_age.py). A row without one (made in review before events kept
    statuses) waits since it was made."""
    return submissions.annotate(review_since=Coalesce(F("review_entered_at"), F("created_at")))


# A row's age in the queue, sorted and shown: one in review waits since its move there
# (in_review_since), as its SLA, Due and the overview's oldest waiting count; any other
# since it was made (created and processing ones have not been in review yet, a decided
# one waits no more). Ordered by (that time, id) and paged on that pair.
AgeKey = tuple[datetime, str]
# Rows of one part of the age order (age_parts) and the field their age is of.
AgePart = tuple[QuerySet[Submission], str]


def queue_age_since(row: Submission) -> datetime:
    """When a row's age counts from (an in_review_since row), as age_ordered sorts it."""
    return row.review_since if row.status == SubmissionStatus.REVIEW else row.created_at


def age_parts(queryset: QuerySet[Submission], tab: str) -> list[AgePart]:
    """The rows of a queue tab (`tab`: a status or ALL) as parts each read in age order by
    itself: those in review by their move there (the submission_review_since index), the
    others by creation time through the (company, created_at) index. One expression for
    both would sort every decided submission the company ever had on each poll of the All
    tab. A one-status tab is one part, so one query."""
    parts: list[AgePart] = []
    in_review = Q(status=SubmissionStatus.REVIEW)
    if tab in (ALL, SubmissionStatus.REVIEW):
        parts.append((in_review_since(queryset.filter(in_review)), "review_since"))
    if tab != SubmissionStatus.REVIEW:
        parts.append((in_review_since(queryset.exclude(in_review)), "created_at"))
    return parts


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def age_token(since: datetime) -> str:
    """A row's place in the age order as a page drew it (its queue_age_since, whole
    microseconds since the epoch), which the page sends back with the row's id to page on
    (Load more's `after`, the poll's `upto`): see age_key."""
    return str((since - _EPOCH) // _MICROSECOND)


def age_from_token(token: str) -> datetime | None:
    """The time an age_token names (None: not one; a page's own address, so anything)."""
    if not token.isascii() or not token.isdigit() or len(token) > 17:
        return None
    return _EPOCH + int(token) * _MICROSECOND


def age_key(company: Company, submission_id: str, tab: str, at: str = "") -> AgeKey | None:
    """Where a submission stands in a tab's age order (None: not the company's). In the
    review tab always by its move into review, so a row decided since the page drew it
    (the last one loaded, the one just decided) is found where the reviewer saw it.
    `at` (age_token) is where the page drew it: the All tab ages a row by its move into
    review only while it is there, so a last row decided (or sent to review) since was
    looked for elsewhere, and Load more listed again the rows above it (or skipped those
    between) and the poll dropped rows loaded."""
    found = (
        in_review_since(company_submissions(company).filter(pk=submission_id))
        .values_list("status", "review_since", "created_at")
        .first()
    )
    if found is None:
        return None
    drawn_at = age_from_token(at)
    if drawn_at is not None:
        return drawn_at, submission_id
    status, review_since, created_at = found
    waiting = tab == SubmissionStatus.REVIEW or (tab == ALL and status == SubmissionStatus.REVIEW)
    return (review_since if waiting else created_at), submission_id


def _past(part: AgePart, key: AgeKey, *, descending: bool) -> QuerySet[Submission]:
    """The part's rows after `key` in its order (keyset on (age, id)). The bound on the
    age alone, implied by the pair's, is what an index can start its scan at: without it
    a page at depth read every row above it first."""
    (rows, field), (at, pk) = part, key
    if descending:
        rows = rows.filter(**{f"{field}__lte": at})
        return rows.filter(Q(**{f"{field}__lt": at}) | Q(**{field: at, "id__lt": pk}))
    rows = rows.filter(**{f"{field}__gte": at})
    return rows.filter(Q(**{f"{field}__gt": at}) | Q(**{field: at, "id__gt": pk}))


def _through(part: AgePart, key: AgeKey) -> QuerySet[Submission]:
    """The part's rows up to `key`, it included."""
    (rows, field), (at, pk) = part, key
    return rows.filter(Q(**{f"{field}__lt": at}) | Q(**{field: at, "id__lte": pk}))


def age_ordered(
    parts: list[AgePart], *, descending: bool, after: AgeKey | None, limit: int
) -> list[Submission]:
    """The first `limit` rows of the parts (age_parts) after `after`, oldest first or
    newest first: each part's first `limit`, merged. Ordered by the selected column, the
    expression its index holds."""
    found: list[Submission] = []
    for part in parts:
        rows, field = part
        if after is not None:
            rows = _past(part, after, descending=descending)
        order = [F(field).desc(), F("id").desc()] if descending else [field, "id"]
        found += rows.order_by(*order)[:limit]
    found.sort(key=lambda row: (queue_age_since(row), row.pk), reverse=descending)
    return found[:limit]


def queue_submissions(
    *, company: Company, user: Any, filters: dict[str, str], status: bool = True
) -> QuerySet[Submission]:
    """The company's submissions under the queue's filters (its status tab too, unless
    `status` is False); `user` is whose claims "mine" means."""
    queryset = company_submissions(company, filters["environment"]).select_related("claimed_by")
    if status and filters["status"] != ALL:
        queryset = queryset.filter(status=filters["status"])
    if filters["workflow"]:
        queryset = queryset.filter(workflow__slug=filters["workflow"])
    if filters["fraud"]:
        queryset = queryset.filter(fraud_status=filters["fraud"])
    if filters["claims"]:
        live = Q(claimed_by__isnull=False, claimed_until__gt=timezone.now())
        if filters["claims"] == MINE:
            queryset = queryset.filter(live, claimed_by=user)
        elif filters["claims"] == UNCLAIMED:
            queryset = queryset.exclude(live)
    if filters["q"]:
        q = filters["q"]
        queryset = queryset.filter(
            Q(pk=q)
            | Q(client_submission_id__icontains=q)
            | Q(extracted_data__merchantName__icontains=q)
            | Q(extracted_data__vendorName__icontains=q)
        )
    return queryset


def queue_status_counts(*, company: Company, user: Any, filters: dict[str, str]) -> dict[str, int]:
    """How many submissions each open status has under the queue's other filters (read
    through the index of the company's statuses). The decided ones are not counted:
    every submission the company ever had, read on each 5-s poll of each reviewer."""
    queryset = queue_submissions(company=company, user=user, filters=filters, status=False)
    rows = queryset.filter(status__in=OPEN_STATUSES).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def queue_window(
    *,
    company: Company,
    user: Any,
    filters: dict[str, str],
    after: str = "",
    upto: str = "",
    at: str = "",
) -> tuple[list[Submission], bool]:
    """One window of the queue, oldest first by age (age_parts), and whether more follow.

    `after` continues after a row (keyset on age and id, never OFFSET); `upto` re-reads
    every row up to the last one the page shows, which is what the poll asks for; `at` is
    where the page drew that row (age_key). Newest first and the other orders give their
    first SORTED_WINDOW rows.
    """
    queryset = queue_submissions(company=company, user=user, filters=filters)
    if filters["sort"] in QUEUE_ORDERS:
        ordered = in_review_since(queryset).order_by(*QUEUE_ORDERS[filters["sort"]])
        rows = list(ordered[: SORTED_WINDOW + 1])
        return rows[:SORTED_WINDOW], len(rows) > SORTED_WINDOW
    tab = filters["status"]
    parts = age_parts(queryset, tab)
    if filters["sort"] == NEWEST_FIRST:
        rows = age_ordered(parts, descending=True, after=None, limit=SORTED_WINDOW + 1)
        return rows[:SORTED_WINDOW], len(rows) > SORTED_WINDOW
    limit = QUEUE_PAGE
    start = None
    if after:
        start = age_key(company, after, tab, at)
        if start is None:
            return [], False
    elif upto:
        # At least the first page, so rows that arrived since still show up; counted no
        # further than the window (an `upto` past every row counted the whole queue). An
        # unknown row (not the company's) is not counted up to: the first page.
        last = age_key(company, upto, tab, at)
        loaded = sum(_through(part, last)[:POLL_WINDOW].count() for part in parts) if last else 0
        limit = min(POLL_WINDOW, max(QUEUE_PAGE, loaded))
    rows = age_ordered(parts, descending=False, after=start, limit=limit + 1)
    return rows[:limit], len(rows) > limit


def queue_sla_breaches(*, company: Company, user: Any, filters: dict[str, str]) -> int:
    """Submissions in review for longer than the SLA (in_review_since), under the queue's
    other filters."""
    waiting = queue_submissions(
        company=company, user=user, filters={**filters, "status": SubmissionStatus.REVIEW}
    )
    due = timezone.now() - settings.REVIEW_SLA
    # A range of the index of in_review_since's expression: the breaches only are read.
    return in_review_since(waiting).filter(review_since__lte=due).count()


def queue_neighbours(
    *, company: Company, user: Any, filters: dict[str, str], submission_id: str
) -> tuple[str | None, str | None]:
    """The ids before and after a submission in the queue as filtered and sorted (for
    j/k). A sorted queue shows its first SORTED_WINDOW rows; a submission outside them
    (its confidence changed since) has its neighbours by age."""
    shown = queue_submissions(company=company, user=user, filters=filters)
    sort = filters.get("sort")
    if sort in QUEUE_ORDERS:
        ordered = shown.order_by(*QUEUE_ORDERS[sort])
        ids = list(ordered.values_list("id", flat=True)[:SORTED_WINDOW])
        if submission_id in ids:
            at = ids.index(submission_id)
            return (ids[at - 1] if at else None), (ids[at + 1] if at + 1 < len(ids) else None)
    key = age_key(company, submission_id, filters["status"])
    if key is None:
        return None, None
    parts = age_parts(shown, filters["status"])
    newest_first = sort == NEWEST_FIRST
    before = age_ordered(parts, descending=not newest_first, after=key, limit=1)
    after = age_ordered(parts, descending=newest_first, after=key, limit=1)
    return (before[0].pk if before else None), (after[0].pk if after else None)


def queue_next_waiting(
    *, company: Company, user: Any, filters: dict[str, str], done_id: str
) -> Submission | None:
    """The next waiting submission after `done_id` that nobody else holds, in the queue's
    order (its sort, as j/k walk it; else by age), wrapping round to the first; under the
    queue's workflow, fraud and search filters."""
    free = Q(claimed_by__isnull=True) | Q(claimed_until__lte=timezone.now()) | Q(claimed_by=user)
    waiting = Q(status=SubmissionStatus.REVIEW) & free
    listed = queue_submissions(company=company, user=user, filters=filters, status=False)
    if filters.get("sort") in QUEUE_ORDERS:
        # The decided submission is no longer waiting, but its place in the order is
        # where the reviewer was: the next one is the first waiting after it.
        order = QUEUE_ORDERS[filters["sort"]]
        ids = list(
            listed.filter(waiting | Q(pk=done_id))
            .order_by(*order)
            .values_list("id", flat=True)[:SORTED_WINDOW]
        )
        if done_id in ids:
            at = ids.index(done_id)
            chosen = next(iter(ids[at + 1 :] or ids[:at]), None)
            return listed.filter(pk=chosen).first() if chosen else None
        return listed.filter(waiting).exclude(pk=done_id).order_by(*order).first()
    # By age in review: the decided one stands where it waited (age_key of the review tab).
    parts = age_parts(listed.filter(waiting).exclude(pk=done_id), SubmissionStatus.REVIEW)
    newest_first = filters.get("sort") == NEWEST_FIRST
    key = age_key(company, done_id, SubmissionStatus.REVIEW)
    following = age_ordered(parts, descending=newest_first, after=key, limit=1) if key else []
    chosen = following or age_ordered(parts, descending=newest_first, after=None, limit=1)
    return chosen[0] if chosen else None


def company_submission_ids(company: Company, ids: Iterable[str]) -> set[str]:
    """Which of `ids` are the company's submissions."""
    return set(company_submissions(company).filter(pk__in=ids).values_list("pk", flat=True))


# --- One submission ------------------------------------------------------------------------


def unresolved_fraud_match_count(submission: Submission) -> int:
    return submission.fraud_matches.filter(resolution__isnull=True).count()


def submission_files(submission: Submission) -> QuerySet[SubmissionFile]:
    return submission.files.order_by("file_index")


def live_files_by_submission(submission_ids: Iterable[str]) -> dict[str, list[SubmissionFile]]:
    """Each submission's files whose bytes were not purged, in file order: one query for a
    page that shows the files of many submissions (the fraud panel's matched ones)."""
    found: dict[str, list[SubmissionFile]] = {}
    files = SubmissionFile.objects.filter(
        submission_id__in=set(submission_ids), purged_at__isnull=True
    ).order_by("submission_id", "file_index")
    for file in files:
        found.setdefault(file.submission_id, []).append(file)
    return found


def submission_live_file(submission: Submission, index: int) -> SubmissionFile | None:
    """The submission's file at `index`, unless its bytes were purged."""
    return submission.files.filter(file_index=index, purged_at__isnull=True).first()


def submission_recent_events(submission: Submission, limit: int) -> QuerySet[SubmissionEvent]:
    """The latest `limit` events, newest first (lazy: a partial that does not show
    them does not read them)."""
    return submission.events.order_by("-id")[:limit]


def submission_cancelled_at(submission: Submission) -> datetime:
    """When a cancelled submission was cancelled: its `cancelled` event's time, not its
    `updated_at`, which the retention purge (and any later save) moves."""
    at = (
        submission.events.filter(type=EventType.CANCELLED)
        .order_by("-occurred_at", "-id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return at or submission.updated_at


# --- The overview --------------------------------------------------------------------------

DECISIONS = [EventType.APPROVED, EventType.REJECTED]
CLAIM_EVENTS = [EventType.CLAIMED, EventType.CLAIM_TAKEN_OVER]


def review_depth(submissions: QuerySet[Submission]) -> list[dict[str, Any]]:
    """Submissions waiting for review per workflow, deepest first."""
    waiting = submissions.filter(status=SubmissionStatus.REVIEW)
    rows = waiting.values("workflow__name").annotate(n=Count("id")).order_by("-n", "workflow__name")
    return [{"label": row["workflow__name"], "value": row["n"]} for row in rows]


def oldest_waiting(submissions: QuerySet[Submission]) -> Submission | None:
    """The submission in review for longest (in_review_since), as the queue's SLA counts."""
    waiting = in_review_since(submissions.filter(status=SubmissionStatus.REVIEW))
    return waiting.order_by("review_since", "id").first()


def overview_since(days: int) -> datetime:
    """When the overview's period of `days` UTC days, today included, begins: the start of
    its first day. Every figure of the page counts from it: the rates and the reviewers'
    figures counted from this moment 30 days ago, and took in most of a day (decisions,
    submissions) that the chart beside them left out."""
    start = timezone.now().astimezone(UTC).date() - timedelta(days=days - 1)
    return datetime.combine(start, datetime.min.time(), tzinfo=UTC)


# Who decided, as the decisions chart shows them apart: a reviewer on the desk, Steve
# (processing approved it, a one-shot extraction job's included), or an integrator's key.
DECIDED_BY = {
    SubmissionEvent.ActorType.USER: "reviewer",
    SubmissionEvent.ActorType.SYSTEM: "automatic",
    SubmissionEvent.ActorType.API_KEY: "api",
}


def decisions_per_day(submissions: QuerySet[Submission], days: int) -> list[dict[str, Any]]:
    """Approvals and rejections per UTC day over the last `days` days, today included:
    in all, and by who decided (DECIDED_BY: {"reviewer": {"approved": 3, "rejected": 1},
    …}). Counted together, processing's approvals read as the reviewers' work."""
    # From the start of the first day as a time, not by each event's date: the time is
    # indexed (event_decided_at), a date computed per row is not, and it read every event.
    since = overview_since(days)
    start = since.date()
    rows = (
        SubmissionEvent.objects.filter(
            submission__in=submissions, type__in=DECISIONS, occurred_at__gte=since
        )
        .annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("day", "type", "actor_type")
        .annotate(n=Count("id"))
    )
    counts = {(row["day"], DECIDED_BY[row["actor_type"]], row["type"]): row["n"] for row in rows}
    return [_decided_on(day, counts) for day in (start + timedelta(days=n) for n in range(days))]


def _decided_on(day: Any, counts: dict[tuple[Any, str, str], int]) -> dict[str, Any]:
    found: dict[str, Any] = {"day": day}
    for by in DECIDED_BY.values():
        found[by] = {kind: counts.get((day, by, kind), 0) for kind in DECISIONS}
    for kind in DECISIONS:
        found[kind] = sum(found[by][kind] for by in DECIDED_BY.values())
    return found


# The source (jobs.models.WorkflowSession.Source) of a one-shot extraction job's session.
EXTRACTION_JOB = "extraction_job"


def review_rates(submissions: QuerySet[Submission], since: datetime) -> dict[str, Any]:
    """Of the submissions created since `since`: the share fraud checks found suspicious
    and the share processing approved without a reviewer, of workflow submissions and of
    one-shot extraction jobs apart. A job is approved unless fraud is found or it asked
    for `documentReview` (jobs.pipeline._decide), whatever its confidence: counted with
    the workflows' it raised their rate with submissions no workflow's rules decided."""
    recent = submissions.filter(created_at__gte=since)
    checked = recent.exclude(fraud_status__isnull=True)
    suspicious = checked.filter(fraud_status__in=["flagged", "blocked"]).count()
    one_shot = recent.filter(session__source=EXTRACTION_JOB)
    rows = (
        SubmissionEvent.objects.filter(
            submission__in=recent,
            from_status=SubmissionStatus.PROCESSING,
            to_status__in=[SubmissionStatus.REVIEW, SubmissionStatus.APPROVED],
        )
        # Of the period's submissions: joined instead, the whole table was merged in.
        .annotate(job=Exists(one_shot.filter(pk=OuterRef("submission_id"))))
        .values("job", "to_status")
        .annotate(n=Count("id"))
    )
    finished = {(bool(row["job"]), row["to_status"]): row["n"] for row in rows}
    total_checked = checked.count()
    workflows, jobs = _processed(finished, job=False), _processed(finished, job=True)
    return {
        "fraud_rate": suspicious / total_checked if total_checked else None,
        "checked": total_checked,
        "straight_through": workflows[1] / workflows[0] if workflows[0] else None,
        "processed": workflows[0],
        "jobs_straight_through": jobs[1] / jobs[0] if jobs[0] else None,
        "jobs_processed": jobs[0],
    }


def _processed(finished: dict[tuple[bool, str], int], *, job: bool) -> tuple[int, int]:
    """How many processing finished, and how many of those it approved."""
    approved = finished.get((job, SubmissionStatus.APPROVED), 0)
    return approved + finished.get((job, SubmissionStatus.REVIEW), 0), approved


def reviewer_figures(submissions: QuerySet[Submission], since: datetime) -> list[dict[str, Any]]:
    """Per reviewer: decisions since `since` and the median time from taking the
    submission (the last claim before the decision) to deciding it."""
    decisions = list(
        SubmissionEvent.objects.filter(
            submission__in=submissions,
            type__in=DECISIONS,
            actor_type=SubmissionEvent.ActorType.USER,
            occurred_at__gte=since,
        ).values("submission_id", "type", "actor_id", "actor_label", "occurred_at")
    )
    claims: dict[tuple[str, str], list[Any]] = {}
    for row in SubmissionEvent.objects.filter(
        submission_id__in={d["submission_id"] for d in decisions}, type__in=CLAIM_EVENTS
    ).values("submission_id", "actor_id", "occurred_at"):
        claims.setdefault((row["submission_id"], row["actor_id"]), []).append(row["occurred_at"])
    people: dict[str, dict[str, Any]] = {}
    for d in decisions:
        person = people.setdefault(
            d["actor_id"], {"label": d["actor_label"], "approved": 0, "rejected": 0, "times": []}
        )
        person[d["type"]] += 1
        taken = [
            t for t in claims.get((d["submission_id"], d["actor_id"]), []) if t <= d["occurred_at"]
        ]
        if taken:
            person["times"].append((d["occurred_at"] - max(taken)).total_seconds())
    return sorted(
        (
            {
                "label": p["label"],
                "approved": p["approved"],
                "rejected": p["rejected"],
                "decisions": p["approved"] + p["rejected"],
                "median": timedelta(seconds=median(p["times"])) if p["times"] else None,
            }
            for p in people.values()
        ),
        key=lambda p: (-p["decisions"], p["label"]),
    )


def sync_post_id(*, submission_id: str) -> str | None:
    """The id of the submission's downstream-sync post (a webhook delivery), if any."""
    from submissions.sync import sync_event_id  # sync builds on the services, which read here
    from webhooks.models import WebhookDelivery

    posts = WebhookDelivery.objects.filter(
        purpose=WebhookDelivery.Purpose.SYNC, event_id=sync_event_id(submission_id)
    )
    return posts.values_list("pk", flat=True).first()
