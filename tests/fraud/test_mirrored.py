"""An earlier receipt sent again mirrored (a selfie camera, a scanner lid closed the
wrong way, "flip" in an editor) is found as a visual duplicate of it, and the match says
how it was mirrored: OCR cannot read a mirrored page, so nothing else would find it."""

import pytest
from django.urls import reverse
from PIL import Image

from fraud import hashing
from fraud.models import FraudMatch
from fraud.services import PageImage, fraud_run_checks, hash_page
from jobs.extraction import Word
from tests.fraud.helpers import make_submission, pages_for, reencoded, refetch, till_receipt

pytestmark = pytest.mark.django_db

FLIPS = [
    (Image.Transpose.FLIP_LEFT_RIGHT, "left-right"),
    (Image.Transpose.FLIP_TOP_BOTTOM, "top-bottom"),
    (Image.Transpose.TRANSPOSE, "diagonal"),
    (Image.Transpose.TRANSVERSE, "anti-diagonal"),
]


def check(company, image: Image.Image, fields: dict[str, str] | None = None):
    submission, file = make_submission(company)
    submission.extracted_data = fields or {}
    submission.save(update_fields=["extracted_data"])
    outcome = fraud_run_checks(
        submission_id=submission.pk, pages=pages_for(file, image), fields=fields or {}, text=""
    )
    return submission, outcome


@pytest.mark.parametrize(("flip", "mirrored"), FLIPS)
def test_a_mirrored_copy_of_an_earlier_receipt_is_a_visual_match_that_says_mirrored(
    company, ui, flip, mirrored
):
    receipt = till_receipt(40512, "42.50")
    original, _ = check(company, receipt)
    copy, outcome = check(company, reencoded(receipt).transpose(flip))
    match = FraudMatch.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("visual", original.pk)
    assert match.details["mirrored"] == mirrored
    assert match.details["distance"] <= 16 and match.score >= 70
    assert outcome.status == "flagged" and refetch(copy).fraud_status == "flagged"
    html = ui.get(reverse("fraud:panel", args=[copy.pk]), HTTP_HX_REQUEST="true")
    assert f"mirrored ({mirrored})" in html.content.decode()


def test_an_earlier_mirrored_receipt_is_found_by_its_upright_copy(company):
    """The other way round: the mirrored file came first, the readable one second."""
    receipt = till_receipt(40512, "42.50")
    first, _ = check(company, receipt.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    second, outcome = check(company, reencoded(receipt))
    match = FraudMatch.objects.get(submission=second)
    assert (match.target_submission_id, match.details["mirrored"]) == (first.pk, "left-right")
    assert outcome.status == "flagged"


def test_a_date_read_off_mirrored_print_does_not_clear_the_mirrored_match(company):
    """OCR reads junk off mirrored print, a date among it at times (3 of 18 mirrored
    SROIE receipts, bench/fraud_mirrored.py): another date than the original's says nothing about the paper."""
    receipt = till_receipt(40512, "42.50")
    original, _ = check(company, receipt, {"date": "2024-05-03"})
    flipped = reencoded(receipt).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    copy, outcome = check(company, flipped, {"date": "2024-08-05"})
    match = FraudMatch.objects.get(submission=copy)
    assert (match.target_submission_id, match.details["mirrored"]) == (original.pk, "left-right")
    assert "otherDate" not in match.details and match.score >= 70
    assert outcome.status == "flagged"


def test_an_upright_copy_is_found_as_itself_not_as_a_mirror(company):
    receipt = till_receipt(40512, "42.50")
    check(company, receipt)
    copy, _ = check(company, reencoded(receipt))
    assert "mirrored" not in FraudMatch.objects.get(submission=copy).details


def test_a_page_ocr_read_is_not_hashed_mirrored():
    """Mirrored print is unreadable: a page OCR read words on is not mirrored, and its
    mirrored hashes (four PDQ per view) are not paid for."""
    receipt = till_receipt(40512, "42.50")
    words = [
        Word(text=f"WORD{n}", bbox=(0.1, n / 12, 0.6, n / 12 + 0.04), confidence=0.95)
        for n in range(1, 11)
    ]
    read = hash_page(PageImage(file_id="f", page=0, image=receipt, words=words))
    unread = hash_page(PageImage(file_id="f", page=0, image=receipt))
    assert read is not None and unread is not None
    assert read.hashes.mirrored == {}
    assert set(unread.hashes.mirrored) == {name for _, name in FLIPS}
    assert all(set(v) == set(hashing.IMAGE_VIEWS) for v in unread.hashes.mirrored.values())
