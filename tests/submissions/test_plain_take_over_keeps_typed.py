"""Without JavaScript, the claim's buttons (Take over, Start review, Release) and Approve
were forms of their own: pressed on a page whose refused form had brought the reviewer's
text back (a correction refused as "bob is reviewing this submission; take it over"),
they sent none of it, and the page they led to showed the stored values. htmx keeps what
was typed across the swap. On such a page the buttons submit the form holding that text,
and the page they lead to has it back in its box, saying it is not saved yet.

The pages are read and submitted as a browser does without script: a button's form is
its `form` attribute's, else the form around it; its `formaction` overrides the form's
action; the form's controls (its `form` attribute's too) are sent in document order."""

from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from submissions.models import Submission
from submissions.services import (
    Actor,
    LineItemRow,
    submission_claim,
    submission_correct_field,
    submission_correct_line_items,
)
from tests import factories
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db


class _Page(HTMLParser):
    """The forms of a page and their controls, as a browser without script sees them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, dict[str, str]] = {}
        self.controls: list[dict[str, Any]] = []
        self._form: str | None = None
        self._open: dict[str, Any] | None = None  # a textarea or select being read
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._form = a.get("id") or f"#{len(self.forms)}"
            self.forms[self._form] = a
            return
        owner = a.get("form") or self._form
        if tag in {"input", "button"}:
            self.controls.append({"tag": tag, "owner": owner, **a})
        elif tag in {"textarea", "select"}:
            self._open = {"tag": tag, "owner": owner, "value": "", "options": [], **a}
            self.controls.append(self._open)
        elif tag == "option" and self._open is not None:
            self._open["options"].append(a)

    def handle_data(self, data: str) -> None:
        if self._open is not None and self._open["tag"] == "textarea":
            self._open["value"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag in {"textarea", "select"} and self._open is not None:
            if tag == "select":
                options = self._open["options"]
                chosen = [o for o in options if "selected" in o] or options[:1]
                self._open["value"] = chosen[0].get("value", "") if chosen else ""
            self._open = None

    def enter_in(self, name: str, text: str) -> dict[str, Any]:
        """The button Enter in the box `name` holding `text` presses: its form's first
        submit button in the document (the HTML default button), wherever it is drawn."""
        [box] = [
            c
            for c in self.controls
            if c.get("name") == name and c["tag"] != "button" and c.get("value") == text
        ]
        buttons = [c for c in self.controls if c["tag"] == "button" and c["owner"] == box["owner"]]
        return next(b for b in buttons if b.get("type", "submit") == "submit")

    def _is(self, button: dict[str, Any], action: str) -> bool:
        """Whether a button is [data-action=action]; "save:<field>" is a correction's Save
        (the submit button of the form whose hidden `field` is that field)."""
        if not action.startswith("save:"):
            return button.get("data-action") == action
        fields = [
            c["value"]
            for c in self.controls
            if c["owner"] == button["owner"] and c.get("name") == "field" and c["tag"] == "input"
        ]
        # Neither the unseen one Enter presses nor another action's button that joined it.
        own = not {"data-kept-default", "formaction"} & button.keys()
        return own and button.get("type") == "submit" and fields == [action.removeprefix("save:")]

    def press(self, action: str, typed: dict[str, str] | None = None) -> tuple[str, dict]:
        """The address and the form data a press of [data-action=action] sends, after the
        reviewer typed `typed` (name: text) into the form's boxes."""
        [button] = [c for c in self.controls if c["tag"] == "button" and self._is(c, action)]
        owner = button["owner"]
        form = self.forms[owner]
        data: dict[str, list[str]] = {}
        for control in self.controls:
            if control["owner"] != owner or not control.get("name"):
                continue
            if control["tag"] == "button" and control is not button:
                continue
            data.setdefault(control["name"], []).append(control.get("value", ""))
        for name, text in (typed or {}).items():
            assert name in data, f"{name} is not sent by {action}: {sorted(data)}"
            data[name] = [text]
        return button.get("formaction") or form["action"], data


