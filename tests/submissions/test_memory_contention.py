"""The correction memory with several people (and a worker) at once, on real PostgreSQL
with a connection per thread: an admin's forget racing the worker that gives a receipt
the forgotten value, approvals that must count once and not be lost to a respelling, and
companies (or environments) that share a shop but never its memory (docs/review.md,
"Correction memory")."""

import threading
import time
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.urls import reverse

from jobs import pipeline
from steve.errors import ServiceError
from submissions.memory import memory_confidence
from submissions.models import MerchantMemory, Submission, SubmissionStatus
from submissions.selectors import shop_memory
from submissions.services import (
    Actor,
    merchant_memory_forget,
    submission_approve,
    submission_correct_field,
    submission_reject,
)
from tests import factories
from tests.factories import SubmissionFactory
from tests.jobs.fixtures_docs import receipt_pdf
from tests.submissions.test_corrections_api import SHOP_HEADER, process_receipt

pytestmark = pytest.mark.django_db(transaction=True)
TEXT = "KEDAI MAJU\nGST ID: 000123456789\nTEL: 03-7781 2345"


def correct(submission: Submission, value: str, user, field: str = "merchantName") -> None:
    submission_correct_field(
        submission_id=submission.pk,
        field_name=field,
        raw_value=value,
        actor=Actor.for_user(user),
    )


def recalled_receipt(company, text: str = TEXT, read: str = "KEDAI MAJU") -> Submission:
    """A receipt of the shop as the worker leaves it: its name given by the memory."""
    merged = pipeline.Merged(
        fields={"merchantName": read}, confidences={"merchantName": 0.5}, pages_text=[text]
    )
    pipeline.recall_shop(SubmissionFactory(company=company), merged)
    assert "memory" in merged.evidence["merchantName"][-1]
    return SubmissionFactory(
        company=company,
        pages_text=[text],
        extracted_data=merged.fields,
        field_confidences=merged.confidences,
        evidence=merged.evidence,
    )


def taught(company, user, value: str, text: str = TEXT) -> Submission:
    receipt = SubmissionFactory(
        company=company, pages_text=[text], extracted_data={"merchantName": "KEDAI MAJU"}
    )
    correct(receipt, value, user)
    return receipt


def in_threads(*actions: Callable[[], object]) -> list[BaseException]:
    """Run each action in its own thread (its own connection), all released at once."""
    barrier, errors = threading.Barrier(len(actions)), []

    def run(action: Callable[[], object]) -> None:
        barrier.wait()
        try:
            action()
        except BaseException as error:  # noqa: BLE001 - returned to the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def another_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # read afresh, not as cached
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND pid <> pg_backend_pid()"
        )
        return bool(cursor.fetchone()[0])


def test_a_forget_committing_while_the_worker_stores_a_receipt_leaves_it_no_forgotten_memory(
    api, company, workflows, reviewer, monkeypatch
):
    first = process_receipt(api, receipt_pdf("KEDAI BUKU MAJU", SHOP_HEADER))
    Submission.objects.filter(pk=first.pk).update(status="review")
    correct(first, "Kedai Wrong Name", reviewer)
    response = api.post(
        "/api/v1/extraction-jobs",
        {
            "templateName": "receipt-ocr",
            "file": SimpleUploadedFile("r.pdf", receipt_pdf("KEDAI BUKU MAJU", SHOP_HEADER)),
        },
        format="multipart",
    )
    job_id = response.json()["job"]["id"]
    storing, forgetting = threading.Event(), threading.Event()
    complete = pipeline.session_complete

    def meanwhile_forgotten(**kwargs):
        # The worker has given the receipt the remembered name and checked it is still
        # remembered; the admin's forget is under way (uncommitted) as it stores it.
        storing.set()
        assert forgetting.wait(30)
        return complete(**kwargs)

    monkeypatch.setattr(pipeline, "session_complete", meanwhile_forgotten)
    worker = threading.Thread(target=lambda: (pipeline.run(job_id), connection.close()))
    worker.start()
    assert storing.wait(60)
    with transaction.atomic():
        ids = MerchantMemory.objects.filter(company=company).values_list("pk", flat=True)
        assert merchant_memory_forget(memory_ids=list(ids))
        forgetting.set()
        deadline = time.monotonic() + 5  # the worker stores it, or waits for the forget
        while worker.is_alive() and not another_waits_for_a_lock():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    worker.join(timeout=60)

    second = Submission.objects.get(session__pk=job_id)
    assert not MerchantMemory.objects.filter(company=company).exists()
    assert second.extracted_data["merchantName"] == "KEDAI BUKU MAJU"
    assert not any("memory" in e for e in second.evidence["merchantName"])
    assert "merchantName" in second.review_flagged_fields
    assert second.status == SubmissionStatus.REVIEW


