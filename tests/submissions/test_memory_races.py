"""The correction memory taught from two places at once (an approval confirming what a
receipt's memory gave, a reviewer's correction of another receipt of the same shop):
every path takes the company's memory lock before any memory row, so neither deadlocks
(PostgreSQL would end one of them: a 500 for a caller who did nothing wrong)."""

import threading
import time

import pytest
from django.db import connection, transaction

from submissions import services
from submissions.models import MerchantMemory, SubmissionEvent, SubmissionStatus
from submissions.services import Actor, submission_approve
from tests.factories import SubmissionFactory

pytestmark = pytest.mark.django_db(transaction=True)
HEADER = "GST ID: 000123456789\nKEDAI RUNCIT\nNO 1 JALAN SATU TAMAN MAJU"


def test_approving_a_recalled_merchant_while_the_shop_is_taught_never_deadlocks(company, reviewer):
    memory = MerchantMemory.objects.create(
        company=company, key="gst:000123456789", field="merchantName", value="Kedai Runcit"
    )
    # The name came from the memory; the address was read right and is remembered on
    # approval (so the approval writes to the memory twice: a count, then a new value).
    recalled = SubmissionFactory(
        company=company,
        pages_text=[HEADER],
        extracted_data={
            "merchantName": "Kedai Runcit",
            "merchantAddress": "NO 1 JALAN SATU TAMAN MAJU",
        },
        evidence={"merchantName": [{"memory": [memory.pk], "corrections": 1, "read": "KEDAI"}]},
    )
    other = SubmissionFactory(company=company, pages_text=[HEADER])
    errors: list[BaseException] = []

    def approve() -> None:
        try:
            submission_approve(submission_id=recalled.pk, actor=Actor.for_user(reviewer))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=approve)
    # A reviewer's correction of another receipt of the shop, caught between taking the
    # company's memory lock and the shop's rows (as _remember takes them).
    with transaction.atomic():
        services._lock_memories(company.pk)
        thread.start()
        wait_until_another_waits_for_a_lock()  # the approval reached the memory
        services._remember(other, "merchantName", ["gst:000123456789"], "Kedai Runcit Maju")
    thread.join(timeout=30)

    assert not errors, errors
    recalled.refresh_from_db()
    assert recalled.status == SubmissionStatus.APPROVED
    assert SubmissionEvent.objects.filter(submission=recalled, type="approved").count() == 1
    memory.refresh_from_db()
    # The correction went first and set the recalled name aside: the approval counts
    # only a row that still holds the value it confirms.
    assert (memory.value, memory.times_right) == ("Kedai Runcit Maju", 1)


def wait_until_another_waits_for_a_lock(timeout: float = 15.0) -> None:
    """Until another connection to this database waits for a row lock (ours)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # read afresh, not as cached
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the other transaction never waited for a lock")
