"""What a browser run-through of the review desk found: a CSP message after a save, an
Undo out of sight, a queue wider than a laptop and line items too narrow to read."""

from typing import Any

import pytest

from tests import factories
from tests.e2e.test_review_browser import open_page
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
