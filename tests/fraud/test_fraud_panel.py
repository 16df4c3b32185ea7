"""The fraud panel partial of the review page and its Resolve buttons."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from fraud.models import FraudMatch
from fraud.services import fraud_refresh, match_pair
from steve.models import Membership
from submissions.models import Submission, SubmissionStatus
from tests import factories
from tests.submissions.test_review_accessibility import Node, Tree
from tests.submissions.test_review_support import (
    page_told,
    pdf_bytes,
    stored_file,
    submission_with_file,
)

pytestmark = pytest.mark.django_db
S = SubmissionStatus


@pytest.fixture(autouse=True)
def _reviewer_is_a_lead(reviewer) -> None:
    """Confirming fraud is a lead's decision (steve.accounts.ROLE_ACTIONS)."""
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)


@pytest.fixture
def pair(company) -> tuple[Submission, Submission, FraudMatch]:
    """An earlier submission (a PDF) and a later one flagged as its visual twin."""
    earlier = factories.SubmissionFactory(company=company, status=S.APPROVED)
    stored_file(earlier, content=pdf_bytes(pages=1))
    later = submission_with_file(company)
    match = match_pair(
        company_id=company.pk,
        submission_id=later.pk,
        other_id=earlier.pk,
        check_type=FraudMatch.CheckType.VISUAL,
        score=81.5,
        similarity=0.93,
    )
    Submission.objects.filter(pk=later.pk).update(fraud_status="flagged", fraud_score=81.5)
    later.refresh_from_db()
    return later, earlier, match


def panel_url(submission: Submission) -> str:
    return reverse("fraud:panel", args=[submission.pk])


def resolve_url(submission: Submission, match: FraudMatch) -> str:
    return reverse("fraud:resolve", args=[submission.pk, match.pk])


def test_panel_shows_each_match_beside_the_matched_image(ui, pair):
    later, earlier, match = pair
    response = ui.get(panel_url(later), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'data-fraud-panel data-unresolved="1"' in html
    assert reverse("review:file", args=[later.pk, 0]) in html
    assert reverse("review:file_page", args=[earlier.pk, 0, 0]) in html
    assert "Visual" in html and "81.5" in html and "0.93" in html
    assert f'data-match="{match.pk}"' in html
    assert 'data-resolve="false_positive"' in html and 'data-resolve="confirmed_fraud"' in html
    assert f'name="version" value="{later.version}"' in html


def test_the_matched_submissions_creation_says_its_zone_and_instant(ui, pair):
    """A reviewer east or west of UTC read the bare "2026-03-05" as their own day: a
    submission made late in the evening UTC showed the day before theirs. The day is
    said as UTC, with the instant for the browser in <time datetime>."""
    later, earlier, _ = pair
    at = datetime(2026, 3, 5, 23, 30, 12, tzinfo=UTC)
    Submission.objects.filter(pk=earlier.pk).update(created_at=at)
    html = ui.get(panel_url(later), HTTP_HX_REQUEST="true").content.decode()
    caption = re.search(r"<figcaption><span class=\"muted\">.*?</figcaption>", html, re.S)
    assert caption is not None
    assert '<time datetime="2026-03-05T23:30:12+00:00"' in caption.group()
    assert "2026-03-05 23:30 UTC" in caption.group()


def test_without_htmx_the_panel_is_a_page(ui, pair):
    later, _, _ = pair
    response = ui.get(panel_url(later))
    assert b"<html" in response.content and b"Back to" in response.content


def test_panel_access_control(ui, pair):
    later, _, match = pair
    anonymous = Client()
    assert anonymous.get(panel_url(later))["Location"].startswith("/accounts/login/")
    stranger = Client()
    stranger.force_login(factories.UserFactory(companies=[factories.CompanyFactory()]))
    assert stranger.get(panel_url(later)).status_code == 404
    response = stranger.post(
        resolve_url(later, match), {"version": later.version, "resolution": "false_positive"}
    )
    assert response.status_code == 404
    match.refresh_from_db()
    assert match.resolution is None


def test_resolve_false_positive_in_place(ui, reviewer, pair):
    later, _, match = pair
    response = ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert page_told(response) == "fraud-changed"
    assert (
        b"resolution-false_positive" in response.content
        and b'data-unresolved="0"' in response.content
    )
    match.refresh_from_db()
    assert match.resolution == "false_positive" and match.resolved_by_user == reviewer
    later.refresh_from_db()
    assert later.fraud_status == "clean" and later.status == S.REVIEW
    event = later.events.get(type="fraud_match_resolved")
    assert event.actor_label == reviewer.username
    # The page's Approve button is now enabled.
    page = ui.get(reverse("review:detail", args=[later.pk])).content.decode()
    assert 'data-action="approve" aria-disabled' not in page


def test_confirmed_fraud_rejects_the_submission_with_the_reviewers_reason(ui, reviewer, pair):
    later, _, match = pair
    response = ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "confirmed_fraud", "reason": "Edited total."},
    )
    assert response.status_code == 303
    assert response["Location"] == reverse("review:detail", args=[later.pk])
    later.refresh_from_db()
    assert later.status == S.REJECTED
    assert later.reject_reason == "Edited total."


