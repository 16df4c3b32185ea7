"""The data check of a PDF whose text layer says otherwise than its page shows.

jobs.extraction.shown reads the checked fields again on the rendered page and sends one
the page shows otherwise to review; the data check compares what the page shows too, so
an edited copy of an earlier receipt whose invisible text names another shop, total and
date is still matched against the receipt it copies."""

import io

import pytest
from django.core.management import call_command

from fraud.models import DataFingerprint, FraudMatch
from fraud.services import fraud_run_checks
from tests.fraud.helpers import make_submission

pytestmark = pytest.mark.django_db
M = FraudMatch

HONEST = {
    "merchantName": "Kedai Runcit Ah Seng Sdn Bhd",
    "totalAmount": 42.5,
    "date": "2024-05-03",
    "time": "14:02",
}
# What the text layer of an edited copy of HONEST says; its page shows HONEST.
LIES = {
    **HONEST,
    "merchantName": "PODRT BLPL GRYL SDN BHD",
    "totalAmount": 71.9,
    "date": "2024-05-17",
}
SHOWN = {"merchantName": "KEDAI RUNCIT AH SENG SDN BHD", "totalAmount": 42.5, "date": "2024-05-03"}


def run(submission, fields, shown=None):
    return fraud_run_checks(submission_id=submission.pk, fields=fields, text="", shown=shown)


def test_a_copy_whose_text_layer_lies_is_matched_by_what_its_page_shows(company):
    earlier, _ = make_submission(company)
    run(earlier, HONEST)
    copy, _ = make_submission(company)
    outcome = run(copy, LIES, shown=SHOWN)
    match = M.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("data", earlier.pk)
    assert match.details["shown"] is True  # matched on the page's values, not the text's
    assert match.details["merchant"] == "KEDAI RUNCIT AH SENG"
    assert match.details["time"] == "14:02" and match.score == 65.0
    assert outcome.status == "flagged"


def test_a_copy_whose_text_layer_lies_is_found_by_a_later_honest_copy(company):
    # The edited copy came first: what its page showed is kept, and found again.
    copy, _ = make_submission(company)
    run(copy, LIES, shown=SHOWN)
    later, _ = make_submission(company)
    outcome = run(later, HONEST)
    match = M.objects.get(submission=later)
    assert (match.check_type, match.target_submission_id) == ("data", copy.pk)
    assert match.details["targetShown"] is True and "shown" not in match.details
    assert outcome.status == "flagged"


def test_what_the_text_layer_says_is_still_compared(company):
    # The text layer's values are what was read and may be approved: a receipt they
    # match is found as before.
    earlier, _ = make_submission(company)
    run(earlier, LIES)
    copy, _ = make_submission(company)
    run(copy, LIES, shown=SHOWN)
    match = M.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("data", earlier.pk)
    assert "shown" not in match.details


def test_one_pair_found_by_both_readings_is_one_match_scored_once(company):
    earlier, _ = make_submission(company)
    run(earlier, HONEST)
    copy, _ = make_submission(company)
    # Only the name lies: both readings find the earlier receipt at the same minute.
    outcome = run(copy, {**HONEST, "merchantName": "KEDAI RUNCIT AHSENG"}, shown=SHOWN)
    match = M.objects.get(submission=copy)
    assert (match.check_type, match.score) == ("data", 65.0)
    assert outcome.score == 65.0


def test_an_honest_other_receipt_is_not_matched(company):
    earlier, _ = make_submission(company)
    run(earlier, HONEST)
    other, _ = make_submission(company)
    shop = {**HONEST, "merchantName": "Restoran Wan Sheng"}
    assert run(other, shop, shown={}).status == "clean"
    assert not M.objects.filter(submission=other).exists()


def test_an_honest_receipt_keeps_one_fingerprint_as_before(company):
    submission, _ = make_submission(company)
    run(submission, HONEST, shown={})
    [row] = DataFingerprint.objects.filter(submission=submission)
    assert (row.merchant, str(row.total), row.date.isoformat(), row.time) == (
        "KEDAI RUNCIT AH SENG",
        "42.50",
        "2024-05-03",
        "14:02",
    )
    assert row.shown is False


