"""The overview's figures (review:stats) against the same figures counted by hand, in plain
Python over the seeded rows: UTC day edges, sandbox beside production, another company,
auto-approvals, API decisions, one-shot extraction jobs, cancelled, expired and failed
submissions, submissions whose files came long after they were made, and reviewers who
left."""

import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from jobs.models import WorkflowSession
from steve.models import Company, Membership
from submissions.models import (
    OPEN_STATUSES,
    EventType,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from tests import factories

pytestmark = pytest.mark.django_db
S = SubmissionStatus
PROCESSED = {S.REVIEW, S.APPROVED}
# Who decided, as the decisions chart tells them apart.
SOURCES = {"user": "reviewer", "system": "automatic", "api_key": "api"}


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=UTC)


class Seeder:
    """Submissions and their history as the services leave them, at chosen times."""

    def __init__(self, company: Company, environment: str = "production") -> None:
        self.company = company
        self.environment = environment

    def submission(
        self, status: str, created: datetime, fraud: str | None = "clean", workflow: int = 0
    ) -> Submission:
        version = factories.default_workflows(self.company)[workflow]
        submission = factories.SubmissionFactory(
            company=self.company,
            environment=self.environment,
            workflow_version=version,
            workflow=version.workflow,
            status=status,
            fraud_status=fraud,
        )
        Submission.objects.filter(pk=submission.pk).update(created_at=created)
        self.event(submission, EventType.CREATED, created)
        return submission

    def event(
        self,
        submission: Submission,
        type: str,
        when: datetime,
        actor: Any = None,
        moves: tuple[str, str] = ("", ""),
    ) -> None:
        if actor is None:
            who = {"actor_type": SubmissionEvent.ActorType.SYSTEM, "actor_label": "Steve"}
        elif isinstance(actor, str):
            who = {"actor_type": SubmissionEvent.ActorType.API_KEY, "actor_id": actor}
            who["actor_label"] = f"API key {actor}"
        else:
            who = {"actor_type": SubmissionEvent.ActorType.USER, "actor_id": str(actor.pk)}
            who["actor_label"] = actor.username
        event = SubmissionEvent.objects.create(
            submission=submission, type=type, from_status=moves[0], to_status=moves[1], **who
        )
        SubmissionEvent.objects.filter(pk=event.pk).update(occurred_at=when)
        if moves[1] == S.REVIEW:  # the move into review keeps its time on the row too
            Submission.objects.filter(pk=submission.pk).update(review_entered_at=when)

    def processed(self, submission: Submission, when: datetime, to: str = S.REVIEW) -> None:
        self.event(submission, EventType.PROCESSING_STARTED, when, moves=(S.CREATED, S.PROCESSING))
        kind = EventType.APPROVED if to == S.APPROVED else EventType.READY_FOR_REVIEW
        self.event(submission, kind, when + timedelta(seconds=5), moves=(S.PROCESSING, to))

    def decided(
        self, submission: Submission, who: Any, when: datetime, *, to: str, claimed: datetime | None
    ) -> None:
        if claimed is not None:
            self.event(submission, EventType.CLAIMED, claimed, who)
        kind = EventType.APPROVED if to == S.APPROVED else EventType.REJECTED
        self.event(submission, kind, when, who, moves=(S.REVIEW, to))

    def one_shot(self, submission: Submission) -> None:
        """Made by a one-shot extraction job (its session says so), not a workflow session."""
        key = factories.api_key(self.company, f"jobs {submission.pk}", self.environment).api_key
        WorkflowSession.objects.create(
            company=self.company,
            api_key=key,
            environment=self.environment,
            workflow_version=submission.workflow_version,
            submission=submission,
            source=WorkflowSession.Source.EXTRACTION_JOB,
            client_submission_id=submission.client_submission_id,
            file_count=1,
            expires_at=submission.created_at + timedelta(hours=1),
        )


