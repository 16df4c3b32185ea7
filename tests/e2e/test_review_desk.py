"""The review desk's second pass in Chromium: no lost work, explicit claims, the keyboard
path, and a phone-width page. Screenshots of each state go to artifacts/screenshots/."""

import re
import time
from pathlib import Path
from typing import Any

import pytest

from fraud.models import FraudMatch
from steve.models import Membership
from submissions.models import MerchantMemory, Submission, SubmissionStatus
from submissions.services import (
    Actor,
    submission_comment,
    submission_correct_field,
    submission_files_withdraw,
)
from submissions.views import actions
from tests import factories
from tests.e2e.test_review_browser import (
    PASSWORD,
    RECEIPT,
    open_page,
    seed_queue,
    unresolved_pair_ready,
    wait_until,
)
from tests.submissions.test_review_support import flagged_pairs, receipt_png, stored_file

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
S = SubmissionStatus


def low_total(company: Any) -> Submission:
    """A receipt whose total was read with low confidence: the field a reviewer fixes."""
    submission = factories.SubmissionFactory(
        company=company,
        extracted_data={"merchantName": "Tesco Extra", "totalAmount": 54.2, "currency": "GBP"},
        field_confidences={"merchantName": 0.96, "totalAmount": 0.41, "currency": 0.95},
        evidence={"totalAmount": [{"file": 0, "page": 0, "bbox": [0.06, 0.73, 0.86, 0.79]}]},
    )
    stored_file(submission, content=receipt_png(RECEIPT))
    return submission


def alice_without_script(chromium: Any, live_server: Any, submission: Any) -> tuple[Any, Any]:
    """A browser with JavaScript off, signed in as alice, on `submission`'s page."""
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server.url}/review/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    return context, page


def fraud_panel_loaded(page: Any) -> None:
    page.locator("[data-fraud-panel]").wait_for()


