"""Retention: a purged submission's receipt content leaves the fraud matches too."""

import pytest

from fraud.models import FraudMatch
from fraud.services import RESULT_DETAILS, fraud_run_checks
from jobs.services import _purge_one
from submissions.models import Submission
from tests.fraud.helpers import make_submission

pytestmark = pytest.mark.django_db
FIELDS = {"merchantName": "Kedai Runcit Ah Seng Sdn Bhd", "totalAmount": 42.5, "date": "2024-05-03"}


def run(submission, fields):
    return fraud_run_checks(submission_id=submission.pk, pages=[], fields=fields, text="")


def test_purging_either_side_of_a_data_match_drops_the_receipts_content_but_keeps_the_match(
    company,
):
    first, _ = make_submission(company)
    twin, _ = make_submission(company)
    run(first, {**FIELDS, "time": "14:02", "receiptNumber": "88123"})
    run(twin, {**FIELDS, "time": "14:02", "receiptNumber": "88123"})
    match = FraudMatch.objects.get(submission=twin, check_type="data")
    assert match.details["targetMerchant"] == "KEDAI RUNCIT AH SENG"
    before = (match.check_type, match.status, match.score, match.details["merchantSimilarity"])

    Submission.objects.filter(pk=first.pk).update(status="approved")
    _purge_one(first.pk, company.pk)

    match.refresh_from_db()
    assert not set(match.details) & set(RESULT_DETAILS)
    assert "KEDAI" not in str(match.details) and "2024" not in str(match.details)
    after = (match.check_type, match.status, match.score, match.details["merchantSimilarity"])
    assert after == before
    assert Submission.objects.get(pk=first.pk).results_purged_at is not None


def test_a_match_found_after_the_earlier_side_was_purged_holds_none_of_its_content(company):
    first, _ = make_submission(company)
    run(first, {**FIELDS, "time": "14:02", "receiptNumber": "88123"})
    Submission.objects.filter(pk=first.pk).update(status="approved")
    _purge_one(first.pk, company.pk)

    twin, _ = make_submission(company)
    run(twin, {**FIELDS, "time": "14:02", "receiptNumber": "88123"})
    match = FraudMatch.objects.get(submission=twin, check_type="data")
    assert match.target_submission_id == first.pk
    assert not set(match.details) & set(RESULT_DETAILS)
