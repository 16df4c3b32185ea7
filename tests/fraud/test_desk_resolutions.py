"""The fraud panel's False positive, Confirm fraud and Undo from a panel drawn before other
changes: refused as stale only when what the resolution depends on changed since (that
pair resolved or undone by someone else, the status or decision, a fraud status the checks
recomputed, the claim), never because of the reviewer's own correction or own resolution
of another pair that landed before the panel came back. The API is not concerned."""

import pytest
from django.test import Client
from django.urls import reverse

from fraud.models import FraudMatch
from fraud.services import fraud_matches_resolve, fraud_refresh, fraud_resolution_undo
from steve.models import Membership
from submissions.models import Submission, SubmissionStatus
from submissions.services import (
    Actor,
    submission_claim,
    submission_correct_field,
    submission_reject,
    submission_release_claim,
)
from tests import factories
from tests.submissions.test_review_support import flagged_pairs, page_told

pytestmark = pytest.mark.django_db
S = SubmissionStatus
M = FraudMatch
INTEGRATOR = Actor("api_key", "key_1", "API key ops")


@pytest.fixture(autouse=True)
def _reviewer_is_a_lead(reviewer) -> None:
    """Confirming fraud is a lead's decision (steve.accounts.ROLE_ACTIONS)."""
    Membership.objects.filter(user=reviewer).update(role=Membership.Role.LEAD)


def drawn(submission: Submission) -> int:
    """The version a panel drawn now carries."""
    submission.refresh_from_db()
    return submission.version


def panel_post(client: Client, name: str, submission: Submission, pair, version: int, **data):
    """The panel's False positive / Confirm fraud (fraud:resolve_pair) or Undo (fraud:undo),
    as htmx posts them, from a panel drawn at `version`."""
    post = {"version": version, "match": [m.pk for m in pair], **data}
    return client.post(reverse(name, args=[submission.pk]), post, HTTP_HX_REQUEST="true")


def false_positive(client: Client, submission: Submission, pair, version: int):
    return panel_post(
        client, "fraud:resolve_pair", submission, pair, version, resolution="false_positive"
    )


def correct(client: Client, submission: Submission, version: int, field: str, value: str):
    """A field's Save on the desk, as htmx sends it."""
    return client.post(
        reverse("review:correct", args=[submission.pk]),
        {"version": version, "field": field, "value": value},
        HTTP_HX_REQUEST="true",
    )


def resolutions(pair) -> set[str | None]:
    return set(M.objects.filter(pk__in=[m.pk for m in pair]).values_list("resolution", flat=True))


def assert_landed(response) -> None:
    assert response.status_code == 200, response.content
    assert b"data-refusal" not in response.content


def assert_refused(response) -> None:
    assert response.status_code == 409, response.content
    assert b"since you opened it" in response.content
    assert b'data-code="SUBMISSION_CHANGED"' in response.content
    assert page_told(response) == "fraud-changed"  # the page shows the new state


def test_a_false_positive_sent_before_the_panel_came_back_from_the_reviewers_own_correction_lands(
    ui, company
):
    waiting, [pair] = flagged_pairs(company)
    panel = drawn(waiting)
    assert correct(ui, waiting, panel, "merchantName", "Kedai Runcit Maju").status_code == 200
    assert_landed(false_positive(ui, waiting, pair, panel))
    assert resolutions(pair) == {"false_positive"}
    waiting.refresh_from_db()
    assert waiting.extracted_data["merchantName"] == "Kedai Runcit Maju"
    assert waiting.fraud_status == "clean"


def test_a_confirmation_after_the_reviewers_own_correction_lands_with_its_reason(ui, company):
    waiting, [pair] = flagged_pairs(company)
    panel = drawn(waiting)
    assert correct(ui, waiting, panel, "totalAmount", "13.00").status_code == 200
    confirmed = panel_post(
        ui,
        "fraud:resolve_pair",
        waiting,
        pair,
        panel,
        resolution="confirmed_fraud",
        reason="Same receipt submitted twice.",
    )
    assert_landed(confirmed)
    assert resolutions(pair) == {"confirmed_fraud"}
    waiting.refresh_from_db()
    assert waiting.status == S.REJECTED  # the default policy rejects on confirmation
    assert waiting.extracted_data["totalAmount"] == 13.0


def test_an_undo_after_the_reviewers_own_correction_lands(ui, company):
    waiting, [pair] = flagged_pairs(company)
    assert_landed(false_positive(ui, waiting, pair, drawn(waiting)))
    panel = drawn(waiting)  # the panel that shows Undo
    assert correct(ui, waiting, panel, "date", "2026-11-30").status_code == 200
    assert_landed(panel_post(ui, "fraud:undo", waiting, pair, panel))
    assert resolutions(pair) == {None}
    waiting.refresh_from_db()
    assert waiting.fraud_status != "clean"  # the pair counts again


def test_the_reviewers_own_resolution_of_another_pair_does_not_make_the_next_stale(ui, company):
    """Two cards: f on the first, then f on the second before the panel came back."""
    waiting, [first, second] = flagged_pairs(company, pairs=2)
    panel = drawn(waiting)
    assert_landed(false_positive(ui, waiting, first, panel))
    assert_landed(false_positive(ui, waiting, second, panel))
    assert resolutions(first) == resolutions(second) == {"false_positive"}
    assert M.objects.filter(submission=waiting, resolution__isnull=True).count() == 0


