"""Two reviewers and an integrator on one submission at once: whoever acts on a page drawn
before someone else decided the submission is told what became of it and who did it,
not only that it changed."""

import pytest
from django.test import Client

from submissions.models import SubmissionStatus
from submissions.services import (
    Actor,
    submission_approve,
    submission_cancel,
    submission_claim,
    submission_reject,
)
from tests import factories
from tests.submissions.test_review_support import submission_with_file
from tests.submissions.test_review_views import action_url, refused_page, start_review

pytestmark = pytest.mark.django_db
S = SubmissionStatus


@pytest.fixture
def waiting(company):
    return submission_with_file(company)


@pytest.fixture
def bob(company):
    return factories.UserFactory(username="bob", companies=[company])


def test_start_review_after_another_reviewer_approved_says_who_approved_it(ui, bob, waiting):
    submission_approve(submission_id=waiting.pk, actor=Actor.for_user(bob))
    events = waiting.events.count()

    response = start_review(ui, waiting)

    # It was answered 200 with the approved page and not a word: the key press did
    # nothing the reviewer could see, and the page changed under them.
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-code="SUBMISSION_CHANGED"' in html
    assert "bob approved it at " in html and " UTC" in html
    assert 'data-status="approved"' in html
    waiting.refresh_from_db()
    assert waiting.claimed_by is None and waiting.events.count() == events


def test_a_stale_decision_names_the_other_reviewers_decision(ui, bob, waiting):
    opened = waiting.version
    submission_reject(
        submission_id=waiting.pk, actor=Actor.for_user(bob), reason="Duplicate receipt."
    )

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    html = refused_page(response)
    assert "The submission changed since you opened it: bob rejected it at " in html
    waiting.refresh_from_db()
    assert waiting.status == S.REJECTED
    assert waiting.events.filter(type="approved").count() == 0


def test_a_correction_typed_while_the_integrator_cancelled_names_the_cancel(ui, waiting):
    opened = waiting.version
    key = factories.api_key(waiting.company, name="shop-sync").api_key
    submission_cancel(
        submission_id=waiting.pk, actor=Actor.for_api_key(key), reason="Customer withdrew."
    )

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "merchantName", "value": "Kedai Maju"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 409
    html = response.content.decode()
    assert "API key shop-sync cancelled it at " in html
    waiting.refresh_from_db()
    assert waiting.status == S.CANCELLED
    assert waiting.extracted_data.get("merchantName") != "Kedai Maju"


def test_a_change_that_is_no_decision_keeps_the_plain_refusal(ui, bob, company, waiting):
    opened = waiting.version
    other = Client()
    other.force_login(bob)
    assert start_review(other, waiting).status_code == 200

    response = ui.post(action_url("approve", waiting), {"version": opened}, follow=True)

    assert "The submission changed since you opened it; review its new state." in (
        refused_page(response)
    )


def test_a_correction_after_another_reviewer_started_review_says_who_holds_it(ui, bob, waiting):
    opened = waiting.version
    submission_claim(submission_id=waiting.pk, user=bob)

    response = ui.post(
        action_url("correct", waiting),
        {"version": opened, "field": "merchantName", "value": "Kedai Maju"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 409
    assert "The submission changed since you opened it: bob started reviewing it" in (
        response.content.decode()
    )
    waiting.refresh_from_db()
    assert waiting.extracted_data.get("merchantName") != "Kedai Maju"