@pytest.fixture
def held(company, reviewer) -> Submission:
    """A submission in review that bob is reviewing."""
    waiting = submission_with_file(
        company,
        extracted_data={
            "merchantName": "Kedai Runcit",
            "totalAmount": 12.5,
            "lineItems": [{"description": "Milk", "quantity": 1, "amount": 12.5}],
        },
    )
    bob = factories.UserFactory(username="bob", companies=[company])
    submission_claim(submission_id=waiting.pk, user=bob)
    waiting.refresh_from_db()
    return waiting


def _page(client: Client, submission: Submission) -> str:
    return client.get(reverse("review:detail", args=[submission.pk])).content.decode()


def _sent(client: Client, page: str, action: str, typed: dict[str, str] | None = None) -> str:
    """Press a button of the page as a browser without script does; the page it leads to."""
    url, data = _Page(page).press(action, typed)
    response = client.post(url, data, follow=True)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# (the form the reviewer saves, what they typed into it, what the page shows of it)
TYPED = {
    "correction": (
        "save:merchantName",
        {"value": "Kedai Runcit Baru"},
        'name="value" value="Kedai Runcit Baru"',
    ),
    "reject": ("reject", {"reason": "Two receipts in one photo."}, "Two receipts in one photo."),
    "cancel": ("cancel", {"reason": "Sent by mistake."}, 'value="Sent by mistake."'),
    "line items": (
        "save-items",
        {"description-0": "Whole milk 2L"},
        'name="description-0" value="Whole milk 2L"',
    ),
}


@pytest.mark.parametrize("which", list(TYPED))
def test_taking_over_after_a_refused_save_keeps_what_was_typed(ui, reviewer, held, which):
    """Saved while bob held it: refused, the text came back in its box ("take it over to
    act on it"). The reviewer fixed it further and pressed Take over: the page came back
    theirs with the stored values, what they typed gone. It comes back in its box, not
    saved, as the page says; nothing was saved on the way."""
    action, typed, shown = TYPED[which]
    refused = _sent(ui, _page(ui, held), action, typed)
    assert "bob is reviewing this submission; take it over to act on it." in refused
    assert shown in refused  # the refusal brought it back, as before

    # Typed further on the refused page, then Take over.
    more = {name: f"{text} (checked)" for name, text in typed.items()}
    page = _sent(ui, refused, "take-over", more)

    held.refresh_from_db()
    assert held.claimed_by == reviewer
    assert 'data-claim="mine"' in page
    assert shown.replace(next(iter(typed.values())), next(iter(more.values()))) in page
    assert "not saved yet" in page
    assert held.extracted_data["merchantName"] == "Kedai Runcit"
    assert held.extracted_data["lineItems"][0]["description"] == "Milk"
    assert held.status == "review"


@pytest.mark.parametrize("which", ["correction", "cancel", "line items"])
def test_enter_in_a_kept_box_still_saves_it(ui, held, which):
    """The buttons that join the kept form come before its own Save on the page, and a
    form's first submit button is the one Enter presses: Enter in the box released the
    claim, took it over or approved. Its own (unseen) Save comes first."""
    action, typed, _ = TYPED[which]
    page = _sent(ui, _page(ui, held), action, typed)
    name = next(iter(typed))
    pressed = _Page(page).enter_in(name, typed[name])
    assert "formaction" not in pressed and "data-action" not in pressed, pressed
    url, data = _Page(page).press(action)
    assert data[name] == [typed[name]]  # what Enter sends: the form's own action, the box


