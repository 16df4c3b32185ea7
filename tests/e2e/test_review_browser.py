"""A reviewer's day in headless Chromium: sign in, triage, resolve fraud, decide."""

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from fraud.models import FraudMatch
from fraud.services import match_pair
from submissions import selectors
from submissions.models import Submission, SubmissionStatus
from submissions.services import (
    Actor,
    LineItemRow,
    submission_approve,
    submission_correct_line_items,
)
from tests import factories
from tests.submissions.test_queue_age import made
from tests.submissions.test_review_support import receipt_png, stored_file, submission_with_file

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
S = SubmissionStatus
PASSWORD = "correct-horse-battery"
RECEIPT = [
    "TESCO EXTRA",
    "Cambridge, Newmarket Rd",
    "",
    "Milk 2L             1.45",
    "Bread               1.10",
    "Coffee beans        6.80",
    "Olive oil           7.25",
    "Wine               37.60",
    "",
    "",
    "",
    "",
    "TOTAL         GBP  54.20",
    "",
    "2026-11-20 14:02",
]


def seed_queue(company: Any) -> dict[str, Submission]:
    """An approved original, a flagged copy of it, and two clean submissions."""
    original = factories.SubmissionFactory(
        company=company, status=S.APPROVED, extracted_data={"merchantName": "Tesco Extra"}
    )
    stored_file(original, content=receipt_png(RECEIPT))
    flagged = factories.SubmissionFactory(
        company=company,
        extracted_data={"merchantName": "Tesco Extra", "totalAmount": 54.2, "currency": "GBP"},
        field_confidences={"merchantName": 0.96, "totalAmount": 0.41},
        evidence={"totalAmount": [{"file": 0, "page": 0, "bbox": [0.06, 0.73, 0.86, 0.79]}]},
        metadata={"orderId": "A-1001"},
    )
    stored_file(flagged, content=receipt_png(RECEIPT))
    match_pair(
        company_id=company.pk,
        submission_id=flagged.pk,
        other_id=original.pk,
        check_type=FraudMatch.CheckType.VISUAL,
        score=84.0,
        similarity=0.95,
    )
    Submission.objects.filter(pk=flagged.pk).update(fraud_status="flagged", fraud_score=84.0)
    clean = submission_with_file(company, extracted_data={"merchantName": "Kedai Runcit"})
    last = submission_with_file(company, extracted_data={"merchantName": "Family Mart"})
    return {"original": original, "flagged": flagged, "clean": clean, "last": last}


def wait_until(page: Any, script: str, timeout: float = 8.0) -> None:
    """Poll a JS predicate from Python: Playwright's wait_for_function evaluates a string
    in the page, which our CSP (rightly) refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {script}")
        time.sleep(0.05)


def page_with_errors(chromium: Any) -> tuple[Any, Any, list[str]]:
    """A page in a fresh browser context, and the console errors it logs (CSP, JS), each
    with the address it was on."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(8000)
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return context, page, errors


def open_page(chromium: Any, live_server: Any, user: Any) -> tuple[Any, Any, list[str]]:
    """A fresh browser context, signed in as `user`; collects console errors (CSP, JS)."""
    context, page, errors = page_with_errors(chromium)
    page.goto(f"{live_server.url}/review/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/review/$"))
    return context, page, errors


def unresolved_pair_ready(page: Any) -> None:
    """The fraud panel has drawn an unresolved pair and htmx has settled it: a click on a
    card swapped in but not yet processed sent nothing (seen on a loaded CI machine)."""
    page.locator(".pair-card.unresolved").wait_for()
    page.wait_for_function(
        """() => {
            const panel = document.getElementById("fraud-panel");
            return panel && !panel.matches(".htmx-request, .htmx-settling, .htmx-swapping")
                && !panel.querySelector(".htmx-added, .htmx-settling");
        }"""
    )


