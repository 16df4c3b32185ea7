"""The checks through fraud_run_checks against PostgreSQL: matches, scores, statuses."""

import io
import random

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from fraud import hashing
from fraud.models import DataFingerprint, FraudMatch, PageFingerprint
from fraud.services import fraud_record_fingerprints, fraud_run_checks
from submissions.models import Submission, SubmissionFile
from submissions.services import submission_finish_processing
from tests import factories
from tests.fraud.helpers import (
    make_submission,
    pages_for,
    recaptured,
    receipt,
    refetch,
    sroie_available,
)

pytestmark = pytest.mark.django_db
needs_sroie = pytest.mark.skipif(not sroie_available(), reason="sroie-dev not present")
M = FraudMatch

FIELDS = {"merchantName": "Kedai Runcit Ah Seng Sdn Bhd", "totalAmount": 42.5, "date": "2024-05-03"}
TEXT = """KEDAI RUNCIT AH SENG SDN BHD No 12 Jalan Merdeka 50000 Kuala Lumpur
Invoice 88123 Date 03/05/2024 14:02 Cashier Siti
2 x Milo 1kg 31.00 1 x Gardenia bread 4.50 3 x Eggs grade A 7.00
Total 42.50 Cash 50.00 Change 7.50 Thank you please come again"""


def run(submission, file=None, image=None, fields=None, text=""):
    pages = pages_for(file, image) if image is not None else []
    return fraud_run_checks(
        submission_id=submission.pk, pages=pages, fields=fields or {}, text=text
    )


def test_exact_duplicate_is_blocked_by_score(company):
    first, _ = make_submission(company, sha256="a" * 64)
    second, _ = make_submission(company, sha256="a" * 64)
    run(first)
    outcome = run(second)
    match = M.objects.get(submission=second)
    assert (match.check_type, match.target_submission_id, match.score) == (
        "duplicate",
        first.pk,
        100,
    )
    assert outcome.status == "blocked" and refetch(second).fraud_status == "blocked"


def test_a_session_opened_first_and_checked_last_carries_the_match_itself(company):
    """Ids follow when sessions were opened; the check that finds the pair decides whose
    match it is: the twin that went through first must not be blocked after the fact."""
    opened_first, first_file = make_submission(company)
    opened_second, _ = make_submission(company, sha256="b" * 64)
    assert opened_first.pk < opened_second.pk
    # opened_second is submitted, checked and approved while opened_first waits unsent
    # (no digest yet: one is taken at submit); then opened_first is submitted with the
    # same file and checked.
    assert run(opened_second).status == "clean"
    Submission.objects.filter(pk=opened_second.pk).update(status="approved")
    SubmissionFile.objects.filter(pk=first_file.pk).update(sha256="b" * 64)
    outcome = run(opened_first)
    match = M.objects.get()
    assert (match.submission_id, match.target_submission_id) == (opened_first.pk, opened_second.pk)
    assert outcome.status == "blocked" and refetch(opened_first).fraud_status == "blocked"
    assert refetch(opened_second).fraud_status == "clean"


def test_clean_submission(company):
    submission, _ = make_submission(company)
    outcome = run(submission, fields=FIELDS, text=TEXT)
    assert (outcome.status, outcome.score, outcome.match_count) == ("clean", 0.0, 0)


@needs_sroie
def test_recaptured_receipt_is_a_visual_match_and_others_are_not(company):
    original, original_file = make_submission(company)
    other, other_file = make_submission(company)
    copy, copy_file = make_submission(company)
    run(original, original_file, receipt(3))
    run(other, other_file, receipt(0))
    run(copy, copy_file, recaptured(3, "jpeg_q40"))
    found = list(M.objects.filter(submission=copy).values_list("check_type", "details"))
    assert len(found) == 1, found
    match = M.objects.get(submission=copy)
    assert match.check_type == "visual" and match.target_submission_id == original.pk
    assert match.details["distance"] <= 16 and match.score >= 70
    assert refetch(copy).fraud_status == "flagged"
    assert not M.objects.filter(submission=other).exists()
    assert PageFingerprint.objects.filter(submission=copy).count() == len(hashing.IMAGE_VIEWS)


