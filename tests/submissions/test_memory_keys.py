"""The keys a shop is remembered by, as OCR reads them on a bad day: one shop's numbers
misread or printed another way on its next receipt still find its memory. The headers
are the SROIE receipts' as the OCR read them (bench cache), with their own misreadings."""

import pytest

from submissions.memory import shop_keys
from submissions.models import MerchantMemory
from submissions.selectors import shop_memory
from submissions.services import Actor, submission_correct_field
from tests.factories import SubmissionFactory


@pytest.mark.parametrize(
    ("printed", "read"),
    [
        # MR D.I.Y.'s registration, its 0 read as Q on one receipt (sroie-dev).
        ("Co-REG:860671-D", "(CO.REG : 86Q671-D)"),
        ("(CO.REG :933109-X)", "(CO.REG :933I09-X)"),
        ("GST NO:000987654321", "GST NO:OOO987654321"),
        ("GST NO:000987654321", "GST NO:0009876543Z1"),
        ("TEL:03-5512 3456", "TEL:03-55I2 3456"),
        # One shop's phone written with the country code, or its area code in brackets.
        ("TEL:03-6251 2293", "TEL:+603-62512293"),
        ("TEL:03-6259 1420", "TEL:603-62591420"),
        ("TEL:03-5512 3456", "TEL:(03) 5512 3456"),
        ("TEL:012-345 6789", "TEL:+6012-345 6789"),
        # GST ids printed in groups, registration numbers zero-padded or without the dash.
        ("GST No:001090105344", "GST No: 0010 9010 5344"),
        ("(1451637-M)", "(001451637-M)"),
        # A 6-digit number padded to 9: its first two zeros go, its third stayed.
        ("(760274-K)", "(000760274-K)"),
        ("(760274-K)", "(0760274-K)"),
        ("KEDAI (12345-A)", "KEDAI (0012345-A)"),
        ("GARDENIA BAKERIES (KL) SDN BHD (139386-X)", "GARDENIA BAKERIES (KL) SDN BHD (139386 X)"),
    ],
)
def test_one_shops_number_read_another_way_gives_the_same_key(printed, read):
    assert shop_keys(printed), printed
    assert set(shop_keys(printed)) <= set(shop_keys(read))


@pytest.mark.parametrize(
    "text",
    [
        "ABC SDN BHD (123456-X)\nGST NO: 000987654321\nTEL: 03-5512 3456",
        "KEDAI (0012345-A)\nTEL 07-3507405 FAX 07-3558160",
        "GST NO:000123456789L\nTEL: 03-5512 3456O1",
        "SYARIKAT (000760274-K)",
        "SYARIKAT (760274-K)",
        "(001451637-M)",
    ],
)
def test_the_keys_a_header_gave_before_are_all_still_given(text):
    # Memories already stored are found by these keys: a key that changed would lose them.
    before = {
        "ABC SDN BHD (123456-X)\nGST NO: 000987654321\nTEL: 03-5512 3456": [
            "gst:000987654321",
            "reg:123456X",
            "tel:0355123456",
        ],
        "KEDAI (0012345-A)\nTEL 07-3507405 FAX 07-3558160": [
            "reg:0012345A",
            "tel:073507405",
            "tel:073558160",
        ],
        "GST NO:000123456789L\nTEL: 03-5512 3456O1": ["gst:000123456789", "tel:0355123456"],
        "SYARIKAT (000760274-K)": ["reg:0760274K"],
        "SYARIKAT (760274-K)": ["reg:760274K"],
        "(001451637-M)": ["reg:1451637M"],
    }[text]
    assert set(before) <= set(shop_keys(text))


@pytest.mark.parametrize(
    "text",
    [
        "TOTAL 12.00 X 3\nQTY 100000 X",
        "OIL 5L\nDATE 12/05/2026 12:30",
        "INV#003281900229170\n9555916500133",
        "SUB TOTAL (INC GST) 12.60",
    ],
)
def test_no_key_is_made_of_amounts_dates_or_words(text):
    assert shop_keys(text) == []


@pytest.mark.django_db
def test_a_correction_reaches_the_shops_next_receipt_whose_numbers_ocr_misread(company, reviewer):
    # The only identifiers of this shop are its registration and phone numbers; the
    # next receipt's OCR misread a digit of each (and its name is read otherwise).
    taught = SubmissionFactory(
        company=company,
        pages_text=["MR D.I.Y. (M) SDN BHD\nCo-REG:860671-D\nTEL:03-8961 2233"],
        extracted_data={"merchantName": "MR D.I.Y."},
    )
    submission_correct_field(
        submission_id=taught.pk,
        field_name="merchantName",
        raw_value="MR. D.I.Y. (M) SDN BHD",
        actor=Actor.for_user(reviewer),
    )
    recalled = shop_memory(
        company_id=company.pk,
        text="MR D.I.Y. (M) 5DN BHD\n(CO.REG : 86Q671-D)\nTEL:+603-8961 2233",
        read_address=None,
        read_name="MR DIY M 5DN",
    )
    assert recalled["merchantName"].value == "MR. D.I.Y. (M) SDN BHD"


def test_a_company_number_padded_to_nine_digits_and_as_printed_share_a_key():
    padded, printed = shop_keys("(000760274-K)"), shop_keys("(760274-K)")
    assert "reg:760274K" in set(padded) & set(printed)
    assert "reg:0760274K" in padded  # the key it gave before


@pytest.mark.django_db
def test_a_memory_stored_under_a_company_number_reaches_its_receipt_padded_to_nine_digits(
    company,
):
    # Stored before this fix by a receipt printing "760274-K": the same company's
    # receipt printing "000760274-K" was keyed reg:0760274K only and did not find it.
    MerchantMemory.objects.create(
        company=company, key="reg:760274K", field="merchantName", value="SYARIKAT ABC SDN BHD"
    )
    recalled = shop_memory(
        company_id=company.pk,
        text="SYARIKAT ABC SDN BHD\n(000760274-K)",
        read_address=None,
        read_name=None,
    )
    assert recalled["merchantName"].value == "SYARIKAT ABC SDN BHD"


@pytest.mark.django_db
def test_a_correction_on_a_receipt_padding_its_company_number_reaches_one_that_does_not(
    company, reviewer
):
    taught = SubmissionFactory(
        company=company,
        pages_text=["SYARIKAT ABC SDN BHD\n(000760274-K)"],
        extracted_data={"merchantName": "SYARIKAT ABC"},
    )
    submission_correct_field(
        submission_id=taught.pk,
        field_name="merchantName",
        raw_value="SYARIKAT ABC SDN BHD",
        actor=Actor.for_user(reviewer),
    )
    recalled = shop_memory(
        company_id=company.pk,
        text="SYARIKAT ABC SDN BHD\n(760274-K)",
        read_address=None,
        read_name=None,
    )
    assert recalled["merchantName"].value == "SYARIKAT ABC SDN BHD"
