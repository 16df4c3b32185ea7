"""Retention: a purged submission's receipt content leaves what the fraud checks keep."""

import json

import pytest
from PIL import Image, ImageDraw

from fraud.models import DataFingerprint, FraudMatch, PageFeatures, PageFingerprint
from fraud.policy import DEFAULTS
from fraud.services import RESULT_DETAILS, PageImage, fraud_run_checks
from jobs.services import _purge_one
from submissions.models import Submission
from submissions.services import submission_files_withdraw
from tests.fraud.helpers import make_submission

pytestmark = pytest.mark.django_db
FIELDS = {"merchantName": "Kedai Runcit Ah Seng Sdn Bhd", "totalAmount": 42.5, "date": "2024-05-03"}
TIMED = {**FIELDS, "time": "14:02", "receiptNumber": "88123"}


def run(submission, fields, pages=()):
    return fraud_run_checks(submission_id=submission.pk, pages=list(pages), fields=fields, text="")


def purge(submission) -> None:
    Submission.objects.filter(pk=submission.pk).update(status="approved")
    # As retention_purge runs it: the files are withdrawn, and that committed, first.
    submission_files_withdraw(submission_id=submission.pk)
    _purge_one(submission.pk, submission.company_id)


def receipt_page(file) -> PageImage:
    image = Image.new("L", (600, 1000), 255)
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(["KEDAI RUNCIT AH SENG", "NO 12 JALAN SATU", "TOTAL RM 42.50"] * 4):
        draw.text((40, 40 + i * 70), text, fill=0)
        draw.rectangle((40, 70 + i * 70, 90 + (i * 37) % 400, 76 + i * 70), fill=0)
    return PageImage(file_id=file.pk, page=0, image=image)


def test_purging_either_side_of_a_data_match_drops_the_receipts_content_but_keeps_the_match(
    company,
):
    first, _ = make_submission(company)
    twin, _ = make_submission(company)
    run(first, TIMED)
    run(twin, TIMED)
    match = FraudMatch.objects.get(submission=twin, check_type="data")
    assert match.details["targetMerchant"] == "KEDAI RUNCIT AH SENG"
    before = (match.check_type, match.status, match.score, match.details["merchantSimilarity"])

    purge(first)

    match.refresh_from_db()
    assert not set(match.details) & RESULT_DETAILS
    assert "KEDAI" not in str(match.details) and "2024" not in str(match.details)
    after = (match.check_type, match.status, match.score, match.details["merchantSimilarity"])
    assert after == before
    assert Submission.objects.get(pk=first.pk).results_purged_at is not None


def test_a_same_receipt_number_match_loses_the_purged_receipts_number_and_total(company):
    first, _ = make_submission(company)
    edited, _ = make_submission(company)
    run(first, TIMED)
    run(edited, {**TIMED, "totalAmount": 92.5})  # the total edited, the number left alone
    match = FraudMatch.objects.get(submission=edited, check_type="data")
    assert (match.details["receiptNumber"], match.details["targetTotal"]) == ("88123", "42.50")

    purge(first)

    match.refresh_from_db()
    assert not set(match.details) & RESULT_DETAILS
    assert "88123" not in str(match.details) and "42.50" not in str(match.details)


def test_a_purged_receipts_page_print_and_data_fingerprint_go_and_its_page_hashes_stay(company):
    first, file = make_submission(company)
    run(first, TIMED, pages=[receipt_page(file)])
    assert PageFeatures.objects.filter(submission=first).exists()  # a readable print

    purge(first)

    assert not PageFeatures.objects.filter(submission=first).exists()
    assert not DataFingerprint.objects.filter(submission=first).exists()
    assert PageFingerprint.objects.filter(submission=first).exists()


def test_a_new_upload_of_a_purged_receipt_is_still_caught_by_its_page_hashes(company):
    first, file = make_submission(company)
    run(first, TIMED, pages=[receipt_page(file)])
    purge(first)

    twin, twin_file = make_submission(company)
    run(twin, TIMED, pages=[receipt_page(twin_file)])
    matches = FraudMatch.objects.filter(submission=twin, target_submission=first)
    assert "visual" in {m.check_type for m in matches}
    assert "data" not in {m.check_type for m in matches}  # its data fingerprint is gone
    assert "KEDAI" not in json.dumps([m.details for m in matches])


def test_a_tampering_signals_sums_leave_the_match_on_purge(company):
    first, _ = make_submission(company, policy={**DEFAULTS, "tampering_arithmetic_score": 60.0})
    items = [{"description": "a", "amount": 1.0}, {"description": "b", "amount": 2.0}]
    run(first, {**FIELDS, "totalAmount": 987.65, "lineItems": items})
    match = FraudMatch.objects.get(submission=first, check_type="tampering")
    assert "987.65" in json.dumps(match.details)

    purge(first)

    match.refresh_from_db()
    assert "987.65" not in json.dumps(match.details)
    assert match.details["signals"][0]["signal"] == "arithmetic_mismatch"


@pytest.mark.django_db(transaction=True)
def test_a_check_that_wrote_its_match_before_the_purge_committed_loses_the_content_too(
    company, monkeypatch
):
    import threading

    from django.db import connection

    import fraud.services as services

    first, _ = make_submission(company)
    run(first, TIMED)
    Submission.objects.filter(pk=first.pk).update(status="approved")
    submission_files_withdraw(submission_id=first.pk)  # retention_purge's first pass
    twin, _ = make_submission(company)
    written, release = threading.Event(), threading.Event()
    store = services._store_outcome

    def held(submission_id):  # the twin's match is written, its transaction still open
        if submission_id == twin.pk:
            written.set()
            release.wait(10)
        return store(submission_id)

    monkeypatch.setattr(services, "_store_outcome", held)

    def in_thread(work):
        def target():
            try:
                work()
            finally:
                connection.close()

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    check = in_thread(lambda: run(twin, TIMED))
    assert written.wait(10)
    purging = in_thread(lambda: _purge_one(first.pk, company.pk))
    purging.join(1.0)
    assert purging.is_alive()  # it waits for the check's company lock
    release.set()
    check.join(20)
    purging.join(20)

    assert Submission.objects.get(pk=first.pk).results_purged_at is not None
    match = FraudMatch.objects.get(submission=twin, check_type="data")
    assert not set(match.details) & RESULT_DETAILS
