"""The desk with the keyboard alone, as a screen reader follows it: focus is always on
something that says where the reviewer is, never dropped to the page (<body>) by a swap,
where a screen reader says nothing and Tab starts again at the top."""

import re
from typing import Any

import pytest

from submissions.services import Actor, submission_approve
from tests.e2e.test_review_browser import open_page, seed_queue, sixty_waiting
from tests.submissions.test_review_support import submission_with_file

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = """(() => {
  const a = document.activeElement;
  if (!a || a === document.body) return "body";
  const row = a.closest("tr.row");
  return (row ? "row " + row.dataset.id + " " : "") + a.tagName.toLowerCase() + " " + a.textContent.trim();
})()"""


def focused(page: Any) -> str:
    return page.evaluate(FOCUSED)


def test_j_and_k_in_the_queue_move_focus_to_the_row_and_the_poll_keeps_it(
    chromium, live_server, team
):
    """j/k moved only a highlight: a screen reader heard nothing and Tab went on from the
    top. And the queue's poll (every 5 s) replaced the rows, dropping focus from whatever
    the reviewer had reached (a row's link, a status tab) to the page."""
    first = submission_with_file(team["company"])
    second = submission_with_file(team["company"])
    third = submission_with_file(team["company"])
    fourth = submission_with_file(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.keyboard.press("j")
    assert focused(page) == f"row {first.pk} a {first.pk}"
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert focused(page) == f"row {second.pk} a {second.pk}"

    # Someone else decides the first one; the poll redraws the rows, focus stays on the row.
    submission_approve(submission_id=first.pk, actor=Actor.for_user(team["bob"]))
    expect(page.locator("table[data-queue] tr.row")).to_have_count(3, timeout=9000)
    assert focused(page) == f"row {second.pk} a {second.pk}"

    # Tab from there goes on through the rows, not from the top of the page.
    page.keyboard.press("Tab")
    assert focused(page).startswith(f"row {third.pk} ")

    # The row focus was on is decided by someone else: focus goes to the row in its place.
    page.keyboard.press("Shift+Tab")
    assert focused(page) == f"row {second.pk} a {second.pk}"
    submission_approve(submission_id=second.pk, actor=Actor.for_user(team["bob"]))
    expect(page.locator("table[data-queue] tr.row")).to_have_count(2, timeout=9000)
    assert focused(page) == f"row {third.pk} a {third.pk}"

    # A status tab keeps focus through the poll too.
    page.locator("#status-tabs a", has_text="Approved").focus()
    submission_approve(submission_id=third.pk, actor=Actor.for_user(team["bob"]))
    expect(page.locator("table[data-queue] tr.row")).to_have_count(1, timeout=9000)
    assert focused(page).startswith("a Approved")
    expect(page.locator("tr.row")).to_have_attribute("data-id", fourth.pk)
    context.close()


def test_opening_a_submission_and_deciding_it_put_focus_on_what_the_new_page_says(
    chromium, live_server, team
):
    """A boosted page change (htmx swaps the whole body) left focus on the page: a screen
    reader announced nothing, neither the submission just opened nor "… approved."."""
    subs = seed_queue(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(subs["clean"].pk))
    expect(page.locator("h1")).to_have_text(subs["clean"].pk)
    assert focused(page) == f"h1 {subs['clean'].pk}"
    # Shortcuts still work from there, and Tab goes on to the decision's controls.
    page.keyboard.press("Tab")
    assert focused(page) == "button Start review s"

    page.keyboard.press("a")
    page.wait_for_url(re.compile(subs["last"].pk))
    expect(page.locator(".messages")).to_contain_text(f"{subs['clean'].pk} approved.")
    assert focused(page) == f"div {subs['clean'].pk} approved."
    context.close()


def test_load_more_pressed_goes_on_to_the_first_row_it_loaded(chromium, live_server, team):
    """Load more is replaced by the rows it loads: focus went with it to the page."""
    ids = sixty_waiting(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.locator("#load-more-row a").focus()
    page.keyboard.press("Enter")
    expect(page.locator("table[data-queue] tr.row")).to_have_count(60)
    expect(page.locator("tr.row.selected")).to_have_attribute("data-id", ids[50])
    assert focused(page) == f"row {ids[50]} a {ids[50]}"
    context.close()


def test_the_queue_skip_link_puts_focus_on_the_list_and_the_poll_keeps_it(
    chromium, live_server, team
):
    """The first Tab on the queue is Skip to the list (as the submission page's skip links);
    focus lands on the list, visibly, stays through the poll's redraw, and j goes on to
    the first row."""
    first = submission_with_file(team["company"])
    second = submission_with_file(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.keyboard.press("Tab")
    assert focused(page) == "a Skip to the list"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "queue-list"
    outline = "getComputedStyle(document.activeElement).outlineStyle"
    assert page.evaluate(outline) != "none"
    # Someone else decides one: the poll redraws the list, and focus is on it still.
    submission_approve(submission_id=second.pk, actor=Actor.for_user(team["bob"]))
    expect(page.locator("table[data-queue] tr.row")).to_have_count(1, timeout=9000)
    assert page.evaluate("document.activeElement.id") == "queue-list"
    page.keyboard.press("j")
    assert focused(page) == f"row {first.pk} a {first.pk}"
    assert [e for e in errors if "status of 4" not in e] == []
    context.close()