def test_reprinted_text_is_a_text_match(company):
    first, _ = make_submission(company)
    second, _ = make_submission(company)
    run(first, text=TEXT)
    run(second, text=TEXT.replace("Gardenia", "Gardenla"))  # one OCR slip
    match = M.objects.get(submission=second)
    assert match.check_type == "text" and match.similarity >= 0.8
    assert 55 <= match.score <= 95


def padding_page(seed: int) -> str:
    """A page of made-up numbers, as a forger adds behind a receipt to dilute its text."""
    rng = random.Random(seed)
    return "\n".join(" ".join(f"{rng.randrange(10**6):06d}" for _ in range(5)) for _ in range(30))


def test_a_receipt_padded_with_pages_of_numbers_is_still_a_text_match(company):
    """The receipt's page alone is compared too: padding pages dilute the joined text."""
    first, _ = make_submission(company)
    padded, _ = make_submission(company)
    run(first, text=TEXT)
    pages = [padding_page(1), TEXT, padding_page(2), padding_page(3)]
    outcome = fraud_run_checks(
        submission_id=padded.pk, fields={}, text="\n".join(pages), page_texts=pages
    )
    match = M.objects.get(submission=padded)
    assert (match.check_type, match.target_submission_id) == ("text", first.pk)
    assert match.similarity == 1.0 and outcome.status == "flagged"


def test_padding_pages_of_other_numbers_are_no_text_match(company):
    first, _ = make_submission(company)
    padded, _ = make_submission(company)
    run(first, text=TEXT)
    pages = [padding_page(1), padding_page(2)]
    outcome = fraud_run_checks(
        submission_id=padded.pk, fields={}, text="\n".join(pages), page_texts=pages
    )
    assert not M.objects.filter(submission=padded).exists() and outcome.status == "clean"


def test_data_alone_is_weak_but_adds_to_text(company):
    policy = {"text_min_similarity": 0.5}
    first, _ = make_submission(company, policy=policy)
    same_lunch, _ = make_submission(company, policy=policy)
    run(first, fields=FIELDS)
    run(same_lunch, fields={**FIELDS, "date": "2024-05-04"})
    # Same merchant and total a day later: an honest repeat purchase is not flagged.
    assert refetch(same_lunch).fraud_status == "clean"

    reprint, _ = make_submission(company, policy=policy)
    edited = TEXT.replace("Siti", "Ali").replace("14:02", "16:40")
    run(first, text=TEXT)
    outcome = run(reprint, fields={**FIELDS, "merchantName": "KEDAI RUNCIT AH SENG"}, text=edited)
    checks = set(M.objects.filter(submission=reprint).values_list("check_type", flat=True))
    assert {"data", "text"} <= checks
    assert outcome.status == "flagged" and outcome.score > 55


def test_same_minute_same_total_is_strong_data_evidence(company):
    first, _ = make_submission(company)
    twin, _ = make_submission(company)
    run(first, fields={**FIELDS, "time": "14:02", "receiptNumber": "88123"})
    # OCR of the re-capture reads the name differently and one digit of the number wrong.
    copy = {**FIELDS, "merchantName": "KEDAI RUNCIT AHSENG", "time": "2:02 PM"}
    outcome = run(twin, fields={**copy, "receiptNumber": "88128"})
    match = M.objects.get(submission=twin)
    assert (match.check_type, match.score) == ("data", 65.0)
    assert match.details["time"] == "14:02" and match.details["merchantSimilarity"] > 0.5
    assert outcome.status == "flagged"


def test_same_minute_with_another_receipt_number_stays_weak(company):
    first, _ = make_submission(company)
    colleague, _ = make_submission(company)
    run(first, fields={**FIELDS, "time": "14:02", "receiptNumber": "88123"})
    # Two colleagues paying the same lunch at the same till in the same minute.
    outcome = run(colleague, fields={**FIELDS, "time": "14:02", "receiptNumber": "88131"})
    assert outcome.status == "clean" and not M.objects.filter(submission=colleague).exists()


