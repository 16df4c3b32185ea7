"""A receipt confirmed as fraud teaches the correction memory nothing, whether or not its
workflow's policy rejects it on confirmation: a forged receipt can print a real shop's
numbers under another name, and its reviewer's corrections (or its approval) would give
that name to the real shop's next receipts."""

import pytest

from fraud.models import FraudMatch
from fraud.services import fraud_match_resolve, fraud_resolution_undo, fraud_run_checks
from submissions.models import MerchantMemory, Submission
from submissions.selectors import shop_memory
from submissions.services import Actor, submission_approve, submission_correct_field
from tests.fraud.helpers import make_submission

pytestmark = pytest.mark.django_db
M = FraudMatch
TEXT = "KEDAI JUJUR\nGST ID: 000321321321"
KEPT = {"reject_on_confirmed_fraud": False}  # a confirmation leaves it in review


def matched_pair(company, sha256: str, policy: dict | None = None) -> tuple[Submission, FraudMatch]:
    """A receipt whose file an earlier one holds, in review with its one open match."""
    for _ in range(2):  # the original, then its copy
        submission, _file = make_submission(company, sha256=sha256, policy=policy)
        fraud_run_checks(submission_id=submission.pk, pages=[], fields={}, text="")
        Submission.objects.filter(pk=submission.pk).update(
            status="review",
            pages_text=[TEXT],
            extracted_data={"merchantName": "KEDAI JUJUR"},
            evidence={},
        )
    return submission, M.objects.get(submission=submission)


def correct(submission: Submission, value: str, reviewer) -> None:
    submission_correct_field(
        submission_id=submission.pk,
        field_name="merchantName",
        raw_value=value,
        actor=Actor.for_user(reviewer),
    )


def recalled(company) -> str | None:
    found = shop_memory(company_id=company.pk, text=TEXT, read_address=None, read_name=None)
    return found["merchantName"].value if "merchantName" in found else None


def confirm(match: FraudMatch) -> None:
    fraud_match_resolve(
        submission_id=match.submission_id,
        match_id=match.pk,
        resolution=M.Resolution.CONFIRMED_FRAUD,
        actor=Actor.system(),
    )


def test_confirming_fraud_that_leaves_it_in_review_takes_back_its_corrections(company, reviewer):
    forged, match = matched_pair(company, "a1" * 32, KEPT)
    correct(forged, "Forged Name Sdn Bhd", reviewer)
    assert recalled(company) == "Forged Name Sdn Bhd"
    confirm(match)
    assert Submission.objects.get(pk=forged.pk).status == "review"
    assert recalled(company) is None
    # Corrected again or approved while confirmed: still nothing.
    correct(forged, "Another Forged Name", reviewer)
    submission_approve(submission_id=forged.pk, actor=Actor.for_user(reviewer))
    assert recalled(company) is None
    assert not MerchantMemory.objects.filter(company=company).exists()


def test_approving_a_receipt_confirmed_as_fraud_does_not_remember_its_name(company, reviewer):
    forged, match = matched_pair(company, "a2" * 32, KEPT)
    confirm(match)
    submission_approve(submission_id=forged.pk, actor=Actor.for_user(reviewer))
    assert not MerchantMemory.objects.filter(company=company).exists()


def test_an_undone_confirmation_gives_its_corrections_back_to_the_memory(company, reviewer):
    forged, match = matched_pair(company, "a3" * 32, KEPT)
    correct(forged, "Kedai Jujur Sdn Bhd", reviewer)
    confirm(match)
    assert recalled(company) is None
    fraud_resolution_undo(submission_id=forged.pk, match_ids=[match.pk], actor=Actor.system())
    assert recalled(company) == "Kedai Jujur Sdn Bhd"
    memory = MerchantMemory.objects.get(company=company, key="gst:000321321321")
    assert (memory.times_right, memory.times_wrong) == (1, 0)


def test_a_confirmation_that_rejects_takes_its_correction_back_once(company, reviewer):
    # Two earlier receipts taught the name; the forged one, corrected to it, counted once
    # more. Confirming (which rejects) takes that one count back, not two.
    for _ in range(2):
        taught, _ = make_submission(company)
        Submission.objects.filter(pk=taught.pk).update(
            status="review", pages_text=[TEXT], extracted_data={"merchantName": "KEDAI JUJUR"}
        )
        correct(taught, "Kedai Jujur Sdn Bhd", reviewer)
    forged, match = matched_pair(company, "a4" * 32)
    correct(forged, "Kedai Jujur Sdn Bhd", reviewer)
    memory = MerchantMemory.objects.get(company=company, key="gst:000321321321")
    assert memory.times_right == 3
    confirm(match)
    assert Submission.objects.get(pk=forged.pk).status == "rejected"
    memory.refresh_from_db()
    assert (memory.value, memory.times_right) == ("Kedai Jujur Sdn Bhd", 2)