def test_server_down_during_a_correction_and_approve_loses_nothing(
    chromium, live_server, team, screenshots: Path
):
    submission = low_total(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)

    # The network drops: saving the correction fails visibly, the typed value stays, unsaved.
    page.route(re.compile(r"/(correct|approve)(\?|$)"), lambda route: route.abort())
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Enter")
    banner = page.locator("#request-error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("cannot be reached")
    expect(banner).to_contain_text("marked unsaved")
    expect(field).to_have_value("60.00")
    expect(page.locator("tr[data-field=totalAmount]")).to_have_class(re.compile(r"\bunsaved\b"))
    page.screenshot(path=str(screenshots / "desk-correction-offline.png"), caret="initial")

    # Approving with that unsaved correction asks first; going ahead while still offline
    # fails visibly too, and nothing is approved.
    page.locator("#field-totalAmount").press("Escape")
    page.keyboard.press("a")
    dialog = page.locator("#unsaved-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Total amount")
    page.screenshot(path=str(screenshots / "desk-approve-unsaved.png"), caret="initial")
    page.click("[data-unsaved=approve]")
    # No answer is not "nothing happened": the banner says so, and that a retry is safe.
    expect(banner).to_contain_text("cannot tell whether your change was saved")
    expect(banner).to_contain_text("Trying again is safe")
    expect(banner).not_to_contain_text("Nothing was saved")
    page.screenshot(path=str(screenshots / "desk-approve-offline.png"), caret="initial")
    assert Submission.objects.get(pk=submission.pk).status == S.REVIEW

    # Meanwhile something else corrects the same field; the network comes back.
    submission_correct_field(
        submission_id=submission.pk,
        field_name="totalAmount",
        raw_value="55.00",
        actor=Actor.system(),
    )
    page.unroute(re.compile(r"/(correct|approve)(\?|$)"))
    # The stale page's save is refused with the new state; the typed value survives.
    page.locator("#field-totalAmount").press("Enter")
    refusal = page.locator("[data-refusal]")
    expect(refusal).to_contain_text("Total amount changed since you opened it (Steve corrected it)")
    expect(page.locator("#field-totalAmount")).to_have_value("60.00")
    expect(page.locator("li[data-event=field_corrected]").first).to_contain_text("→ 55.0")
    page.screenshot(path=str(screenshots / "desk-reconnect-refused.png"), caret="initial")
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 55.0

    # Saved again on the fresh page; then approve goes through, with the corrected value.
    page.locator("#field-totalAmount").press("Enter")
    expect(page.locator("li[data-event=field_corrected]").first).to_contain_text("Total amount")
    expect(page.locator("tr.unsaved")).to_have_count(0)
    page.keyboard.press("a")
    page.wait_for_url(re.compile(r"/review/$"))
    done = Submission.objects.get(pk=submission.pk)
    assert done.status == S.APPROVED and done.extracted_data["totalAmount"] == 60.0
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_a_comment_whose_answer_was_lost_is_stored_once_when_sent_again(
    chromium, live_server, team
):
    """The comment reaches the server and is stored, but its answer is lost: the page keeps
    the text marked unsaved; Comment pressed again, even after another save redrew the
    column, is answered as saved without a second comment."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)

    def answer_lost(route: Any) -> None:
        route.fetch()  # done on the server ...
        route.abort()  # ... but the page never hears back

    comment_url = re.compile(r"/comment(\?|$)")
    page.route(comment_url, answer_lost)
    page.locator("#comment-text").fill("Called the shop: the receipt is real.")
    page.click("[data-action=comment]")
    banner = page.locator("#request-error")
    expect(banner).to_contain_text("cannot tell whether your change was saved")
    expect(page.locator("#comment-text")).to_have_value("Called the shop: the receipt is real.")
    assert submission.events.filter(type="comment").count() == 1
    page.unroute(comment_url)

    # Another save redraws the side column; the comment's text stays, with its form.
    page.locator("#field-totalAmount").fill("60.00")
    page.locator("#field-totalAmount").press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(page.locator("#comment-text")).to_have_value("Called the shop: the receipt is real.")

    page.click("[data-action=comment]")
    expect(page.locator("#comment-text")).to_have_value("")
    expect(page.locator("li[data-event=comment]")).to_have_count(1)
    assert [e.details["text"] for e in submission.events.filter(type="comment")] == [
        "Called the shop: the receipt is real."
    ]
    context.close()


def test_a_server_error_after_a_save_does_not_say_nothing_was_saved(chromium, live_server, team):
    """A 5xx may come after the service committed (a proxy timing out, a failure while the
    answer was drawn): the banner must not claim nothing was saved."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)

    def done_then_500(route: Any) -> None:
        route.fetch()  # done on the server ...
        route.fulfill(status=500, body="x")  # ... but the page is told it failed

    page.route(re.compile(r"/correct(\?|$)"), done_then_500)
    page.locator("#field-totalAmount").fill("60.00")
    page.locator("#field-totalAmount").press("Enter")
    banner = page.locator("#request-error")
    expect(banner).to_contain_text("(500)")
    expect(banner).to_contain_text("cannot tell whether your change was saved")
    expect(banner).not_to_contain_text("Nothing was saved")
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 60.0
    context.close()


def test_two_reviewers_and_a_claim(chromium, live_server, team, screenshots: Path):
    submission = low_total(team["company"])
    first, alice, _ = open_page(chromium, live_server, team["alice"])
    second, bob, _ = open_page(chromium, live_server, team["bob"])
    url = f"{live_server.url}/review/{submission.pk}/"
    alice.goto(url)
    bob.goto(url)
    # Viewing claims nothing; alice starts the review with s.
    assert Submission.objects.get(pk=submission.pk).claimed_by is None
    fraud_panel_loaded(alice)
    alice.keyboard.press("s")
    expect(alice.locator(".claim")).to_contain_text("You are reviewing this")

    bob.reload()
    fraud_panel_loaded(bob)
    expect(bob.locator(".claim")).to_contain_text("Claimed by alice")
    bob.keyboard.press("a")
    refusal = bob.locator("[data-refusal]")
    expect(refusal).to_contain_text("alice is reviewing this submission")
    assert "/approve" not in bob.url  # Post/Redirect/Get
    bob.screenshot(path=str(screenshots / "desk-claimed-by-other.png"), caret="initial")
    assert Submission.objects.get(pk=submission.pk).status == S.REVIEW

    # Bob takes it over (recorded); alice's open page is now stale and refused.
    bob.click("[data-action=take-over]")
    expect(bob.locator(".claim")).to_contain_text("You are reviewing this")
    alice.keyboard.press("a")
    expect(alice.locator("[data-refusal]")).to_contain_text("changed since you opened it")
    expect(alice.locator(".claim")).to_contain_text("Claimed by bob")
    bob.keyboard.press("a")
    bob.wait_for_url(re.compile(r"/review/$"))
    done = Submission.objects.get(pk=submission.pk)
    assert done.status == S.APPROVED
    assert [e.actor_label for e in done.events.filter(type="approved")] == ["bob"]
    taken = done.events.get(type="claim_taken_over")
    assert taken.actor_label == "bob" and taken.details["takenFrom"] == "alice"
    first.close()
    second.close()


def test_correct_one_field_and_approve_in_six_keys(chromium, live_server, team, screenshots):
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    keys = ["e", "6", "0", "Enter"]
    for key in keys:
        page.keyboard.press(key)
    # Enter saved and gave the page back its keys (focus is on the field's Save, not in it).
    expect(page.locator("li[data-event=field_corrected]").first).to_contain_text("Total amount")
    expect(page.locator("tr[data-field=totalAmount] button[type=submit]")).to_be_focused()
    page.screenshot(path=str(screenshots / "desk-keyboard-corrected.png"), caret="initial")
    keys.append("a")
    page.keyboard.press("a")
    page.wait_for_url(re.compile(r"/review/$"))
    assert len(keys) <= 6
    done = Submission.objects.get(pk=submission.pk)
    assert done.status == S.APPROVED and done.extracted_data["totalAmount"] == 60.0
    context.close()


def test_confirming_fraud_asks_for_a_reason(chromium, live_server, team, screenshots: Path):
    subs = seed_queue(team["company"])
    flagged = subs["flagged"]
    # Confirming fraud is a lead's decision (steve.accounts).
    Membership.objects.filter(user=team["alice"]).update(role=Membership.Role.LEAD)
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    card = page.locator(".pair-card.unresolved")
    card.wait_for()
    # Beside the document, not above it: the viewer starts at the top of the page.
    viewer = page.locator(".viewer").bounding_box()
    panel = page.locator("#fraud-panel").bounding_box()
    assert viewer["y"] < 120 and panel["x"] > viewer["x"] + viewer["width"] - 1
    page.screenshot(path=str(screenshots / "desk-fraud-pair.png"), caret="initial")

    # c never decides alone: it opens the pair's reason.
    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.matches('[data-fraud-reason]')")
    assert Submission.objects.get(pk=flagged.pk).status == S.REVIEW
    page.select_option("[data-fraud-reason]", "Same receipt submitted twice.")
    page.screenshot(path=str(screenshots / "desk-fraud-reason.png"), caret="initial")
    page.keyboard.press("Enter")
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "rejected")
    done = Submission.objects.get(pk=flagged.pk)
    assert done.reject_reason == "Same receipt submitted twice."
    assert done.fraud_matches.get().resolution == "confirmed_fraud"
    page.screenshot(path=str(screenshots / "desk-fraud-confirmed.png"), caret="initial")

    # The compare view opens in a new tab and claims nothing.
    with context.expect_page() as opened:
        page.click("[data-compare]")
    compare = opened.value
    compare.wait_for_load_state()
    assert compare.locator("[data-compare-side]").count() == 2
    compare.screenshot(path=str(screenshots / "desk-compare.png"), caret="initial")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def page_width(page: Any) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_phone_width_without_horizontal_scroll(chromium, live_server, team, screenshots: Path):
    subs = seed_queue(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/review/")
    page.locator("table[data-queue] tr.row").first.wait_for()
    assert page_width(page) <= 390
    # The queue reads as cards: every row's submission, age and total are on screen.
    row = page.locator("table[data-queue] tr.row").first
    for cell in ["td.age", "th.sub", "td.total"]:
        box = row.locator(cell).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, cell
    page.screenshot(path=str(screenshots / "desk-phone-queue.png"), full_page=True, caret="initial")

    page.goto(f"{live_server.url}/review/{subs['flagged'].pk}/")
    page.locator(".pair-card").wait_for()
    assert page_width(page) <= 390
    page.screenshot(
        path=str(screenshots / "desk-phone-detail.png"), full_page=True, caret="initial"
    )
    # A simple decision works there too.
    page.goto(f"{live_server.url}/review/{subs['clean'].pk}/")
    assert page_width(page) <= 390
    page.click("[data-action=approve]")
    page.wait_for_url(re.compile(subs["last"].pk))
    assert Submission.objects.get(pk=subs["clean"].pk).status == S.APPROVED
    context.close()


def test_a_workflow_version_is_created_in_the_admin_without_typing_json(
    chromium, live_server, team, screenshots: Path
):
    from django.contrib.auth import get_user_model

    workflow = factories.default_workflows(team["company"])[0].workflow
    before = workflow.versions.count()
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(8000)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/steve/workflow/{workflow.pk}/change/")
    page.click("text=Add a version from a checked form")
    page.wait_for_url(re.compile(r"/workflowversion/add/"))
    # Prefilled from the workflow's current version: only a number is typed.
    assert '"acceptedFormats"' in page.input_value("#id_upload")
    page.fill("#id_review_threshold", "65")
    page.screenshot(path=str(screenshots / "desk-admin-version-form.png"), caret="initial")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r"/workflowversion/$"))
    page.screenshot(path=str(screenshots / "desk-admin-version-saved.png"), caret="initial")
    latest = workflow.versions.order_by("-version").first()
    assert workflow.versions.count() == before + 1 and latest.review_threshold == 65
    assert latest.upload["acceptedFormats"]
    context.close()


def rotated_upload(company: Any, angle: int) -> tuple[Submission, list[float]]:
    """A receipt uploaded turned by `angle` degrees, read by the real OCR as the pipeline
    reads it: the stored transform and the total's box come from that read."""
    import io

    from PIL import Image

    from jobs.extraction.document import Page
    from jobs.extraction.ocr import _ocr_page, get_engine

    upright = Image.open(io.BytesIO(receipt_png(RECEIPT))).convert("RGB")
    turned = upright.rotate(angle, expand=True, fillcolor="white")
    buffer = io.BytesIO()
    turned.save(buffer, format="PNG")
    page = Page(index=0, image=turned)
    _ocr_page(page, get_engine())
    [total] = [w for w in page.words if "54.20" in w.text]
    submission = factories.SubmissionFactory(
        company=company,
        extracted_data={"merchantName": "Tesco Extra", "totalAmount": 54.2},
        field_confidences={"merchantName": 0.9, "totalAmount": 0.4},
        evidence={"totalAmount": [{"file": 0, "page": 0, "bbox": list(total.bbox)}]},
    )
    file = stored_file(submission, content=buffer.getvalue())
    file.page_transforms = [page.transform]
    file.save(update_fields=["page_transforms"])
    return submission, list(total.bbox)


def text_under(png: bytes, bbox: list[float]) -> str:
    """What OCR reads inside the box on the image the reviewer is shown."""
    import io

    from PIL import Image

    from jobs.extraction.ocr import get_engine

    image = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = image.size
    crop = image.crop((bbox[0] * w - 4, bbox[1] * h - 4, bbox[2] * w + 4, bbox[3] * h + 4))
    return " ".join(word.text for word in get_engine().recognize(crop))