def edited(image, boxes):
    """The image with each box painted over and other digits typed in (a forger's edit)."""
    from PIL import ImageDraw

    copy = image.convert("RGB")
    draw = ImageDraw.Draw(copy)
    for left, top, right, bottom in boxes:
        draw.rectangle([left, top, right, bottom], fill="white")
        draw.text((left + 2, top + 1), "90.50", fill="black")
    return copy


@needs_sroie
def test_an_earlier_receipt_with_its_date_and_total_edited_is_flagged_by_its_number(company):
    first, first_file = make_submission(company)
    number = "OR18031002160274"
    run(first, first_file, receipt(33), fields={**FIELDS, "receiptNumber": number}, text=TEXT)
    # Date and total edited: the page hash is zeroed as another date's look-alike, the
    # digits' text is only weakly alike, the total differs. The number was left alone.
    forged, forged_file = make_submission(company)
    text = TEXT.replace("03/05/2024", "19/06/2024").replace("42.50", "90.50")
    fields = {**FIELDS, "date": "2024-06-19", "totalAmount": 90.5, "receiptNumber": number}
    image = edited(receipt(33), [(480, 540, 560, 556), (480, 575, 560, 591)])
    outcome = run(forged, forged_file, image, fields=fields, text=text)
    found = {m.check_type: m for m in M.objects.filter(submission=forged)}
    assert found["data"].target_submission_id == first.pk
    assert found["data"].details["receiptNumber"] == number
    assert found["data"].details["targetTotal"] == "42.50" and found["data"].score == 60.0
    # A look-alike of the same number is no other receipt of the template: it counts.
    assert "otherDate" not in found["visual"].details and found["visual"].score > 0
    assert outcome.status in ("flagged", "blocked")


def test_the_same_receipt_number_needs_five_digits_and_a_similar_shop(company):
    first, _ = make_submission(company)
    run(first, fields={**FIELDS, "receiptNumber": "T-0045"})
    # A short number repeats: a table, a till's daily counter.
    short, _ = make_submission(company)
    later = {**FIELDS, "date": "2024-06-19", "totalAmount": 9.5}
    assert run(short, fields={**later, "receiptNumber": "T-0045"}).status == "clean"
    second, _ = make_submission(company)
    run(second, fields={**FIELDS, "receiptNumber": "INV-2024-00817"})
    elsewhere, _ = make_submission(company)
    other_shop = {**later, "merchantName": "Restoran Wan Sheng"}
    assert run(elsewhere, fields={**other_shop, "receiptNumber": "INV-2024-00817"}).status == (
        "clean"
    )
    edited_copy, _ = make_submission(company)
    outcome = run(edited_copy, fields={**later, "receiptNumber": "inv 2024/00817"})
    match = M.objects.get(submission=edited_copy)
    assert (match.check_type, match.target_submission_id) == ("data", second.pk)
    assert outcome.status == "flagged"


# The name of FIELDS with Cyrillic and Greek letters drawn as the Latin ones (К, а, е, с, Ѕ,
# Α, В): a PDF's text layer can say anything, and the page shows the same name.
LOOK_ALIKE = "\u041a\u0435d\u0430i Run\u0441it \u0391h \u0405\u0435ng \u0405dn \u0412hd"


def test_a_shop_name_spelt_in_look_alike_letters_is_the_same_shop(company):
    """Folded away as letters beyond ASCII, the look-alikes left "DI RUNIT H NG DN HD" of
    "KEDAI RUNCIT AH SENG": an edited copy of an earlier receipt, its name's letters
    swapped for Cyrillic twins, kept its receipt number but matched no shop."""
    assert FIELDS["merchantName"] != LOOK_ALIKE and not LOOK_ALIKE.isascii()
    second, _ = make_submission(company)
    run(second, fields={**FIELDS, "receiptNumber": "INV-2024-00817"})
    edited_copy, _ = make_submission(company)
    fields = {
        **FIELDS,
        "merchantName": LOOK_ALIKE,
        "date": "2024-06-19",
        "totalAmount": 9.5,
        "receiptNumber": "INV-2024-00817",
    }
    outcome = run(edited_copy, fields=fields)
    match = M.objects.get(submission=edited_copy)
    assert (match.check_type, match.target_submission_id) == ("data", second.pk)
    assert match.details["merchant"] == "KEDAI RUNCIT AH SENG"
    assert outcome.status == "flagged"


