"""What a browser run-through of the review desk found: a CSP message after a save, an
Undo out of sight, a queue wider than a laptop and line items too narrow to read."""

from typing import Any

import pytest

from fraud.models import FraudMatch
from tests import factories
from tests.e2e.test_review_browser import open_page, seed_queue
from tests.e2e.test_review_desk import fraud_panel_loaded, low_total

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team(transactional_db, browser_settings) -> dict[str, Any]:
    company = factories.CompanyFactory(name="Kedai Group")
    alice = factories.UserFactory(username="alice", companies=[company])
    return {"company": company, "alice": alice}


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


def test_the_undo_of_a_resolution_shows_beside_its_result(chromium, live_server, team):
    flagged = seed_queue(team["company"])["flagged"]
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    page.locator(".pair-card.unresolved").wait_for()
    page.click("[data-resolve=false_positive]")

    # The resolved card folds up; its result and the Undo stay in sight on its summary line.
    card = page.locator(".pair-card").first
    expect(card.locator("summary .resolution-false_positive")).to_be_visible()
    expect(card).not_to_have_attribute("open", "")
    undo = page.locator("[data-action=undo-resolution]")
    expect(undo).to_be_visible()
    result = card.locator("summary .resolution-false_positive").bounding_box()
    assert abs(undo.bounding_box()["y"] - result["y"]) < result["height"]

    undo.click()
    expect(page.locator(".pair-card.unresolved")).to_have_count(1)
    assert FraudMatch.objects.get(submission=flagged).resolution is None
    context.close()
