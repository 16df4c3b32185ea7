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
