"""The correction memory on its worst day: chains, renamed shops, odd values."""

import pytest

from jobs import pipeline
from steve.models import WorkflowVersion
from submissions.memory import support
from submissions.models import MerchantMemory, Submission
from submissions.selectors import shop_memory
from submissions.services import Actor, merchant_memory_forget, submission_correct_field
from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db

DEFAULT_THRESHOLD = WorkflowVersion._meta.get_field("review_threshold").default
CHAIN = "SPEEDY MART SDN BHD (519537-X)\nGST NO: 000181747712\nTEL: 03-7781 2345"


def correct(submission, value: str, reviewer, field: str = "merchantName") -> None:
    submission_correct_field(
        submission_id=submission.pk,
        field_name=field,
        raw_value=value,
        actor=Actor.for_user(reviewer),
    )


def test_a_branchs_house_number_is_not_printed_by_digits_elsewhere_in_the_header():
    # Branch B is at no. 21; "12" is in its GST number and its date, not in its address.
    branch_b = f"{CHAIN}\nNO 21, JALAN SS 2/3,\nPETALING JAYA\n12/05/2026 12:30"
    assert support("NO 12, JALAN SS 2/3, PETALING JAYA", branch_b) < 1.0
    assert support("NO 21, JALAN SS 2/3, PETALING JAYA", branch_b) == 1.0


def test_a_chains_branch_never_gets_another_branchs_address_straight_through(company, reviewer):
    branch_a = f"{CHAIN}\nNO 12, JALAN SS 2/3,\nPETALING JAYA"
    address_a = "NO 12, JALAN SS 2/3, PETALING JAYA"
    for _ in range(3):  # three corrections: 0.8, the default review threshold
        receipt = SubmissionFactory(
            company=company,
            pages_text=[branch_a],
            extracted_data={"merchantName": "SPEEDY MART", "merchantAddress": "JALAN SS"},
        )
        correct(receipt, address_a, reviewer, field="merchantAddress")
    assert MerchantMemory.objects.filter(company=company, value=address_a).exists()
    # Branch B shares the name, registration, tax and phone numbers; its date has a 12.
    branch_b = f"{CHAIN}\nNO 21, JALAN SS 2/3,\nPETALING JAYA\n12/05/2026 12:30"
    recalled = shop_memory(
        company_id=company.pk, text=branch_b, read_address="JALAN SS", read_name="SPEEDY MART"
    )
    assert "merchantAddress" not in recalled
    again = shop_memory(
        company_id=company.pk, text=branch_a, read_address="JALAN SS", read_name="SPEEDY MART"
    )
    assert again["merchantAddress"].value == address_a


def test_a_chains_branch_never_gets_another_branchs_name_straight_through(company, reviewer):
    # The branches share the registration number and print the head office's address.
    office = "Co-Reg: 860671-D\nLOT 1851-A & 1851-B, JALAN KPB 6,\n43300 SERI KEMBANGAN"
    branch_a = f"MR. D.I.Y. SDN BH0\n{office}\nTEL: 03-8961 0001"
    for _ in range(3):  # three corrections: 0.8, the default review threshold
        receipt = SubmissionFactory(
            company=company,
            pages_text=[branch_a],
            extracted_data={"merchantName": "MR. D.I.Y. SDN BH0"},
        )
        correct(receipt, "MR. D.I.Y. SDN BHD", reviewer)
    again = shop_memory(
        company_id=company.pk, text=branch_a, read_address=None, read_name="MR. D.I.Y. SDN BH0"
    )
    assert again["merchantName"].confidence * 100 >= DEFAULT_THRESHOLD
    kuchai = "MR. D.I.Y. (KUCHAI) SDN BHD"
    branch_b = f"{kuchai}\n{office}\nTEL: 03-7971 0002"
    recalled = shop_memory(
        company_id=company.pk, text=branch_b, read_address=None, read_name=kuchai
    )
    name = recalled.get("merchantName")
    assert name is None or name.confidence * 100 < DEFAULT_THRESHOLD


def recall(company, text: str, read_name: str):
    """What the pipeline gives a receipt's name, as recall_shop does."""
    merged = pipeline.Merged(
        fields={"merchantName": read_name}, confidences={"merchantName": 0.5}, pages_text=[text]
    )
    pipeline.recall_shop(SubmissionFactory(company=company), merged)
    return merged


RENAMED = "KEDAI BARU\nGST ID: 000123456789\nTEL: 03-7781 2345"


