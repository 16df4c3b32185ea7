"""Two reviewers of one company on one submission, a sign-in that lapses mid-typing, and
the development server (DEBUG) answering as production does: whoever loses is told, and
nothing typed is lost."""

import re
from typing import Any

import pytest

from steve.models import Membership
from submissions.models import Submission
from tests.e2e.test_review_browser import PASSWORD, open_page
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

    # As the banner says: a sign-in renews the CSRF token the open page was drawn with.
    sign_in_in_a_new_tab(context, live_server, team["alice"])
    field.press("Enter")
    expect(banner).to_contain_text("Try again")
    expect(field).to_have_value("60.00")
    field.press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(banner).to_be_hidden()
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 60.0
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
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    banner = page.locator("#request-error")
    for _ in range(2):  # the retry too: no token is handed over to act as bob
        field.press("Enter")
        expect(banner).to_contain_text("you are now signed in as bob")
        expect(banner).to_contain_text("reload the page")
        page.click("[data-request-error-close]")
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
