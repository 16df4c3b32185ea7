"""The fraud panel by pair: one card per matched submission, confirming with a reason,
undo within the window, and the side-by-side compare page."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fraud.models import FalsePositivePair, FraudMatch
from steve.models import Membership
from submissions.models import Submission, SubmissionStatus
from submissions.services import submission_claim
from tests import factories
from tests.submissions.test_review_support import page_told, submission_with_file

pytestmark = pytest.mark.django_db
S = SubmissionStatus


def check(submission: Submission, target: Submission | None, kind: str, score: float):
    return FraudMatch.objects.create(
        company=submission.company,
        submission=submission,
        target_submission=target,
        check_type=kind,
        score=score,
        similarity=0.9,
    )


@pytest.fixture
def flagged(company) -> dict:
    earlier = submission_with_file(
        company, status=S.APPROVED, extracted_data={"merchantName": "Kedai", "totalAmount": 9.5}
    )
    later = submission_with_file(company)
    visual = check(later, earlier, FraudMatch.CheckType.VISUAL, 84.0)
    data = check(later, earlier, FraudMatch.CheckType.DATA, 60.0)
    alone = check(later, None, FraudMatch.CheckType.TAMPERING, 40.0)
    Submission.objects.filter(pk=later.pk).update(fraud_status="flagged", fraud_score=84.0)
    later.refresh_from_db()
    return {"later": later, "earlier": earlier, "pair": [visual, data], "alone": alone}


def panel(ui, submission: Submission) -> str:
    url = reverse("fraud:panel", args=[submission.pk])
    return ui.get(url, HTTP_HX_REQUEST="true").content.decode()


def resolve(ui, submission: Submission, matches: list[FraudMatch], **data: str):
    post = {"version": submission.version, "match": [m.pk for m in matches], **data}
    return ui.post(
        reverse("fraud:resolve_pair", args=[submission.pk]), post, HTTP_HX_REQUEST="true"
    )


def undo(ui, submission: Submission, matches: list[FraudMatch]):
    post = {"version": submission.version, "match": [m.pk for m in matches]}
    return ui.post(reverse("fraud:undo", args=[submission.pk]), post, HTTP_HX_REQUEST="true")


def test_a_pairs_checks_are_one_card_with_a_row_each(ui, flagged):
    html = panel(ui, flagged["later"])
    assert html.count("data-pair=") == 2
    assert f'data-pair="{flagged["earlier"].pk}"' in html
    assert f'data-pair="{flagged["alone"].pk}"' in html
    for match in [*flagged["pair"], flagged["alone"]]:
        assert f'data-match="{match.pk}"' in html
    compare = reverse("fraud:compare", args=[flagged["later"].pk, flagged["earlier"].pk])
    assert f'href="{compare}" target="_blank"' in html
    assert "3 unresolved of 3 checks, 2 pairs" in html


def make_lead(user) -> None:
    """Confirming fraud is a lead's decision (steve.accounts)."""
    Membership.objects.filter(user=user).update(role=Membership.Role.LEAD)


def test_confirming_fraud_needs_a_reason(ui, reviewer, flagged):
    make_lead(reviewer)
    later = flagged["later"]
    response = resolve(ui, later, flagged["pair"], resolution="confirmed_fraud")
    assert response.status_code == 422 and b"Say why this is fraud" in response.content
    later.refresh_from_db()
    assert later.status == S.REVIEW
    assert not FraudMatch.objects.filter(resolution__isnull=False).exists()


def test_confirming_fraud_resolves_the_pair_together_with_the_reason(ui, reviewer, flagged):
    make_lead(reviewer)
    later = flagged["later"]
    reason = "Same receipt submitted twice."
    response = resolve(ui, later, flagged["pair"], resolution="confirmed_fraud", preset=reason)
    assert response.status_code == 200 and page_told(response) == "fraud-changed"
    for match in flagged["pair"]:
        match.refresh_from_db()
        assert match.resolution == "confirmed_fraud" and match.resolved_by_user == reviewer
    flagged["alone"].refresh_from_db()
    assert flagged["alone"].resolution is None
    later.refresh_from_db()
    assert later.status == S.REJECTED and later.reject_reason == reason
    events = later.events.filter(type="fraud_match_resolved")
    assert sorted(e.details["fraudMatchId"] for e in events) == sorted(
        m.pk for m in flagged["pair"]
    )
    assert {e.details["reason"] for e in events} == {reason}
    # A confirmation that rejected the submission has decided it: no undo is offered.
    assert 'data-action="undo-resolution"' not in panel(ui, later)