def test_an_invoice_sent_twice_is_matched_as_a_data_duplicate(company):
    """An invoice's date is `invoiceDate` (jobs.extraction.schemas): read as `issueDate`,
    a name no schema has, no invoice had a data key, and one claimed twice matched none."""
    invoice = {
        "vendorName": "Atelier Lefebvre SARL",
        "invoiceNumber": "F-2024-00817",
        "invoiceDate": "2024-06-12",
        "totalAmount": 1840.0,
    }
    first, _ = make_submission(company)
    run(first, fields=invoice)
    again, _ = make_submission(company)
    outcome = run(again, fields={**invoice, "invoiceDate": "2024-06-19", "totalAmount": 1480.0})
    match = M.objects.get(submission=again)
    assert (match.check_type, match.target_submission_id) == ("data", first.pk)
    assert match.details["receiptNumber"]
    assert outcome.status == "flagged"


def test_an_invoice_over_a_trillion_is_checked_and_its_copy_found(company):
    """A dong or rupiah invoice runs to 13 digits and more (1.5 trillion VND is about
    60,000 USD): its data fingerprint did not fit its column, and the database's refusal
    failed the submission ("Steve could not process the document"), every try."""
    invoice = {
        "vendorName": "Cong Ty TNHH Xay Dung Minh Phat",
        "invoiceNumber": "HD-2024-004417",
        "invoiceDate": "2024-06-12",
        "totalAmount": 1_500_000_000_000.0,
        "currency": "VND",
    }
    first, _ = make_submission(company)
    assert run(first, fields=invoice).status == "clean"
    again, _ = make_submission(company)
    outcome = run(again, fields=invoice)
    match = M.objects.get(submission=again)
    assert (match.check_type, match.target_submission_id) == ("data", first.pk)
    assert match.details["total"] == "1500000000000.00"
    assert outcome.status == "flagged"


def test_a_total_of_more_digits_than_money_has_is_no_data_key(company):
    """A run of digits OCR or a text layer made a total of must not fail the submission:
    the data check has no total to compare, the other checks still run."""
    submission, _ = make_submission(company)
    fields = {**FIELDS, "totalAmount": "9" * 40 + ".00"}
    assert run(submission, fields=fields, text=TEXT).status == "clean"
    assert not DataFingerprint.objects.filter(submission=submission).exists()


GARBLED = TEXT.replace("88123", "8812B").replace("31.00", "31.60")  # weak text evidence


def test_a_misread_date_digit_at_the_same_minute_adds_to_other_weak_evidence(company):
    first, _ = make_submission(company)
    run(first, fields={**FIELDS, "time": "14:02"}, text=TEXT)
    # A faded copy: OCR reads 2024 as 2021; the total, shop and minute agree.
    faded, _ = make_submission(company)
    outcome = run(faded, fields={**FIELDS, "date": "2021-05-03", "time": "14:02"}, text=GARBLED)
    found = {m.check_type: m for m in M.objects.filter(submission=faded)}
    assert set(found) == {"data", "text"}
    assert found["data"].details["dateMisread"] and found["data"].score == 35.0
    assert outcome.status == "flagged"


@pytest.mark.parametrize(
    "date, time",
    [("2024-08-03", "12:15"), ("2021-08-03", "14:02")],
    ids=["one-digit-another-minute", "two-digits-same-minute"],
)
def test_a_date_outside_the_window_is_no_data_evidence_otherwise(company, date, time):
    first, _ = make_submission(company)
    run(first, fields={**FIELDS, "time": "14:02"}, text=TEXT)
    other, _ = make_submission(company)
    # Weak text alone writes nothing; any data evidence would add up to a flag.
    outcome = run(other, fields={**FIELDS, "date": date, "time": time}, text=GARBLED)
    assert outcome.status == "clean" and not M.objects.filter(submission=other).exists()


