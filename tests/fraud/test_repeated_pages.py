"""One receipt sent twice in one submission as different files: a page of one file is
the same paper as a page of another, whatever their bytes."""

import pytest
from django.urls import reverse
from PIL import Image

from fraud.models import FraudMatch
from fraud.services import PageImage, fraud_run_checks
from tests import factories
from tests.fraud.helpers import make_submission, reencoded, refetch, till_receipt

pytestmark = pytest.mark.django_db


def check_two_files(company, first: Image.Image, second: Image.Image):
    submission, file = make_submission(company)
    other = factories.SubmissionFileFactory(submission=submission, file_index=1)
    pages = [PageImage(file_id=file.pk, page=0, image=first)]
    pages.append(PageImage(file_id=other.pk, page=0, image=second))
    outcome = fraud_run_checks(submission_id=submission.pk, pages=pages, fields={}, text="")
    return submission, outcome


def test_the_same_receipt_as_two_different_files_of_one_submission_is_flagged_not_blocked(
    company, ui
):
    receipt = till_receipt(40512, "42.50")
    submission, outcome = check_two_files(company, receipt, reencoded(receipt))
    match = FraudMatch.objects.get(submission=submission)
    assert (match.check_type, match.target_submission_id) == ("visual", None)
    assert match.details["files"] == [0, 1]
    assert match.details["local"]["score"] > 0
    assert (outcome.status, outcome.score) == ("flagged", 50.0)
    assert refetch(submission).fraud_status == "flagged"
    html = ui.get(reverse("fraud:panel", args=[submission.pk]), HTTP_HX_REQUEST="true")
    assert "the same page is in files 1 and 2" in html.content.decode()


def test_two_receipts_of_one_shop_in_one_submission_are_no_match(company):
    submission, outcome = check_two_files(
        company, till_receipt(40512, "42.50"), reencoded(till_receipt(40977, "38.15"))
    )
    assert not FraudMatch.objects.filter(submission=submission).exists()
    assert outcome.status == "clean"


def check_one_file(company, pages: list[Image.Image]):
    """One file of several pages (a PDF), as the pipeline hands its rendered pages over."""
    submission, file = make_submission(company)
    rendered = [PageImage(file_id=file.pk, page=n, image=image) for n, image in enumerate(pages)]
    outcome = fraud_run_checks(submission_id=submission.pk, pages=rendered, fields={}, text="")
    return submission, outcome


def test_the_same_receipt_as_two_pages_of_one_file_is_flagged(company, ui):
    """A PDF with the receipt on page 1 and again on page 3 (another receipt between) is
    one receipt claimed twice, as much as two files are."""
    receipt = till_receipt(40512, "42.50")
    pages = [receipt, till_receipt(40977, "38.15"), reencoded(receipt)]
    submission, outcome = check_one_file(company, pages)
    match = FraudMatch.objects.get(submission=submission)
    assert (match.check_type, match.target_submission_id) == ("visual", None)
    assert (match.details["files"], match.details["pages"]) == ([0], [0, 2])
    assert match.details["local"]["score"] > 0
    assert (outcome.status, outcome.score) == ("flagged", 50.0)
    html = ui.get(reverse("fraud:panel", args=[submission.pk]), HTTP_HX_REQUEST="true")
    assert "the same page is pages 1 and 3 of file 1" in html.content.decode()


def test_pages_of_one_shop_in_one_file_are_no_match(company):
    pages = [till_receipt(40512, "42.50"), reencoded(till_receipt(40977, "38.15"))]
    submission, outcome = check_one_file(company, pages)
    assert not FraudMatch.objects.filter(submission=submission).exists()
    assert outcome.status == "clean"