def test_a_renamed_shops_next_receipt_goes_to_review_when_its_keys_disagree(company, reviewer):
    # Three receipts taught the old name under the tax number, the phone and the name.
    for _ in range(3):
        old = "KEDAI LAMA\nGST ID: 000123456789\nTEL: 03-7781 2345"
        taught = SubmissionFactory(
            company=company, pages_text=[old], extracted_data={"merchantName": "KEDAI LAMA"}
        )
        correct(taught, "Kedai Lama Sdn Bhd", reviewer)
    # The shop is renamed; its first receipt's phone number is unreadable, and the memory
    # gives it the old name, which the reviewer corrects.
    unreadable_phone = RENAMED.replace("03-7781 2345", "03-77")
    merged = recall(company, unreadable_phone, "KEDAI BARU")
    assert merged.fields["merchantName"] == "Kedai Lama Sdn Bhd"
    first = SubmissionFactory(
        company=company,
        pages_text=[unreadable_phone],
        extracted_data=merged.fields,
        field_confidences=merged.confidences,
        evidence=merged.evidence,
    )
    correct(first, "Kedai Baru Sdn Bhd", reviewer)
    # The next receipt reads its phone: that key still says the old name, the tax number
    # says it was overruled. Whichever is given, it is not given past the review gate.
    after = recall(company, RENAMED, "KEDAI BARU")
    assert after.confidences["merchantName"] * 100 < DEFAULT_THRESHOLD


def test_a_memory_forgotten_while_its_shops_receipt_is_processed_is_not_given_to_it(
    api, company, workflows, reviewer, monkeypatch
):
    from tests.jobs.fixtures_docs import receipt_pdf
    from tests.submissions.test_corrections_api import SHOP_HEADER, process_receipt

    first = process_receipt(api, receipt_pdf("KEDAI BUKU MAJU", SHOP_HEADER))
    Submission.objects.filter(pk=first.pk).update(status="review")
    correct(first, "Kedai Wrong Name", reviewer)
    checks = pipeline.fraud_run_checks

    def forgotten_meanwhile(**kwargs):
        # An admin forgets the wrong name after the memory gave it to this receipt.
        ids = MerchantMemory.objects.filter(company=company).values_list("pk", flat=True)
        merchant_memory_forget(memory_ids=list(ids))
        return checks(**kwargs)

    monkeypatch.setattr(pipeline, "fraud_run_checks", forgotten_meanwhile)
    second = process_receipt(api, receipt_pdf("KEDAI BUKU MAJU", SHOP_HEADER))
    assert second.extracted_data["merchantName"] == "KEDAI BUKU MAJU"
    assert not any("memory" in e for e in second.evidence["merchantName"])
    assert "merchantName" in second.review_flagged_fields
    assert second.ai_summary.startswith("Receipt from KEDAI BUKU MAJU dated ")


def test_the_retention_purge_keeps_the_companys_memory_of_the_shop(company, reviewer):
    """docs/api.md "Retention": the correction memory stays (an admin forgets a value);
    only the purged submission's own copies of its results go."""
    from jobs.services import _purge_one
    from submissions.services import submission_approve

    text = "KEDAI BESI\nGST ID: 000777888999"
    taught = SubmissionFactory(
        company=company, pages_text=[text], extracted_data={"merchantName": "KEDAI BESI"}
    )
    correct(taught, "Kedai Besi Sdn Bhd", reviewer)
    submission_approve(submission_id=taught.pk, actor=Actor.for_user(reviewer))
    _purge_one(taught.pk, company.pk)

    taught.refresh_from_db()
    assert taught.results_purged_at is not None and taught.extracted_data is None
    recalled = shop_memory(company_id=company.pk, text=text, read_address=None, read_name="X")
    assert recalled["merchantName"].value == "Kedai Besi Sdn Bhd"


UNIHAKKA = "UNIHAKKA SDN BHD\nGST ID: 000999888777\nTEL: 03-7781 2345"


def taught_three_times(company, reviewer, value: str = "Unihakka Sdn Bhd") -> None:
    for _ in range(3):
        read = SubmissionFactory(
            company=company, pages_text=[UNIHAKKA], extracted_data={"merchantName": "UNIHAKA"}
        )
        correct(read, value, reviewer)


def recalled_receipt(company):
    merged = recall(company, UNIHAKKA, "UNIHAKA")
    return SubmissionFactory(
        company=company,
        pages_text=[UNIHAKKA],
        extracted_data=merged.fields,
        field_confidences=merged.confidences,
        evidence=merged.evidence,
    )


def test_a_correction_that_only_changes_case_or_spaces_confirms_the_remembered_name(
    company, reviewer
):
    taught_three_times(company, reviewer)
    correct(recalled_receipt(company), "UNIHAKKA  SDN BHD", reviewer)
    rows = MerchantMemory.objects.filter(company=company)
    assert {(m.value, m.times_right, m.times_wrong) for m in rows} == {("UNIHAKKA  SDN BHD", 4, 0)}
    # The next receipt gets the reviewer's spelling, as well supported as before.
    assert recall(company, UNIHAKKA, "UNIHAKA").confidences["merchantName"] * 100 >= (
        DEFAULT_THRESHOLD
    )