def test_confirmed_fraud_takes_a_picked_reason_as_the_pair_form_does(ui, pair):
    later, _, match = pair
    reason = "Same receipt submitted twice."
    response = ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "confirmed_fraud", "preset": reason},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    later.refresh_from_db()
    assert later.status == S.REJECTED and later.reject_reason == reason


@pytest.mark.parametrize("reason", ["", "   "])
def test_confirming_fraud_on_one_match_needs_a_reason_as_the_pair_form_does(ui, pair, reason):
    # The pair form refused a reasonless confirmation; this path rejected the submission
    # with a generated "Confirmed fraud by <reviewer>." nobody wrote.
    later, _, match = pair
    response = ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "confirmed_fraud", "reason": reason},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422 and b"Say why this is fraud" in response.content
    later.refresh_from_db()
    match.refresh_from_db()
    assert later.status == S.REVIEW and match.resolution is None


def test_stale_resolve_is_refused_and_says_why(ui, pair):
    later, _, match = pair
    opened = later.version
    fraud_refresh(submission_id=later.pk, reason={})  # the checks recomputed its fraud status
    response = ui.post(
        resolve_url(later, match),
        {"version": opened, "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert b"changed since you opened it" in response.content
    assert page_told(response) == "fraud-changed"
    match.refresh_from_db()
    assert match.resolution is None


def test_resolving_twice_is_refused(ui, pair):
    later, _, match = pair
    ui.post(resolve_url(later, match), {"version": later.version, "resolution": "false_positive"})
    later.refresh_from_db()
    response = ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "confirmed_fraud", "reason": "Edited total."},
        follow=True,
    )
    assert b"already resolved as false_positive" in response.content
    later.refresh_from_db()
    assert later.status == S.REVIEW


def test_a_bad_resolution_is_refused(ui, pair):
    later, _, match = pair
    response = ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "maybe"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    match.refresh_from_db()
    assert match.resolution is None


def test_panel_points_at_the_matched_page_and_lists_findings(ui, company):
    earlier = factories.SubmissionFactory(company=company, status=S.APPROVED)
    pdf = stored_file(earlier, content=pdf_bytes(pages=3))
    later = submission_with_file(company)
    own = later.files.get()
    FraudMatch.objects.create(
        company=company,
        submission=later,
        target_submission=earlier,
        check_type=FraudMatch.CheckType.VISUAL,
        score=70.0,
        similarity=0.8,
        details={"file": own.pk, "page": 0, "targetFile": pdf.pk, "targetPage": 2, "distance": 18},
    )
    FraudMatch.objects.create(
        company=company,
        submission=later,
        target_submission=None,
        check_type=FraudMatch.CheckType.TAMPERING,
        score=50.0,
        similarity=0.5,
        details={"signals": [{"file": own.pk, "page": 0, "signal": "screenshot", "weight": 50}]},
    )
    html = ui.get(panel_url(later), HTTP_HX_REQUEST="true").content.decode()
    assert reverse("review:file_page", args=[earlier.pk, 0, 2]) in html
    assert "distance: 18" in html
    assert "Found in this document alone" in html and "screenshot (weight 50)" in html
    assert 'data-unresolved="2"' in html