def seed(seeder: Seeder, people: dict[str, Any], today: date) -> None:
    """One environment's month: every kind of row the figures must count, or must not."""
    d = lambda n: today - timedelta(days=n)  # noqa: E731
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    # Decided by a reviewer at each side of a UTC midnight.
    late = seeder.submission(S.APPROVED, at(d(3), 9))
    seeder.processed(late, at(d(3), 9))
    seeder.decided(late, alice, at(d(3), 23, 59, 59), to=S.APPROVED, claimed=at(d(3), 23, 50))
    early = seeder.submission(S.SYNCED, at(d(3), 10))
    seeder.processed(early, at(d(3), 10))
    seeder.decided(early, alice, at(d(2), 0, 0, 0), to=S.APPROVED, claimed=at(d(3), 23, 30))
    seeder.event(early, EventType.SYNCED, at(d(2), 0, 1), moves=(S.APPROVED, S.SYNCED))
    # Approved by processing, no reviewer; one synced since.
    for n in (1, 4):
        auto = seeder.submission(S.APPROVED, at(d(n), 12))
        seeder.processed(auto, at(d(n), 12), to=S.APPROVED)
    # Rejected by a reviewer who has since left (deleted below), after a take-over.
    flagged = seeder.submission(S.REJECTED, at(d(5), 8), fraud="flagged")
    seeder.processed(flagged, at(d(5), 8))
    seeder.event(flagged, EventType.CLAIMED, at(d(5), 11), alice)
    seeder.event(flagged, EventType.CLAIM_TAKEN_OVER, at(d(5), 11, 50), bob)
    seeder.decided(flagged, bob, at(d(5), 12), to=S.REJECTED, claimed=None)
    # Approved by an inactive reviewer, with no claim (a bulk approval), and by the API.
    bulk = seeder.submission(S.APPROVED, at(d(6), 8))
    seeder.processed(bulk, at(d(6), 8))
    seeder.decided(bulk, carol, at(d(6), 9), to=S.APPROVED, claimed=None)
    by_api = seeder.submission(S.REJECTED, at(d(6), 8))
    seeder.processed(by_api, at(d(6), 8))
    seeder.decided(by_api, "key_1", at(d(6), 10), to=S.REJECTED, claimed=None)
    # Waiting: one blocked, made two days ago but whose files came (and were processed)
    # two hours ago; one clean on the second workflow, in review for 30 hours.
    blocked = seeder.submission(S.REVIEW, at(d(2), 6), fraud="blocked")
    seeder.processed(blocked, at(d(0), 10))
    clean = seeder.submission(S.REVIEW, at(d(1), 6), workflow=1)
    seeder.processed(clean, at(d(1), 6))
    # One-shot extraction jobs: one approved by processing, one sent to review by fraud
    # and rejected by a reviewer.
    job = seeder.submission(S.APPROVED, at(d(2), 14))
    seeder.one_shot(job)
    seeder.processed(job, at(d(2), 14), to=S.APPROVED)
    job_flagged = seeder.submission(S.REJECTED, at(d(2), 15), fraud="flagged")
    seeder.one_shot(job_flagged)
    seeder.processed(job_flagged, at(d(2), 15))
    seeder.decided(job_flagged, alice, at(d(2), 16), to=S.REJECTED, claimed=at(d(2), 15, 30))
    # Cancelled in review; cancelled before processing (its session expired); failed.
    cancelled = seeder.submission(S.CANCELLED, at(d(7), 8))
    seeder.processed(cancelled, at(d(7), 8))
    seeder.event(cancelled, EventType.CANCELLED, at(d(7), 9), alice, moves=(S.REVIEW, S.CANCELLED))
    expired = seeder.submission(S.CANCELLED, at(d(8), 8), fraud=None)
    seeder.event(expired, EventType.SESSION_EXPIRED, at(d(8), 9))
    seeder.event(expired, EventType.CANCELLED, at(d(8), 9), moves=(S.CREATED, S.CANCELLED))
    failed = seeder.submission(S.FAILED, at(d(8), 8), fraud=None)
    seeder.event(failed, EventType.FAILED, at(d(8), 8, 1), moves=(S.PROCESSING, S.FAILED))
    # Made and processed in the last second before the period's first day: not of it.
    before = seeder.submission(S.APPROVED, at(d(30), 23, 59, 50))
    seeder.processed(before, at(d(30), 23, 59, 50), to=S.APPROVED)
    # Made before the period: decided just before its first day, and as it starts.
    for when in (at(d(30), 23, 59, 59), at(d(29), 0, 0, 0)):
        old = seeder.submission(S.APPROVED, at(d(40), 8))
        seeder.processed(old, at(d(40), 8))
        seeder.decided(old, alice, when, to=S.APPROVED, claimed=when - timedelta(minutes=20))