def test_data_needs_a_similar_merchant(company):
    first, _ = make_submission(company)
    other_shop, _ = make_submission(company)
    run(first, fields={**FIELDS, "time": "14:02"})
    run(other_shop, fields={**FIELDS, "merchantName": "Restoran Wan Sheng", "time": "14:02"})
    assert not M.objects.filter(submission=other_shop).exists()


@pytest.mark.parametrize(
    ("name", "read_again", "normalised"),
    [
        # The same shop read off another capture: its accents and case as OCR reads them.
        pytest.param("Καφέ Λουκουμάς", "ΚΑΦΕ ΛΟΥΚΟΥΜΑΣ", "ΚΑΦΕ ΛΟΥΚΟΥΜΑΣ", id="greek"),
        pytest.param("永和豆漿大王", "永和豆漿大王", "永和豆漿大王", id="chinese"),
    ],
)
def test_a_shop_named_in_another_script_is_matched_as_a_data_duplicate(
    company, name, read_again, normalised
):
    # Its letters were all dropped as beyond ASCII: a name of nothing, never compared.
    first, _ = make_submission(company)
    copy, _ = make_submission(company)
    run(first, fields={**FIELDS, "merchantName": name, "time": "14:02"})
    outcome = run(copy, fields={**FIELDS, "merchantName": read_again, "time": "14:02"})
    match = M.objects.get(submission=copy)
    assert (match.check_type, match.target_submission_id) == ("data", first.pk)
    assert match.details["merchantSimilarity"] == 1.0
    assert match.details["merchant"] == match.details["targetMerchant"] == normalised
    assert outcome.status == "flagged"


@pytest.mark.parametrize(
    ("name", "other"),
    [
        # One word of look-alikes each ("Η", "Ο"): read as the Latin "H" and "O" they show.
        pytest.param("Καφετέρια Η Ωραία Ελένη", "Ζαχαροπλαστείο Η Γλυκιά Ζωή", id="greek"),
        pytest.param("永和豆漿大王", "鼎泰豐小籠包", id="chinese"),
    ],
)
def test_shops_named_in_another_script_are_told_apart(company, name, other):
    first, _ = make_submission(company)
    other_shop, _ = make_submission(company)
    run(first, fields={**FIELDS, "merchantName": name, "time": "14:02"})
    run(other_shop, fields={**FIELDS, "merchantName": other, "time": "14:02"})
    assert not M.objects.filter(submission=other_shop).exists()


def test_weak_text_alone_is_not_a_match_but_adds_to_weak_data(company):
    first, _ = make_submission(company)
    run(first, fields=FIELDS, text=TEXT)
    # OCR of a poor re-capture: digits misread (text similarity in the weak band).
    garbled = TEXT.replace("88123", "8812B").replace("31.00", "31.60")
    both, _ = make_submission(company)
    outcome = run(both, fields={**FIELDS, "date": "2024-05-04"}, text=garbled)
    found = {m.check_type: m for m in M.objects.filter(submission=both)}
    assert set(found) == {"data", "text"} and found["text"].details["weak"]
    assert 0.5 <= found["text"].similarity < 0.75
    assert outcome.status == "flagged"
    alone, _ = make_submission(company)
    run(alone, text=garbled)  # same weak text, no data: nothing about the first
    assert not M.objects.filter(submission=alone, target_submission=first).exists()


def test_data_window_is_configurable(company):
    policy = {"data_window_days": 0, "flag_threshold": 40}
    first, _ = make_submission(company, policy=policy)
    second, _ = make_submission(company, policy=policy)
    third, _ = make_submission(company, policy=policy)
    run(first, fields=FIELDS)
    run(second, fields={**FIELDS, "date": "2024-05-04"})
    run(third, fields=FIELDS)
    assert not M.objects.filter(submission=second).exists()
    assert M.objects.get(submission=third).check_type == "data"


