"""A refusal because of the submission's status reads as a sentence about that status
and the refused action ("The submission is already approved.", "An approved submission
cannot be rejected."), for every pair; its code and HTTP status stay those of the status."""

import re

import pytest

from submissions.models import SubmissionStatus
from submissions.services import (
    CHANGE,
    REFUSED_ACTIONS,
    RESOLVE_FRAUD,
    UNDO_RESOLUTION,
    Actor,
    SubmissionActionError,
    status_refusal,
    submission_reject,
)
from tests.factories import SubmissionFactory

S = SubmissionStatus


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (S.APPROVED, S.APPROVED, "The submission is already approved."),
        (S.SYNCED, S.APPROVED, "The submission is already approved and synced."),
        (S.CANCELLED, S.CANCELLED, "The submission is already cancelled."),
        (S.REJECTED, S.REJECTED, "The submission is already rejected."),
        (S.PROCESSING, S.PROCESSING, "The submission is already being processed."),
        (S.APPROVED, S.REJECTED, "An approved submission cannot be rejected."),
        (S.CANCELLED, S.APPROVED, "A cancelled submission cannot be approved."),
        (S.APPROVED, S.CANCELLED, "An approved submission cannot be cancelled."),
        (S.PROCESSING, S.APPROVED, "A submission still being processed cannot be approved."),
        (S.CREATED, S.REJECTED, "A submission still waiting for its files cannot be rejected."),
        (S.FAILED, S.SYNCED, "A failed submission cannot be synced."),
        (S.CANCELLED, S.PROCESSING, "A cancelled submission cannot start processing."),
        (S.FAILED, S.REVIEW, "A failed submission cannot go to review."),
        (S.SYNCED, S.FAILED, "A synced submission cannot be marked failed."),
        (S.REJECTED, CHANGE, "A rejected submission cannot be changed."),
        (
            S.APPROVED,
            RESOLVE_FRAUD,
            "The fraud matches of an approved submission cannot be resolved.",
        ),
        (
            S.SYNCED,
            UNDO_RESOLUTION,
            "The fraud match resolutions of a synced submission cannot be undone.",
        ),
    ],
)
def test_a_status_refusal_reads_as_a_sentence_about_the_status(status, action, message):
    assert status_refusal(status, action) == message


@pytest.mark.parametrize("action", list(REFUSED_ACTIONS))
def test_every_status_has_its_own_natural_refusal_of_every_action(action):
    messages = {status: status_refusal(status, action) for status in S.values}
    for status, message in messages.items():
        assert message[0].isupper() and message.endswith("."), (status, message)
        # The old "The submission is approved; it cannot become approved." template.
        assert ";" not in message and "become" not in message, (status, message)
        assert "{" not in message and "  " not in message, (status, message)
        # "review", "processing" and "created" are no adjectives ("A review submission").
        assert not re.search(r"(review|processing|created) submission", message), message
        assert not re.search(r"\ba [aeiou]", message.lower()), message  # "a approved"
    # Each names the status it was refused in, so no two statuses read alike.
    assert len(set(messages.values())) == len(messages)


def test_an_unknown_action_is_a_programming_error_not_a_vague_message():
    with pytest.raises(KeyError):
        status_refusal(S.APPROVED, "archive")


def test_approving_an_approved_submission_over_the_api_says_it_already_is(api, company):
    approved = SubmissionFactory(company=company, status=S.APPROVED)
    response = api.post(f"/api/v1/submissions/{approved.pk}/approve")
    problem = response.json()
    assert response.status_code == 409
    assert (problem["code"], problem["currentStatus"]) == ("SUBMISSION_IS_APPROVED", "approved")
    assert problem["detail"] == "The submission is already approved."


def test_rejecting_an_approved_submission_says_an_approved_one_cannot_be(company):
    approved = SubmissionFactory(company=company, status=S.APPROVED)
    with pytest.raises(SubmissionActionError) as refused:
        submission_reject(submission_id=approved.pk, actor=Actor.system(), reason="Blurry.")
    assert (refused.value.code, refused.value.status) == ("SUBMISSION_IS_APPROVED", 409)
    assert refused.value.message == "An approved submission cannot be rejected."


def test_correcting_a_cancelled_submission_says_it_cannot_be_changed(api, company):
    cancelled = SubmissionFactory(company=company, status=S.CANCELLED)
    url = f"/api/v1/submissions/{cancelled.pk}/corrections"
    response = api.post(url, {"fields": {"merchantName": "Kedai"}}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "SUBMISSION_IS_CANCELLED"
    assert response.json()["detail"] == "A cancelled submission cannot be changed."