def expected(company: Company, environment: str, now: datetime) -> dict[str, Any]:
    """The overview's figures, counted by hand over every row (no queries but the reads)."""
    # One period for every figure: the chart's 30 UTC days, today included.
    first_day = now.astimezone(UTC).date() - timedelta(days=29)
    since = at(first_day, 0)
    subs = [
        s
        for s in Submission.objects.select_related("workflow").all()
        if s.company_id == company.pk and s.environment == environment
    ]
    ids = {s.pk for s in subs}
    events = [e for e in SubmissionEvent.objects.all() if e.submission_id in ids]
    waiting = [s for s in subs if s.status == S.REVIEW]
    # Waiting in review since it went there (processing's move into review), not since it
    # was made: its files may have come hours later, and processing takes its time.
    into_review = {
        s.pk: max(
            e.occurred_at for e in events if e.submission_id == s.pk and e.to_status == S.REVIEW
        )
        for s in waiting
    }
    oldest = min(waiting, key=lambda s: (into_review[s.pk], s.pk), default=None)
    per_day: Counter[tuple[date, str, str]] = Counter(
        (e.occurred_at.astimezone(UTC).date(), SOURCES[e.actor_type], e.type)
        for e in events
        if e.type in {"approved", "rejected"} and e.occurred_at.astimezone(UTC).date() >= first_day
    )
    recent = {s.pk: s for s in subs if s.created_at >= since}
    checked = [s for s in recent.values() if s.fraud_status is not None]
    jobs = {w.submission_id for w in WorkflowSession.objects.all() if w.source == "extraction_job"}
    finished = [
        e
        for e in events
        if e.submission_id in recent and e.from_status == S.PROCESSING and e.to_status in PROCESSED
    ]
    by_workflow = [e for e in finished if e.submission_id not in jobs]
    by_job = [e for e in finished if e.submission_id in jobs]
    reviewers: dict[str, dict[str, Any]] = {}
    for e in events:
        if e.type not in {"approved", "rejected"} or e.actor_type != "user":
            continue
        if e.occurred_at < since:
            continue
        person = reviewers.setdefault(e.actor_label, {"approved": 0, "rejected": 0, "times": []})
        person[e.type] += 1
        taken = [
            c.occurred_at
            for c in events
            if c.submission_id == e.submission_id
            and c.actor_id == e.actor_id
            and c.type in {"claimed", "claim_taken_over"}
            and c.occurred_at <= e.occurred_at
        ]
        if taken:
            person["times"].append(e.occurred_at - max(taken))
    return {
        "waiting": len(waiting),
        "oldest": (oldest.pk, now - into_review[oldest.pk]) if oldest else None,
        "depth": sorted(Counter(s.workflow.name for s in waiting).items()),
        "decisions": dict(per_day),
        "fraud_rate": (
            sum(s.fraud_status in {"flagged", "blocked"} for s in checked) / len(checked)
            if checked
            else None
        ),
        "checked": len(checked),
        "straight_through": share_approved(by_workflow),
        "processed": len(by_workflow),
        "jobs_straight_through": share_approved(by_job),
        "jobs_processed": len(by_job),
        "reviewers": {
            label: (
                p["approved"],
                p["rejected"],
                median(p["times"]) if p["times"] else None,
            )
            for label, p in reviewers.items()
        },
    }