def test_the_review_page_says_a_recalled_value_was_forgotten_since(ui, company, reviewer):
    taught(company, reviewer, "Kedai Maju Sdn Bhd")
    receipt = recalled_receipt(company)
    page = ui.get(reverse("review:detail", args=[receipt.pk]))
    assert b"from 1 earlier correction<" in page.content
    ids = MerchantMemory.objects.filter(company=company).values_list("pk", flat=True)
    merchant_memory_forget(memory_ids=list(ids))
    page = ui.get(reverse("review:detail", args=[receipt.pk]))
    assert b"earlier correction" not in page.content
    assert b"remembered value since forgotten by an admin" in page.content
    # Approved anyway, the forgotten value is not taught again.
    submission_approve(submission_id=receipt.pk, actor=Actor.for_user(reviewer))
    assert not MerchantMemory.objects.filter(company=company).exists()


def test_a_respelling_while_a_receipt_is_processed_keeps_its_recall(company, reviewer):
    taught(company, reviewer, "Kedai Maju Sdn Bhd")
    merged = pipeline.Merged(
        fields={"merchantName": "KEDAI MAJU"}, confidences={"merchantName": 0.5}, pages_text=[TEXT]
    )
    pipeline.recall_shop(SubmissionFactory(company=company), merged)
    taught(company, reviewer, "KEDAI MAJU SDN BHD")  # the same name, but for its case
    pipeline.drop_forgotten_recalls(merged)
    assert merged.fields["merchantName"] == "Kedai Maju Sdn Bhd"
    assert "memory" in merged.evidence["merchantName"][-1]


def test_an_approval_counts_a_recalled_name_another_reviewer_respelled_meanwhile(company, reviewer):
    taught(company, reviewer, "Kedai Maju Sdn Bhd")
    receipt = recalled_receipt(company)
    taught(company, reviewer, "KEDAI MAJU SDN BHD")
    submission_approve(submission_id=receipt.pk, actor=Actor.for_user(reviewer))
    rows = MerchantMemory.objects.filter(company=company)
    assert {(m.value, m.times_right, m.times_wrong) for m in rows} == {("KEDAI MAJU SDN BHD", 3, 0)}


def test_an_approval_counts_a_recalled_name_where_a_later_correction_set_it_aside(
    company, reviewer
):
    taught(company, reviewer, "Kedai Maju Sdn Bhd")
    receipt = recalled_receipt(company)
    other = taught(company, reviewer, "Kedai Maju Enterprise")
    submission_approve(submission_id=receipt.pk, actor=Actor.for_user(reviewer))
    # The other receipt was a mistake: what it set aside comes back with the approval.
    submission_reject(submission_id=other.pk, actor=Actor.for_user(reviewer), reason="dup")
    rows = MerchantMemory.objects.filter(company=company)
    assert {(m.value, m.times_right, m.times_wrong) for m in rows} == {("Kedai Maju Sdn Bhd", 2, 0)}


def test_a_double_approval_counts_once_and_the_second_is_refused_not_a_500(company, reviewer):
    taught(company, reviewer, "Kedai Maju Sdn Bhd")
    receipt = recalled_receipt(company)

    def approve() -> None:
        submission_approve(submission_id=receipt.pk, actor=Actor.for_user(reviewer))

    errors = in_threads(approve, approve)
    assert len(errors) == 1 and isinstance(errors[0], ServiceError), errors
    assert errors[0].status == 409
    assert receipt.events.filter(type="approved").count() == 1
    rows = MerchantMemory.objects.filter(company=company)
    assert {(m.times_right, m.times_wrong) for m in rows} == {(2, 0)}


def test_a_correction_racing_a_forget_of_the_same_memory_ends_in_one_defined_state(
    company, reviewer
):
    taught(company, reviewer, "Kedai Maju Sdn Bhd")
    ids = list(MerchantMemory.objects.filter(company=company).values_list("pk", flat=True))
    receipt = SubmissionFactory(
        company=company, pages_text=[TEXT], extracted_data={"merchantName": "KEDAI MAJU"}
    )
    errors = in_threads(
        lambda: correct(receipt, "Kedai Maju Enterprise", reviewer),
        # The admin chose the value as the list showed it.
        lambda: merchant_memory_forget(
            memory_ids=ids, values=dict.fromkeys(ids, "Kedai Maju Sdn Bhd")
        ),
    )
    assert not errors, errors
    rows = list(MerchantMemory.objects.filter(company=company))
    # Whichever went first, the forgotten name is nowhere, not even set aside to come
    # back, and the correction is remembered, undoubted: had it overruled the name
    # before the forget, that overruling went with the name (docs/review.md).
    assert all(row.previous is None for row in rows)
    assert {(m.value, m.times_right, m.times_wrong) for m in rows} == {
        ("Kedai Maju Enterprise", 1, 0)
    }


