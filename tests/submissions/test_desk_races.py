"""Two reviewers and an integrator on one submission at once: whoever acts on a page drawn
before someone else decided or changed the submission is told what became of it and who
did it, not only that it changed."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from fraud.services import fraud_matches_resolve
from submissions.models import SubmissionStatus
from submissions.services import (
    Actor,
    SubmissionActionError,
    submission_approve,
    submission_cancel,
    submission_claim,
    submission_correct_field,
    submission_reject,
    submission_release_claim,
)
from tests import factories
from tests.submissions.test_review_support import flagged_pairs, submission_with_file
from tests.submissions.test_review_views import action_url, refused_page, start_review, titled

pytestmark = pytest.mark.django_db
S = SubmissionStatus


@pytest.fixture
def waiting(company):
    return submission_with_file(company)


@pytest.fixture
def bob(company):
    return factories.UserFactory(username="bob", companies=[company])


def test_start_review_after_another_reviewer_approved_says_who_approved_it(ui, bob, waiting):
    submission_approve(submission_id=waiting.pk, actor=Actor.for_user(bob))
    events = waiting.events.count()

    response = start_review(ui, waiting)

    # It was answered 200 with the approved page and not a word: the key press did
    # nothing the reviewer could see, and the page changed under them.
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-code="SUBMISSION_CHANGED"' in html
    assert "bob approved it at " in html and " UTC" in html
    assert 'data-status="approved"' in html
    waiting.refresh_from_db()
    assert waiting.claimed_by is None and waiting.events.count() == events


def test_a_stale_decision_names_the_other_reviewers_decision(ui, bob, waiting):
    opened = waiting.version
    submission_reject(
        submission_id=waiting.pk, actor=Actor.for_user(bob), reason="Duplicate receipt."
    )

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    html = refused_page(response)
    assert "The submission changed since you opened it: bob rejected it at " in html
    waiting.refresh_from_db()
    assert waiting.status == S.REJECTED
    assert waiting.events.filter(type="approved").count() == 0


def test_a_correction_typed_while_the_integrator_cancelled_names_the_cancel(ui, waiting):
    opened = waiting.version
    key = factories.api_key(waiting.company, name="shop-sync").api_key
    submission_cancel(
        submission_id=waiting.pk, actor=Actor.for_api_key(key), reason="Customer withdrew."
    )

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "merchantName", "value": "Kedai Maju"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "API key shop-sync cancelled it at " in html
    waiting.refresh_from_db()
    assert waiting.status == S.CANCELLED
    assert waiting.extracted_data.get("merchantName") != "Kedai Maju"


# "05:44 UTC": when a change since the page was drawn was made (today, in UTC).
AT = r"at \d\d:\d\d UTC"


def test_a_claim_since_the_page_was_drawn_is_named_with_who_took_it(ui, bob, waiting):
    opened = waiting.version
    other = Client()
    other.force_login(bob)
    assert start_review(other, waiting).status_code == 200

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    said = f"The submission changed since you opened it: bob started reviewing it {AT}; "
    assert re.search(said + "review its new state.", refused_page(response))


@pytest.fixture
def demo(company):
    return factories.UserFactory(username="demo", companies=[company])


def correct(submission, user, field: str, value: str) -> None:
    submission_correct_field(
        submission_id=submission.pk,
        field_name=field,
        raw_value=value,
        actor=Actor.for_user(user),
    )


def test_an_approval_from_a_page_drawn_before_a_correction_names_the_correction(ui, demo, waiting):
    """It said only "The submission changed since you opened it": the reviewer could not
    tell a typo fixed from the total changed without reading the page again."""
    titled(waiting, "merchantName", "Shop")
    submission_claim(submission_id=waiting.pk, user=demo)
    waiting.refresh_from_db()
    opened = waiting.version
    correct(waiting, demo, "merchantName", "Kedai Baru")

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    html = refused_page(response)
    said = f"The submission changed since you opened it: demo corrected Shop {AT}; "
    assert re.search(said + "review its new state.", html)
    waiting.refresh_from_db()
    assert waiting.status == S.REVIEW and not waiting.events.filter(type="approved").exists()


def test_many_changes_since_the_page_name_the_latest_two_and_count_the_rest(ui, demo, waiting):
    opened = waiting.version
    # demo's first save claims it too: that save is one change, three saves three.
    for field, value in (("merchantName", "Kedai"), ("totalAmount", "13"), ("currency", "SGD")):
        correct(waiting, demo, field, value)

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    said = (
        f"The submission changed since you opened it: demo corrected Currency {AT}, "
        f"demo corrected Total amount {AT} and 1 more; review its new state."
    )
    assert re.search(said, refused_page(response))


def test_changes_whose_events_do_not_say_their_version_keep_the_plain_refusal(ui, demo, waiting):
    """Events recorded before they kept the version they produced cannot say whether they
    came after the page: the refusal names none of them rather than guess."""
    opened = waiting.version
    correct(waiting, demo, "merchantName", "Kedai Baru")
    waiting.events.update(version=None)

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    assert "The submission changed since you opened it; review its new state." in (
        refused_page(response)
    )


def test_a_correction_after_another_reviewer_started_review_says_who_holds_it(ui, bob, waiting):
    opened = waiting.version
    submission_claim(submission_id=waiting.pk, user=bob)

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "merchantName", "value": "Kedai Maju"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 409
    assert "The submission changed since you opened it: bob started reviewing it" in (
        response.content.decode()
    )
    waiting.refresh_from_db()
    assert waiting.extracted_data.get("merchantName") != "Kedai Maju"


def test_a_correction_refused_for_anothers_saved_correction_names_that_correction(ui, bob, waiting):
    """bob's Save of Shop also claimed the submission: a Save of another field from a page
    drawn before it said only "bob started reviewing it", hiding that bob had changed
    Shop, which the refused reviewer's correction may depend on."""
    titled(waiting, "merchantName", "Shop")
    opened = waiting.version
    correct(waiting, bob, "merchantName", "Kedai Baru")

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "totalAmount", "value": "13"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 409
    html = response.content.decode()
    said = (
        f"The submission changed since you opened it: bob corrected Shop {AT}; "
        "review its new state before acting, or take it over."
    )
    assert re.search(said, html), html
    assert "started reviewing" not in html
    waiting.refresh_from_db()
    assert waiting.extracted_data.get("totalAmount") != 13