def test_tampering_flag_with_evidence(company):
    submission, _ = make_submission(company)
    items = [{"description": "Milo", "quantity": 2, "amount": 31.0}]
    items += [{"description": "Bread", "quantity": 1, "amount": 4.5}]
    fields = {**FIELDS, "lineItems": items}
    policy_low = {"tampering_arithmetic_score": 60}
    version = submission.workflow_version
    version.fraud_policy = policy_low
    version.save(update_fields=["fraud_policy"])
    outcome = run(submission, fields=fields)
    match = M.objects.get(submission=submission)
    assert match.check_type == "tampering" and match.target_submission_id is None
    assert match.details["signals"][0]["signal"] == "arithmetic_mismatch"
    assert outcome.status == "flagged"


def test_a_pdf_with_bytes_before_its_header_is_checked_for_its_producer(company):
    # Readers, and Steve's sniffing, find %PDF- within its first KB: a few bytes before it
    # kept the file from being read as a PDF here, and an editor's name went unseen.
    submission, file = make_submission(company)
    edited = io.BytesIO()
    Image.new("RGB", (200, 300), "white").save(edited, "PDF", producer="PDF-XChange Editor")
    default_storage.save(file.storage_key, ContentFile(b"\r\n" + edited.getvalue()))
    SubmissionFile.objects.filter(pk=file.pk).update(mime_type="application/pdf")
    assert run(submission).status == "flagged"
    match = M.objects.get(submission=submission)
    assert match.check_type == "tampering"
    assert match.details["signals"][0]["field"] == "pdf.Producer"


def test_checks_can_be_switched_off(company):
    policy = {"text": False}
    first, _ = make_submission(company, policy=policy)
    second, _ = make_submission(company, policy=policy)
    run(first, text=TEXT)
    assert run(second, text=TEXT).status == "clean"


def test_company_isolation(company):
    other_company = factories.CompanyFactory()
    mine, _ = make_submission(company, sha256="b" * 64)
    theirs, _ = make_submission(other_company, sha256="b" * 64)
    run(mine, fields=FIELDS, text=TEXT)
    outcome = run(theirs, fields=FIELDS, text=TEXT)
    assert outcome.status == "clean"
    assert not M.objects.filter(submission=theirs).exists()


def test_sandbox_and_production_never_match_each_other(company):
    """Same bytes, fields and text: a match within an environment, none across."""
    production, _ = make_submission(company, sha256="e" * 64)
    sandbox, _ = make_submission(company, sha256="e" * 64, environment="sandbox")
    run(production, fields=FIELDS, text=TEXT)
    assert run(sandbox, fields=FIELDS, text=TEXT).status == "clean"
    twin, _ = make_submission(company, sha256="e" * 64)
    assert run(twin, fields=FIELDS, text=TEXT).status == "blocked"
    targets = set(M.objects.filter(submission=twin).values_list("target_submission", flat=True))
    assert targets == {production.pk}
    assert not M.objects.filter(submission=sandbox).exists()


@needs_sroie
def test_visual_index_is_kept_per_environment(company):
    production, production_file = make_submission(company)
    sandbox, sandbox_file = make_submission(company, environment="sandbox")
    run(production, production_file, receipt(7))
    assert run(sandbox, sandbox_file, receipt(7)).status == "clean"
    rows = PageFingerprint.objects.filter(submission=sandbox)
    assert rows.exists() and set(rows.values_list("environment", flat=True)) == {"sandbox"}
    twin, twin_file = make_submission(company)
    assert run(twin, twin_file, receipt(7)).status != "clean"


@needs_sroie
def test_visual_company_isolation(company):
    other_company = factories.CompanyFactory()
    mine, mine_file = make_submission(company)
    theirs, theirs_file = make_submission(other_company)
    run(mine, mine_file, receipt(7))
    assert run(theirs, theirs_file, receipt(7)).status == "clean"


def test_block_threshold_from_policy(company):
    policy = {"block_threshold": 101}
    first, _ = make_submission(company, sha256="c" * 64, policy=policy)
    second, _ = make_submission(company, sha256="c" * 64, policy=policy)
    run(first)
    outcome = run(second)
    assert (outcome.status, outcome.score) == ("flagged", 100.0)


