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
