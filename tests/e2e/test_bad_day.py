"""A reviewer's bad day in Chromium: Back after approving while the server is gone or the
sign-in has ended, and the page never shows one submission under another's address."""

import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session

from submissions.models import Submission, SubmissionStatus
from tests.e2e.test_review_browser import PASSWORD, open_page
from tests.e2e.test_review_desk import fraud_panel_loaded, low_total

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
S = SubmissionStatus


def approved_then_on_the_next(chromium: Any, live_server: Any, team: dict[str, Any]) -> tuple:
    """alice approves one of two waiting receipts and is taken on to the other."""
    first, second = low_total(team["company"]), low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{first.pk}/")
    fraud_panel_loaded(page)
    page.keyboard.press("a")
    page.wait_for_url(re.compile(rf"/review/{second.pk}/$"))
    fraud_panel_loaded(page)
    return context, page, first, second


def approvals(submission: Submission) -> int:
    return [e.type for e in submission.events.all()].count("approved")


def test_back_after_approving_with_the_server_gone_never_shows_the_next_under_its_address(
    chromium, live_server, team
):
    """Back restores a boosted page from the server; with no answer htmx left the next
    submission's page, its Approve live, under the approved one's address, and said
    nothing. The page loads as a page: the browser says the server cannot be reached at
    that address; once it is back a reload shows the approved submission, and Forward
    the next one, with nothing sent twice."""
    context, page, first, second = approved_then_on_the_next(chromium, live_server, team)
    page.route(re.compile(r"/review/"), lambda route: route.abort())
    page.go_back()
    page.wait_for_timeout(1000)
    expect(page.locator(f"#decision-title:text-is('{second.pk}')")).to_have_count(0)
    expect(page.locator("[data-action=approve]")).to_have_count(0)

    page.unroute(re.compile(r"/review/"))
    page.reload()
    assert page.url.endswith(f"/review/{first.pk}/")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", S.APPROVED)
    expect(page.locator("[data-action=approve]")).to_have_count(0)

    page.go_forward()  # and on to the next again, with nothing sent twice
    page.wait_for_url(re.compile(rf"/review/{second.pk}/$"))
    expect(page.locator("#decision-title")).to_have_text(second.pk)
    expect(page.locator("[data-action=approve]")).to_be_visible()
    assert approvals(first) == 1 and approvals(second) == 0
    context.close()


def test_back_after_approving_once_signed_out_asks_to_sign_in_and_leads_back_there(
    chromium, live_server, team
):
    """The sign-in ended (or was ended in another tab) after approving: Back's restore was
    answered with the login redirect for htmx (204 + HX-Redirect), which htmx swapped in
    as the page, leaving it blank. It is the login form, which leads back to that page."""
    context, page, first, second = approved_then_on_the_next(chromium, live_server, team)
    Session.objects.all().delete()
    page.go_back()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(rf"/review/{first.pk}/$"))
    expect(page.locator("[data-status]")).to_have_attribute("data-status", S.APPROVED)
    assert approvals(first) == 1 and approvals(second) == 0
    context.close()