def test_a_comment_refused_too_long_survives_a_take_over(ui, reviewer, held):
    """A comment is not held by the claim, but one refused (too long) comes back to be
    shortened; taking the submission over then dropped it."""
    from submissions.services import COMMENT_MAX

    long = "Called the shop: the total includes a deposit. " * 50
    assert len(long) > COMMENT_MAX
    refused = _sent(ui, _page(ui, held), "comment", {"text": long})
    assert f"{long}</textarea>" in refused
    page = _sent(ui, refused, "take-over", {"text": long[:COMMENT_MAX]})
    held.refresh_from_db()
    assert held.claimed_by == reviewer
    assert f">{long[:COMMENT_MAX]}</textarea>" in page
    assert not held.events.filter(type="comment").exists()


def test_a_take_over_refused_as_another_took_it_meanwhile_keeps_what_was_typed(
    ui, reviewer, company, held
):
    """Carol took it from bob between the refusal and the press: the take-over is
    refused (naming carol), and the text is still in its box."""
    refused = _sent(ui, _page(ui, held), "save:merchantName", {"value": "Kedai Runcit Baru"})
    carol = factories.UserFactory(username="carol", companies=[company])
    submission_claim(submission_id=held.pk, user=carol, take_over_from="bob")
    page = _sent(ui, refused, "take-over")
    assert "carol took this submission over meanwhile" in page
    assert 'name="value" value="Kedai Runcit Baru"' in page
    held.refresh_from_db()
    assert held.claimed_by.username == "carol"


def test_releasing_or_a_refused_approve_keeps_what_was_typed(ui, reviewer, held):
    """The reviewer's own Release, and an Approve refused (the page is stale), on a page
    that brought their text back: it comes back again."""
    refused = _sent(ui, _page(ui, held), "save:merchantName", {"value": "Kedai Runcit Baru"})
    taken = _sent(ui, refused, "take-over")
    released = _sent(ui, taken, "release")
    held.refresh_from_db()
    assert held.claimed_by is None
    assert 'name="value" value="Kedai Runcit Baru"' in released

    # Another change makes the page stale: its Approve is refused, the text stays.
    submission_claim(submission_id=held.pk, user=reviewer)
    page = _sent(ui, released, "approve")
    held.refresh_from_db()
    assert held.status == "review"
    assert 'name="value" value="Kedai Runcit Baru"' in page


def test_a_page_drawn_for_htmx_keeps_its_claim_buttons_in_their_own_forms(ui, held):
    """With JavaScript a refused Reject comes back through htmx (boosted), and htmx keeps
    what was typed itself: the buttons are not moved into the reject form there."""
    response = ui.post(
        reverse("review:reject", args=[held.pk]),
        {"version": held.version, "reason": "Blurry."},
        HTTP_HX_REQUEST="true",
        HTTP_HX_BOOSTED="true",
        follow=True,
    )
    page = response.content.decode()
    assert "Blurry." in page
    url, data = _Page(page).press("take-over")
    assert url == reverse("review:claim", args=[held.pk])
    assert set(data) == {"csrfmiddlewaretoken", "take_over_from"}


def _bob_corrects(held: Submission, field: str, value: str) -> None:
    """Bob, who holds the claim, saves a correction of `field` from a current page."""
    held.refresh_from_db()
    bob = Actor.for_user(held.claimed_by)
    if field == "lineItems":
        rows = [LineItemRow(description=value, quantity="1", amount="12.50")]
        submission_correct_line_items(
            submission_id=held.pk, rows=rows, actor=bob, page_version=held.version
        )
    else:
        submission_correct_field(
            submission_id=held.pk,
            field_name=field,
            raw_value=value,
            actor=bob,
            page_version=held.version,
        )


# (the form saved, its box, the field bob corrects, how the stored value is read)
CARRIED = {
    "correction": ("save:merchantName", "value", "merchantName", lambda d: d["merchantName"]),
    "line items": (
        "save-items",
        "description-0",
        "lineItems",
        lambda d: d["lineItems"][0]["description"],
    ),
}