def test_a_name_spelt_otherwise_under_another_key_is_no_dissent():
    from submissions.memory import Remembered, choose, memory_confidence

    rows = [
        Remembered("gst:000999888777", "merchantName", "Unihakka Sdn Bhd", 3, 0),
        Remembered("name:UNIHAKA", "merchantName", "UNIHAKKA SDN BHD", 1, 0),
    ]
    chosen = choose(rows, "merchantName", ["gst:000999888777", "name:UNIHAKA"], UNIHAKKA)
    assert (chosen.value, chosen.confidence) == ("Unihakka Sdn Bhd", memory_confidence(3, 0))


@pytest.mark.parametrize("taken_back", ["corrected", "cancelled"])
def test_a_typo_fixed_on_another_receipt_before_it_is_taken_back_leaves_the_names_support(
    company, reviewer, taken_back
):
    from submissions.services import submission_cancel

    taught_three_times(company, reviewer)
    typo = recalled_receipt(company)
    correct(typo, "Unihaka Sdn Bhd", reviewer)
    # Meanwhile the typo is given to another receipt of the shop, at 0.5, whose reviewer
    # puts the name back; then the typo's reviewer takes it back too.
    meanwhile = recalled_receipt(company)
    assert meanwhile.extracted_data["merchantName"] == "Unihaka Sdn Bhd"
    correct(meanwhile, "Unihakka Sdn Bhd", reviewer)
    if taken_back == "corrected":
        correct(typo, "Unihakka Sdn Bhd", reviewer)
    else:
        submission_cancel(submission_id=typo.pk, actor=Actor.for_user(reviewer))

    rows = MerchantMemory.objects.filter(company=company)
    # As if the typo had never been: three corrections and one more reviewer's word (it
    # left the name at one right and two wrong, 0.4, its three corrections kept aside).
    assert [(m.value, m.times_right, m.times_wrong, m.previous) for m in rows] == [
        ("Unihakka Sdn Bhd", 4, 0, None)
    ] * 3  # the tax number, the phone and the name
    after = recall(company, UNIHAKKA, "UNIHAKA")
    assert after.confidences["merchantName"] * 100 >= DEFAULT_THRESHOLD


@pytest.mark.parametrize("corrected", ["Kedai Baru Sdn Bhd", None])
def test_the_review_page_no_longer_says_a_value_the_reviewer_replaced_came_from_memory(
    ui, company, reviewer, corrected
):
    from django.urls import reverse

    from submissions.services import submission_correct_fields

    memory = MerchantMemory.objects.create(
        company=company, key="gst:000123456789", field="merchantName", value="Kedai Lama Sdn Bhd"
    )
    given = SubmissionFactory(
        company=company,
        extracted_data={"merchantName": "Kedai Lama Sdn Bhd", "totalAmount": 12.5},
        evidence={"merchantName": [{"memory": [memory.pk], "corrections": 3, "read": "KEDAI"}]},
    )
    page = ui.get(reverse("review:detail", args=[given.pk]))
    assert b"from 3 earlier corrections" in page.content
    submission_correct_fields(
        submission_id=given.pk,
        values={"merchantName": corrected},
        actor=Actor.for_user(reviewer),
    )
    # The reviewer's own value (or none) is not what the memory gave.
    page = ui.get(reverse("review:detail", args=[given.pk]))
    assert b"earlier correction" not in page.content
    # Put back as given, it is the memory's value again.
    submission_correct_fields(
        submission_id=given.pk,
        values={"merchantName": "Kedai Lama Sdn Bhd"},
        actor=Actor.for_user(reviewer),
    )
    page = ui.get(reverse("review:detail", args=[given.pk]))
    assert b"from 3 earlier corrections" in page.content


def test_a_first_correction_taken_back_after_another_overruled_it_leaves_that_one_undoubted(
    company, reviewer
):
    from submissions.services import submission_cancel

    first = SubmissionFactory(
        company=company, pages_text=[CHAIN], extracted_data={"merchantName": "SPEEDY"}
    )
    correct(first, "Speedy Typo", reviewer)
    other = SubmissionFactory(
        company=company, pages_text=[CHAIN], extracted_data={"merchantName": "SPEEDY"}
    )
    correct(other, "Speedy Mart Sdn Bhd", reviewer)  # overrules the typo: doubted once
    submission_cancel(submission_id=first.pk, actor=Actor.for_user(reviewer))
    rows = MerchantMemory.objects.filter(company=company)
    # As if the typo had never been taught: its overruling goes with it.
    assert {(m.value, m.times_right, m.times_wrong, m.previous) for m in rows} == {
        ("Speedy Mart Sdn Bhd", 1, 0, None)
    }
