"""The queue's Age, sorted and shown, counts from the move into review (in_review_since),
as its SLA colour, its Due column and the overview's oldest waiting do: a submission made
days ago whose files came only now is the newest in review, not the oldest."""

import re
from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from steve.models import Company
from submissions import selectors
from submissions.models import EventType, Submission, SubmissionEvent, SubmissionStatus
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db
S = SubmissionStatus


def made(company: Company, *, created: datetime, in_review: datetime | None) -> Submission:
    """A submission in review made at `created` that processing sent to review at
    `in_review` (None: no such event, as rows made before events kept statuses)."""
    submission = submission_with_file(company)
    Submission.objects.filter(pk=submission.pk).update(created_at=created)
    if in_review is not None:
        event = SubmissionEvent.objects.create(
            submission=submission,
            type=EventType.READY_FOR_REVIEW,
            from_status=S.PROCESSING,
            to_status=S.REVIEW,
        )
        SubmissionEvent.objects.filter(pk=event.pk).update(occurred_at=in_review)
        # Kept on the row with its event, as the move into review keeps it.
        Submission.objects.filter(pk=submission.pk).update(review_entered_at=in_review)
    return submission


@pytest.fixture
def late_and_early(company) -> dict[str, Submission]:
    """Made in this order (ids too), in review in another: `late` was made first, three
    days ago, but its files came an hour ago; `early` has waited in review 20 hours;
    `bare` has no event into review and waits since it was made, 5 hours ago."""
    now = timezone.now()
    late = made(company, created=now - timedelta(days=3), in_review=now - timedelta(hours=1))
    early = made(company, created=now - timedelta(days=1), in_review=now - timedelta(hours=20))
    bare = made(company, created=now - timedelta(hours=5), in_review=None)
    return {"late": late, "early": early, "bare": bare}


def order(rows: list[Submission], named: dict[str, Submission]) -> list[str]:
    names = {s.pk: name for name, s in named.items()}
    return [names[row.pk] for row in rows]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("", ["early", "bare", "late"]), ("-age", ["late", "bare", "early"])],
)
def test_the_age_sort_orders_by_the_move_into_review(ui, late_and_early, sort, expected):
    page = ui.get(reverse("review:queue"), {"sort": sort} if sort else {})
    assert order(page.context["rows"], late_and_early) == expected


def test_the_age_shown_is_the_time_in_review(ui, late_and_early):
    html = ui.get(reverse("review:queue")).content.decode()
    cells = {
        name: html.split(f'data-id="{s.pk}"')[1].split('data-label="Age">')[1].split("<")[0]
        for name, s in late_and_early.items()
    }
    assert cells == {"late": "1h 0m", "early": "20h 0m", "bare": "5h 0m"}


def shown(html: str, named: dict[str, Submission]) -> list[str]:
    """The named rows in the order the HTML lists them."""
    names = {s.pk: name for name, s in named.items()}
    return [names[pk] for pk in re.findall(r'<tr class="row" data-id="([^"]+)"', html)]


