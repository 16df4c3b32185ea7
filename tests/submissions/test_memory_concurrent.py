"""Two reviewers correcting receipts of one shop to different values at the same moment,
on real PostgreSQL: neither fails, no count is lost, and the memory doubts the value."""

import threading

import pytest
from django.db import connection

from submissions.memory import memory_confidence
from submissions.models import MerchantMemory
from submissions.selectors import shop_memory
from submissions.services import Actor, submission_correct_field
from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db(transaction=True)
TEXT = "KEDAI MAJU\nGST ID: 000123456789\nTEL: 03-7781 2345"


def test_two_reviewers_correcting_one_shop_to_different_names_at_once(company, reviewer):
    receipts = [
        SubmissionFactory(
            company=company, pages_text=[TEXT], extracted_data={"merchantName": "KEDAI MAJU"}
        )
        for _ in range(2)
    ]
    names = ["Kedai Maju Sdn Bhd", "Kedai Maju Enterprise"]
    barrier, errors = threading.Barrier(2), []

    def correct(submission, name: str) -> None:
        barrier.wait()
        try:
            submission_correct_field(
                submission_id=submission.pk,
                field_name="merchantName",
                raw_value=name,
                actor=Actor.for_user(reviewer),
            )
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=correct, args=pair) for pair in zip(receipts, names, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    rows = list(MerchantMemory.objects.filter(company=company))
    assert {row.key for row in rows} == {"gst:000123456789", "tel:0377812345", "name:KEDAIMAJU"}
    # One value per key, the other set aside with its count: none lost.
    (last,) = {row.value for row in rows}
    (first,) = set(names) - {last}
    for row in rows:
        assert (row.times_right, row.times_wrong) == (1, 1)
        assert row.previous == [{"value": first, "times_right": 1, "times_wrong": 0}]
    # The next receipt gets the later name, doubted: it is reviewed.
    recalled = shop_memory(company_id=company.pk, text=TEXT, read_address=None, read_name="X")
    assert recalled["merchantName"].value == last
    assert recalled["merchantName"].confidence == memory_confidence(1, 1) == 0.5
