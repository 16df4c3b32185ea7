"""What a browser run-through of the review desk found: a CSP message after a save, an
Undo out of sight, a queue wider than a laptop and line items too narrow to read."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from fraud.models import FraudMatch
from submissions.models import Submission
from submissions.services import submission_claim
from tests import factories
from tests.e2e.test_review_browser import open_page, seed_queue, unresolved_pair_ready, wait_until
from tests.e2e.test_review_desk import fraud_panel_loaded, low_total
from tests.submissions.test_review_support import submission_with_file

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def drag_corner(page: Any, selector: str, by: int) -> None:
    """Drag a text box's resize grip down, as a reviewer making room to write does."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] + by, steps=5)
    page.mouse.up()


def test_a_save_after_resizing_a_text_box_reports_no_csp_violation(chromium, live_server, team):
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    # The browser keeps a resized text box's height in its style attribute.
    drag_corner(page, "#id_reason", 60)
    assert "height" in (page.locator("#id_reason").get_attribute("style") or "")

    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    page.locator("#comment-text").fill("Total checked against the receipt.")
    page.click("[data-action=comment]")
    expect(page.locator("li[data-event=comment]")).to_have_count(1)
    page.wait_for_timeout(300)  # a violation is reported just after the swap settles
    assert not [m for m in console if "Content Security Policy" in m], console
    context.close()


def test_the_undo_of_a_resolution_shows_under_its_result(chromium, live_server, team):
    flagged = seed_queue(team["company"])["flagged"]
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    unresolved_pair_ready(page)
    page.locator("[data-resolve=false_positive]").focus()
    page.keyboard.press("Enter")

    # The resolved card folds up; its result stays in sight on its summary line, and the
    # Undo just under it: outside the summary, which folds the card (no control in it).
    card = page.locator(".pair-card").first
    expect(card.locator("summary .resolution-false_positive")).to_be_visible()
    expect(card).not_to_have_attribute("open", "")
    undo = page.locator("[data-action=undo-resolution]")
    expect(undo).to_be_visible()
    summary = card.locator("summary").bounding_box()
    below = undo.bounding_box()["y"] - (summary["y"] + summary["height"])
    assert 0 <= below < summary["height"], (summary, undo.bounding_box())
    # Focus went to the decided card's summary; Tab goes on to its Undo.
    wait_until(page, "document.activeElement.tagName === 'SUMMARY'")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.action") == "undo-resolution"

    page.keyboard.press("Enter")
    expect(page.locator(".pair-card.unresolved")).to_have_count(1)
    assert FraudMatch.objects.get(submission=flagged).resolution is None
    context.close()


def busy_queue(company: Any, holder: Any) -> Submission:
    """A queue a real day leaves: old, claimed, blocked, a big total, a UUID client id and
    a long shop name, and enough rows to need a vertical scrollbar."""
    for _ in range(24):
        submission_with_file(company)
    busy = factories.SubmissionFactory(
        company=company,
        extracted_data={
            "merchantName": "Kedai Runcit Sinar Harapan Sdn Bhd (Cawangan Pudu)",
            "totalAmount": 12345.67,
            "currency": "MYR",
        },
        fraud_status="blocked",
        fraud_score=100.0,
        client_submission_id="3f2b1c9e-8d7a-4b6c-9e1f-2a3b4c5d6e7f",
    )
    Submission.objects.filter(pk=busy.pk).update(
        created_at=timezone.now() - timedelta(days=12, hours=23)
    )
    submission_claim(submission_id=busy.pk, user=holder)
    return busy


@pytest.mark.parametrize("width", [1400, 1920])
def test_every_queue_column_fits_a_laptop_window(chromium, live_server, team, width):
    holder = factories.UserFactory(username="alexandra.vandenberg", companies=[team["company"]])
    busy = busy_queue(team["company"], holder)
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/review/")
    page.locator("table[data-queue] tr.row").first.wait_for()

    wrap = page.locator(".table-wrap")
    assert wrap.evaluate("w => w.scrollWidth <= w.clientWidth"), "the queue scrolls sideways"
    row = page.locator(f"tr.row[data-id={busy.pk}]")
    client_id = row.locator("td.client-id")
    edge = wrap.bounding_box()
    cell = client_id.bounding_box()
    assert cell["x"] + cell["width"] <= edge["x"] + edge["width"]
    # A long id is cut with an ellipsis; the whole of it is in the title.
    assert client_id.get_attribute("title") == busy.client_submission_id
    expect(row.locator("td.claimed .holder")).to_have_attribute(
        "title", re.compile(r"^alexandra\.vandenberg")
    )
    context.close()


def test_line_item_descriptions_get_the_width_of_the_table(chromium, live_server, team):
    items = [
        {"description": "Nescafe Gold Blend refill pack 170g", "quantity": 2.0, "amount": 37.8},
        {"description": "Gardenia bread", "quantity": 1.0, "amount": 4.5},
    ]
    submission = submission_with_file(
        team["company"], extracted_data={"merchantName": "Tesco Extra", "lineItems": items}
    )
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    table = page.locator("table.line-items").bounding_box()
    description = page.locator("input[name=description-0]")
    assert description.bounding_box()["width"] >= table["width"] * 0.55
    # The whole description is readable in the box, not cut at a few characters.
    assert description.evaluate("i => i.scrollWidth <= i.clientWidth")
    assert page.locator("input[name=amount-0]").evaluate("i => i.scrollWidth <= i.clientWidth")
    context.close()


@pytest.mark.parametrize("width", [360, 1400])
def test_a_2000_character_merchant_name_takes_a_few_lines_of_the_queue(
    chromium, live_server, team, width
):
    """On a phone the whole name wrapped: one row 2,400 px tall pushed the rest of the
    queue out of sight; on a laptop a name with no space ran under the next columns."""
    long = factories.SubmissionFactory(
        company=team["company"], extracted_data={"merchantName": "M" * 2000}
    )
    words = factories.SubmissionFactory(
        company=team["company"], extracted_data={"merchantName": "Kedai Runcit " * 150}
    )
    short = factories.SubmissionFactory(
        company=team["company"], extracted_data={"merchantName": "Kedai"}
    )
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/review/")
    one_line = page.locator(f"tr.row[data-id={short.pk}]").bounding_box()["height"]
    for submission in (long, words):
        row = page.locator(f"tr.row[data-id={submission.pk}]")
        assert row.bounding_box()["height"] <= one_line + 60  # two more lines at most
        name = row.locator("td.merchant")
        # Cut to a few lines, whole in its title; never wider than its cell.
        assert name.get_attribute("title") == submission.extracted_data["merchantName"]
        assert name.evaluate("td => td.querySelector('.name').scrollWidth <= td.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