def test_a_copy_keeps_what_its_page_shows_beside_what_its_text_says(company):
    copy, _ = make_submission(company)
    run(copy, LIES, shown=SHOWN)
    rows = {row.shown: row for row in DataFingerprint.objects.filter(submission=copy)}
    assert rows[False].merchant == "PODRT BLPL GRYL" and str(rows[False].total) == "71.90"
    assert rows[True].merchant == "KEDAI RUNCIT AH SENG" and str(rows[True].total) == "42.50"
    assert rows[True].time == "14:02"  # not a checked field: the text layer's


def test_a_copy_checked_before_keeps_what_its_page_shows_once_refingerprinted(company):
    # Checked before the data check compared what a page shows: its evidence says it, its
    # data fingerprint does not, and the earlier receipt its page copies is not found.
    copy, _ = make_submission(company)
    run(copy, LIES)
    copy.extracted_data = LIES
    copy.evidence = {
        "merchantName": [{"page": 0, "bbox": [0, 0, 1, 0.1], "shown": SHOWN["merchantName"]}],
        "totalAmount": [{"page": 0, "bbox": [0, 0.5, 1, 0.6], "shown": "RM 42.50"}],
        "date": [{"page": 0, "bbox": [0, 0.2, 1, 0.3], "shown": "03/05/2024"}],
    }
    copy.save(update_fields=["extracted_data", "evidence"])
    honest, _ = make_submission(company)
    honest.extracted_data = HONEST
    honest.evidence = {"totalAmount": [{"page": 0, "bbox": [0, 0.5, 1, 0.6]}]}
    honest.save(update_fields=["extracted_data", "evidence"])
    run(honest, HONEST)

    call_command("fraud_refingerprint", "--company", company.pk)
    shown = DataFingerprint.objects.get(submission=copy, shown=True)
    assert (shown.merchant, str(shown.total), shown.date.isoformat(), shown.time) == (
        "KEDAI RUNCIT AH SENG",
        "42.50",
        "2024-05-03",
        "14:02",
    )
    assert not DataFingerprint.objects.filter(submission=honest, shown=True).exists()
    later, _ = make_submission(company)
    run(later, HONEST)
    assert set(
        M.objects.filter(submission=later, check_type="data").values_list(
            "target_submission_id", flat=True
        )
    ) == {copy.pk, honest.pk}
    # Running it again finds nothing left to do.
    out = io.StringIO()
    call_command("fraud_refingerprint", stdout=out)
    assert "shown: 0" in out.getvalue()


INVOICE = {
    "vendorName": "Atelier Lefebvre SARL",
    "invoiceNumber": "F-2024-00817",
    "invoiceDate": "2024-06-12",
    "totalAmount": 1840.0,
}


def test_an_invoice_checked_before_it_had_a_data_key_gets_its_row_once_refingerprinted(company):
    # Before edef728 an invoice's date was read as issueDate: checked, it kept no data
    # fingerprint, and the same invoice sent again after the upgrade matched nothing.
    old, _ = make_submission(company)
    run(old, INVOICE)
    DataFingerprint.objects.filter(submission=old).delete()  # as the old check left it
    old.extracted_data = INVOICE
    old.save(update_fields=["extracted_data"])
    never_checked, _ = make_submission(company)  # its checks have not run: not yet
    never_checked.extracted_data = INVOICE
    never_checked.save(update_fields=["extracted_data"])

    call_command("fraud_refingerprint", "--company", company.pk)
    row = DataFingerprint.objects.get(submission=old)
    assert (row.shown, row.receipt_number, row.date.isoformat()) == (
        False,
        "F202400817",
        "2024-06-12",
    )
    assert not DataFingerprint.objects.filter(submission=never_checked).exists()

    again, _ = make_submission(company)
    run(again, INVOICE)
    targets = M.objects.filter(submission=again, check_type="data")
    assert set(targets.values_list("target_submission_id", flat=True)) == {old.pk}
