"""Odd receipts on the review desk: right-to-left text in what the timeline says changed,
a receipt of many files, and a PDF of many pages."""

import re
from typing import Any

import pytest

from submissions.services import (
    Actor,
    LineItemRow,
    submission_correct_line_items,
)
from tests import factories
from tests.e2e.test_review_browser import open_page, wait_until
from tests.submissions.test_review_support import pdf_bytes, stored_file, submission_with_file

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BREAD = "خبز"  # Arabic: the row as added
CAKE = "كعك"  # and as it was renamed

# The left edge of the first occurrence of `text` inside the element, as drawn.
LEFT_OF = """([element, text]) => {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + text.length);
    return range.getBoundingClientRect().left;
  }
  return null;
}"""


def left_of(page: Any, selector: str, text: str) -> float:
    left = page.locator(selector).evaluate(
        "(element, text) => (" + LEFT_OF + ")([element, text])", text
    )
    assert left is not None, f"{text!r} is not in {selector}"
    return left


def test_right_to_left_values_in_the_timeline_read_in_the_order_they_changed(
    chromium, live_server, team
):
    """A row change is one line of text: an added row named in Arabic took its quantity
    and amount into the name's right-to-left run and was drawn "6.80 × 1 ,خبز"; a
    renamed one drew the new name first, so the arrow read from the new name to the old."""
    submission = submission_with_file(
        team["company"], extracted_data={"merchantName": "مطعم الأمل", "lineItems": []}
    )
    for name in (BREAD, CAKE):
        submission_correct_line_items(
            submission_id=submission.pk,
            rows=[LineItemRow(description=name, quantity="1", amount="6.80")],
            actor=Actor.for_user(team["alice"]),
        )
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")

    added = "li[data-event=field_corrected]:has-text('added') [data-row-changes]"
    expect(page.locator(added)).to_be_visible()
    assert left_of(page, added, BREAD) < left_of(page, added, "1 ×") < left_of(page, added, "6.80")
    # A renamed row: the old name, the arrow, then the new one.
    renamed = "li[data-event=field_corrected]:has-text('description') [data-row-changes]"
    assert (
        left_of(page, renamed, BREAD) < left_of(page, renamed, "→") < left_of(page, renamed, CAKE)
    )
    context.close()


def test_an_override_in_a_summarys_name_leaves_the_rest_of_the_sentence_in_order(
    chromium, live_server, team
):
    """A summary stored before extraction dropped bidi controls names the shop as printed
    with an override left open ("Acme " then U+202E): the date and total after it were
    drawn reversed, "05.21 RYM rof 50-10-4202 detad". The name is set apart: only it."""
    summary = "Receipt from Acme \u202eHbmG dated 2024-01-05 for MYR 12.50."
    submission = submission_with_file(team["company"], ai_summary=summary)
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")

    shown = "p.summary"
    expect(page.locator(shown)).to_be_visible()
    words = ["Receipt from", "Acme", "dated", "2024-01-05", "for MYR", "12.50"]
    lefts = [left_of(page, shown, word) for word in words]
    assert lefts == sorted(lefts), dict(zip(words, lefts, strict=True))
    context.close()


def test_a_receipt_of_many_files_loads_only_the_shown_files_pages(chromium, live_server, team):
    """The first page of every file was fetched on opening, hidden files too: a dozen
    PDFs rendered server-side before the page finished loading (7 s here), for files the
    reviewer may never open. The others load when their tab is opened."""
    submission = factories.SubmissionFactory(company=team["company"])
    for index in range(6):
        stored_file(submission, index=index, content=pdf_bytes(3))
    context, page, _ = open_page(chromium, live_server, team["alice"])
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{live_server.url}/review/{submission.pk}/")  # waits for the load event
    files = {m[1] for url in fetched if (m := re.search(r"/files/(\d+)/pages/", url))}
    assert files == {"0"}, fetched

    page.click("[data-file-tab='4']")
    first = page.locator(".page[data-file='4'][data-page='0'] img")
    expect(first).to_be_visible()
    wait_until(
        page,
        "(() => { const i = document.querySelector(\".page[data-file='4'] img\"); return i.complete && i.naturalWidth > 0; })()",
    )
    context.close()


def test_a_pdf_of_30_pages_loads_only_the_pages_in_view(chromium, live_server, team):
    """A page not yet drawn had no height, so every lazy page counted as in view: opening
    a 30-page PDF rendered all 30 at once (a process each), and the reviewer's first save
    waited seconds behind them. The pages further down load when scrolled to."""
    submission = factories.SubmissionFactory(company=team["company"])
    stored_file(submission, content=pdf_bytes(30))
    context, page, _ = open_page(chromium, live_server, team["alice"])
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{live_server.url}/review/{submission.pk}/")  # waits for the load event
    page.locator("[data-fraud-panel]").wait_for()
    drawn = "(() => { const i = document.querySelector(\".page[data-page='0'] img\"); return i.complete && i.naturalWidth > 0; })()"
    wait_until(page, drawn)
    pages = {m[1] for url in fetched if (m := re.search(r"/pages/(\d+)\.png", url))}
    assert "0" in pages and len(pages) <= 4, sorted(pages, key=int)

    last = page.locator(".page[data-page='29'] img")
    with page.expect_request(re.compile(r"/pages/29\.png")):
        last.scroll_into_view_if_needed()
    wait_until(page, drawn.replace("'0'", "'29'"))
    context.close()