@pytest.mark.parametrize("angle", [90, 3])
def test_boxes_of_a_rotated_upload_cover_the_total(
    chromium, live_server, team, screenshots: Path, angle: int
):
    submission, bbox = rotated_upload(team["company"], angle)
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    img = page.locator(".stage .page img").first
    wait_until(page, "document.querySelector('.stage .page img').naturalWidth > 0")
    # The viewer shows the page as OCR read it, not the raw upload.
    src = img.get_attribute("src")
    assert re.fullmatch(r"/review/\w+/files/0/pages/0\.png\?v=[0-9a-f]{16}", src), src
    shown = page.request.get(f"{live_server.url}{src}").body()
    assert "54.20" in text_under(shown, bbox)

    page.hover("tr[data-field=totalAmount] th")
    box = page.locator(".stage .box").bounding_box()
    frame = img.bounding_box()
    drawn = [
        (box["x"] - frame["x"]) / frame["width"],
        (box["y"] - frame["y"]) / frame["height"],
        (box["x"] + box["width"] - frame["x"]) / frame["width"],
        (box["y"] + box["height"] - frame["y"]) / frame["height"],
    ]
    assert all(abs(a - b) < 0.02 for a, b in zip(drawn, bbox, strict=True)), (drawn, bbox)
    page.screenshot(path=str(screenshots / f"desk-rotated-{angle}.png"), caret="initial")

    # Rotating turns the image in the scroll area (nothing clipped) and the box with it.
    page.click("[data-rotate]")
    wait_until(page, "document.querySelector('.stage .page img').src.includes('rotate=90')")
    wait_until(page, "document.querySelector('.stage .page img').complete")
    # The turn is one more parameter of the versioned address (it was "?v=…?rotate=90").
    turned = page.evaluate("new URL(document.querySelector('.stage .page img').src).search")
    assert turned == f"?{src.split('?')[1]}&rotate=90", turned
    page.hover("tr[data-field=totalAmount] th")
    stage = page.locator(".stage").bounding_box()
    frame = img.bounding_box()
    assert frame["y"] >= stage["y"] and frame["x"] >= stage["x"] - 1
    box = page.locator(".stage .box").bounding_box()
    assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
    page.screenshot(path=str(screenshots / f"desk-rotated-{angle}-turned.png"), caret="initial")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_leaving_with_an_unsaved_correction_asks_and_line_items_show_their_boxes(
    chromium, live_server, team, screenshots: Path
):
    first = low_total(team["company"])
    factories.SubmissionFactory(company=team["company"])
    Submission.objects.filter(pk=first.pk).update(
        extracted_data={
            **first.extracted_data,
            "lineItems": [{"description": "Wine", "quantity": 1.0, "amount": 37.6}],
        },
        evidence={
            **first.evidence,
            "lineItems": [{"file": 0, "page": 0, "bbox": [0.06, 0.62, 0.6, 0.67], "item": 0}],
        },
    )
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{first.pk}/")
    fraud_panel_loaded(page)
    page.hover("tr[data-item='0'] td")
    expect(page.locator(".stage .box")).to_have_count(1)
    page.screenshot(path=str(screenshots / "desk-line-item-box.png"), caret="initial")

    page.fill("#field-totalAmount", "99.00")
    page.locator("#field-totalAmount").press("Escape")
    page.keyboard.press("j")
    dialog = page.locator("#unsaved-dialog")
    expect(dialog).to_contain_text("Leaving this page drops your change")
    page.click("[data-unsaved=back]")
    expect(page.locator("#field-totalAmount")).to_be_focused()
    assert first.pk in page.url
    expect(page.locator("#field-totalAmount")).to_have_value("99.00")
    context.close()


def test_a_mixed_queue_is_cleared_by_keyboard_alone(chromium, live_server, team, screenshots):
    """25 clean, low-confidence and fraud-flagged items in turn: a, e…Enter a, f a."""
    from fraud.models import FraudMatch
    from fraud.services import match_pair

    company = team["company"]
    original = factories.SubmissionFactory(company=company, status=S.APPROVED)
    kinds = (["clean", "low", "fraud"] * 9)[:25]  # a working stretch: 25 mixed items
    queue = []
    for kind in kinds:
        if kind == "low":
            queue.append(low_total(company))
            continue
        submission = factories.SubmissionFactory(
            company=company, extracted_data={"merchantName": "Kedai", "totalAmount": 12.5}
        )
        stored_file(submission)
        if kind == "fraud":
            match_pair(
                company_id=company.pk,
                submission_id=submission.pk,
                other_id=original.pk,
                check_type=FraudMatch.CheckType.VISUAL,
                score=80.0,
                similarity=0.9,
            )
        queue.append(submission)
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    for kind, submission in zip(kinds, queue, strict=True):
        page.wait_for_url(re.compile(submission.pk))
        fraud_panel_loaded(page)
        if kind == "low":
            page.keyboard.press("e")
            page.keyboard.type("60")
            page.keyboard.press("Enter")
            expect(page.locator("li[data-event=field_corrected]").first).to_be_visible()
        if kind == "fraud":
            page.keyboard.press("f")
            expect(page.locator("[data-action=approve]")).to_be_enabled()
        page.keyboard.press("a")
    page.wait_for_url(re.compile(r"/review/$"))
    page.screenshot(path=str(screenshots / "desk-queue-cleared.png"), caret="initial")
    for kind, submission in zip(kinds, queue, strict=True):
        done = Submission.objects.get(pk=submission.pk)
        assert done.status == S.APPROVED, (kind, done.pk)
        if kind == "low":
            assert done.extracted_data["totalAmount"] == 60.0  # no correction lost
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_resolving_a_fraud_pair_keeps_the_unsaved_correction_and_comment(
    chromium, live_server, team
):
    flagged = seed_queue(team["company"])["flagged"]
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    unresolved_pair_ready(page)
    page.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    page.locator("#comment-text").fill("Checked with the shop.")

    # The decision refreshes the whole side column; what was typed there was not sent.
    before = page.locator("#side").get_attribute("data-version")
    page.click("[data-resolve=false_positive]")
    expect(page.locator(".pair-card.unresolved")).to_have_count(0)
    expect(page.locator("#side")).not_to_have_attribute("data-version", before)
    expect(page.locator("#field-merchantName")).to_have_value("Tesco Extra Cambridge")
    expect(page.locator("#comment-text")).to_have_value("Checked with the shop.")
    expect(page.locator("tr[data-field=merchantName]")).to_have_class(re.compile(r"\bunsaved\b"))
    assert Submission.objects.get(pk=flagged.pk).extracted_data["merchantName"] == "Tesco Extra"
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_resolving_a_fraud_match_that_no_longer_exists_says_so_in_the_refreshed_panel(
    chromium, live_server, team
):
    flagged = seed_queue(team["company"])["flagged"]
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    unresolved_pair_ready(page)
    FraudMatch.objects.filter(submission=flagged).delete()  # gone with the other submission
    page.click("[data-resolve=false_positive]")
    refusal = page.locator("#fraud-panel [data-refusal]")
    expect(refusal).to_contain_text("This fraud match no longer exists")
    expect(refusal).to_have_attribute("data-code", "FRAUD_MATCH_NOT_FOUND")
    expect(page.locator(".pair-card")).to_have_count(0)  # the panel shows what is left
    expect(page.locator("#request-error")).to_be_hidden()
    context.close()