def test_false_positive_for_a_pair_can_be_undone_within_the_window(ui, reviewer, flagged):
    later = flagged["later"]
    resolve(ui, later, flagged["pair"], resolution="false_positive")
    later.refresh_from_db()
    # Resolving is working on it: the reviewer now holds the submission.
    assert later.claimed_by == reviewer and later.events.filter(type="claimed").count() == 1
    assert FalsePositivePair.objects.count() == 1
    assert 'data-action="undo-resolution"' in panel(ui, later)
    version = later.version

    response = undo(ui, later, flagged["pair"])
    assert response.status_code == 200
    later.refresh_from_db()
    assert later.version == version + 1 and later.fraud_status == "flagged"
    for match in flagged["pair"]:
        match.refresh_from_db()
        assert match.resolution is None and match.resolved_at is None
    assert not FalsePositivePair.objects.exists()
    event = later.events.get(type="fraud_resolution_undone")
    assert event.details["resolution"] == ["false_positive"]
    # Nothing left to undo.
    assert undo(ui, later, flagged["pair"]).status_code == 409


def test_undo_after_the_window_is_refused(ui, flagged):
    later = flagged["later"]
    resolve(ui, later, flagged["pair"], resolution="false_positive")
    FraudMatch.objects.filter(resolution__isnull=False).update(
        resolved_at=timezone.now() - timedelta(minutes=6)
    )
    later.refresh_from_db()
    assert 'data-action="undo-resolution"' not in panel(ui, later)
    response = undo(ui, later, flagged["pair"])
    assert response.status_code == 409 and b"last 5 minutes" in response.content
    assert FraudMatch.objects.filter(resolution="false_positive").count() == 2


def test_a_resolutions_time_and_its_undo_window_are_shown_as_utc_with_the_day(ui, flagged):
    # "reviewer0 09:40" under a resolution told neither the day nor the zone: one made
    # days ago read as this morning, and a reviewer east of UTC read it hours off.
    later = flagged["later"]
    resolve(ui, later, flagged["pair"], resolution="false_positive")
    match = FraudMatch.objects.get(pk=flagged["pair"][0].pk)
    later.refresh_from_db()
    html = panel(ui, later)
    assert f"<bdi>{match.resolved_by}</bdi> {match.resolved_at:%Y-%m-%d %H:%M} UTC</span>" in html
    until = match.resolved_at + timedelta(minutes=5)
    assert f"until {until:%H:%M} UTC</span>" in html
    assert f"you can undo until {until:%H:%M} UTC." in html


def test_another_reviewers_claim_refuses_a_resolution(ui, company, flagged):
    later = flagged["later"]
    submission_claim(submission_id=later.pk, user=factories.UserFactory(companies=[company]))
    later.refresh_from_db()
    response = resolve(ui, later, flagged["pair"], resolution="false_positive")
    assert response.status_code == 409 and b"is reviewing this submission" in response.content
    assert not FraudMatch.objects.filter(resolution__isnull=False).exists()