def test_panel_says_when_a_look_alike_was_not_counted_for_another_date(ui, company):
    earlier = factories.SubmissionFactory(company=company, status=S.APPROVED)
    later = submission_with_file(company)
    for check_type, score, details in (
        (
            FraudMatch.CheckType.VISUAL,
            0.0,
            {"otherDate": {"date": "2018-03-05", "targetDate": "2018-03-03"}},
        ),
        (FraudMatch.CheckType.TEXT, 60.0, {"similarity": 0.8}),
    ):
        FraudMatch.objects.create(
            company=company,
            submission=later,
            target_submission=earlier,
            check_type=check_type,
            score=score,
            similarity=0.8,
            details=details,
        )
    html = ui.get(panel_url(later), HTTP_HX_REQUEST="true").content.decode()
    assert "read with another date (<bdi>2018-03-05</bdi> vs <bdi>2018-03-03</bdi>)" in html


def test_panel_names_the_receipt_number_an_edited_copy_shares(ui, company):
    earlier = factories.SubmissionFactory(company=company, status=S.APPROVED)
    later = submission_with_file(company)
    details = {"receiptNumber": "OR18031002160274", "total": "90.50", "targetTotal": "42.50"}
    FraudMatch.objects.create(
        company=company,
        submission=later,
        target_submission=earlier,
        check_type=FraudMatch.CheckType.DATA,
        score=60.0,
        similarity=0.9,
        details=details,
    )
    html = ui.get(panel_url(later), HTTP_HX_REQUEST="true").content.decode()
    assert (
        "the same receipt number <bdi>OR18031002160274</bdi> (total <bdi>90.50</bdi> here, "
        "<bdi>42.50</bdi> on the other)" in html
    )
    assert "targetTotal" not in html


def test_the_panel_sets_apart_a_documents_value_and_a_resolvers_name_in_its_sentences(ui, company):
    """Right-to-left text, or an override stored before extraction dropped them, took the
    words after it into its run: "(total 90.50 here" drawn before the receipt number, the
    resolution's time before the name of who resolved it."""
    earlier = factories.SubmissionFactory(company=company, status=S.APPROVED)
    later = submission_with_file(company)
    number = "فاتورة 12"  # Arabic "invoice 12"
    FraudMatch.objects.create(
        company=company,
        submission=later,
        target_submission=earlier,
        check_type=FraudMatch.CheckType.DATA,
        score=60.0,
        similarity=0.9,
        details={"receiptNumber": number, "total": "9.00", "merchant": "Acme ‮HbmG"},
        resolution=FraudMatch.Resolution.FALSE_POSITIVE,
        resolved_by="דני",  # Hebrew
        resolved_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    )
    html = ui.get(panel_url(later), HTTP_HX_REQUEST="true").content.decode()
    assert f"the same receipt number <bdi>{number}</bdi> (total <bdi>9.00</bdi> here" in html
    assert "merchant: <bdi>Acme ‮HbmG</bdi>" in html
    assert "<bdi>דני</bdi> 2026-03-01 09:30 UTC" in html


