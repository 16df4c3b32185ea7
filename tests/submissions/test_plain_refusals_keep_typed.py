"""A desk form posted without JavaScript and refused for a text too long: the page it is
sent back to holds the whole text, for the reviewer to shorten, never a cut of it."""

import pytest
from django.urls import reverse

from submissions.services import CORRECTION_MAX
from tests.submissions.test_review_support import submission_with_file

pytestmark = pytest.mark.django_db

# Pasted text past the limit, as a reviewer shortens it: its end matters as much as its
# start. Within what any other refused text comes back with (a reason, a comment).
PASTED = "Milk 2L, skimmed, from the corner shop " * 100  # 3,900 characters


def test_a_refused_line_item_description_comes_back_whole_to_be_shortened(ui, company):
    """A plain post's refused rows come back in the form; a description came back cut to
    one character past the limit (2,001), so the end of what was pasted was gone."""
    assert len(PASTED) > CORRECTION_MAX
    waiting = submission_with_file(company)
    response = ui.post(
        reverse("review:correct_items", args=[waiting.pk]),
        {
            "version": waiting.version,
            "description-0": PASTED,
            "quantity-0": "1",
            "amount-0": "1.45",
        },
        follow=True,
    )
    page = response.content.decode()
    assert f"Row 1: the description is at most {CORRECTION_MAX} characters." in page
    assert f'name="description-0" value="{PASTED}"' in page


# Pasted far past what a refused plain post brings back (the page's text travels through
# the session, so it is bounded): the end of it is not on the page that comes back.
HUGE = "Refund claimed twice, see ticket 4471. " * 200  # 7,800 characters


def _over_the_bound(waiting) -> list[tuple[str, dict[str, object], str]]:
    """(action, form, label) of every plain form whose typed text comes back to the page."""
    return [
        ("reject", {"version": waiting.version, "reason": HUGE}, "reject reason"),
        ("cancel", {"version": waiting.version, "reason": HUGE}, "cancel reason"),
        ("comment", {"text": HUGE}, "comment"),
        (
            "correct",
            {"version": waiting.version, "field": "merchantName", "value": HUGE},
            "Merchant name",
        ),
        (
            "correct_items",
            {"version": waiting.version, "description-0": HUGE, "amount-0": "1.00"},
            "description in row 1",
        ),
    ]


@pytest.mark.parametrize("action", ["reject", "cancel", "comment", "correct", "correct_items"])
def test_a_refused_text_too_long_to_come_back_whole_says_it_was_cut(ui, company, action):
    """A text past what a refused plain post can bring back came back cut to 5,000
    characters with no word: the reviewer shortened what they saw and never knew the end
    of what they had pasted was gone. The page says how much came back of how much."""
    from submissions.views.common import TYPED_MAX

    assert len(HUGE) > TYPED_MAX
    waiting = submission_with_file(company)
    forms = {name: (form, label) for name, form, label in _over_the_bound(waiting)}
    form, label = forms[action]
    response = ui.post(reverse(f"review:{action}", args=[waiting.pk]), form, follow=True)
    page = response.content.decode()
    assert HUGE[:TYPED_MAX] in page  # what did come back is there to be shortened
    assert HUGE not in page
    note = (
        f"Your {label} was {len(HUGE):,} characters: only its first {TYPED_MAX:,} "
        f"came back below, and at most {CORRECTION_MAX:,} can be saved."
    )
    assert note in page, page[page.find("side-refusal") - 200 :][:1500]


def test_a_refused_text_within_the_bound_says_nothing_was_cut(ui, company):
    waiting = submission_with_file(company)
    response = ui.post(
        reverse("review:reject", args=[waiting.pk]),
        {"version": waiting.version, "reason": PASTED},
        follow=True,
    )
    page = response.content.decode()
    assert f"{PASTED}</textarea>" in page
    assert "data-typed-cut" not in page


def test_line_items_refused_as_changed_meanwhile_show_the_new_rows_not_the_stale_ones(ui, company):
    """Without JavaScript, line items saved from a page drawn before another reviewer
    changed them were refused (409), and the form came back holding every row as the
    refused page had them: the other reviewer's rows stale again under the new version, so
    one more press of Save put them back without a word. (htmx keeps only the reviewer's
    own edits, over the new rows.) The form shows the rows as they are now; the refused
    rows are listed beside it, to be made again."""
    from submissions.services import (
        Actor,
        LineItemRow,
        submission_correct_line_items,
        submission_release_claim,
    )
    from tests import factories

    items = [
        {"description": "Milk", "quantity": 2, "amount": 3.0},
        {"description": "Bread", "quantity": 1, "amount": 2.5},
    ]
    waiting = submission_with_file(
        company, extracted_data={"merchantName": "Kedai", "totalAmount": 5.5, "lineItems": items}
    )
    opened = waiting.version
    bob = factories.UserFactory(username="bob", companies=[company])
    submission_correct_line_items(
        submission_id=waiting.pk,
        rows=[LineItemRow("Milk", "2", "3.00"), LineItemRow("Rye bread", "1", "2.50")],
        actor=Actor.for_user(bob),
        page_version=opened,
    )
    submission_release_claim(submission_id=waiting.pk, user=bob)

    stale = {
        "version": opened,
        **{"description-0": "Whole milk", "quantity-0": "2", "amount-0": "3.00"},
        **{"description-1": "Bread", "quantity-1": "1", "amount-1": "2.50"},
    }
    response = ui.post(reverse("review:correct_items", args=[waiting.pk]), stale, follow=True)
    page = response.content.decode()
    assert "Line items changed since you opened it" in page
    assert 'name="description-1" value="Rye bread"' in page  # the rows as they are now
    assert 'name="description-1" value="Bread"' not in page
    assert "Whole milk, 2 × 3.00; Bread, 1 × 2.50" in page  # the refused rows, listed
    waiting.refresh_from_db()
    assert waiting.extracted_data["lineItems"][1]["description"] == "Rye bread"


def test_line_items_refused_as_another_started_reviewing_come_back_in_the_form(ui, company):
    """Refused because bob started reviewing after the page was drawn (its claim moved,
    not its rows), the rows were listed beside the form as if bob had changed them: the
    form showed the stored rows, Take over carried nothing, and every row had to be typed
    again from the list. Only rows another changed meanwhile are stale; these come back
    in the form (as htmx keeps them), and Take over then Save saves them."""
    from submissions.services import submission_claim
    from tests import factories
    from tests.submissions.test_plain_take_over_keeps_typed import _page, _sent

    waiting = submission_with_file(
        company,
        extracted_data={
            "merchantName": "Kedai",
            "totalAmount": 3.0,
            "lineItems": [{"description": "Milk", "quantity": 1, "amount": 3.0}],
        },
    )
    page = _page(ui, waiting)
    bob = factories.UserFactory(username="bob", companies=[company])
    submission_claim(submission_id=waiting.pk, user=bob)

    refused = _sent(ui, page, "save-items", {"description-0": "Whole milk 2L"})
    assert "bob started reviewing it" in refused
    assert 'name="description-0" value="Whole milk 2L"' in refused
    assert "data-rows-refused" not in refused

    taken = _sent(ui, refused, "take-over")
    assert 'name="description-0" value="Whole milk 2L"' in taken
    _sent(ui, taken, "save-items")
    waiting.refresh_from_db()
    assert waiting.extracted_data["lineItems"][0]["description"] == "Whole milk 2L"
