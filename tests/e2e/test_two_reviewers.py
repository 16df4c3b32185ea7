"""Two reviewers of one company on one submission, a sign-in that lapses mid-typing, and
the development server (DEBUG) answering as production does: whoever loses is told, and
nothing typed is lost."""

import re
from typing import Any

import pytest

from fraud.models import FraudMatch
from steve.models import Membership
from submissions.models import Submission, SubmissionStatus
from submissions.services import submission_claim
from tests.e2e.test_review_browser import PASSWORD, open_page, seed_queue, unresolved_pair_ready
from tests.e2e.test_review_desk import fraud_panel_loaded, low_total

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_on_the_dev_server_a_refused_save_keeps_the_page_and_what_was_typed(
    chromium, live_server, team, settings
):
    settings.DEBUG = True  # ./scripts/dev
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    field = page.locator("#field-totalAmount")
    field.fill("60.00")

    # A 400 (an incomplete form) is swapped in as production swaps it: the refusal, in place.
    page.evaluate("document.querySelector('tr[data-field=totalAmount] [name=version]').remove()")
    field.press("Enter")
    expect(page.locator("[data-refusal]")).to_contain_text("The form was incomplete")
    expect(field).to_have_value("60.00")

    # A 403 (her role was lowered meanwhile) is a banner; the page and the text stay.
    Membership.objects.filter(user=team["alice"]).update(role=Membership.Role.VIEWER)
    field.press("Enter")
    expect(page.locator("#request-error")).to_contain_text("(403)")
    expect(field).to_have_value("60.00")
    expect(page.locator("#side")).to_be_visible()
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 54.2
    context.close()


def test_a_403_because_the_role_was_lowered_gives_that_reason_not_the_sign_in(
    chromium, live_server, team
):
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    Membership.objects.filter(user=team["alice"]).update(role=Membership.Role.VIEWER)
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Enter")
    banner = page.locator("#request-error")
    expect(banner).to_contain_text("Not allowed (403): Your role in Kedai Group does not allow")
    expect(banner).not_to_contain_text("sign-in")
    expect(field).to_have_value("60.00")
    context.close()