# --- The reviewer's own changes, and one action as one change ---------------------------


def test_a_first_correction_reads_as_one_change_not_a_claim_and_a_correction(ui, demo, waiting):
    """A first save also claims the submission: the refusal said "demo corrected Shop at
    05:44 UTC and demo started reviewing it at 05:44 UTC", two changes for one Save."""
    titled(waiting, "merchantName", "Shop")
    opened = waiting.version
    correct(waiting, demo, "merchantName", "Kedai Baru")

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    said = f"The submission changed since you opened it: demo corrected Shop {AT}; "
    assert re.search(said + "review its new state.", refused_page(response))


def test_a_first_fraud_resolution_reads_as_one_change_not_a_claim_and_a_resolution(ui, company):
    waiting, [pair] = flagged_pairs(company)
    bob = factories.UserFactory(username="bob", companies=[company])
    opened = waiting.version
    fraud_matches_resolve(
        submission_id=waiting.pk,
        match_ids=[m.pk for m in pair],
        resolution="false_positive",
        actor=Actor.for_user(bob),
        user=bob,
    )
    submission_release_claim(submission_id=waiting.pk, user=bob)

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    said = (
        f"The submission changed since you opened it: bob released the claim {AT} and "
        f"bob resolved 2 fraud matches {AT}; review its new state."
    )
    assert re.search(said, refused_page(response))


def test_an_approval_after_the_reviewers_own_correction_in_another_tab_says_you(
    ui, reviewer, waiting
):
    """It named the reviewer by their username, as if someone else had corrected it."""
    titled(waiting, "merchantName", "Shop")
    opened = waiting.version
    correct(waiting, reviewer, "merchantName", "Kedai Baru")  # in another tab

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    said = (
        "The submission changed since you opened it: you corrected Shop in another tab or "
        f"window {AT}; review its new state."
    )
    html = refused_page(response)
    assert re.search(said, html)
    assert reviewer.username not in html.split("data-refusal", 1)[1].split("</p>", 1)[0]


def test_a_correction_after_the_reviewers_own_save_and_release_elsewhere_says_you(
    ui, reviewer, waiting
):
    """The htmx Save: the reviewer's own changes in another tab are theirs, one Save one
    change, and another reviewer's in the same list keeps their name."""
    titled(waiting, "merchantName", "Shop")
    opened = waiting.version
    correct(waiting, reviewer, "merchantName", "Kedai Baru")  # claims it, in another tab
    submission_release_claim(submission_id=waiting.pk, user=reviewer)

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "totalAmount", "value": "13.00"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 409
    said = (
        "The submission changed since you opened it: you released the claim in another tab "
        f"or window {AT} and you corrected Shop {AT}; review its new state."
    )
    assert re.search(said, response.content.decode())
    waiting.refresh_from_db()
    assert waiting.extracted_data.get("totalAmount") != 13.0


