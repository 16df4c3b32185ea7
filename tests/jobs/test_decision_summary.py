"""The summary's sentence about fraud says what the matches are when the pipeline decides,
not what its checks found a moment earlier: a match withdrawn in between (the matched
submission was cancelled) or one that arrived in between (a twin checked meanwhile) is
counted as it is then, as the decision's fraud status already was."""

import pytest

from fraud import services as fraud_services
from fraud.models import FraudMatch
from fraud.services import fraud_refresh
from jobs import pipeline
from jobs.models import WorkflowSession
from submissions.models import EventType, Submission
from submissions.services import Actor, submission_cancel
from tests import factories
from tests.jobs.fakes import fake_extract_file
from tests.jobs.test_sessions_api import create, jpeg_bytes, put

pytestmark = pytest.mark.django_db


def submitted(api) -> WorkflowSession:
    _, body, _ = create(api)
    put(api, body["uploadUrls"][0]["uploadUrl"], jpeg_bytes())
    api.post(f"/api/v1/workflows/receipt-ocr/sessions/{body['sessionId']}/submit")
    return WorkflowSession.objects.select_related("submission").get(pk=body["sessionId"])


def run_with(monkeypatch, session: WorkflowSession, meanwhile) -> Submission:
    """Run the pipeline (extraction faked); `meanwhile` happens between its checks and
    its decision."""
    checks = fraud_services.fraud_run_checks

    def checks_then(**kwargs):
        outcome = checks(**kwargs)
        meanwhile(outcome)
        return outcome

    monkeypatch.setattr(pipeline, "_extract_file", fake_extract_file)
    monkeypatch.setattr(pipeline, "fraud_run_checks", checks_then)
    pipeline.run(session.pk)
    return Submission.objects.get(pk=session.submission_id)


def decision(submission: Submission):
    return submission.events.get(to_status__in=["review", "approved"])


def test_a_match_withdrawn_between_the_checks_and_the_decision_is_not_in_the_summary(
    api, workflows, company, monkeypatch, django_capture_on_commit_callbacks
):
    session = submitted(api)
    digest = session.submission.files.get().sha256
    earlier = factories.SubmissionFactory(company=company)
    factories.SubmissionFileFactory(submission=earlier, sha256=digest)

    def cancel_the_matched_one(outcome) -> None:
        assert (outcome.status, outcome.match_count) == ("blocked", 1)
        with django_capture_on_commit_callbacks(execute=True):
            submission_cancel(submission_id=earlier.pk, actor=Actor.system())

    decided = run_with(monkeypatch, session, cancel_the_matched_one)

    assert FraudMatch.objects.get(submission=decided).resolution == "withdrawn"
    # It goes to review (the checks found a block), now clean, with a summary saying so.
    assert (decided.status, decided.fraud_status) == ("review", "clean")
    assert decided.ai_summary == "A test receipt. No fraud signals."
    assert decision(decided).details["fraudStatus"] == "clean"
    assert decided.events.filter(type=EventType.FRAUD_MATCH_WITHDRAWN).count() == 1


def test_a_match_that_arrived_between_the_checks_and_the_decision_is_in_the_summary(
    api, workflows, company, monkeypatch
):
    session = submitted(api)
    other = factories.SubmissionFactory(company=company)

    def a_twin_matched_it(outcome) -> None:
        assert outcome.status == "clean"
        FraudMatch.objects.create(
            company=company,
            submission_id=session.submission_id,
            target_submission=other,
            check_type="visual",
            score=70.0,
            similarity=0.9,
        )
        fraud_refresh(submission_id=session.submission_id, reason={})

    decided = run_with(monkeypatch, session, a_twin_matched_it)

    assert (decided.status, decided.fraud_status) == ("review", "flagged")
    assert decided.ai_summary == (
        "A test receipt. 1 flagged fraud match; a reviewer must resolve them."
    )
    assert decision(decided).details["fraudStatus"] == "flagged"