def sign_in_in_a_new_tab(context: Any, live_server: Any, user: Any) -> None:
    tab = context.new_page()
    tab.goto(f"{live_server.url}/accounts/login/")
    tab.fill("#id_username", user.username)
    tab.fill("#id_password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url(re.compile(r"/review/$"))
    tab.close()


def test_after_signing_in_again_in_another_tab_the_kept_correction_saves(
    chromium, live_server, team
):
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    context.clear_cookies(name="sessionid")  # her sign-in lapsed while she typed
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Enter")
    banner = page.locator("#request-error")
    expect(banner).to_contain_text("Sign in again in a new tab, then retry")

    # As the banner says: a sign-in renews the CSRF token the open page was drawn with;
    # the page takes the new one from the refusal and sends the save again, once.
    sign_in_in_a_new_tab(context, live_server, team["alice"])
    field.press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(banner).to_be_hidden()
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 60.0
    context.close()


def posts_to(page: Any, action: str) -> list[str]:
    """The URLs of the page's POSTs to a desk action (…/correct, …/fraud/resolve), as sent."""
    sent: list[str] = []
    pattern = re.compile(rf"/{action}(\?|$)")
    page.on(
        "request",
        lambda r: sent.append(r.url) if r.method == "POST" and pattern.search(r.url) else None,
    )
    return sent


def signed_in_again(context: Any, live_server: Any, user: Any) -> None:
    """The sign-in lapsed and the reviewer signed in again in another tab: the open page's
    CSRF token is now out of date."""
    context.clear_cookies(name="sessionid")
    sign_in_in_a_new_tab(context, live_server, user)


def test_one_press_of_save_after_signing_in_again_saves_what_was_typed(chromium, live_server, team):
    submission = low_total(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    sent = posts_to(page, "correct")
    signed_in_again(context, live_server, team["alice"])
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    page.locator("tr[data-field=totalAmount] button[type=submit]").click()  # once

    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(page.locator("li[data-event=field_corrected]")).to_contain_text("60")
    expect(field).to_have_value("60.00")
    expect(page.locator("tr.unsaved")).to_have_count(0)
    expect(page.locator("#request-error")).to_be_hidden()
    assert len(sent) == 2  # refused for the old token, then sent again with the new one
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 60.0
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_every_desk_action_goes_through_on_the_first_press_after_signing_in_again(
    chromium, live_server, team
):
    subs = seed_queue(team["company"])
    flagged, clean = subs["flagged"], subs["clean"]
    submission_claim(submission_id=flagged.pk, user=team["bob"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    unresolved_pair_ready(page)
    banner = page.locator("#request-error")

    # Take over bob's claim.
    signed_in_again(context, live_server, team["alice"])
    page.click("[data-action=take-over]")
    expect(page.locator(".claim")).to_contain_text("You are reviewing this")
    expect(banner).to_be_hidden()

    # Resolve the fraud pair.
    signed_in_again(context, live_server, team["alice"])
    page.click("[data-resolve=false_positive]")
    expect(page.locator(".pair-card.unresolved")).to_have_count(0)
    expect(banner).to_be_hidden()

    # Approve (a boosted form: the whole page goes on to the next submission).
    signed_in_again(context, live_server, team["alice"])
    page.keyboard.press("a")
    page.wait_for_url(lambda url: flagged.pk not in url)
    expect(banner).to_be_hidden()

    # Start a review, then reject with a reason.
    page.goto(f"{live_server.url}/review/{clean.pk}/")
    fraud_panel_loaded(page)
    signed_in_again(context, live_server, team["alice"])
    page.keyboard.press("s")
    expect(page.locator(".claim")).to_contain_text("You are reviewing this")
    signed_in_again(context, live_server, team["alice"])
    page.locator("#reject-preset").select_option(index=1)
    page.click("[data-action=reject]")
    page.wait_for_url(lambda url: clean.pk not in url)
    expect(banner).to_be_hidden()

    done = Submission.objects.get(pk=flagged.pk)
    assert done.status == SubmissionStatus.APPROVED
    assert [e.actor_label for e in done.events.filter(type="approved")] == ["alice"]
    assert done.events.filter(type="claim_taken_over").count() == 1
    assert not FraudMatch.objects.filter(submission=flagged, resolution__isnull=True).exists()
    rejected = Submission.objects.get(pk=clean.pk)
    assert rejected.status == SubmissionStatus.REJECTED
    assert [e.actor_label for e in rejected.events.filter(type="claimed")] == ["alice"]
    context.close()


def test_a_save_refused_again_after_its_retry_is_not_sent_a_third_time(chromium, live_server, team):
    """The retry is sent once: a token that keeps being refused shows the banner and keeps
    the typed value, never a loop of requests."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    sent = posts_to(page, "correct")
    page.route(
        re.compile(r"/correct(\?|$)"),
        lambda route: route.fulfill(status=403, body="refused", headers={"X-CSRF-Token": "t" * 64}),
    )
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Enter")
    expect(page.locator("#request-error")).to_contain_text("Try again")
    page.wait_for_timeout(500)  # time for any further retry to go out
    assert len(sent) == 2
    expect(field).to_have_value("60.00")
    expect(page.locator("tr[data-field=totalAmount]")).to_have_class(re.compile(r"\bunsaved\b"))
    context.close()


def test_a_retry_after_someone_else_signed_in_in_another_tab_is_refused(
    chromium, live_server, team
):
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    context.clear_cookies(name="sessionid")
    sign_in_in_a_new_tab(context, live_server, team["bob"])
    sent = posts_to(page, "correct")
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    banner = page.locator("#request-error")
    for presses in (1, 2):  # the retry too: no token is handed over to act as bob
        field.press("Enter")
        expect(banner).to_contain_text("you are now signed in as bob")
        expect(banner).to_contain_text("reload the page")
        page.click("[data-request-error-close]")
        page.wait_for_timeout(300)
        assert len(sent) == presses  # nothing is sent again on its own
    expect(field).to_have_value("60.00")
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 54.2
    assert not submission.events.filter(type="field_corrected").exists()
    context.close()


def two_on_one(chromium, live_server, team) -> tuple[Submission, Any, Any, Any, Any]:
    """alice and bob, each in a browser of their own, on one submission's page."""
    submission = low_total(team["company"])
    first, alice, _ = open_page(chromium, live_server, team["alice"])
    second, bob, _ = open_page(chromium, live_server, team["bob"])
    for page in (alice, bob):
        page.goto(f"{live_server.url}/review/{submission.pk}/")
        fraud_panel_loaded(page)
    return submission, first, alice, second, bob


def test_a_correction_saved_after_another_reviewer_approved_is_shown_not_dropped(
    chromium, live_server, team
):
    submission, first, alice, second, bob = two_on_one(chromium, live_server, team)
    bob.locator("#field-totalAmount").fill("77.00")
    bob.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    alice.keyboard.press("a")
    alice.wait_for_url(re.compile(r"/review/$"))

    bob.locator("#field-totalAmount").press("Enter")
    expect(bob.locator("[data-refusal]")).to_contain_text("changed since you opened it")
    expect(bob.locator("[data-status]")).to_have_attribute("data-status", "approved")
    # Its fields are gone from the page; what bob typed stays in sight.
    banner = bob.locator("#request-error")
    expect(banner).to_contain_text("Total amount: \u201c77.00\u201d")
    expect(banner).to_contain_text("Merchant name: \u201cTesco Extra Cambridge\u201d")
    bob.wait_for_timeout(500)  # the fraud panel's refresh succeeds meanwhile
    expect(banner).to_be_visible()
    done = Submission.objects.get(pk=submission.pk)
    assert done.extracted_data["totalAmount"] == 54.2
    assert [e.type for e in done.events.all()].count("approved") == 1
    first.close()
    second.close()


def test_a_refused_approve_keeps_the_unsaved_correction_and_comment(chromium, live_server, team):
    submission, first, alice, second, bob = two_on_one(chromium, live_server, team)
    alice.keyboard.press("s")
    expect(alice.locator(".claim")).to_contain_text("You are reviewing this")

    bob.locator("#field-totalAmount").fill("77.00")
    bob.locator("#comment-text").fill("The till roll is torn.")
    bob.locator("#comment-text").press("Escape")
    bob.keyboard.press("a")
    bob.click("[data-unsaved=approve]")  # approve without them: refused, alice holds it
    expect(bob.locator("[data-refusal]")).to_be_visible()
    expect(bob.locator(".claim")).to_contain_text("Claimed by alice")
    # The refused decision brought the whole page back; what bob typed is still in it.
    expect(bob.locator("#field-totalAmount")).to_have_value("77.00")
    expect(bob.locator("tr[data-field=totalAmount]")).to_have_class(re.compile(r"\bunsaved\b"))
    expect(bob.locator("#comment-text")).to_have_value("The till roll is torn.")
    assert Submission.objects.get(pk=submission.pk).status == "review"
    first.close()
    second.close()


def test_an_unsaved_value_kept_over_a_comment_does_not_overwrite_anothers_save_unseen(
    chromium, live_server, team
):
    """alice typed a total and sent a comment before saving it; the comment brought the
    column back drawn after bob's save of that total, and her kept value went into a form
    carrying the new version: Enter overwrote bob's 60.00 (saved, then released) with no
    refusal, while the field had only ever shown her her own value. A kept value keeps the version it was typed on."""
    submission, first, alice, second, bob = two_on_one(chromium, live_server, team)
    alice.locator("#field-totalAmount").fill("54.99")
    bob.locator("#field-totalAmount").fill("60.00")
    bob.locator("#field-totalAmount").press("Enter")
    expect(bob.locator(".claim")).to_contain_text("You are reviewing this")
    bob.locator(".claim button", has_text="Release").click()  # his save claimed it
    expect(bob.locator(".claim")).to_contain_text("Nobody is reviewing this yet")

    alice.locator("#comment-text").fill("Total looks off: checking the tax line")
    alice.locator("[data-action=comment]").click()
    expect(alice.locator("#side")).to_contain_text("Total looks off: checking the tax line")
    expect(alice.locator("#field-totalAmount")).to_have_value("54.99")
    alice.locator("#field-totalAmount").press("Enter")

    refusal = alice.locator("[data-refusal]")
    expect(refusal).to_contain_text("Total amount changed since you opened it (bob corrected it)")
    expect(alice.locator("#field-totalAmount")).to_have_value("54.99")  # nothing typed is lost
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 60.0
    # Told, she may still mean hers: the next Enter saves it.
    alice.locator("#field-totalAmount").press("Enter")
    expect(alice.locator("[data-refusal]")).to_have_count(0)
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 54.99
    first.close()
    second.close()