def test_a_plain_posted_correction_after_the_reviewers_own_release_says_you(ui, reviewer, waiting):
    opened = waiting.version
    submission_claim(submission_id=waiting.pk, user=reviewer)  # Start review, then
    submission_release_claim(submission_id=waiting.pk, user=reviewer)  # Release, elsewhere

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "totalAmount", "value": "13.00"},
        follow=True,
    )

    said = (
        "The submission changed since you opened it: you released the claim in another tab "
        f"or window {AT} and you started reviewing it {AT}; review its new state."
    )
    assert re.search(said, refused_page(response))


def test_a_correction_after_the_reviewers_own_rejection_in_another_tab_says_you(
    ui, reviewer, waiting
):
    opened = waiting.version
    submission_reject(
        submission_id=waiting.pk, actor=Actor.for_user(reviewer), reason="Duplicate receipt."
    )

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "merchantName", "value": "Kedai Maju"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 409
    said = (
        "The submission changed since you opened it: you rejected it in another tab or window at "
    )
    assert said in response.content.decode()


def test_start_review_after_the_reviewers_own_approval_in_another_tab_says_you(
    ui, reviewer, waiting
):
    submission_approve(submission_id=waiting.pk, actor=Actor.for_user(reviewer))

    response = start_review(ui, waiting)

    assert response.status_code == 409
    assert "you approved it in another tab or window at " in response.content.decode()


def test_the_api_keeps_naming_its_own_key(company, waiting):
    """ "You … in another tab" is the desk's: an integrator's stale request names the key."""
    key = factories.api_key(company, name="shop-sync").api_key
    opened = waiting.version
    submission_correct_field(
        submission_id=waiting.pk,
        field_name="merchantName",
        raw_value="Kedai",
        actor=Actor.for_api_key(key),
    )

    with pytest.raises(SubmissionActionError) as refused:
        submission_approve(
            submission_id=waiting.pk, actor=Actor.for_api_key(key), expected_version=opened
        )

    assert "API key shop-sync corrected Merchant name at " in refused.value.message


# --- A comment from a page drawn before someone else's change ----------------------------


def comment_form(page: str) -> dict[str, str]:
    """What the page's comment form sends besides its text: its token and the version the
    page was drawn at."""
    form = re.search(r'<form[^>]*class="comment-form".*?</form>', page, re.S).group()
    return dict(re.findall(r'name="(form_token|version)" value="([^"]*)"', form))


def test_a_comment_saved_from_a_stale_page_says_what_changed_since_it(ui, bob, waiting):
    """A comment never conflicts, so it is saved; but its answer redrew the column with bob
    now holding the claim, the Start review button gone, and not a word why."""
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    sent = {**comment_form(page), "text": "Called the shop."}
    assert sent["version"] == str(waiting.version)
    submission_claim(submission_id=waiting.pk, user=bob)

    response = ui.post(action_url("comment", waiting), sent, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    html = response.content.decode()
    assert waiting.events.filter(type="comment").get().details == {"text": "Called the shop."}
    notice = re.search(r"<p [^>]*data-changed-since[^>]*>(.*?)</p>", html).group(1)
    said = f"Your comment was saved. The submission changed since you opened it: bob started reviewing it {AT}; review its new state."
    assert re.fullmatch(said, notice), notice
    assert 'data-claim="other"' in html and "data-refusal" not in html


def test_a_comment_from_a_page_drawn_before_a_release_says_it_was_released(ui, bob, waiting):
    submission_claim(submission_id=waiting.pk, user=bob)
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    submission_release_claim(submission_id=waiting.pk, user=bob)

    sent = {**comment_form(page), "text": "Called the shop."}
    response = ui.post(action_url("comment", waiting), sent, HTTP_HX_REQUEST="true")

    assert re.search(f"bob released the claim {AT}", response.content.decode())
    assert 'data-claim="free"' in response.content.decode()


def test_a_comment_from_a_current_page_says_nothing_changed(ui, waiting):
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    sent = {**comment_form(page), "text": "Called the shop."}
    response = ui.post(action_url("comment", waiting), sent, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "data-changed-since" not in response.content.decode()
    # A second comment from the same page: a comment changes no version, the page is current.
    again = ui.post(action_url("comment", waiting), {**sent, "text": "And the bank."})
    assert "data-changed-since" not in ui.get(again["Location"]).content.decode()


def test_a_plain_form_comment_from_a_stale_page_says_what_changed_on_the_page(ui, bob, waiting):
    page = ui.get(reverse("review:detail", args=[waiting.pk])).content.decode()
    submission_claim(submission_id=waiting.pk, user=bob)

    sent = {**comment_form(page), "text": "Called the shop."}
    response = ui.post(action_url("comment", waiting), sent, follow=True)

    html = response.content.decode()
    assert response.redirect_chain[0][1] == 303
    assert re.search(
        f"The submission changed since you opened it: bob started reviewing it {AT}", html
    )
    assert waiting.events.filter(type="comment").count() == 1
