"""What a decision in the fraud panel did is said in the page's live region (base.html's
messages, role=status): focus goes to the next pair or the decided pair's summary, and a
screen reader heard nothing of the result ("Marked false positive.")."""

import re

import pytest
from django.urls import reverse

from fraud.models import FraudMatch
from steve.models import Membership
from submissions.models import Submission, SubmissionStatus
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db
S = SubmissionStatus
# The panel's answer fills the live region out of band (htmx), leaving the region itself.
SAID = re.compile(r'<div hx-swap-oob="innerHTML:#messages"><p class="msg success">([^<]*)</p>')


@pytest.fixture
def flagged(company) -> dict:
    """A submission in review with two pairs to decide: an earlier twin (two checks) and a
    finding in the document alone."""
    earlier = submission_with_file(company, status=S.APPROVED)
    later = submission_with_file(company)

    def check(target: Submission | None, kind: str) -> FraudMatch:
        return FraudMatch.objects.create(
            company=company,
            submission=later,
            target_submission=target,
            check_type=kind,
            score=80.0,
            similarity=0.9,
        )

    pair = [check(earlier, FraudMatch.CheckType.VISUAL), check(earlier, FraudMatch.CheckType.DATA)]
    alone = check(None, FraudMatch.CheckType.TAMPERING)
    Submission.objects.filter(pk=later.pk).update(fraud_status="flagged", fraud_score=80.0)
    return {"later": later, "pair": pair, "alone": [alone]}


def post(ui, name: str, submission: Submission, matches: list[FraudMatch], **data: str):
    submission.refresh_from_db()
    body = {"version": submission.version, "match": [m.pk for m in matches], **data}
    return ui.post(reverse(name, args=[submission.pk]), body, HTTP_HX_REQUEST="true")


def said(response) -> list[str]:
    return SAID.findall(response.content.decode())


def test_each_decision_in_the_panel_says_what_it_did_and_what_is_left(ui, flagged):
    later = flagged["later"]
    first = post(ui, "fraud:resolve_pair", later, flagged["pair"], resolution="false_positive")
    assert first.status_code == 200
    assert said(first) == ["Marked false positive. 1 pair left to decide."]
    last = post(ui, "fraud:resolve_pair", later, flagged["alone"], resolution="false_positive")
    assert said(last) == ["Marked false positive. No pairs left to decide."]
    undone = post(ui, "fraud:undo", later, flagged["alone"])
    assert said(undone) == ["Resolution undone. 1 pair left to decide."]


def test_a_confirmation_that_rejects_says_the_submission_is_rejected(ui, reviewer, flagged):
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)
    response = post(
        ui,
        "fraud:resolve_pair",
        flagged["later"],
        flagged["pair"],
        resolution="confirmed_fraud",
        reason="Same receipt twice.",
    )
    assert said(response) == ["Confirmed fraud. The submission is rejected."]


def test_one_match_resolved_on_its_own_is_said_too(ui, flagged):
    later = flagged["later"]
    match = flagged["alone"][0]
    response = ui.post(
        reverse("fraud:resolve", args=[later.pk, match.pk]),
        {"version": later.version, "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    assert said(response) == ["Marked false positive. 1 pair left to decide."]


def test_a_refusal_or_a_plain_refresh_of_the_panel_says_nothing_in_the_live_region(ui, flagged):
    later = flagged["later"]
    post(ui, "fraud:resolve_pair", later, flagged["alone"], resolution="false_positive")
    refused = post(ui, "fraud:resolve_pair", later, flagged["alone"], resolution="false_positive")
    assert refused.status_code == 409
    assert "hx-swap-oob" not in refused.content.decode()  # the refusal is the panel's alert
    refreshed = ui.get(reverse("fraud:panel", args=[later.pk]), HTTP_HX_REQUEST="true")
    assert "hx-swap-oob" not in refreshed.content.decode()


def test_the_live_region_is_on_the_page_before_anything_is_said_in_it(ui, flagged):
    # A region added with its text is often not read; one already there is.
    page = ui.get(reverse("review:detail", args=[flagged["later"].pk])).content.decode()
    assert '<div class="messages" id="messages" role="status"></div>' in page


def test_without_script_the_page_it_returns_to_says_the_same(ui, flagged):
    later = flagged["later"]
    body = {"version": later.version, "match": [m.pk for m in flagged["pair"]]}
    url = reverse("fraud:resolve_pair", args=[later.pk])
    page = ui.post(url, {**body, "resolution": "false_positive"}, follow=True)
    assert "Marked false positive. 1 pair left to decide." in page.content.decode()
