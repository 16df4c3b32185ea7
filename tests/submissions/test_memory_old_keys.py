"""Memories stored under a company number's older keys. Before 7e80fc0 a registration
number was keyed only as printed, zeros and all ("0012345-A" as reg:0012345A, and from
e9b6b03 "000760274-K" as reg:0760274K, its 9-digit padding's first two zeros gone); since,
the unpadded key is added. Rows taught before then are under the padded key alone, and
the same company's receipt printing the number otherwise must still find and correct them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fraud.services import fraud_resolution_undo
from submissions.models import MerchantMemory, Submission
from submissions.selectors import shop_memory
from submissions.services import Actor, submission_cancel
from tests.factories import SubmissionFactory
from tests.submissions.test_memory_fraud import KEPT, confirm, correct, matched_pair

pytestmark = pytest.mark.django_db

OLD_NAME = "Kedai Lama Sdn Bhd"


def remembered(company, key: str, value: str = OLD_NAME, times_right: int = 2) -> MerchantMemory:
    """A row an earlier key function stored (only the key itself differs from today's)."""
    return MerchantMemory.objects.create(
        company=company, key=key, field="merchantName", value=value, times_right=times_right
    )


def recalled_name(company, text: str) -> str | None:
    found = shop_memory(company_id=company.pk, text=text, read_address=None, read_name=None)
    return found["merchantName"].value if "merchantName" in found else None


@pytest.mark.parametrize(
    ("stored_under", "printed"),
    [
        # "KEDAI (0012345-A)" before 7e80fc0; the next receipt prints it unpadded.
        ("reg:0012345A", "KEDAI (12345-A)"),
        # "(000760274-K)" from e9b6b03 to 7e80fc0 (the 9-digit padding's two zeros gone).
        ("reg:0760274K", "SYARIKAT (760274-K)"),
        # Padded otherwise than it is printed now: one zero then, two now.
        ("reg:012345A", "KEDAI (0012345-A)"),
        ("reg:00123A", "KEDAI (0000123-A)"),
    ],
)
def test_a_memory_under_an_older_padded_key_reaches_the_companys_receipt_printed_otherwise(
    company, stored_under, printed
):
    memory = remembered(company, stored_under)
    found = shop_memory(company_id=company.pk, text=printed, read_address=None, read_name=None)
    assert found["merchantName"].value == OLD_NAME
    assert found["merchantName"].memory_ids == (memory.pk,)


def test_a_number_that_only_ends_or_starts_like_the_shops_finds_nothing(company):
    for other in ("reg:912345A", "reg:123450A", "reg:0012346A", "reg:0012345B"):
        remembered(company, other)
    assert recalled_name(company, "KEDAI (12345-A)") is None


def test_the_older_keys_are_looked_up_by_name_in_the_one_query(company):
    from submissions.memory import recall_keys

    # No scan of the company's reg: rows: the few padded spellings, on the unique index.
    assert recall_keys(["reg:12345A", "tel:0355123456"]) == [
        "reg:12345A",
        "tel:0355123456",
        "reg:012345A",
        "reg:0012345A",
    ]
    assert recall_keys(["reg:1451637M"]) == ["reg:1451637M"]  # 7 digits: none padded
    with CaptureQueriesContext(connection) as queries:
        recalled_name(company, "KEDAI (12345-A)")
    (query,) = queries.captured_queries
    assert "'reg:0012345A'" in query["sql"] and " IN (" in query["sql"]
    assert "LIKE" not in query["sql"].upper()


@pytest.mark.parametrize("taken_back", ["corrected back", "cancelled"])
def test_a_correction_on_the_unpadded_receipt_overrules_the_old_padded_row_until_taken_back(
    company, reviewer, taken_back
):
    old = remembered(company, "reg:0012345A")
    # Read before the memory could give it anything (no recall in its evidence).
    receipt = SubmissionFactory(
        company=company,
        pages_text=["KEDAI BARU\n(12345-A)"],
        extracted_data={"merchantName": "KEDAI BARU"},
        evidence={},
    )
    correct(receipt, "Kedai Baru Sdn Bhd", reviewer)
    old.refresh_from_db()
    # Under the same company number the row is the same shop's: overruled, as a row under
    # the key as printed is, or its two counts outvoted the reviewer's one next time.
    assert (old.value, old.times_right, old.times_wrong) == ("Kedai Baru Sdn Bhd", 1, 1)
    assert recalled_name(company, "KEDAI BARU\n(12345-A)") == "Kedai Baru Sdn Bhd"

    if taken_back == "corrected back":
        correct(receipt, "KEDAI BARU", reviewer)
    else:
        submission_cancel(submission_id=receipt.pk, actor=Actor.for_user(reviewer))
    rows = MerchantMemory.objects.filter(company=company)
    assert [(m.key, m.value, m.times_right, m.times_wrong, m.previous) for m in rows] == [
        ("reg:0012345A", OLD_NAME, 2, 0, None)
    ]


def test_a_receipt_confirmed_as_fraud_leaves_the_old_padded_row_as_it_was(company, reviewer):
    old = remembered(company, "reg:0012345A", value="KEDAI JUJUR SDN BHD")
    forged, match = matched_pair(company, "b1" * 32, KEPT)
    Submission.objects.filter(pk=forged.pk).update(pages_text=["KEDAI JUJUR\n(12345-A)"])
    correct(forged, "Forged Name Sdn Bhd", reviewer)
    confirm(match)
    # Its correction is taken back everywhere it went, and it teaches nothing more.
    correct(forged, "Another Forged Name", reviewer)
    rows = MerchantMemory.objects.filter(company=company)
    assert [(m.pk, m.value, m.times_right, m.times_wrong, m.previous) for m in rows] == [
        (old.pk, "KEDAI JUJUR SDN BHD", 2, 0, None)
    ]
    assert recalled_name(company, "KEDAI JUJUR\n(12345-A)") == "KEDAI JUJUR SDN BHD"
    # Undone, the confirmation gives the memory its correction back, over the old row too.
    fraud_resolution_undo(submission_id=forged.pk, match_ids=[match.pk], actor=Actor.system())
    old.refresh_from_db()
    assert (old.value, old.times_right, old.times_wrong) == ("Another Forged Name", 1, 1)