def test_a_save_after_the_sign_in_expired_says_so_and_keeps_the_typed_value(
    chromium, live_server, team
):
    submission = low_total(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    context.clear_cookies(name="sessionid")  # signed out in another tab, or timed out

    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Enter")
    banner = page.locator("#request-error")
    expect(banner).to_contain_text("sign-in may have expired")
    expect(field).to_have_value("60.00")
    assert "/review/" in page.url and "login" not in page.url
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 54.2
    context.close()


def test_a_desktop_width_page_fits_with_a_remembered_name_and_every_queue_column(
    chromium, live_server, team
):
    name = "Kedai Runcit Sinar Harapan Sdn Bhd"
    memory = MerchantMemory.objects.create(
        company=team["company"], key="gst:000123456789", field="merchantName", value=name
    )
    recalled = factories.SubmissionFactory(
        company=team["company"],
        extracted_data={"merchantName": name, "totalAmount": 9.5},
        field_confidences={"merchantName": 0.67, "totalAmount": 0.95},
        evidence={"merchantName": [{"memory": [memory.pk], "corrections": 1}]},
        client_submission_id="order-2026-12-06-0001",
    )
    stored_file(recalled, content=receipt_png(RECEIPT))
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{live_server.url}/review/{recalled.pk}/")
    expect(page.locator(".remembered")).to_contain_text("from 1 earlier correction")
    assert page_width(page) <= 1400
    card = page.locator("tr[data-field=merchantName]").bounding_box()
    label = page.locator(".remembered").bounding_box()
    assert label["x"] + label["width"] <= card["x"] + card["width"] + 1

    page.goto(f"{live_server.url}/review/")
    page.locator("table[data-queue] tr.row").first.wait_for()
    assert page_width(page) <= 1400
    header = page.locator("table[data-queue] th").last.bounding_box()
    assert header["x"] + header["width"] <= 1400
    context.close()


def test_an_edit_made_after_a_failed_save_survives_a_fraud_decision(chromium, live_server, team):
    """A save that failed (500, 403, offline) swaps nothing; what was typed after it is the
    latest text, and the next swap (the fraud panel's, the side column's) keeps it."""
    flagged = seed_queue(team["company"])["flagged"]
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    unresolved_pair_ready(page)
    page.route(re.compile(r"/correct(\?|$)"), lambda route: route.fulfill(status=500, body="x"))
    field = page.locator("#field-merchantName")
    field.fill("Tesco Extra Cambridge")
    field.press("Enter")
    expect(page.locator("#request-error")).to_contain_text("(500)")
    field.fill("Tesco Extra Newmarket Rd")  # typed on after the failure

    before = page.locator("#side").get_attribute("data-version")
    page.click("[data-resolve=false_positive]")
    expect(page.locator(".pair-card.unresolved")).to_have_count(0)
    expect(page.locator("#side")).not_to_have_attribute("data-version", before)
    expect(field).to_have_value("Tesco Extra Newmarket Rd")
    expect(page.locator("tr[data-field=merchantName]")).to_have_class(re.compile(r"\bunsaved\b"))
    context.close()


def slow_network(context: Any, page: Any, latency: int = 1500) -> Any:
    """Every request of the page takes `latency` ms each way (Chromium's throttling)."""
    network = context.new_cdp_session(page)
    network.send("Network.enable")
    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    return network


def test_two_quick_saves_of_different_fields_on_a_slow_network_both_land(
    chromium, live_server, team
):
    """Enter in one field, then in the next, before the first answer is back: the second
    save carries the version the page had, and the only change since is the reviewer's
    own save of another field, so both land and neither field is left unsaved."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    slow_network(context, page)
    page.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    page.locator("#field-merchantName").press("Enter")
    page.wait_for_timeout(300)
    date = page.locator("#field-date")
    date.fill("2026-11-30")
    date.press("Enter")

    expect(page.locator("li[data-event=field_corrected]")).to_have_count(2)
    expect(page.locator("#side [data-refusal]")).to_have_count(0)
    expect(page.locator("tr.unsaved")).to_have_count(0)
    expect(page.locator("#field-merchantName")).to_have_value("Tesco Extra Cambridge")
    expect(date).to_have_value("2026-11-30")
    saved = Submission.objects.get(pk=submission.pk)
    assert saved.extracted_data["merchantName"] == "Tesco Extra Cambridge"
    assert saved.extracted_data["date"] == "2026-11-30"
    expect(page.locator("#side")).to_have_attribute("data-version", str(saved.version))
    context.close()


def test_a_save_sent_before_the_previous_answer_came_back_shows_its_refusal(
    chromium, live_server, team
):
    """Enter in one field, then in the next, on a slow network, while something else
    corrects that next field: the first answer replaces the side column while the second
    is in flight. The second (refused: its field changed) shows its refusal in the
    current column, with its text kept, instead of vanishing."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    network = slow_network(context, page)
    page.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    page.locator("#field-merchantName").press("Enter")
    submission_correct_field(
        submission_id=submission.pk, field_name="currency", raw_value="USD", actor=Actor.system()
    )
    currency = page.locator("#field-currency")
    currency.fill("EUR")
    currency.press("Enter")

    refusal = page.locator("#side [data-refusal]")
    expect(refusal).to_contain_text("Currency changed since you opened it")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(2)  # the first, USD
    expect(currency).to_have_value("EUR")
    expect(page.locator("tr[data-field=currency]")).to_have_class(re.compile(r"\bunsaved\b"))

    network.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    currency.press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(3)
    saved = Submission.objects.get(pk=submission.pk).extracted_data
    assert saved["merchantName"] == "Tesco Extra Cambridge" and saved["currency"] == "EUR"
    context.close()


def test_a_correction_then_an_immediate_false_positive_on_a_slow_network_both_land(
    chromium, live_server, team
):
    """Enter in a field, then False positive before the save's answer (and the panel's
    refresh after it) came back: the panel still carries the version it was drawn at, and
    the only change since is the reviewer's own correction, so both land."""
    flagged = seed_queue(team["company"])["flagged"]
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    unresolved_pair_ready(page)
    slow_network(context, page)
    field = page.locator("#field-merchantName")
    field.fill("Tesco Extra Cambridge")
    field.press("Enter")
    page.wait_for_timeout(300)
    page.click("[data-resolve=false_positive]")

    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(page.locator("li[data-event=fraud_match_resolved]")).to_have_count(1)
    expect(page.locator(".pair-card.unresolved")).to_have_count(0)
    expect(page.locator("[data-refusal]")).to_have_count(0)
    expect(page.locator("tr.unsaved")).to_have_count(0)
    expect(field).to_have_value("Tesco Extra Cambridge")
    saved = Submission.objects.get(pk=flagged.pk)
    assert saved.extracted_data["merchantName"] == "Tesco Extra Cambridge"
    assert set(saved.fraud_matches.values_list("resolution", flat=True)) == {"false_positive"}
    expect(page.locator("#side")).to_have_attribute("data-version", str(saved.version))
    context.close()


def test_the_browsers_back_button_with_an_unsaved_correction_asks_first(
    chromium, live_server, team
):
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.click(f"tr.row[data-id='{submission.pk}'] a")
    page.wait_for_url(re.compile(rf"/review/{submission.pk}/$"))
    fraud_panel_loaded(page)
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Escape")

    page.evaluate("history.back()")
    dialog = page.locator("#unsaved-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Leaving this page drops your change")
    page.click("[data-unsaved=back]")  # stay: the page, its address and the text are kept
    expect(field).to_have_value("60.00")
    assert page.url.endswith(f"/review/{submission.pk}/")
    field.press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)

    # Unsaved again: leaving is one choice away, and goes back to the queue.
    field.fill("61.00")
    field.press("Escape")
    page.evaluate("history.back()")
    page.click("[data-unsaved=approve]")  # "Leave without saving"
    page.wait_for_url(re.compile(r"/review/$"))
    expect(page.locator("table[data-queue] tr.row")).to_have_count(1)
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 60.0
    context.close()