def table_row(html: str, day: date) -> list[str]:
    """The counts of a day in the decisions table (reviewers', automatic and API keys'
    approvals and rejections)."""
    row = re.search(rf'<tr data-day="{day.isoformat()}">(.*?)</tr>', html, re.S)
    assert row is not None
    return re.findall(r'<td class="num">(\d+)</td>', row.group(1))


def share_approved(finished: list[SubmissionEvent]) -> float | None:
    """Of processing's outcomes, the share it approved without a reviewer."""
    return sum(e.to_status == S.APPROVED for e in finished) / len(finished) if finished else None


def shown(page: Any) -> dict[str, Any]:
    context = page.context
    rates = context["rates"]
    return {
        "waiting": context["waiting"],
        "oldest": (context["oldest"].pk, context["oldest_age"]) if context["oldest"] else None,
        "depth": sorted((row["label"], row["value"]) for row in context["depth"]),
        "decisions": {
            (day["day"], source, kind): day[source][kind]
            for day in context["decisions"]
            for source in SOURCES.values()
            for kind in ("approved", "rejected")
            if day[source][kind]
        },
        "fraud_rate": rates["fraud_rate"],
        "checked": rates["checked"],
        "straight_through": rates["straight_through"],
        "processed": rates["processed"],
        "jobs_straight_through": rates["jobs_straight_through"],
        "jobs_processed": rates["jobs_processed"],
        "reviewers": {
            r["label"]: (r["approved"], r["rejected"], r["median"]) for r in context["reviewers"]
        },
    }


@pytest.fixture
def lead(company):
    return factories.member(company, Membership.Role.LEAD, username="lead")


@pytest.fixture
def overview(client, lead):
    client.force_login(lead)
    return lambda **query: client.get(reverse("review:stats"), query)


@pytest.fixture
def now(monkeypatch) -> datetime:
    """Midday UTC today, held still: a day's edge cannot pass between seeding and reading."""
    held = at(timezone.now().astimezone(UTC).date(), 12)
    monkeypatch.setattr(timezone, "now", lambda: held)
    return held


@pytest.fixture
def seeded(company, now) -> dict[str, Company]:
    """Production and sandbox of the company, and another company, each seeded alike;
    then bob leaves (his user deleted) and carol is made inactive."""
    today = now.date()
    other = factories.CompanyFactory()
    people = {name: factories.member(company, username=name) for name in ("alice", "bob", "carol")}
    for seeder in (Seeder(company), Seeder(company, "sandbox"), Seeder(other)):
        seed(seeder, people, today)
    people["bob"].delete()
    people["carol"].is_active = False
    people["carol"].save()
    return {"company": company, "other": other}


