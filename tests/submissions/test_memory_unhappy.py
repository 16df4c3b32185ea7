"""The correction memory on its worst day: chains, renamed shops, odd values."""

import pytest

from steve.models import WorkflowVersion
from submissions.memory import support
from submissions.models import MerchantMemory
from submissions.selectors import shop_memory
from submissions.services import Actor, submission_correct_field
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