def test_a_save_answered_after_going_on_to_the_next_submission_stays_off_its_page(
    chromium, live_server, team, monkeypatch
):
    """A slow save's answer that comes back once the reviewer is on the next submission
    is not swapped into that page: it belongs to the one they left."""
    first, second = low_total(team["company"]), low_total(team["company"])
    correct = actions.submission_correct_field

    def slow_correct(**kwargs: Any) -> Any:
        time.sleep(2)
        return correct(**kwargs)

    monkeypatch.setattr(actions, "submission_correct_field", slow_correct)
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{first.pk}/")
    fraud_panel_loaded(page)
    page.locator("#field-totalAmount").fill("60.00")
    page.locator("#field-totalAmount").press("Enter")
    page.click("[data-nav]")  # on to the other one, while the save is on its way
    page.click("[data-unsaved=approve]")  # "Leave without saving"
    page.wait_for_url(re.compile(rf"/review/{second.pk}/$"))
    wait_until(page, "!!document.querySelector('#fraud-panel [data-fraud-panel]')")
    page.wait_for_timeout(2500)  # the first one's answer is back
    assert Submission.objects.get(pk=first.pk).extracted_data["totalAmount"] == 60.0
    expect(page.locator("#side")).to_have_attribute("data-submission", second.pk)
    expect(page.locator("#decision-title")).to_have_text(second.pk)
    expect(page.locator("#field-totalAmount")).to_have_value("54.20")
    context.close()


def test_a_panel_load_after_the_sign_in_expired_keeps_the_page_and_what_was_typed(
    chromium, live_server, team
):
    """The fraud panel loads again by itself after a failure; if the sign-in ended
    meanwhile, the server answers with a redirect to the login form, which took the whole
    page there, unsaved correction and all."""
    flagged = seed_queue(team["company"])["flagged"]
    context, page, errors = open_page(chromium, live_server, team["alice"])
    down = {"on": True}
    page.route(
        re.compile(rf"/review/{flagged.pk}/fraud(\?|$)"),
        lambda route: route.abort() if down["on"] else route.continue_(),
    )
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    note = page.locator("[data-panel-failed]")
    expect(note).to_be_visible()
    field = page.locator("#field-totalAmount")
    field.fill("60.00")  # typed, not saved
    context.clear_cookies(name="sessionid")  # signed out in another tab, or timed out
    down["on"] = False

    note.locator("[data-panel-retry]").click()
    expect(page.locator("#request-error")).to_contain_text("sign-in has expired")
    assert page.url.endswith(f"/review/{flagged.pk}/")
    expect(field).to_have_value("60.00")
    expect(note).to_be_visible()  # the panel is still not loaded, and says so
    context.close()


def test_a_fraud_panel_that_failed_to_load_loads_again_by_itself(
    chromium, live_server, team, screenshots: Path
):
    """The server cannot be reached as the page opens: the panel says so with a Retry
    (a real link to the panel), and loads when pressed, when the browser is back online,
    and after a pause, without waiting for the next save."""
    flagged = seed_queue(team["company"])["flagged"]
    context, page, errors = open_page(chromium, live_server, team["alice"])
    down = {"on": True, "requests": 0}

    def panel_request(route: Any) -> None:
        down["requests"] += 1
        if down["on"]:
            route.abort()
        else:
            route.continue_()

    page.route(re.compile(rf"/review/{flagged.pk}/fraud(\?|$)"), panel_request)
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    note = page.locator("[data-panel-failed]")
    expect(note).to_be_visible()
    expect(page.locator("#request-error")).to_contain_text("cannot be reached")
    retry = note.locator("[data-panel-retry]")
    expect(retry).to_have_attribute("href", f"/review/{flagged.pk}/fraud")
    page.screenshot(path=str(screenshots / "desk-fraud-panel-failed.png"), caret="initial")

    # Retry while the server is still out of reach: sent again, and still says so.
    sent = down["requests"]
    retry.click()
    for _ in range(60):
        if down["requests"] > sent:
            break
        page.wait_for_timeout(50)
    assert down["requests"] > sent
    expect(note).to_be_visible()
    assert page.url.endswith(f"/review/{flagged.pk}/")  # the link was not followed

    # The network comes back: the browser's online event loads the panel, well before
    # the next timed retry (6 s after the last failure).
    down["on"] = False
    context.set_offline(True)
    context.set_offline(False)
    expect(page.locator(".pair-card.unresolved")).to_be_visible(timeout=4000)
    expect(note).to_be_hidden()
    expect(page.locator("#request-error")).to_be_hidden()

    # Down again as the page opens; nothing is pressed: the panel loads after a pause.
    down["on"] = True
    page.reload()
    expect(note).to_be_visible()
    down["on"] = False
    expect(page.locator(".pair-card.unresolved")).to_be_visible(timeout=8000)
    expect(note).to_be_hidden()

    # Pressed, it also loads at once.
    down["on"] = True
    page.reload()
    expect(note).to_be_visible()
    down["on"] = False
    retry.click()
    expect(page.locator(".pair-card.unresolved")).to_be_visible(timeout=2500)
    expect(note).to_be_hidden()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


@pytest.mark.parametrize("width", [360, 640])  # a phone; a 1280-px window at 200 % zoom
def test_long_unbroken_values_wrap_instead_of_widening_the_page(chromium, live_server, team, width):
    """A 2,000-character value with no space (a merchant name, a line item, a comment, the
    timeline's old → new) made the side column as wide as the value: 22,000 px."""
    long = "W" * 1500
    submission = factories.SubmissionFactory(
        company=team["company"],
        extracted_data={
            "merchantName": "M" * 1500,
            "totalAmount": 10.0,
            "lineItems": [{"description": "D" * 2000, "quantity": 1.0, "amount": 1.5}],
        },
        metadata={"note": "N" * 2000},
    )
    actor = Actor.for_user(team["alice"])
    submission_correct_field(
        submission_id=submission.pk, field_name="merchantName", raw_value=long, actor=actor
    )
    submission_comment(submission_id=submission.pk, actor=actor, text="C" * 2000)
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.set_viewport_size({"width": width, "height": 800})
    fits = "document.documentElement.scrollWidth <= window.innerWidth"
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    assert page.evaluate(fits), page.evaluate("document.documentElement.scrollWidth")
    Submission.objects.filter(pk=submission.pk).update(status=S.REJECTED, reject_reason="R" * 2000)
    page.goto(f"{live_server.url}/review/{submission.pk}/")  # read only: values as text
    expect(page.locator(".decided")).to_contain_text("Rejected")
    assert page.evaluate(fits), page.evaluate("document.documentElement.scrollWidth")
    assert errors == []
    context.close()