def test_triage_resolve_and_approve(chromium, live_server, team, screenshots: Path):
    subs = seed_queue(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    assert page.locator("table[data-queue] tr.row").count() == 3
    # caret="initial": Playwright's caret hiding injects an inline <style>, which our CSP
    # blocks (and would report as a console error).
    page.screenshot(path=str(screenshots / "queue.png"), full_page=True, caret="initial")

    # Filter in place: the URL keeps the filter, the table shows only flagged rows.
    page.select_option("#id_fraud", "flagged")
    page.wait_for_url(re.compile(r"fraud=flagged"))
    expect(page.locator("table[data-queue] tr.row")).to_have_count(1)
    page.click(f"text={subs['flagged'].pk}")
    page.wait_for_url(re.compile(subs["flagged"].pk))

    # The fraud panel arrives by hx-get: the match beside the matched submission's image.
    match = page.locator(".match.unresolved")
    match.wait_for()
    assert match.locator("img").count() == 2
    wait_until(page, "() => [...document.querySelectorAll('.pair img')].every(i => i.naturalWidth)")
    assert page.locator("[data-action=approve]").is_disabled()
    assert "Resolve 1 fraud match" in page.inner_text("#approve-blocked")
    # Hovering a low-confidence field draws its box on the image.
    page.hover("tr[data-field=totalAmount] th")
    assert page.locator(".stage .box").count() == 1
    page.screenshot(path=str(screenshots / "submission.png"), caret="initial")

    # Keyboard: ? shows help; f resolves the focused match as false positive.
    page.keyboard.press("?")
    assert page.locator("#shortcuts").is_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("f")
    page.locator(".match .resolution-false_positive").first.wait_for()
    # The side column refreshed with the new version: approve is enabled, a approves.
    expect(page.locator("[data-action=approve]")).to_be_enabled()
    # The page was opened from the flagged filter; nothing flagged is left, so the
    # reviewer lands back on that filtered queue, not on an unflagged submission.
    page.keyboard.press("a")
    page.wait_for_url(re.compile(r"/review/\?fraud=flagged$"))
    assert f"{subs['flagged'].pk} approved." in page.inner_text(".messages")
    expect(page.locator("table[data-queue] tr.row")).to_have_count(0)
    flagged = Submission.objects.get(pk=subs["flagged"].pk)
    assert flagged.status == S.APPROVED
    assert flagged.fraud_matches.get().resolution == "false_positive"
    csp = [e for e in errors if "Content Security Policy" in e or "Refused" in e]
    print("\n".join(csp))
    assert not csp
    context.close()


def test_reject_with_reason_and_keyboard_navigation(chromium, live_server, team):
    subs = seed_queue(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    # j/k move the selection in the queue, Enter opens the selected row.
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("j")
    selected = page.locator("tr.row.selected")
    assert selected.get_attribute("data-id") == subs["clean"].pk
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(subs["clean"].pk))
    # On the page, j/k go to the next/previous submission of the queue.
    page.keyboard.press("k")
    page.wait_for_url(re.compile(subs["flagged"].pk))
    page.keyboard.press("j")
    page.wait_for_url(re.compile(subs["clean"].pk))

    # Reject without a reason is refused on the page; with one, the next submission opens.
    page.click("[data-action=reject]")
    page.locator("[data-refusal]").wait_for()
    assert "A reason is required" in page.inner_text("[data-refusal]")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reject-preset"
    page.select_option("#reject-preset", "Not a receipt or invoice.")
    page.click("[data-action=reject]")
    page.wait_for_url(re.compile(subs["last"].pk))
    clean = Submission.objects.get(pk=subs["clean"].pk)
    assert clean.status == S.REJECTED and clean.reject_reason == "Not a receipt or invoice."
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def sixty_waiting(company: Any) -> list[str]:
    """More than the queue's first 50 rows; their ids in the queue's order."""
    version = factories.default_workflows(company)[0]
    Submission.objects.bulk_create(
        factories.SubmissionFactory.build(
            company=company, workflow_version=version, workflow=version.workflow
        )
        for _ in range(60)
    )
    return sorted(Submission.objects.values_list("pk", flat=True))


def test_j_on_the_last_row_shown_loads_the_next_rows_and_goes_on(chromium, live_server, team):
    """j stopped at row 50 of a longer queue: the next rows came only with the mouse."""
    ids = sixty_waiting(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    rows = page.locator("table[data-queue] tr.row")
    expect(rows).to_have_count(50)
    for _ in range(50):
        page.keyboard.press("j")
    expect(page.locator("tr.row.selected")).to_have_attribute("data-id", ids[49])

    page.keyboard.press("j")
    expect(rows).to_have_count(60)
    expect(page.locator("tr.row.selected")).to_have_attribute("data-id", ids[50])
    page.keyboard.press("j")
    expect(page.locator("tr.row.selected")).to_have_attribute("data-id", ids[51])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(ids[51]))
    context.close()


def test_back_from_a_submission_below_the_first_50_finds_it_loaded_and_selected(
    chromium, live_server, team
):
    """Back (or a reload) showed the first 50 rows again: the row the reviewer had opened
    was gone from the page, and so was their place in the queue."""
    ids = sixty_waiting(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.click("#load-more-row a")
    rows = page.locator("table[data-queue] tr.row")
    expect(rows).to_have_count(60)
    page.click(f"tr.row[data-id={ids[55]}] td.workflow")
    page.wait_for_url(re.compile(ids[55]))
    page.locator("[data-fraud-panel]").wait_for()

    page.go_back()
    expect(rows).to_have_count(60)
    expect(page.locator("tr.row.selected")).to_have_attribute("data-id", ids[55])
    page.reload()
    expect(rows).to_have_count(60)
    context.close()


def test_queue_rows_update_in_place_and_keep_the_selection(chromium, live_server, team):
    first = submission_with_file(team["company"])
    second = submission_with_file(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("tr.row.selected")).to_have_attribute("data-id", second.pk)
    page.evaluate("window.scrollTo(0, 0); document.body.dataset.marker = 'same-page'")
    # Someone else decides the first one; the poll (every 5 s) drops it from the table.
    submission_approve(submission_id=first.pk, actor=Actor.for_user(team["bob"]))
    expect(page.locator("table[data-queue] tr.row")).to_have_count(1, timeout=9000)
    expect(page.locator("tr.row.selected")).to_have_attribute("data-id", second.pk)
    expect(page.locator("#status-tabs .tab.active .count")).to_have_text("1")
    # Updated in place: no navigation happened.
    assert page.evaluate("document.body.dataset.marker") == "same-page"
    context.close()


def test_the_all_tabs_poll_keeps_the_rows_loaded_when_the_last_one_leaves_review(
    chromium, live_server, team, monkeypatch
):
    # The All tab ages a row in review by its move there, any other by its making: `late`,
    # made three days ago and in review for an hour, is last; approved, it goes first.
    now, company = timezone.now(), team["company"]
    early = made(company, created=now - timedelta(days=1), in_review=now - timedelta(hours=20))
    bare = made(company, created=now - timedelta(hours=5), in_review=None)
    late = made(company, created=now - timedelta(days=3), in_review=now - timedelta(hours=1))
    monkeypatch.setattr(selectors, "QUEUE_PAGE", 1)
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.clock.install()  # the poll's 5 s are run at once below
    page.goto(f"{live_server.url}/review/?status=all")
    rows = page.locator("table[data-queue] tr.row")
    page.keyboard.press("j")
    for loaded in (2, 3):  # j on the last row shown loads the next one
        page.keyboard.press("j")
        expect(rows).to_have_count(loaded)
    submission_approve(submission_id=late.pk, actor=Actor.for_user(team["bob"]))

    # The poll (every 5 s) re-reads the rows loaded, up to late where the page drew it
    # (review.js sends its place): counted up to late's new place, first, it kept one row.
    page.clock.run_for(5000)
    expect(rows.first).to_have_attribute("data-id", late.pk)
    expect(rows).to_have_count(3)
    assert [rows.nth(n).get_attribute("data-id") for n in range(3)] == [late.pk, early.pk, bare.pk]
    context.close()


def test_a_reviewer_corrects_line_items_in_place(chromium, live_server, team, screenshots: Path):
    items = [
        {"description": "Milk 2L", "quantity": 1.0, "amount": 1.45},
        {"description": "Bread", "quantity": 1.0, "amount": 1.1},
    ]
    submission = submission_with_file(
        team["company"], extracted_data={"merchantName": "Tesco Extra", "lineItems": items}
    )
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    page.fill("input[name=quantity-0]", "2")
    page.fill("input[name=amount-0]", "2.90")
    page.fill("input[name=description-2]", "Coffee beans")
    page.fill("input[name=amount-2]", "6.80")
    page.click("[data-action=save-items]")
    # The side column comes back by htmx with the saved rows and a timeline entry.
    expect(page.locator("input[name=description-2]")).to_have_value("Coffee beans")
    expect(page.locator("li[data-event=field_corrected]")).to_contain_text("Line items")
    page.screenshot(path=str(screenshots / "line-items.png"), full_page=True, caret="initial")
    saved = Submission.objects.get(pk=submission.pk).extracted_data["lineItems"]
    assert saved == [
        {"description": "Milk 2L", "quantity": 2.0, "amount": 2.9},
        {"description": "Bread", "quantity": 1.0, "amount": 1.1},
        {"description": "Coffee beans", "quantity": 1.0, "amount": 6.8},
    ]
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_a_refused_line_item_edit_stays_on_its_item_when_another_reviewer_removed_a_row(
    chromium, live_server, team
):
    items = [
        {"description": name, "quantity": 1.0, "amount": amount}
        for name, amount in (("Apple", 1.0), ("Bread", 2.0), ("Cheese", 3.0))
    ]
    submission = submission_with_file(team["company"], extracted_data={"lineItems": items})
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    # Meanwhile bob removes Apple: Bread is now row 0 and Cheese row 1.
    submission_correct_line_items(
        submission_id=submission.pk,
        rows=[LineItemRow("Bread", "1", "2.00"), LineItemRow("Cheese", "1", "3.00")],
        actor=Actor.for_user(team["bob"]),
    )
    page.fill("input[name=amount-1]", "20.00")  # Bread's amount on alice's page
    page.click("[data-action=save-items]")
    expect(page.locator("[data-refusal]")).to_be_visible()
    expect(page.locator("input[name=description-0]")).to_have_value("Bread")
    expect(page.locator("input[name=amount-0]")).to_have_value("20.00")
    expect(page.locator("input[name=amount-1]")).to_have_value("3.00")  # Cheese untouched
    stored = Submission.objects.get(pk=submission.pk).extracted_data["lineItems"]
    assert [i["amount"] for i in stored] == [2.0, 3.0]
    context.close()