def test_companies_sharing_a_shops_numbers_never_share_its_memory():
    one, two = factories.CompanyFactory(), factories.CompanyFactory()
    theirs = factories.UserFactory(companies=[two])
    header = "KEDAI MAJU (519537-X)\nGST ID: 000123456789\nTEL: 03-7781 2345"
    mine = factories.UserFactory(companies=[one])
    receipts = [
        SubmissionFactory(company=c, pages_text=[header], extracted_data={"merchantName": "KM"})
        for c in (one, two)
    ]
    errors = in_threads(
        lambda: correct(receipts[0], "Kedai Maju Sdn Bhd", mine),
        lambda: correct(receipts[1], "Kedai Maju Enterprise", theirs),
    )
    assert not errors, errors
    for company, name in ((one, "Kedai Maju Sdn Bhd"), (two, "Kedai Maju Enterprise")):
        rows = MerchantMemory.objects.filter(company=company)
        assert {r.key for r in rows} == {"reg:519537X", "gst:000123456789", "tel:0377812345"}
        assert {(r.value, r.times_right, r.times_wrong) for r in rows} == {(name, 1, 0)}
    # One company's forget and approvals touch its own memory only.
    merchant_memory_forget(
        memory_ids=list(MerchantMemory.objects.filter(company=one).values_list("pk", flat=True))
    )
    assert not MerchantMemory.objects.filter(company=one).exists()
    recalled = shop_memory(company_id=two.pk, text=header, read_address=None, read_name=None)
    assert recalled["merchantName"].value == "Kedai Maju Enterprise"
    assert shop_memory(company_id=one.pk, text=header, read_address=None, read_name=None) == {}


def test_sandbox_reviews_neither_teach_nor_overrule_nor_count_in_production(company, reviewer):
    taught(company, reviewer, "Kedai Maju Sdn Bhd")
    before = {
        (m.key, m.value, m.times_right, m.times_wrong, str(m.previous))
        for m in MerchantMemory.objects.filter(company=company)
    }
    sandbox = [
        SubmissionFactory(
            company=company,
            pages_text=[TEXT],
            environment="sandbox",
            extracted_data={"merchantName": "Kedai Maju Sdn Bhd"},
        )
        for _ in range(2)
    ]
    correct(sandbox[0], "Kedai Maju Enterprise", reviewer)  # overrules nothing
    submission_approve(submission_id=sandbox[0].pk, actor=Actor.for_user(reviewer))
    submission_approve(submission_id=sandbox[1].pk, actor=Actor.for_user(reviewer))  # nor counts
    after = {
        (m.key, m.value, m.times_right, m.times_wrong, str(m.previous))
        for m in MerchantMemory.objects.filter(company=company)
    }
    assert after == before


def test_an_admin_forget_forgets_the_value_chosen_not_a_correction_landing_meanwhile(
    operator, company, reviewer, monkeypatch
):
    from submissions import admin as memory_admin

    taught(company, reviewer, "Kedai Wrong Name")
    receipt = SubmissionFactory(
        company=company, pages_text=[TEXT], extracted_data={"merchantName": "KEDAI MAJU"}
    )
    forget = memory_admin.merchant_memory_forget

    def corrected_meanwhile(**kwargs):
        # The admin's rows were read; a reviewer's correction of the shop commits (on
        # its own connection) before the forget runs.
        assert not in_threads(lambda: correct(receipt, "Kedai Maju Sdn Bhd", reviewer))
        return forget(**kwargs)

    monkeypatch.setattr(memory_admin, "merchant_memory_forget", corrected_meanwhile)
    chosen = list(MerchantMemory.objects.filter(company=company).values_list("pk", flat=True))
    response = operator.post(
        reverse("admin:submissions_merchantmemory_changelist"),
        {"action": "forget", "_selected_action": chosen},
    )
    assert response.status_code == 302
    rows = MerchantMemory.objects.filter(company=company)
    # The wrong name is gone, even set aside, and with it the correction's overruling
    # of it: the correction stays, undoubted.
    assert {(m.value, m.times_right, m.times_wrong, m.previous) for m in rows} == {
        ("Kedai Maju Sdn Bhd", 1, 0, None)
    }