def test_compare_shows_both_sides_and_claims_nothing(ui, flagged):
    later, earlier = flagged["later"], flagged["earlier"]
    version = later.version
    response = ui.get(reverse("fraud:compare", args=[later.pk, earlier.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-compare-side="{later.pk}"' in html and f'data-compare-side="{earlier.pk}"' in html
    assert reverse("review:file", args=[earlier.pk, 0]) in html
    assert "Merchant name" in html and "Kedai" in html
    later.refresh_from_db()
    assert later.version == version and later.claimed_by is None
    assert not later.events.filter(type="claimed").exists()


def test_compare_is_scoped_to_the_reviewers_company(flagged):
    stranger = Client()
    stranger.force_login(factories.UserFactory(companies=[factories.CompanyFactory()]))
    url = reverse("fraud:compare", args=[flagged["later"].pk, flagged["earlier"].pk])
    assert stranger.get(url).status_code == 404


@pytest.mark.parametrize(
    ("resolution", "reason", "message"),
    [
        ("confirmed_fraud", "x" * 2001, "At most 2000 characters."),
        ("false_positive", "same shop \u202egnp.exe", "bidi formatting or invisible character"),
    ],
)
def test_a_reason_is_held_to_a_reject_reasons_limits(
    ui, reviewer, flagged, resolution, reason, message
):
    make_lead(reviewer)
    response = resolve(ui, flagged["later"], flagged["pair"], resolution=resolution, reason=reason)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert "pick a reason or write one" not in response.content.decode()
    assert not FraudMatch.objects.filter(resolution__isnull=False).exists()


def test_a_plain_form_resolution_returns_to_the_page_in_the_same_queue(ui, flagged):
    later = flagged["later"]
    query = "?fraud=flagged&sort=confidence"
    page = ui.get(reverse("fraud:panel", args=[later.pk]) + query).content.decode()
    resolve_url = reverse("fraud:resolve_pair", args=[later.pk])
    assert f'action="{resolve_url}?fraud=flagged&amp;sort=confidence"' in page

    post = {"version": later.version, "match": [m.pk for m in flagged["pair"]]}
    response = ui.post(resolve_url + query, {**post, "resolution": "false_positive"})
    assert response.status_code == 303
    assert response["Location"] == reverse("review:detail", args=[later.pk]) + query


def test_a_refused_confirmation_keeps_its_reason_in_its_pairs_form(ui, reviewer, flagged):
    make_lead(reviewer)
    later = flagged["later"]
    post = {
        "version": later.version + 4,  # stale: someone else changed the submission
        "match": [m.pk for m in flagged["pair"]],
        "resolution": "confirmed_fraud",
        "reason": "Same till roll, edited total.",
    }
    url = reverse("fraud:resolve_pair", args=[later.pk])
    htmx = ui.post(url, post, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 409
    assert 'value="Same till roll, edited total."' in htmx.content.decode()

    plain = ui.post(url + "?fraud=flagged", post)
    assert plain.status_code == 303
    assert plain["Location"] == reverse("fraud:panel", args=[later.pk]) + "?fraud=flagged"
    page = ui.get(plain["Location"]).content.decode()
    assert 'value="Same till roll, edited total."' in page
    assert "changed since you opened it" in page
    assert 'value="Same till roll' not in ui.get(plain["Location"]).content.decode()  # once
    assert not FraudMatch.objects.filter(resolution__isnull=False).exists()


PICKED = "Receipt belongs to someone else."


def picked_in(html: str, pair: str) -> str:
    """The reason the pair's confirm form has picked from the list ("" for none)."""
    select = re.search(rf'<select id="fraud-reason-{pair}".*?</select>', html, re.S)
    assert select, "no confirm form for the pair"
    chosen = re.findall(r'<option value="([^"]*)" selected>', select.group(0))
    return chosen[0] if chosen else ""


def test_a_refused_confirmation_keeps_the_reason_picked_from_the_list(ui, reviewer, flagged):
    """A reason picked from the list came back unpicked after a refused confirmation,
    though a written one was kept in its pair's form."""
    make_lead(reviewer)
    later, pair = flagged["later"], flagged["earlier"].pk
    post = {
        "version": later.version + 4,  # stale: someone else changed the submission
        "match": [m.pk for m in flagged["pair"]],
        "resolution": "confirmed_fraud",
        "preset": PICKED,
    }
    url = reverse("fraud:resolve_pair", args=[later.pk])
    htmx = ui.post(url, post, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 409 and picked_in(htmx.content.decode(), pair) == PICKED

    plain = ui.post(url, post)
    page = ui.get(plain["Location"]).content.decode()
    assert "changed since you opened it" in page and picked_in(page, pair) == PICKED
    assert picked_in(ui.get(plain["Location"]).content.decode(), pair) == ""  # once
    assert not FraudMatch.objects.filter(resolution__isnull=False).exists()


def test_a_reason_picked_for_a_pair_resolved_meanwhile_is_shown(ui, reviewer, company, flagged):
    make_lead(reviewer)
    later = flagged["later"]
    seen = later.version
    other_ui = Client()
    other_ui.force_login(factories.member(company))
    assert resolve(other_ui, later, flagged["pair"], resolution="false_positive").status_code == 200
    later.version = seen  # her page was drawn before
    answer = resolve(ui, later, flagged["pair"], resolution="confirmed_fraud", preset=PICKED)
    assert answer.status_code == 409
    assert re.search(
        rf'data-not-kept.*<span class="typed">{PICKED}</span>', answer.content.decode()
    )


def test_a_confirmation_refused_after_another_reviewer_resolved_the_pair_shows_its_reason(
    ui, reviewer, company, flagged
):
    make_lead(reviewer)
    later = flagged["later"]
    seen = later.version
    other = factories.member(company)
    other_ui = Client()
    other_ui.force_login(other)
    assert resolve(other_ui, later, flagged["pair"], resolution="false_positive").status_code == 200
    later.version = seen  # her page was drawn before
    reason = "Same till roll, edited total."
    answer = resolve(ui, later, flagged["pair"], resolution="confirmed_fraud", reason=reason)
    assert answer.status_code == 409
    html = answer.content.decode()
    # The pair has no confirm form any more: the reason is shown, not dropped.
    assert "data-not-kept" in html and reason in html
    resolved_card = html.split(f'data-pair="{flagged["earlier"].pk}"')[1]  # the last card
    assert 'name="reason"' not in resolved_card


def test_a_reviewer_cannot_undo_a_leads_confirmation(ui, reviewer, company, flagged):
    later = flagged["later"]
    version = later.workflow_version
    version.fraud_policy = {"reject_on_confirmed_fraud": False}  # it stays in review
    version.save(update_fields=["fraud_policy"])
    lead = factories.UserFactory(username="lead", companies=[company])
    Membership.objects.filter(user=lead).update(role=Membership.Role.LEAD)
    as_lead = Client()
    as_lead.force_login(lead)
    confirmed = resolve(
        as_lead, later, flagged["pair"], resolution="confirmed_fraud", preset="Same receipt."
    )
    assert confirmed.status_code == 200
    later.refresh_from_db()
    assert later.status == S.REVIEW

    refused = undo(ui, later, flagged["pair"])  # the reviewer: no confirm-fraud right

    assert refused.status_code == 403
    assert all(
        FraudMatch.objects.get(pk=m.pk).resolution == "confirmed_fraud" for m in flagged["pair"]
    )
    assert undo(as_lead, later, flagged["pair"]).status_code == 200  # the lead may


def test_resolving_a_match_that_no_longer_exists_says_so_and_shows_the_current_panel(ui, flagged):
    later, pair = flagged["later"], flagged["pair"]
    FraudMatch.objects.filter(pk=pair[0].pk).delete()  # gone with the other submission
    response = resolve(ui, later, pair, resolution="false_positive")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-code="FRAUD_MATCH_NOT_FOUND"' in html
    assert "This fraud match no longer exists" in html
    assert "data-fraud-panel" in html and f'value="{pair[1].pk}"' in html  # what is left
    assert not FraudMatch.objects.filter(pk=pair[1].pk, resolution__isnull=False).exists()


def test_a_refused_reason_too_long_to_come_back_whole_says_it_was_cut(ui, reviewer, flagged):
    """A fraud reason past what a refused post brings back (5,000 characters) came back
    cut without a word, to the panel's page (no JavaScript) as to the htmx panel: the
    reviewer shortened what they saw, its end gone unknown to them."""
    from submissions.services import REASON_MAX
    from submissions.views.common import TYPED_MAX

    make_lead(reviewer)
    later = flagged["later"]
    huge = "Same till roll, total edited in another font. " * 150  # 6,900 characters
    post = {
        "version": later.version,
        "match": [m.pk for m in flagged["pair"]],
        "resolution": "confirmed_fraud",
        "reason": huge,
    }
    note = (
        f"Your fraud reason was {len(huge):,} characters: only its first {TYPED_MAX:,} "
        f"came back below, and at most {REASON_MAX:,} can be saved."
    )
    url = reverse("fraud:resolve_pair", args=[later.pk])
    htmx = ui.post(url, post, HTTP_HX_REQUEST="true").content.decode()
    assert f'value="{huge[:TYPED_MAX]}"' in htmx
    assert note in htmx

    plain = ui.post(url, post)
    page = ui.get(plain["Location"]).content.decode()
    assert f'value="{huge[:TYPED_MAX]}"' in page
    assert note in page
    assert not FraudMatch.objects.filter(resolution__isnull=False).exists()