def test_running_twice_writes_no_second_row(company):
    first, _ = make_submission(company, sha256="d" * 64)
    second, _ = make_submission(company, sha256="d" * 64)
    run(first)
    run(second)
    run(second)
    assert M.objects.filter(submission=second).count() == 1


@needs_sroie
def test_fingerprints_recorded_early_are_found_by_the_twin(company):
    first, first_file = make_submission(company)
    second, second_file = make_submission(company)
    # Both record before either runs its checks (as two workers mid-extraction would).
    hashed_first = fraud_record_fingerprints(
        submission_id=first.pk, pages=pages_for(first_file, receipt(11))
    )
    hashed_second = fraud_record_fingerprints(
        submission_id=second.pk, pages=pages_for(second_file, recaptured(11, "scale_50pct"))
    )
    for submission, hashed in ((first, hashed_first), (second, hashed_second)):
        fraud_run_checks(submission_id=submission.pk, pages=[], fields={}, text="", hashed=hashed)
    matches = M.objects.filter(submission__in=[first, second])
    assert [(m.submission_id, m.target_submission_id) for m in matches] == [(second.pk, first.pk)]
    assert refetch(second).fraud_status == "flagged"


def test_the_same_file_twice_in_one_submission_is_flagged_not_blocked(company, ui):
    from django.urls import reverse

    submission, _ = make_submission(company, sha256="b" * 64)
    factories.SubmissionFileFactory(submission=submission, sha256="b" * 64, file_index=1)
    outcome = run(submission)
    match = M.objects.get(submission=submission)
    assert (match.check_type, match.target_submission_id) == ("duplicate", None)
    assert match.details["files"] == [0, 1]
    assert outcome.status == "flagged"
    panel = reverse("fraud:panel", args=[submission.pk])
    html = ui.get(panel, HTTP_HX_REQUEST="true").content.decode()
    assert "Found in this document alone" in html
    assert "the same file is uploaded as files 1 and 2" in html


def test_an_approval_decided_before_a_match_arrived_goes_to_review(company):
    """The decision reads the fraud status again under the row lock: whatever matched
    the submission after its own check, a flagged one never goes straight through."""
    submission, _ = make_submission(company)
    Submission.objects.filter(pk=submission.pk).update(fraud_status="flagged")
    submission_finish_processing(
        submission_id=submission.pk, to_status="approved", results={}, details={}
    )
    submission = refetch(submission)
    assert submission.status == "review"
    assert submission.events.last().details["fraudStatus"] == "flagged"


@pytest.mark.parametrize("ended", ["failed", "cancelled"])
def test_sending_the_files_of_a_failed_or_cancelled_submission_again_is_no_duplicate(
    company, ended
):
    first, _ = make_submission(company, sha256="c" * 64)
    run(first)
    Submission.objects.filter(pk=first.pk).update(status=ended)
    again, _ = make_submission(company, sha256="c" * 64)
    assert run(again).status == "clean"
    assert not M.objects.exists()


def test_sending_a_rejected_submissions_files_again_is_still_a_duplicate(company):
    first, _ = make_submission(company, sha256="d" * 64)
    run(first)
    Submission.objects.filter(pk=first.pk).update(status="rejected")
    again, _ = make_submission(company, sha256="d" * 64)
    assert run(again).status == "blocked"


def test_a_submission_cancelled_while_its_checks_waited_gets_no_matches(company):
    """The checks wait for the company's lock; a cancel meanwhile leaves nothing to flag."""
    first, _ = make_submission(company, sha256="e" * 64)
    run(first)
    Submission.objects.filter(pk=first.pk).update(status="review")
    cancelled, _ = make_submission(company, sha256="e" * 64)
    Submission.objects.filter(pk=cancelled.pk).update(status="cancelled")
    assert run(cancelled).status == "clean"
    assert not M.objects.exists()
    assert refetch(cancelled).fraud_status is None