def test_a_swapped_in_form_works_before_the_next_key_is_read(chromium, live_server, team):
    """htmx wired up swapped-in forms 20 ms after the swap (its settle delay): a key pressed
    in between (a fast keyboard user, a loaded machine) posted the plain form instead, and
    the page was left for the no-JavaScript one. Looked at once the swap's task is done:
    the claim's new column must be wired up by then."""
    submission = low_total(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    page.evaluate(
        """() => document.addEventListener("htmx:afterSwap", (event) => {
            if (event.detail.target.id !== "side") return;
            queueMicrotask(() => {
                const forms = [...document.querySelectorAll("#side form.correct")];
                window.wired = forms.length > 0 && forms.every((f) => "htmx-internal-data" in f);
            });
        }, { once: true })"""
    )
    page.click("[data-action=start-review]")
    expect(page.locator("[data-claim=mine] button")).to_be_visible()
    assert page.evaluate("() => window.wired") is True
    assert errors == []
    context.close()


def test_focus_stays_where_the_reviewer_was_after_each_swap(chromium, live_server, team):
    """Keyboard only: a claim, a saved field and a refused approve each replace the
    column; focus went to the page itself, so Tab started again at the top."""
    submission = low_total(team["company"])
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    page.focus("[data-action=start-review]")
    page.keyboard.press("Enter")
    expect(page.locator("[data-claim=mine] button")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("[data-action=approve]")).to_be_focused()

    page.keyboard.press("e")
    page.keyboard.type("60.00")
    page.keyboard.press("Enter")
    expect(page.locator("tr[data-field=totalAmount] button[type=submit]")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#field-currency")).to_be_focused()
    page.keyboard.press("Escape")

    # Changed since the page was drawn: the approve is refused, and focus is on why.
    submission_correct_field(
        submission_id=submission.pk,
        field_name="currency",
        raw_value="EUR",
        actor=Actor.for_user(team["alice"]),
    )
    page.focus("[data-action=approve]")
    page.keyboard.press("Enter")
    expect(page.locator("[data-refusal]")).to_be_focused()
    expect(page.locator("[data-refusal]")).to_contain_text("changed since you opened it")
    page.keyboard.press("Tab")
    expect(page.locator("[data-claim=mine] button")).to_be_focused()
    assert Submission.objects.get(pk=submission.pk).status == S.REVIEW
    assert errors == []
    context.close()


def test_after_a_fraud_decision_focus_goes_to_the_next_pair_then_the_decided_ones_summary(
    chromium, live_server, team
):
    """The decided card was replaced and focus fell to the page: Tab started again at the
    top, and the next pair was out of the keyboard's reach. What each decision did is said
    in the page's live region, the one already there (focus alone said nothing of it)."""
    flagged, _ = flagged_pairs(team["company"], pairs=2)
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    expect(page.locator(".pair-card.unresolved")).to_have_count(2)
    page.evaluate("document.getElementById('messages').dataset.before = 'here'")
    page.focus("[data-resolve=false_positive]")
    page.keyboard.press("Enter")
    expect(page.locator(".pair-card.unresolved")).to_have_count(1)
    expect(page.locator(".pair-card.unresolved [data-resolve=false_positive]")).to_be_focused()
    live = page.locator("#messages[role=status]")
    expect(live).to_have_text("Marked false positive. 1 pair left to decide.")

    last = page.locator(".pair-card.unresolved").get_attribute("data-pair")
    page.keyboard.press("Enter")
    expect(page.locator(".pair-card.unresolved")).to_have_count(0)
    expect(page.locator(f".pair-card[data-pair={last}] summary")).to_be_focused()
    expect(live).to_have_text("Marked false positive. No pairs left to decide.")
    # The same region, filled, not replaced: a screen reader watches the one it knows.
    assert page.evaluate("document.getElementById('messages').dataset.before") == "here"
    page.keyboard.press("Tab")  # on to the decided pair's Undo
    expect(
        page.locator(f"[data-pair-actions={last}] [data-action=undo-resolution]")
    ).to_be_focused()
    assert errors == []
    context.close()


def test_a_save_reloads_the_fraud_panel_at_the_pairs_shown_after_show_more(
    chromium, live_server, team
):
    """A save reloads the fraud panel (submission-changed): after "Show more" it came back
    at its first 50 pairs, and the reviewer working past them lost their place."""
    flagged, _ = flagged_pairs(team["company"], pairs=55)
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    cards = page.locator("#fraud-panel .pair-card")
    expect(cards).to_have_count(50)
    page.click("#fraud-panel [data-more-pairs] a")
    expect(cards).to_have_count(55)

    page.evaluate("document.querySelector('[data-fraud-panel]').dataset.before = 'shown'")
    panel_load = re.compile(rf"/review/{flagged.pk}/fraud(\?|$)")
    with page.expect_response(panel_load) as reload:
        field = page.locator("#field-merchantName")
        field.fill("Kedai Runcit Ampang")
        field.press("Enter")
    assert "pairs=100" in reload.value.url
    expect(page.locator("[data-fraud-panel]:not([data-before])")).to_be_attached()
    expect(cards).to_have_count(55)
    saved = Submission.objects.get(pk=flagged.pk)
    assert saved.extracted_data["merchantName"] == "Kedai Runcit Ampang"
    assert errors == []
    context.close()


def test_without_javascript_every_file_of_a_submission_is_shown(chromium, live_server, team):
    """The file tabs switch files in script: without it the second file stayed hidden,
    and the tabs, zoom and help buttons did nothing."""
    submission = factories.SubmissionFactory(company=team["company"])
    stored_file(submission, index=0, content=receipt_png(RECEIPT))
    stored_file(submission, index=1, content=receipt_png(["SECOND PAGE"]))
    context, page = alice_without_script(chromium, live_server, submission)
    expect(page.locator(".stage .file[data-file='1'] img")).to_be_visible()
    expect(page.locator(".stage .file[data-file='0'] img")).to_be_visible()
    for dead in ("[data-file-tab='1']", "[data-zoom=in]", "[data-rotate]", "[data-shortcuts-open]"):
        expect(page.locator(dead)).to_be_hidden()
    context.close()

    # With script, one file at a time, switched by its tab.
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    expect(page.locator(".stage .file[data-file='1']")).to_be_hidden()
    expect(page.locator("[data-file-tab='0']")).to_have_attribute("aria-pressed", "true")
    page.locator("[data-file-tab='1']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".stage .file[data-file='1'] img")).to_be_visible()
    expect(page.locator(".stage .file[data-file='0']")).to_be_hidden()
    # The pressed button says which file is shown (they were tabs that were not).
    expect(page.locator("[data-file-tab='1']")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("[data-file-tab='0']")).to_have_attribute("aria-pressed", "false")
    assert page.locator("[role=tab], [role=tablist]").count() == 0
    assert errors == []
    context.close()


def test_a_typed_reject_and_cancel_reason_survive_a_save_elsewhere_on_the_page(
    chromium, live_server, team
):
    """A reason typed (or kept after a failed Reject: the server was down) is in the side
    column, which every save redraws: a correction or comment saved meanwhile wiped it
    without a word, though the banner had said what was typed is still on the page."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    page.fill("#id_reason", "Total unreadable, asked for a new scan")
    page.click("details.cancel summary")
    page.fill("#cancel-reason", "Sent twice by the client")

    page.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    page.locator("#field-merchantName").press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)

    expect(page.locator("#id_reason")).to_have_value("Total unreadable, asked for a new scan")
    expect(page.locator("#cancel-reason")).to_have_value("Sent twice by the client")
    # Unsaved like a correction: leaving asks first, and says which.
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(page.locator("#unsaved-dialog [data-unsaved-fields]")).to_have_text(
        "Reject reason, Cancel reason"
    )
    context.close()


def test_a_pressed_button_says_it_is_busy_and_pressing_again_sends_nothing(
    chromium, live_server, team
):
    """On a slow server a button only faded a little: nothing said the press was taken, so
    a reviewer pressed again (Enter, a double-click, the shortcut). htmx queued that press
    and sent it as soon as a failed answer came in: a second save nobody meant. The button
    now says what it is doing, is marked unavailable until the answer is in, and a second
    press meanwhile sends nothing."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    held: list[Any] = []  # the server is slow: the answer comes when the test says
    page.route(re.compile(r"/correct(\?|$)"), lambda route: held.append(route))

    field = page.locator("#field-merchantName")
    field.fill("Tesco Extra Cambridge")
    field.press("Enter")
    save = page.locator("tr[data-field=merchantName] button[type=submit]")
    expect(save).to_have_text("Saving…")
    expect(save).to_have_attribute("aria-disabled", "true")
    field.press("Enter")
    page.wait_for_timeout(300)
    held.pop().fulfill(status=502, body="Bad gateway")
    expect(page.locator("#request-error")).to_contain_text("(502)")
    page.wait_for_timeout(500)
    assert held == []  # the second press was not sent after the failure
    expect(save).to_have_text("Save Merchant name")
    expect(save).not_to_have_attribute("aria-disabled", "true")

    page.unroute(re.compile(r"/correct(\?|$)"))
    field.press("Enter")  # the reviewer's own retry saves it, once
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    slow_network(context, page)
    approve = page.locator("[data-action=approve]")
    approve.click()
    expect(approve).to_have_text("Approving…")
    page.keyboard.press("a")
    expect(page.locator("#messages")).to_contain_text("approved")
    assert [url.rsplit("/", 1)[1].split("?")[0] for url in posts] == ["approve"]
    context.close()


def test_a_picked_common_reject_reason_survives_a_save_and_the_dialog_names_what_is_unsaved(
    chromium, live_server, team
):
    """A reason picked from the common reasons (a select) was reset by a save elsewhere on
    the page, though a typed one was kept; and the unsaved-input dialog was titled
    "Unsaved corrections" when what was unsaved was a reason or a comment."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    page.select_option("#reject-preset", "Not a receipt or invoice.")

    page.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    page.locator("#field-merchantName").press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(page.locator("#reject-preset")).to_have_value("Not a receipt or invoice.")

    dialog = page.locator("#unsaved-dialog")
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(dialog.locator("h2")).to_have_text("Unsaved reject reason")
    expect(dialog.locator("[data-unsaved-fields]")).to_have_text("Reject reason")
    page.click("[data-unsaved=back]")
    expect(page.locator("#reject-preset")).to_be_focused()

    page.select_option("#reject-preset", "")  # back as it was: nothing unsaved
    page.fill("#comment-text", "Asked the client for a clearer scan")
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(dialog.locator("h2")).to_have_text("Unsaved comment")
    page.click("[data-unsaved=back]")
    page.fill("#field-totalAmount", "99.00")
    page.locator("#field-totalAmount").press("Escape")
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(dialog.locator("h2")).to_have_text("Unsaved changes")
    expect(dialog.locator("[data-unsaved-fields]")).to_contain_text("Comment")
    expect(dialog).to_contain_text("Leaving this page drops your change")
    context.close()


def test_a_refused_reject_keeps_the_picked_reason_through_a_later_save(chromium, live_server, team):
    """A stale page's Reject is refused; the reason picked from the common reasons came
    back unpicked (the typed one was kept). Kept, it is the reviewer's unsaved input like
    any other: a correction saved next, which redraws the column, keeps it too."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    submission_correct_field(
        submission_id=submission.pk, field_name="currency", raw_value="EUR", actor=Actor.system()
    )
    page.select_option("#reject-preset", "Not a receipt or invoice.")
    page.click("[data-action=reject]")
    expect(page.locator("[data-refusal]")).to_contain_text("changed since you opened it")
    expect(page.locator("#reject-preset")).to_have_value("Not a receipt or invoice.")

    page.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    page.locator("#field-merchantName").press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(2)
    expect(page.locator("#reject-preset")).to_have_value("Not a receipt or invoice.")
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(page.locator("#unsaved-dialog [data-unsaved-fields]")).to_have_text("Reject reason")
    page.click("[data-unsaved=back]")


def test_a_reject_after_the_reviewers_own_save_goes_through(chromium, live_server, team):
    """A reason typed before a correction was put back into the redrawn column with the
    version it was typed on, so Reject was then refused as stale: "you corrected Merchant
    name in another tab or window", though it was this page. A reason overwrites no value:
    it goes on with the column's version, as the Approve button does."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    page.fill("#id_reason", "Scan of a menu, not a receipt")
    page.locator("#field-merchantName").fill("Tesco Extra Cambridge")
    page.locator("#field-merchantName").press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(page.locator("#id_reason")).to_have_value("Scan of a menu, not a receipt")

    page.click("[data-action=reject]")
    page.wait_for_url(re.compile(r"/review/$"))
    done = Submission.objects.get(pk=submission.pk)
    assert done.status == S.REJECTED and done.reject_reason == "Scan of a menu, not a receipt"
    context.close()


def lead_on_flagged(
    chromium: Any, live_server: Any, team: dict[str, Any]
) -> tuple[Any, Any, Any, list[str]]:
    """A lead (who may confirm fraud) on a submission with one fraud pair to decide."""
    flagged = seed_queue(team["company"])["flagged"]
    Membership.objects.filter(user=team["alice"]).update(role=Membership.Role.LEAD)
    context, page, errors = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    unresolved_pair_ready(page)
    return flagged, context, page, errors


def save_merchant_name_and_wait_for_the_panel(page: Any, name: str) -> None:
    """A correction saved elsewhere on the page, and the fraud panel it reloads
    (submission-changed) swapped in: a reason still there was kept, not merely not yet wiped."""
    page.evaluate("document.querySelector('[data-fraud-panel]').dataset.before = 'shown'")
    field = page.locator("#field-merchantName")
    field.fill(name)
    field.press("Enter")
    expect(page.locator("[data-fraud-panel]:not([data-before])")).to_be_attached()


def test_a_picked_and_typed_fraud_reason_survive_a_save_elsewhere_and_leaving_asks(
    chromium, live_server, team
):
    """A reason picked or written in a pair's Confirm fraud form was not unsaved input: a
    correction saved meanwhile reloads the fraud panel, which wiped it without a word, and
    leaving the page did not ask, as it does for a reject or cancel reason."""
    _, context, page, errors = lead_on_flagged(chromium, live_server, team)
    card = page.locator(".pair-card.unresolved")
    card.locator("[data-fraud-reason]").select_option("Same receipt submitted twice.")
    card.locator("input[name=reason]").fill("Same till slip as order A-1001")

    save_merchant_name_and_wait_for_the_panel(page, "Tesco Extra Cambridge")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    card = page.locator(".pair-card.unresolved")
    expect(card.locator("[data-fraud-reason]")).to_have_value("Same receipt submitted twice.")
    expect(card.locator("input[name=reason]")).to_have_value("Same till slip as order A-1001")

    dialog = page.locator("#unsaved-dialog")
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(dialog.locator("h2")).to_have_text("Unsaved fraud reason")
    expect(dialog.locator("[data-unsaved-fields]")).to_have_text("Fraud reason")
    page.click("[data-unsaved=back]")
    expect(card.locator("[data-fraud-reason]")).to_be_focused()
    assert errors == []
    context.close()


def test_a_refused_confirmation_keeps_its_reason_through_a_later_save(chromium, live_server, team):
    """A refused Confirm fraud (here a reason pasted with an invisible character) comes
    back with the reason put back, drawn with it: it read as unchanged, so the next save's
    panel reload dropped it unasked."""
    flagged, context, page, _ = lead_on_flagged(chromium, live_server, team)
    card = page.locator(".pair-card.unresolved")
    card.locator("[data-fraud-reason]").select_option("Same receipt submitted twice.")
    card.locator("input[name=reason]").fill("Same till slip\u200b")
    # The refusal refreshes the side column too (fraud-changed): the save below is made
    # once it is in, not from the column it replaces.
    page.evaluate("document.getElementById('side').dataset.before = 'shown'")
    card.locator("[data-resolve=confirmed_fraud]").click()
    expect(page.locator("#fraud-panel [data-refusal]")).to_contain_text("invisible character")
    expect(page.locator("#side:not([data-before])")).to_be_attached()
    expect(card.locator("[data-fraud-reason]")).to_have_value("Same receipt submitted twice.")
    expect(card.locator("input[name=reason]")).to_have_value("Same till slip\u200b")
    assert Submission.objects.get(pk=flagged.pk).status == S.REVIEW

    save_merchant_name_and_wait_for_the_panel(page, "Tesco Extra Cambridge")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(card.locator("[data-fraud-reason]")).to_have_value("Same receipt submitted twice.")
    expect(card.locator("input[name=reason]")).to_have_value("Same till slip\u200b")
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(page.locator("#unsaved-dialog [data-unsaved-fields]")).to_have_text("Fraud reason")
    context.close()


def test_a_fraud_reason_survives_a_refused_reject_that_redraws_the_whole_page(
    chromium, live_server, team
):
    """A refused Reject brings the whole page back, and its fraud panel loads after it:
    the reason written in a pair was kept for that panel, not reported as gone."""
    flagged, context, page, _ = lead_on_flagged(chromium, live_server, team)
    submission_correct_field(
        submission_id=flagged.pk, field_name="currency", raw_value="EUR", actor=Actor.system()
    )
    page.locator(".pair-card.unresolved input[name=reason]").fill("Same till slip as A-1001")
    page.select_option("#reject-preset", "Not a receipt or invoice.")
    page.click("[data-action=reject]")
    expect(page.locator("[data-refusal]").first).to_contain_text("changed since you opened it")
    card = page.locator(".pair-card.unresolved")
    expect(card.locator("input[name=reason]")).to_have_value("Same till slip as A-1001")
    expect(page.locator("#request-error")).to_be_hidden()
    page.locator("[data-nav=next], .pager a:has-text('Queue')").first.click()
    expect(page.locator("#unsaved-dialog [data-unsaved-fields]")).to_have_text(
        "Reject reason, Fraud reason"
    )
    context.close()


def test_show_more_pairs_keeps_a_written_fraud_reason_without_asking_to_leave(
    chromium, live_server, team
):
    """Show more loads into the fraud panel only: with a fraud reason written, it asked
    "Leaving this page drops your change", and the reload wiped the reason."""
    flagged, _ = flagged_pairs(team["company"], pairs=51)
    Membership.objects.filter(user=team["alice"]).update(role=Membership.Role.LEAD)
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{flagged.pk}/")
    cards = page.locator("#fraud-panel .pair-card")
    expect(cards).to_have_count(50)
    cards.first.locator("input[name=reason]").fill("Same till slip, another date")
    page.click("#fraud-panel [data-more-pairs] a")
    expect(cards).to_have_count(51)
    expect(page.locator("#unsaved-dialog")).not_to_be_visible()
    expect(cards.first.locator("input[name=reason]")).to_have_value("Same till slip, another date")
    context.close()


def held_requests(page: Any, pattern: str) -> list[Any]:
    """Requests to `pattern` are held, unanswered, until the test lets them go on."""
    held: list[Any] = []
    page.route(re.compile(pattern), lambda route: held.append(route))
    return held


def wait_for_held(page: Any, held: list[Any]) -> Any:
    deadline = time.monotonic() + 15.0  # as expect's waits (tests/e2e/conftest.py)
    while not held:
        if time.monotonic() > deadline:
            raise AssertionError("the request was never sent")
        page.wait_for_timeout(50)  # lets Playwright hand the route over
    return held[0]


def test_a_save_answered_after_its_column_was_redrawn_still_reloads_the_fraud_panel(
    chromium, live_server, team
):
    """A correction in flight while a refused Confirm fraud redrew the side column: the
    save's submission-changed went to its replaced form, off the page, so it never reached
    the fraud panel's listener and the panel stayed as it was before the save."""
    _, context, page, errors = lead_on_flagged(chromium, live_server, team)
    held = held_requests(page, r"/correct(\?|$)")
    field = page.locator("#field-merchantName")
    field.fill("Tesco Extra Cambridge")
    field.press("Enter")
    save = wait_for_held(page, held)

    page.evaluate("document.getElementById('side').dataset.before = 'shown'")
    page.locator(".pair-card.unresolved [data-resolve=confirmed_fraud]").click()  # no reason
    expect(page.locator("#fraud-panel [data-refusal]")).to_be_visible()
    expect(page.locator("#side:not([data-before])")).to_be_attached()  # the form is gone

    page.evaluate("document.querySelector('[data-fraud-panel]').dataset.before = 'shown'")
    save.continue_()
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)
    expect(page.locator("[data-fraud-panel]:not([data-before])")).to_be_attached()
    # The refused confirmation's 422 is the only thing Chromium reports.
    assert [e for e in errors if "status of 422" not in e] == []
    context.close()


def test_a_fraud_decision_answered_after_its_panel_reloaded_still_refreshes_the_side_column(
    chromium, live_server, team
):
    """A pair decided while a save reloaded the fraud panel: the decision's fraud-changed
    went to its replaced form, the side column was not refreshed, and kept the version
    from before the decision, so the next save was refused as changed since."""
    flagged, context, page, errors = lead_on_flagged(chromium, live_server, team)
    held = held_requests(page, r"/fraud/resolve(\?|$)")
    page.locator(".pair-card.unresolved [data-resolve=false_positive]").click()
    decision = wait_for_held(page, held)

    save_merchant_name_and_wait_for_the_panel(page, "Tesco Extra Cambridge")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(1)

    page.evaluate("document.getElementById('side').dataset.before = 'shown'")
    decision.continue_()
    expect(page.locator("#fraud-panel .pair-card.unresolved")).to_have_count(0)
    expect(page.locator("#side:not([data-before])")).to_be_attached()
    version = Submission.objects.get(pk=flagged.pk).version
    expect(page.locator("#side")).to_have_attribute("data-version", str(version))

    field = page.locator("#field-merchantName")
    field.fill("Tesco Extra Ely")
    field.press("Enter")
    expect(page.locator("li[data-event=field_corrected]")).to_have_count(2)
    expect(page.locator("[data-refusal]")).to_have_count(0)
    assert errors == []
    context.close()


def test_a_page_whose_file_is_withdrawn_while_open_says_so_not_a_broken_image(
    chromium, live_server, team
):
    """Its file withdrawn (retention) while the reviewer has its page open, the next
    drawing of it (here turned) was a broken image, its alt text alone: it says why."""
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    shown = page.locator(".stage .page img").first
    wait_until(page, "document.querySelector('.stage .page img').naturalWidth > 0")
    submission_files_withdraw(submission_id=submission.pk)
    page.locator("[data-rotate]").click()
    note = page.locator(".stage .page .image-failed")
    expect(note).to_have_text(
        "This page is no longer available (the file was withdrawn or its retention period ended)."
    )
    expect(shown).to_be_hidden()
    context.close()


def test_without_javascript_take_over_keeps_a_correction_refused_for_the_claim(
    chromium, live_server, team
):
    """Without script, a correction saved while bob held the submission came back refused
    with the value in its box; Take over, a form of its own, then brought the page back
    with the stored value. In Chromium, the button submits the correction's form (its
    `form` and `formaction`), and the page comes back with the value, not saved."""
    from submissions.services import submission_claim

    submission = low_total(team["company"])
    submission_claim(submission_id=submission.pk, user=team["bob"])
    context, page = alice_without_script(chromium, live_server, submission)
    field = page.locator("#field-totalAmount")
    field.fill("60.00")
    field.press("Enter")
    expect(page.locator("[data-refusal]")).to_contain_text("bob is reviewing this submission")
    expect(field).to_have_value("60.00")
    field.fill("61.00")  # fixed further before taking it over
    page.click("[data-action=take-over]")
    expect(page.locator(".claim")).to_contain_text("You are reviewing this")
    expect(field).to_have_value("61.00")
    expect(page.locator("#messages")).to_contain_text("not saved yet")
    held = Submission.objects.get(pk=submission.pk)
    assert held.claimed_by == team["alice"] and held.extracted_data["totalAmount"] == 54.2
    # Enter in the box saves it (the buttons that joined its form come first on the page:
    # Enter pressed Release), and the reviewer still holds the submission.
    with page.expect_navigation():
        field.press("Enter")
    expect(page.locator(".claim")).to_contain_text("You are reviewing this")
    held = Submission.objects.get(pk=submission.pk)
    assert held.extracted_data["totalAmount"] == 61.0 and held.claimed_by == team["alice"]
    context.close()
