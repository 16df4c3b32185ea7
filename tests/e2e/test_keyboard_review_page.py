"""The submission page with the keyboard alone: Tab reaches every field, correction,
decision and fraud resolution, focus is always visible, refusals are alerts, and the
document's text is reachable from the field read on it."""

import re
from typing import Any

import pytest

from fraud.models import FraudMatch
from steve.models import Membership
from submissions.models import Submission
from tests import factories
from tests.e2e.test_review_browser import open_page, wait_until
from tests.submissions.test_review_support import flagged_pairs, submission_with_file

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What the focused element is, and whether its focus can be seen: an outline or a ring.
FOCUS = """(() => {
  const a = document.activeElement;
  if (!a || a === document.body) return null;
  const s = getComputedStyle(a);
  const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
  const name = a.getAttribute("aria-label") || (a.labels && a.labels[0] && a.labels[0].textContent)
    || a.textContent || a.getAttribute("placeholder") || "";
  return {key: a.dataset.resolve || a.id || a.dataset.action || name.replace(/\\s+/g, " ").trim(),
          tag: a.tagName.toLowerCase(), ring: ring, shown: a.getClientRects().length > 0,
          disabled: a.getAttribute("aria-disabled") || ""};
})()"""

FIELDS = ["merchantName", "totalAmount", "currency"]


def focused(page: Any) -> dict[str, Any] | None:
    return page.evaluate(FOCUS)