@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_the_overview_shows_the_figures_counted_by_hand(seeded, overview, now, environment):
    page = overview(environment=environment)
    assert page.status_code == 200
    figures = shown(page)
    assert figures == expected(seeded["company"], environment, now)
    # What was seeded, so the hand count itself is checked too: a UTC day ends at
    # 23:59:59 and the next begins at 00:00:00; the day before the chart is left out.
    today = now.date()
    d = lambda n: today - timedelta(days=n)  # noqa: E731
    decisions = figures["decisions"]
    assert decisions[(d(3), "reviewer", "approved")] == 1
    assert decisions[(d(2), "reviewer", "approved")] == 1
    assert decisions[(d(29), "reviewer", "approved")] == 1
    # Processing's approvals (the one-shot job's too) and the API key's decision are not
    # the reviewers'.
    assert decisions[(d(2), "automatic", "approved")] == 1
    assert decisions[(d(4), "automatic", "approved")] == 1
    assert decisions[(d(6), "api", "rejected")] == 1
    assert decisions[(d(6), "reviewer", "approved")] == 1
    assert figures["waiting"] == 2 and figures["checked"] == 12
    # In review for 30 hours: the one made two days ago came to review two hours ago.
    assert figures["oldest"][1] == timedelta(hours=30, seconds=-5)
    assert (figures["processed"], figures["fraud_rate"]) == (10, 0.25)
    assert (figures["jobs_processed"], figures["jobs_straight_through"]) == (2, 0.5)
    assert figures["reviewers"]["bob"][:2] == (0, 1)
    assert figures["reviewers"]["carol"] == (1, 0, None)
    html = page.content.decode()
    assert 'data-kpi="fraud-rate">25.0%' in html
    assert 'data-kpi="stp">20.0%' in html
    assert 'data-kpi="stp-jobs">50.0%' in html
    assert "waiting in review since" in html.lower()
    # The chart's text alternative: the month's count of each, and a table of the days.
    totals: Counter[str] = Counter()
    for (_, source, _), n in decisions.items():
        totals[source] += n
    assert (totals["reviewer"], totals["automatic"], totals["api"]) == (6, 3, 1)
    assert "6 by reviewers, 3 automatic, 1 by API keys" in html
    assert table_row(html, d(6)) == ["1", "0", "0", "0", "0", "1"]
    assert table_row(html, d(2)) == ["1", "1", "1", "0", "0", "0"]


@pytest.mark.parametrize("environment", ["production", "sandbox"])
def test_the_queue_tabs_count_each_status_as_counted_by_hand(
    seeded, client, lead, now, environment, settings
):
    settings.REVIEW_SLA = timedelta(hours=24)
    client.force_login(lead)
    page = client.get(reverse("review:queue"), {"environment": environment})
    mine = [
        s
        for s in Submission.objects.all()
        if s.company_id == seeded["company"].pk and s.environment == environment
    ]
    by_status = Counter(s.status for s in mine)
    tabs = {tab["value"]: tab["count"] for tab in page.context["counts"]}
    # Only the open statuses are counted (decided ones and "All" grow without end).
    counted = {status: by_status[status] if status in OPEN_STATUSES else None for status in S}
    assert tabs == {**counted, "all": None}
    into_review = {
        e.submission_id: e.occurred_at
        for e in SubmissionEvent.objects.all()
        if e.to_status == S.REVIEW and e.submission_id in {s.pk for s in mine}
    }
    late = [
        s for s in mine if s.status == S.REVIEW and into_review[s.pk] <= now - timedelta(hours=24)
    ]
    # Not the one made 54 hours ago: it has been in review for two.
    assert page.context["breaches"] == len(late) == 1
    # The rows say the same: the one counted is the one shown overdue.
    overdue = [row.pk for row in page.context["rows"] if row.due <= now]
    assert overdue == [s.pk for s in late]
    assert page.content.decode().count(">overdue<") == 1


def test_a_month_without_data_shows_dashes_and_a_chart_topped_at_zero(overview, now):
    """Rates of nothing are "—" (not 0 % nor a 500), and an empty chart's scale said its
    highest day had 1 decision."""
    page = overview()
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-kpi="fraud-rate">—<' in html and 'data-kpi="stp">—<' in html
    assert 'data-kpi="waiting">0<' in html and 'data-kpi="oldest">—<' in html
    assert "highest day 0" in html and "highest day 1" not in html
    assert "No reviewer decided anything" in html


def test_a_renamed_reviewer_is_one_row_under_their_latest_name(company, overview, now):
    seeder = Seeder(company)
    alice = factories.member(company, username="alice")
    for n, name in enumerate(["alice", "alice.smith", "alice.smith"]):
        alice.username = name
        alice.save()
        decided = seeder.submission(S.APPROVED, now - timedelta(days=3 - n))
        seeder.processed(decided, now - timedelta(days=3 - n))
        seeder.decided(
            decided, alice, now - timedelta(days=3 - n, hours=-1), to=S.APPROVED, claimed=None
        )
    rows = [(r["label"], r["decisions"]) for r in overview().context["reviewers"]]
    assert rows == [("alice.smith", 3)]