def test_load_more_pages_on_in_review_order(ui, late_and_early, monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_PAGE", 1)
    first = ui.get(reverse("review:queue"))
    assert order(first.context["rows"], late_and_early) == ["early"]
    assert first.context["has_more"]
    more = ui.get(reverse("review:queue_rows"), {"after": late_and_early["early"].pk})
    assert shown(more.content.decode(), late_and_early) == ["bare"]
    more = ui.get(reverse("review:queue_rows"), {"after": late_and_early["bare"].pk})
    assert shown(more.content.decode(), late_and_early) == ["late"]
    more = ui.get(reverse("review:queue_rows"), {"after": late_and_early["late"].pk})
    assert shown(more.content.decode(), late_and_early) == []
    # The poll re-reads every row loaded so far (up to `bare`), in the same order.
    polled = ui.get(reverse("review:queue_rows"), {"upto": late_and_early["bare"].pk})
    assert shown(polled.content.decode(), late_and_early) == ["early", "bare"]


def test_the_all_tab_puts_rows_in_review_by_their_move_there_among_the_others(
    ui, company, late_and_early
):
    # Not in review, its age is counted from when it was made: between early and bare.
    approved = submission_with_file(company, status=S.APPROVED)
    Submission.objects.filter(pk=approved.pk).update(
        created_at=timezone.now() - timedelta(hours=10)
    )
    named = {**late_and_early, "approved": approved}
    page = ui.get(reverse("review:queue"), {"status": "all"})
    assert order(page.context["rows"], named) == ["early", "approved", "bare", "late"]
    page = ui.get(reverse("review:queue"), {"status": "all", "sort": "-age"})
    assert order(page.context["rows"], named) == ["late", "bare", "approved", "early"]


@pytest.mark.parametrize("sort", ["", "-age"])
def test_previous_and_next_walk_the_in_review_order(ui, late_and_early, sort):
    query = {"sort": sort} if sort else {}
    page = ui.get(reverse("review:detail", args=[late_and_early["bare"].pk]), query)
    before, after = ("early", "late") if not sort else ("late", "early")
    assert page.context["previous_id"] == late_and_early[before].pk
    assert page.context["next_id"] == late_and_early[after].pk


def test_after_a_decision_the_next_is_the_next_in_review_order(ui, company):
    # Made a, b, c; sent to review c, b, a: the reverse (any other order of three is a
    # rotation of the order made, and "next, else the first" would find the same one).
    now = timezone.now()
    a, b, c = (
        made(company, created=now - timedelta(days=2, hours=n), in_review=now - timedelta(hours=h))
        for n, h in ((3, 1), (2, 10), (1, 20))
    )
    response = ui.post(reverse("review:approve", args=[b.pk]), {"version": b.version})
    assert response.status_code == 303
    assert response["Location"] == reverse("review:detail", args=[a.pk])


def load_more_address(html: str) -> str:
    """The rows address the last Load more shown fetches (its hx-get), as a browser sends it."""
    found = re.findall(r'id="load-more" href="[^"]*"\s+hx-get="([^"]+)"', html)
    assert found, "no Load more"
    return found[-1].replace("&amp;", "&")


def test_load_more_in_the_all_tab_goes_on_after_a_last_row_decided_meanwhile(
    ui, company, late_and_early, monkeypatch
):
    # The All tab: early (20h in review), bare (5h), late (made 3 days ago, in review
    # 1h), fresh (10 minutes in review). The page shows the first three.
    now = timezone.now()
    fresh = made(
        company, created=now - timedelta(minutes=30), in_review=now - timedelta(minutes=10)
    )
    named = {**late_and_early, "fresh": fresh}
    monkeypatch.setattr(selectors, "QUEUE_PAGE", 3)
    page = ui.get(reverse("review:queue"), {"status": "all"})
    assert order(page.context["rows"], named) == ["early", "bare", "late"]

    # Someone approves `late`, the last row shown: out of review, the All tab ages it from
    # its making, three days ago. Load more still goes on from where the page showed it,
    # not from there (which listed early and bare a second time under them).
    Submission.objects.filter(pk=late_and_early["late"].pk).update(status=S.APPROVED)
    more = ui.get(load_more_address(page.content.decode()))
    assert shown(more.content.decode(), named) == ["fresh"]


def test_the_poll_of_the_all_tab_keeps_every_row_loaded_when_the_last_left_review(
    ui, company, late_and_early, monkeypatch
):
    monkeypatch.setattr(selectors, "QUEUE_PAGE", 1)
    now = timezone.now()
    fresh = made(
        company, created=now - timedelta(minutes=30), in_review=now - timedelta(minutes=10)
    )
    named = {**late_and_early, "fresh": fresh}
    # Loaded, a row at a time, down to late; then someone approves late.
    html = ui.get(reverse("review:queue"), {"status": "all"}).content.decode()
    for _ in range(2):
        html += ui.get(load_more_address(html)).content.decode()
    assert shown(html, named) == ["early", "bare", "late"]
    Submission.objects.filter(pk=late_and_early["late"].pk).update(status=S.APPROVED)

    # The poll asks up to the last row shown, with its place as drawn (review.js sends
    # both): every row loaded stays, late now among them by its making.
    last = re.findall(r'<tr class="row" data-id="([^"]+)" data-at="(\d+)"', html)[-1]
    polled = ui.get(reverse("review:queue_rows"), {"status": "all", "upto": last[0], "at": last[1]})
    assert shown(polled.content.decode(), named) == ["late", "early", "bare"]