def test_a_correction_taken_back_then_approved_teaches_the_value_read_once(company, reviewer):
    receipt = SubmissionFactory(
        company=company, pages_text=[TEXT], extracted_data={"merchantName": "KEDAI MAJU"}
    )
    correct(receipt, "Kedai Typo", reviewer)
    correct(receipt, "KEDAI MAJU", reviewer)  # back to what was read
    assert not MerchantMemory.objects.filter(company=company).exists()
    submission_approve(submission_id=receipt.pk, actor=Actor.for_user(reviewer))
    rows = MerchantMemory.objects.filter(company=company)
    assert {(m.value, m.times_right, m.times_wrong, m.previous) for m in rows} == {
        ("KEDAI MAJU", 1, 0, None)
    }


def test_the_desk_and_the_api_correcting_one_shop_at_once_both_land_and_no_count_is_lost(
    ui, api, company, workflows, reviewer
):
    taught(company, reviewer, "Kedai Maju")  # the shop is known: its rows get overwritten
    receipts = [
        SubmissionFactory(
            company=company, pages_text=[TEXT], extracted_data={"merchantName": "KEDAI MAJU"}
        )
        for _ in range(2)
    ]
    answers: dict[str, int] = {}

    def on_the_desk() -> None:
        answers["desk"] = ui.post(
            reverse("review:correct", args=[receipts[0].pk]),
            {
                "version": receipts[0].version,
                "field": "merchantName",
                "value": "Kedai Maju Sdn Bhd",
            },
            HTTP_HX_REQUEST="true",
        ).status_code

    def over_the_api() -> None:
        answers["api"] = api.post(
            f"/api/v1/submissions/{receipts[1].pk}/corrections",
            {"fields": {"merchantName": "Kedai Maju Enterprise"}},
            format="json",
        ).status_code

    assert not in_threads(on_the_desk, over_the_api)
    assert answers == {"desk": 200, "api": 200}
    rows = list(MerchantMemory.objects.filter(company=company))
    assert len(rows) == 3  # the tax number, the phone and the name as read
    # Whichever saved last holds every key, doubted by the other; the other is set aside
    # with its count over the first name, itself set aside with its own: nothing lost.
    (last,) = {row.value for row in rows}
    (first,) = {"Kedai Maju Sdn Bhd", "Kedai Maju Enterprise"} - {last}
    for row in rows:
        assert (row.times_right, row.times_wrong) == (1, 2)
        assert row.previous == [
            {"value": "Kedai Maju", "times_right": 1, "times_wrong": 0},
            {"value": first, "times_right": 1, "times_wrong": 1},
        ]


def forget_value(company, value: str) -> None:
    """An admin forgets ``value`` as the list shows it, from the company's rows."""
    ids = list(MerchantMemory.objects.filter(company=company).values_list("pk", flat=True))
    assert merchant_memory_forget(memory_ids=ids, values=dict.fromkeys(ids, value))


@pytest.mark.parametrize("forgotten", ["before", "after"])
def test_a_correction_is_as_sure_whether_the_value_it_overruled_is_forgotten_before_or_after(
    company, reviewer, forgotten
):
    taught(company, reviewer, "Kedai Wrong Name")
    if forgotten == "before":
        forget_value(company, "Kedai Wrong Name")
    taught(company, reviewer, "Kedai Maju Sdn Bhd")  # overrules the wrong name, if held
    if forgotten == "after":
        forget_value(company, "Kedai Wrong Name")
    rows = MerchantMemory.objects.filter(company=company)
    # Its one overruling was of the forgotten name only: it goes with it (docs/review.md).
    assert {(m.value, m.times_right, m.times_wrong, m.previous) for m in rows} == {
        ("Kedai Maju Sdn Bhd", 1, 0, None)
    }
    receipt = recalled_receipt(company)
    assert receipt.field_confidences["merchantName"] == memory_confidence(1, 0)  # 0.67


@pytest.mark.parametrize(
    ("forgotten", "kept_aside"), [("Kedai A", "Kedai B"), ("Kedai B", "Kedai A")]
)
def test_a_forget_keeps_the_overrulings_of_the_values_it_does_not_forget(
    company, reviewer, forgotten, kept_aside
):
    for value in ("Kedai A", "Kedai B", "Kedai C"):  # each overrules the one before
        taught(company, reviewer, value)
    forget_value(company, forgotten)
    rows = MerchantMemory.objects.filter(company=company)
    # As if the forgotten name had never been taught: C overruled the other one, once.
    assert {(m.value, m.times_right, m.times_wrong, str(m.previous)) for m in rows} == {
        ("Kedai C", 1, 1, str([{"value": kept_aside, "times_right": 1, "times_wrong": 0}]))
    }