def tab_stops(page: Any, limit: int = 150) -> list[dict[str, Any]]:
    """Every stop of one round of Tab from the top of the page."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    stops: list[dict[str, Any]] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = focused(page)
        if stop is None or (stops and stop == stops[0]):
            break
        stops.append(stop)
    return stops


@pytest.fixture
def flagged(team) -> Submission:
    waiting, _ = flagged_pairs(team["company"], pairs=1)
    Submission.objects.filter(pk=waiting.pk).update(
        extracted_data={
            "merchantName": "Kedai <b>Maju</b>",
            "totalAmount": 12.5,
            "currency": "MYR",
        },
        pages_text=["KEDAI <script>window.owned=1</script> {{ x }}\nDate: 14/03/2018\nTOTAL 12.50"],
        evidence={
            "totalAmount": [{"file": 0, "page": 0, "bbox": [0.1, 0.6, 0.9, 0.63], "line": 2}]
        },
    )
    return waiting


def test_tab_reaches_every_control_of_the_page_and_each_shows_its_focus(
    chromium, live_server, team, flagged
):
    """Approve was `disabled` while a fraud match was open: Tab skipped it and `a` did
    nothing, so a keyboard or screen-reader user found no Approve and never heard why."""
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    expect(page.locator("[data-resolve=false_positive]")).to_be_visible()
    stops = tab_stops(page)
    keys = [s["key"] for s in stops]
    for name in FIELDS:
        assert f"field-{name}" in keys
    # One Save per field, each named by its field.
    saves = [k for k in keys if k.startswith("Save ")]
    assert len(set(saves)) == len(saves) == len([k for k in keys if k.startswith("field-")])
    assert "Save Total amount" in saves
    for control in [
        "Skip to the decision",
        "Document text · 3 lines as read",
        "Total amount read on page 1, line 3",
        "false_positive",
        "start-review",
        "reject-preset",
        "id_reason",
        "reject",
        "Cancel submission…",
        "approve",
        "comment-text",
    ]:
        assert control in keys, control
    approve = next(s for s in stops if s["key"] == "approve")
    assert approve["disabled"] == "true"
    assert page.locator("[data-action=approve]").get_attribute("aria-describedby") == (
        "approve-blocked"
    )
    unseen = [s["key"] for s in stops if not (s["ring"] and s["shown"])]
    assert unseen == [], "focused but not visibly: " + ", ".join(unseen)
    assert page.evaluate("window.owned") is None  # the document's text ran nothing
    assert [e for e in errors if "status of 4" not in e] == []
    context.close()


def test_the_page_is_worked_through_with_the_keyboard_and_refusals_are_alerts(
    chromium, live_server, team, flagged
):
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    expect(page.locator("[data-resolve=false_positive]")).to_be_visible()

    # The skip link goes past the viewer and the fraud panel to the decision.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    assert focused(page)["key"] == "Skip to the decision"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page)["key"] == "start-review"

    # `a` while a match is open: refused, said as an alert, and focus is on it.
    page.keyboard.press("a")
    refusal = page.locator("[data-refusal][role=alert]")
    expect(refusal).to_contain_text("must be resolved before approval")
    # Focus moves once the swap has settled, which may be after the alert shows.
    wait_until(page, "document.activeElement.hasAttribute('data-refusal')")

    # A refused correction: an alert, and the input's own description.
    page.locator("#field-totalAmount").focus()
    page.keyboard.press("Control+a")
    page.keyboard.type("twelve")
    page.keyboard.press("Enter")
    expect(page.locator("[role=alert]", has_text="Enter a number")).to_be_visible()
    field = page.locator("#field-totalAmount")
    expect(field).to_have_attribute("aria-invalid", "true")
    assert "field-totalAmount-error" in (field.get_attribute("aria-describedby") or "")

    # Where the total was read: the link opens the text and puts focus on the line.
    link = page.locator("a[data-read-at]", has_text="line 3")
    link.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.getElementById('doc-text').open")
    assert focused(page)["key"] == "text-0-0-2"
    expect(page.locator("#text-0-0-2")).to_have_text(re.compile(r"TOTAL 12\.50\s+Total amount"))
    expect(page.locator("#text-0-0-0")).to_contain_text("<script>window.owned=1</script> {{ x }}")

    # The pair resolved with the keyboard, then Approve is no longer blocked and decides.
    # Every desk answer, the refused correction's too, reloads the fraud panel: focus put
    # on its button before that reload swapped in was lost with the old button, and the
    # Enter resolved nothing (seen under load in CI).
    wait_until(page, "!document.querySelector('.htmx-request')")
    page.locator("[data-resolve=false_positive]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("[data-action=approve]")).not_to_have_attribute("aria-disabled", "true")
    page.locator("[data-action=approve]").focus()
    page.keyboard.press("Enter")
    # The refused "twelve" is still in its input, unsaved: the page asks, by keyboard too.
    expect(page.locator("#unsaved-dialog")).to_be_visible()
    assert focused(page)["key"] == "Go back and save"
    page.keyboard.press("Tab")
    assert focused(page)["key"] == "Approve without them"
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text(f"{flagged.pk} approved.")
    flagged.refresh_from_db()
    assert flagged.status == "approved"
    context.close()


def test_a_lead_confirms_fraud_with_the_keyboard_and_a_refusal_is_an_alert_with_focus(
    chromium, live_server, team, flagged
):
    lead = factories.member(team["company"], role=Membership.Role.LEAD, username="lena")
    context, page, _ = open_page(chromium, live_server, lead)
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    expect(page.locator("[data-resolve=false_positive]")).to_be_visible()
    page.locator("[data-resolve=false_positive]").focus()

    # c opens the pair's reason; Tab goes on to the written reason, then Confirm fraud.
    page.keyboard.press("c")
    assert focused(page)["key"].startswith("fraud-reason-")
    page.keyboard.press("Tab")
    assert focused(page)["key"].startswith("fraud-reason-text-")  # the pair's written reason
    page.keyboard.press("Tab")
    assert focused(page)["key"] == "confirmed_fraud"
    page.keyboard.press("Enter")  # without a reason: refused
    refusal = page.locator("#fraud-panel [data-refusal][role=alert]")
    expect(refusal).to_be_visible()
    # Focus moves once the swap has settled, which may be after the alert shows.
    wait_until(page, "document.activeElement.hasAttribute('data-refusal')")

    page.keyboard.press("c")
    page.keyboard.press("Tab")
    page.keyboard.type("Same receipt sent twice")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#fraud-panel .resolution-confirmed_fraud").first).to_be_visible()
    resolutions = set(
        FraudMatch.objects.filter(submission=flagged).values_list("resolution", flat=True)
    )
    assert resolutions == {"confirmed_fraud"}
    context.close()


def test_a_panel_reload_keeps_focus_on_the_pair_button_it_was_on(
    chromium, live_server, team, flagged
):
    """Every desk answer reloads the fraud panel; a reviewer who had tabbed to a pair's
    button lost focus with the old button, and their Enter resolved nothing."""
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    button = page.locator("[data-resolve=false_positive]")
    expect(button).to_be_visible()
    button.focus()
    page.evaluate("document.body.dispatchEvent(new CustomEvent('submission-changed'))")
    wait_until(page, "!document.querySelector('.htmx-request')")
    wait_until(page, "document.activeElement.dataset.resolve === 'false_positive'")
    page.keyboard.press("Enter")
    expect(page.locator("[data-action=approve]")).not_to_have_attribute("aria-disabled", "true")
    context.close()


def test_enter_on_a_folded_section_opens_it_and_a_submission_is_cancelled_by_keyboard(
    chromium, live_server, team, flagged
):
    """Enter on a <summary> was taken for the queue's "open the selected row" shortcut and
    swallowed: Cancel submission…, the document's text and a folded pair card opened only
    with Space or the mouse."""
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    expect(page.locator("[data-resolve=false_positive]")).to_be_visible()
    wait_until(page, "!document.querySelector('.htmx-request')")

    page.locator("#doc-text summary").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.getElementById('doc-text').open")

    card = page.locator("details.pair-card").first
    card.locator("summary").focus()
    page.keyboard.press("Enter")  # the unresolved card is open: Enter folds it
    assert not card.evaluate("d => d.open")

    page.locator("details.cancel summary").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert focused(page)["key"] == "cancel-reason"
    page.keyboard.type("Sent by mistake")
    page.keyboard.press("Tab")
    assert focused(page)["key"] == "cancel"
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text(flagged.pk)
    flagged.refresh_from_db()
    assert flagged.status == "cancelled"
    assert flagged.cancel_reason == "Sent by mistake"
    assert [e for e in errors if "status of 4" not in e] == []
    context.close()


def test_a_refused_line_items_save_puts_focus_on_the_input_it_is_about(chromium, live_server, team):
    """Focus went to Save line items: "Row 2: the quantity must be…" was read, and the
    reviewer had to find row 2's quantity and go back to it themselves."""
    items = [
        {"description": "Milo 1kg", "quantity": 2.0, "amount": 31.0},
        {"description": "Gardenia bread", "quantity": 1.0, "amount": 4.5},
    ]
    submission = submission_with_file(team["company"], extracted_data={"lineItems": items})
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    page.fill("input[name=quantity-1]", "0")
    page.locator("[data-action=save-items]").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#items-error")).to_contain_text("Row 2: the quantity")
    quantity = page.locator("input[name=quantity-1]")
    wait_until(page, "document.activeElement.name === 'quantity-1'")
    expect(quantity).to_have_attribute("aria-invalid", "true")
    expect(quantity).to_have_value("0")  # as typed, marked unsaved

    # Fixed there and saved: the refusal and the mark go.
    page.keyboard.press("Control+a")
    page.keyboard.type("3")
    page.keyboard.press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(page.locator(".line-items-form [aria-invalid]")).to_have_count(0)
    stored = Submission.objects.get(pk=submission.pk).extracted_data["lineItems"]
    assert [i["quantity"] for i in stored] == [2.0, 3.0]
    assert [e for e in errors if "status of 4" not in e] == []
    context.close()


HEADINGS = """Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"))
  .map((h) => h.tagName.toLowerCase() + " " + h.textContent.trim().split(/\\s+/).slice(0, 2).join(" "))"""


def test_the_h1_is_the_pages_first_heading_and_the_fraud_panel_still_shows_above_it(
    chromium, live_server, team, flagged
):
    """The "Fraud matches" h2 (and the document text's page headings) came before the
    submission's h1: a screen reader's list of headings began inside the page. The
    columns still show where they were: the document left, the fraud panel above the
    decision."""
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    expect(page.locator("#fraud-title")).to_be_visible()
    headings = page.evaluate(HEADINGS)
    assert headings[0] == f"h1 {flagged.pk}", headings
    assert "h2 Fraud matches" in headings
    viewer = page.locator("[data-viewer]").bounding_box()
    panel = page.locator("#fraud-panel").bounding_box()
    decision = page.locator("#decision-title").bounding_box()
    assert viewer["x"] + viewer["width"] <= panel["x"]
    assert panel["y"] + panel["height"] <= decision["y"]
    context.close()