def test_resolving_one_match_that_no_longer_exists_says_so_in_the_panel(ui, pair):
    later, _, match = pair
    url = resolve_url(later, match)
    FraudMatch.objects.filter(pk=match.pk).delete()  # gone with the other submission
    form = {"version": later.version, "resolution": "false_positive"}
    response = ui.post(url, form, HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert b'data-code="FRAUD_MATCH_NOT_FOUND"' in response.content
    assert b"This fraud match no longer exists" in response.content


@pytest.mark.parametrize(
    "transform",
    [{"crop": [0.6, 0.5, 0.8, 0.7], "skew": 0.0, "turn": 0}, {"skew": 0.0, "turn": 90}],
    ids=["cut", "turned"],
)
def test_panel_shows_an_image_as_the_checks_saw_it(ui, pair, transform):
    """A receipt on a large blank canvas is cut to its content before it is read
    (docs/fraud.md); the panel showed the upload whole, the receipt a speck in it, with the
    matched regions (fractions of the page as read) drawn over blank canvas, and a turned
    page's regions off its print."""
    later, earlier, match = pair
    file = later.files.get()
    file.page_transforms = [transform]
    file.save(update_fields=["page_transforms"])
    for url in (panel_url(later), reverse("fraud:compare", args=[later.pk, earlier.pk])):
        html = ui.get(url).content.decode()
        assert reverse("review:file_page", args=[later.pk, 0, 0]) in html
        assert f'"{reverse("review:file", args=[later.pk, 0])}"' not in html


def test_the_panel_takes_as_many_queries_for_30_matched_submissions_as_for_one(ui, pair, company):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    later, _, _ = pair
    ui.get(panel_url(later), HTTP_HX_REQUEST="true")  # the session's first-request writes
    with CaptureQueriesContext(connection) as one:
        assert ui.get(panel_url(later), HTTP_HX_REQUEST="true").status_code == 200
    for _ in range(29):
        other = submission_with_file(company)
        match_pair(
            company_id=company.pk,
            submission_id=later.pk,
            other_id=other.pk,
            check_type=FraudMatch.CheckType.DUPLICATE,
            score=90.0,
            similarity=1.0,
        )
    # Each card read this submission's files and its matched submission's files: two
    # queries a match, 607 for a submission matched 300 times (1.5 s).
    with CaptureQueriesContext(connection) as many:
        response = ui.get(panel_url(later), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response.content.decode().count('data-resolve="false_positive"') >= 30
    assert len(many) == len(one), [q["sql"] for q in many]


def test_a_submission_matched_with_hundreds_shows_a_page_of_pairs_and_a_way_to_the_rest(
    ui, pair, company, monkeypatch
):
    from fraud import views

    monkeypatch.setattr(views, "PAIRS_SHOWN", 3)
    later, earlier, _ = pair
    others = [submission_with_file(company) for _ in range(6)]
    for n, other in enumerate(others):
        match_pair(
            company_id=company.pk,
            submission_id=later.pk,
            other_id=other.pk,
            check_type=FraudMatch.CheckType.DUPLICATE,
            score=90.0 - n,
            similarity=1.0,
        )
    # Every pair was a card with its forms, about 4 kB each: 300 matched submissions
    # made a 1.2 MB panel on the review page.
    html = ui.get(panel_url(later), {"status": "review"}, HTTP_HX_REQUEST="true").content.decode()
    assert html.count('class="match pair-card') == 3
    assert all(f'data-pair="{o.pk}"' in html for o in others[:3])
    assert f'data-pair="{others[3].pk}"' not in html
    assert "7 unresolved of 7 checks, 7 pairs" in html  # the counts are of them all
    assert "4 more pairs not shown" in html
    more = f"{panel_url(later)}?status=review&amp;pairs=6"
    assert f'href="{more}"' in html and f'hx-get="{more}"' in html
    html = ui.get(panel_url(later), {"status": "review", "pairs": "6"}).content.decode()
    assert html.count('class="match pair-card') == 6 and "1 more pair not shown" in html
    assert f'href="{panel_url(later)}?status=review&amp;pairs=9"' in html
    assert "hx-get" not in html.split("data-more-pairs")[1].split("</p>")[0]  # a page
    for bad in ("x", "-1", "0", "9" * 40):
        response = ui.get(panel_url(later), {"pairs": bad}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert response.content.decode().count('class="match pair-card') == 3


def test_a_pair_resolved_just_now_stays_on_the_panel_to_undo_past_the_first_page(
    ui, pair, company, monkeypatch
):
    from fraud import views

    monkeypatch.setattr(views, "PAIRS_SHOWN", 2)
    later, earlier, match = pair
    for n in range(3):
        match_pair(
            company_id=company.pk,
            submission_id=later.pk,
            other_id=submission_with_file(company).pk,
            check_type=FraudMatch.CheckType.DUPLICATE,
            score=95.0 - n,
            similarity=1.0,
        )
    later.refresh_from_db()
    response = ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    # Resolved pairs go after the undecided ones, past the first page: its Undo with it.
    assert f'data-pair="{earlier.pk}"' in html and 'data-action="undo-resolution"' in html
    assert html.count('class="match pair-card') == 3 and "1 more pair not shown" in html


def matched_with(company, submission: Submission, count: int) -> list[Submission]:
    """`count` more submissions matched with `submission`, the strongest first."""
    others = [submission_with_file(company) for _ in range(count)]
    for n, other in enumerate(others):
        match_pair(
            company_id=company.pk,
            submission_id=submission.pk,
            other_id=other.pk,
            check_type=FraudMatch.CheckType.DUPLICATE,
            score=95.0 - n,
            similarity=1.0,
        )
    submission.refresh_from_db()
    return others


def false_positive_form(html: str, target: Submission, *, attribute: str) -> tuple[str, dict]:
    """The address (`action` or `hx-post`) and fields of a pair card's False positive form."""
    card = html.split(f'data-pair="{target.pk}"')[1].split("</details>")[0]
    form = card.split('<form method="post"')[1].split("</form>")[0]
    address = re.search(rf'{attribute}="([^"]+)"', form).group(1).replace("&amp;", "&")
    fields = dict(re.findall(r'name="(version|resolution)" value="([^"]*)"', form))
    fields["match"] = re.findall(r'name="match" value="([^"]+)"', form)
    return address, fields


def panel_container(page: str) -> dict[str, str]:
    """The attributes of the review page's #fraud-panel, the element htmx reloads."""
    tag = re.search(r'<div id="fraud-panel"[^>]*>', page).group(0)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def reload_url(container: dict[str, str], panel: str) -> str:
    """The address the container's reload asks for (a save's submission-changed, Retry)
    with `panel` swapped into it: its hx-get and, as htmx adds them, the values of the
    inputs its hx-include names (by id) that are not disabled."""
    url = container["hx-get"].replace("&amp;", "&")
    for selector in filter(None, container.get("hx-include", "").split(",")):
        found = re.search(rf'<input[^>]*id="{selector.strip().lstrip("#")}"[^>]*>', panel)
        if found and " disabled" not in found.group(0):
            name = re.search(r'name="([^"]+)"', found.group(0)).group(1)
            value = re.search(r'value="([^"]*)"', found.group(0)).group(1)
            url += f"{'&' if '?' in url else '?'}{name}={value}"
    return url


def test_a_resolve_from_the_panel_keeps_the_pairs_shown_on_htmx(ui, pair, company, monkeypatch):
    """A reviewer working past the first page ("Show more", ?pairs=) who resolves a pair
    gets the panel back with as many pairs as they had, not its first page."""
    from fraud import views

    monkeypatch.setattr(views, "PAIRS_SHOWN", 2)
    later, _, _ = pair
    others = matched_with(company, later, 6)
    html = ui.get(panel_url(later), {"pairs": "4"}, HTTP_HX_REQUEST="true").content.decode()
    address, fields = false_positive_form(html, others[3], attribute="hx-post")
    response = ui.post(address, fields, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and 'data-action="undo-resolution"' in html
    # The four undecided pairs it had, and the one just resolved (with its Undo).
    assert html.count('class="match pair-card') == 5 and "2 more pairs not shown" in html
    address, fields = false_positive_form(html, others[4], attribute="hx-post")
    assert "pairs=4" in address  # and the next decision keeps them too


def test_a_plain_resolve_leads_back_to_the_pairs_shown(ui, pair, company, monkeypatch):
    """Without JavaScript a resolve goes back to the submission page, whose link to the
    panel opened its first page again: the reviewer at pair 120 started over."""
    from fraud import views

    monkeypatch.setattr(views, "PAIRS_SHOWN", 2)
    later, _, _ = pair
    others = matched_with(company, later, 6)
    html = ui.get(panel_url(later), {"status": "review", "pairs": "4"}).content.decode()
    address, fields = false_positive_form(html, others[3], attribute="action")
    response = ui.post(address, fields)
    assert response.status_code == 303
    page = ui.get(response["Location"]).content.decode()
    link = f"{panel_url(later)}?pairs=4"
    assert f'href="{link}"' in page and reload_url(panel_container(page), page) == link
    html = ui.get(link).content.decode()
    assert html.count('class="match pair-card') == 5 and "2 more pairs not shown" in html


@pytest.mark.parametrize("asked", ["x", "0", "-3", "9" * 7])
def test_the_submission_page_leaves_out_a_pairs_count_the_panel_would_not_take(ui, pair, asked):
    later, _, _ = pair
    page = ui.get(reverse("review:detail", args=[later.pk]), {"pairs": asked}).content.decode()
    assert "pairs=" not in page
    assert f'hx-get="{panel_url(later)}"' in page


def test_the_panel_reloads_at_the_pairs_shown_after_show_more(ui, pair, company, monkeypatch):
    """With JavaScript, a save elsewhere on the page reloads the panel from its container:
    after "Show more" the reviewer got its first page back, and lost their place."""
    from fraud import views

    monkeypatch.setattr(views, "PAIRS_SHOWN", 2)
    later, _, _ = pair
    matched_with(company, later, 6)
    page = ui.get(reverse("review:detail", args=[later.pk]), {"fraud": "flagged"})
    container = panel_container(page.content.decode())
    first = ui.get(reload_url(container, page.content.decode()), HTTP_HX_REQUEST="true")
    assert "5 more pairs not shown" in first.content.decode()
    more = re.search(r'hx-get="([^"]+)"[^>]*>Show more', first.content.decode()).group(1)
    shown = ui.get(more.replace("&amp;", "&"), HTTP_HX_REQUEST="true").content.decode()
    assert shown.count('class="match pair-card') == 4

    reloaded = ui.get(reload_url(container, shown), HTTP_HX_REQUEST="true").content.decode()
    assert reloaded.count('class="match pair-card') == 4 and "3 more pairs not shown" in reloaded
    assert "fraud=flagged" in reload_url(container, shown)  # the queue's filters stay
    # Only the container's own reload takes the count: the panel's links and forms inside
    # it (Show more, the decisions) say their own, and would send it twice.
    assert "hx-include" in container.get("hx-disinherit", "").split()


def test_the_review_page_reloads_its_panel_at_the_pairs_it_was_opened_with(ui, pair, company):
    """A plain resolve returns to the page with ?pairs=: its panel loads at that count."""
    later, _, _ = pair
    page = ui.get(reverse("review:detail", args=[later.pk]), {"pairs": "120"}).content.decode()
    assert reload_url(panel_container(page), page) == f"{panel_url(later)}?pairs=120"
    page = ui.get(reverse("review:detail", args=[later.pk])).content.decode()
    assert reload_url(panel_container(page), page) == panel_url(later)


@pytest.mark.parametrize("asked", ["²", "1²", "٣"])
def test_a_pairs_count_in_other_digits_than_ascii_opens_the_first_page(ui, pair, asked):
    """A "²" is a digit to str.isdigit() but not to int(): an edited ?pairs= was a 500 on the
    submission's page and its panel. Anything but ASCII digits is the first page."""
    later, _, _ = pair
    page = ui.get(reverse("review:detail", args=[later.pk]), {"pairs": asked})
    assert page.status_code == 200
    assert reload_url(panel_container(page.content.decode()), page.content.decode()) == (
        panel_url(later)
    )
    for htmx in ({}, {"HTTP_HX_REQUEST": "true"}):
        panel = ui.get(panel_url(later), {"pairs": asked}, **htmx)
        assert panel.status_code == 200 and "pair-card" in panel.content.decode()


def test_a_pair_cards_undo_and_compare_are_not_inside_its_folding_summary(ui, pair):
    """Undo and Compare sat in the card's <summary>: controls inside another control
    (the summary folds the card), which a screen reader read as one, and which Space on
    them could fold the card instead. They follow the card, in sight while it is folded."""
    later, earlier, match = pair
    ui.post(
        resolve_url(later, match),
        {"version": later.version, "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    tree = Tree(ui.get(panel_url(later), HTTP_HX_REQUEST="true").content.decode())
    (card,) = [n for n in tree.all("details") if n.attrs.get("data-pair") == earlier.pk]
    assert "open" not in card.attrs  # resolved: folded
    (summary,) = [n for n in card.children if isinstance(n, Node) and n.tag == "summary"]
    assert [n.tag for n in summary.walk() if n.tag in ("a", "button", "input", "select")] == []
    (actions,) = [n for n in tree.root.walk() if n.attrs.get("data-pair-actions") == earlier.pk]
    assert not [n for n in card.walk() if n is actions]
    controls = {
        n.attrs.get("data-action") or n.text() for n in actions.walk() if n.tag in ("a", "button")
    }
    assert controls == {"undo-resolution", "Compare ↗"}
    (undo,) = [n for n in actions.walk() if n.tag == "button"]
    (form,) = [n for n in actions.walk() if n.tag == "form"]
    assert form.attrs["action"].startswith(reverse("fraud:undo", args=[later.pk]))
    assert undo.attrs.get("type") == "submit" and "form" not in undo.attrs


def test_a_password_protected_pdf_is_offered_by_no_page_image_it_cannot_draw(ui, company):
    """Its password was dropped when its job ended, so its pages cannot be drawn: the panel
    and the compare page linked each as an image (a broken one), as the desk once did."""
    from tests.jobs.fixtures_docs import invoice_pdf

    earlier = factories.SubmissionFactory(company=company, status=S.APPROVED)
    locked = stored_file(earlier, content=invoice_pdf(password="s3cret"))
    locked.password_protected = True
    locked.save(update_fields=["password_protected"])
    later = submission_with_file(company)
    match_pair(
        company_id=company.pk,
        submission_id=later.pk,
        other_id=earlier.pk,
        check_type=FraudMatch.CheckType.VISUAL,
        score=81.5,
        similarity=0.93,
    )
    panel = ui.get(panel_url(later), HTTP_HX_REQUEST="true").content.decode()
    compare = ui.get(reverse("fraud:compare", args=[later.pk, earlier.pk])).content.decode()
    for html in (panel, compare):
        for src in re.findall(r'<img src="([^"]+)"', html):
            answer = ui.get(src.replace("&amp;", "&"))
            assert answer.status_code == 200, (src, answer.status_code)
    assert reverse("review:file_page", args=[earlier.pk, 0, 0]) not in panel + compare


def _compare_side(html: str, submission: Submission) -> str:
    """The compare page's section of one side of the pair."""
    (side,) = re.findall(
        rf'<section class="card" data-compare-side="{submission.pk}">(.*?)</section>', html, re.S
    )
    return side


@pytest.mark.parametrize("original_kept", [True, False])
def test_compare_says_a_password_protected_pdfs_pages_are_not_kept_not_that_it_has_none(
    ui, company, original_kept
):
    """Compare said "No stored pages." of a password-protected PDF: it has pages, they
    cannot be drawn since its password was dropped with its job. It says so, as the desk's
    viewer does, and offers the original where its bytes are still stored."""
    from django.core.files.storage import default_storage

    from tests.jobs.fixtures_docs import invoice_pdf

    earlier = factories.SubmissionFactory(company=company, status=S.APPROVED)
    locked = stored_file(earlier, content=invoice_pdf(password="s3cret"))
    locked.password_protected = True
    locked.save(update_fields=["password_protected"])
    if not original_kept:
        default_storage.delete(locked.storage_key)
    later = submission_with_file(company)
    html = ui.get(reverse("fraud:compare", args=[later.pk, earlier.pk])).content.decode()
    side = _compare_side(html, earlier)
    assert "No stored pages." not in side
    assert "This PDF is password-protected; its pages are not kept." in side
    original = reverse("review:file", args=[earlier.pk, 0])
    assert (original in side) is original_kept
    assert ("Open original" in side) is original_kept
    desk = ui.get(reverse("review:detail", args=[earlier.pk])).content.decode()
    if original_kept:  # the desk's viewer says the same of it
        assert "This PDF is password-protected; its pages are not kept." in desk


@pytest.mark.parametrize("action", ["fraud:resolve_pair", "fraud:undo"])
@pytest.mark.parametrize("htmx", [{}, {"HTTP_HX_REQUEST": "true"}])
def test_a_match_id_postgres_cannot_hold_is_refused_not_a_500(ui, pair, action, htmx):
    """A posted match id with a NUL byte was looked up as it came (PostgreSQL refuses NUL
    in text): a 500 where any other unknown id is refused with the panel."""
    later, _, match = pair
    form = {"version": later.version, "match": ["x\x00", match.pk], "resolution": "false_positive"}
    answer = ui.post(reverse(action, args=[later.pk]), form, **htmx)
    assert answer.status_code < 500
    assert FraudMatch.objects.get(pk=match.pk).resolution is None