@pytest.mark.parametrize("which", list(CARRIED))
def test_a_carried_correction_is_refused_if_another_changed_its_field_before_the_take_over(
    ui, held, which
):
    """Refused while bob held it, the text came back; bob then corrected that field, and
    the reviewer took it over. The page the take-over led to was drawn after bob's save
    and its form carried that version, so Save put the reviewer's text over bob's value
    without the "changed since you opened it" a stale page gets (htmx keeps the version
    the text was typed on). It is refused now, and bob's value stays."""
    action, box, field, stored = CARRIED[which]
    refused = _sent(ui, _page(ui, held), action, {box: "Mine"})
    _bob_corrects(held, field, "Bob's")
    taken = _sent(ui, refused, "take-over")
    assert f'name="{box}" value="Mine"' in taken

    page = _sent(ui, taken, action)
    assert "changed since you opened it (bob corrected it)" in page
    held.refresh_from_db()
    assert stored(held.extracted_data) == "Bob's"


@pytest.mark.parametrize("presses", [["take-over"], ["take-over", "release", "start-review"]])
@pytest.mark.parametrize("which", list(CARRIED))
def test_a_carried_correction_is_not_refused_for_the_take_over_itself(ui, held, which, presses):
    """The take-over (and the reviewer's own release and new claim) moved the version
    after the text was typed: that alone, or bob's correction of another field, does not
    refuse the Save, which those pages showed."""
    action, box, field, stored = CARRIED[which]
    page = _sent(ui, _page(ui, held), action, {box: "Mine"})
    _bob_corrects(held, "totalAmount", "13.5")
    for press in presses:
        page = _sent(ui, page, press)
    page = _sent(ui, page, action)
    assert "changed since you opened it" not in page
    held.refresh_from_db()
    assert stored(held.extracted_data) == "Mine"


def test_a_carried_correction_saved_after_releasing_is_not_refused_for_the_reviewers_own_claims(
    ui, held
):
    """Taken over and released, the page is free and shows both: Save was refused as
    "you released the claim in another tab or window and you took it over", had the
    claim been checked since the text was typed rather than since the page."""
    page = _sent(ui, _page(ui, held), "save:merchantName", {"value": "Mine"})
    page = _sent(ui, _sent(ui, page, "take-over"), "release")
    page = _sent(ui, page, "save:merchantName")
    assert "changed since you opened it" not in page
    held.refresh_from_db()
    assert held.extracted_data["merchantName"] == "Mine"


def test_approve_from_a_page_with_a_carried_correction_is_not_refused_for_the_take_over(ui, held):
    """Approve submits the form holding the kept text (its version the page's, not the
    one the text was typed on): taking the submission over does not make it stale. (The
    reviewer put the stored value back in the box: kept text unsaved refuses Approve.)"""
    refused = _sent(ui, _page(ui, held), "save:merchantName", {"value": "Mine"})
    taken = _sent(ui, refused, "take-over")
    _sent(ui, taken, "approve", {"value": "Kedai Runcit"})
    held.refresh_from_db()
    assert held.status in {"approved", "synced"}


@pytest.mark.parametrize("which", list(TYPED))
def test_approve_with_kept_text_unsaved_is_refused_and_keeps_it(ui, held, which):
    """Approve on a page that brought the reviewer's text back ("not saved yet") submits
    the form holding it, and approved the stored values without a word: the correction
    the reviewer had typed was dropped and the misread value approved (the desk with
    JavaScript asks first). It is refused, the text still in its box; the page reloaded
    (the text left unsaved on purpose) approves."""
    action, typed, shown = TYPED[which]
    refused = _sent(ui, _page(ui, held), action, typed)
    taken = _sent(ui, refused, "take-over")

    page = _sent(ui, taken, "approve")
    held.refresh_from_db()
    assert held.status == "review"
    assert "Not approved: what you typed is not saved" in page
    assert shown in page
    assert held.extracted_data["merchantName"] == "Kedai Runcit"

    _sent(ui, _page(ui, held), "approve")
    held.refresh_from_db()
    assert held.status in {"approved", "synced"}