def test_the_single_match_resolve_after_the_reviewers_own_correction_lands(ui, company):
    waiting, [pair] = flagged_pairs(company)
    panel = drawn(waiting)
    assert correct(ui, waiting, panel, "merchantName", "Kedai Runcit Maju").status_code == 200
    response = ui.post(
        reverse("fraud:resolve", args=[waiting.pk, pair[0].pk]),
        {"version": panel, "resolution": "false_positive"},
        HTTP_HX_REQUEST="true",
    )
    assert_landed(response)
    assert resolutions(pair[:1]) == {"false_positive"}


def test_a_pair_resolved_and_undone_by_anyone_else_since_refuses_the_resolution(ui, company):
    """It looks open again, but someone else decided it and took it back meanwhile."""
    waiting, [pair] = flagged_pairs(company)
    panel = drawn(waiting)
    ids = [m.pk for m in pair]
    fraud_matches_resolve(
        submission_id=waiting.pk, match_ids=ids, resolution="false_positive", actor=INTEGRATOR
    )
    fraud_resolution_undo(submission_id=waiting.pk, match_ids=ids, actor=INTEGRATOR)
    assert_refused(false_positive(ui, waiting, pair, panel))
    assert resolutions(pair) == {None}
    assert_landed(false_positive(ui, waiting, pair, drawn(waiting)))  # from the new panel


def test_an_undo_of_a_pair_someone_else_resolved_again_since_is_refused(ui, company):
    waiting, [pair] = flagged_pairs(company)
    ids = [m.pk for m in pair]
    assert_landed(false_positive(ui, waiting, pair, drawn(waiting)))
    panel = drawn(waiting)
    fraud_resolution_undo(submission_id=waiting.pk, match_ids=ids, actor=INTEGRATOR)
    fraud_matches_resolve(
        submission_id=waiting.pk, match_ids=ids, resolution="false_positive", actor=INTEGRATOR
    )
    assert_refused(panel_post(ui, "fraud:undo", waiting, pair, panel))
    assert resolutions(pair) == {"false_positive"}


def test_another_pair_resolved_by_someone_else_does_not_refuse_this_one(ui, company):
    waiting, [first, second] = flagged_pairs(company, pairs=2)
    panel = drawn(waiting)
    fraud_matches_resolve(
        submission_id=waiting.pk,
        match_ids=[m.pk for m in first],
        resolution="false_positive",
        actor=INTEGRATOR,
    )
    assert_landed(false_positive(ui, waiting, second, panel))
    assert resolutions(second) == {"false_positive"}


def test_a_recomputed_fraud_status_a_decision_or_the_claim_moving_refuses_the_resolution(
    ui, reviewer, company
):
    waiting, [pair] = flagged_pairs(company)
    panel = drawn(waiting)
    fraud_refresh(submission_id=waiting.pk, reason={"reason": "rerun"})  # the checks ran again
    assert_refused(false_positive(ui, waiting, pair, panel))

    panel = drawn(waiting)
    bob = factories.UserFactory(companies=[company])
    submission_claim(submission_id=waiting.pk, user=bob)
    submission_release_claim(submission_id=waiting.pk, user=bob)  # taken and let go meanwhile
    assert_refused(false_positive(ui, waiting, pair, panel))

    panel = drawn(waiting)
    submission_reject(submission_id=waiting.pk, actor=INTEGRATOR, reason="Duplicate.")
    assert_refused(false_positive(ui, waiting, pair, panel))
    assert resolutions(pair) == {None}


def test_someone_elses_correction_alone_does_not_refuse_the_resolution(ui, company):
    """A resolution does not depend on the extracted fields: an integrator's correction
    (which claims nothing) leaves the panel's decision to the reviewer."""
    waiting, [pair] = flagged_pairs(company)
    panel = drawn(waiting)
    submission_correct_field(
        submission_id=waiting.pk, field_name="merchantName", raw_value="Maju", actor=INTEGRATOR
    )
    assert_landed(false_positive(ui, waiting, pair, panel))


def test_a_version_the_submission_never_had_is_refused(ui, company):
    waiting, [pair] = flagged_pairs(company)
    assert_refused(false_positive(ui, waiting, pair, drawn(waiting) + 1))
    assert resolutions(pair) == {None}


def test_a_resolution_by_someone_else_that_no_match_recorded_still_refuses(ui, company):
    """Made before matches recorded their resolutions (fraud 0008): only the submission's
    fraud_versions knows someone else resolved something since; which pair it was is
    unknown, so the panel's resolution is refused as before."""
    waiting, [first, second] = flagged_pairs(company, pairs=2)
    panel = drawn(waiting)
    fraud_matches_resolve(
        submission_id=waiting.pk,
        match_ids=[m.pk for m in first],
        resolution="false_positive",
        actor=INTEGRATOR,
    )
    M.objects.filter(submission=waiting).update(resolution_version=None, resolution_by="")
    assert_refused(false_positive(ui, waiting, second, panel))
    assert resolutions(second) == {None}
