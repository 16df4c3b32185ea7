"""The admin's submission pages: cheap at scale (a bounded number of queries), and readable."""

import re

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from submissions.memory import REMEMBERED_FIELDS
from submissions.models import MerchantMemory
from tests.factories import SubmissionFactory, many_submissions

pytestmark = pytest.mark.django_db


def test_the_submission_list_takes_a_bounded_number_of_queries_at_1000_submissions(
    operator, django_assert_max_num_queries
):
    many_submissions(1000)
    # Each shown workflow (a row's, and a choice of the workflow filter) is named with its
    # company: read once per row or choice, that was over 100 queries.
    with django_assert_max_num_queries(20):
        page = operator.get(reverse("admin:submissions_submission_changelist"))
    assert page.status_code == 200


def test_a_submission_page_takes_a_bounded_number_of_queries_at_scale(
    operator, django_assert_max_num_queries
):
    submissions = many_submissions(1000)
    with django_assert_max_num_queries(20):
        page = operator.get(
            reverse("admin:submissions_submission_change", args=[submissions[500].pk])
        )
    assert page.status_code == 200


def test_forgetting_thousands_of_memories_at_once_takes_a_bounded_number_of_queries(
    operator, company, django_assert_max_num_queries
):
    # Each value was forgotten with its own read of every row keeping values aside, and
    # each row written on its own: 5,000 selected rows took 9,000 queries and over three
    # minutes, past any request timeout (and so nothing was forgotten).
    MerchantMemory.objects.bulk_create(
        MerchantMemory(
            company=company,
            key=f"tel:{i}",
            field="merchantName",
            value=f"SHOP {i}",
            previous=[{"value": f"OLD {i}", "times_right": 1, "times_wrong": 0}]
            if i % 5 == 0
            else None,
        )
        for i in range(500)
    )
    some = MerchantMemory.objects.values_list("pk", flat=True)[:1]
    with django_assert_max_num_queries(30):
        response = operator.post(
            reverse("admin:submissions_merchantmemory_changelist"),
            {
                "action": "forget",
                "_selected_action": list(some),
                "select_across": "1",
                "index": "0",
            },
        )
    assert response.status_code == 302
    # Rows that held a value before go back to it; the others are gone.
    assert sorted(MerchantMemory.objects.values_list("value", flat=True)) == sorted(
        f"OLD {i}" for i in range(0, 500, 5)
    )
    assert not MerchantMemory.objects.filter(previous__isnull=False).exists()
    assert LogEntry.objects.filter(user__username="ops", action_flag=CHANGE).count() == 500


def test_forgetting_memories_in_the_admin_logs_each_selected_row_under_the_operator(
    operator, company
):
    kept, forgotten = (
        MerchantMemory.objects.create(company=company, key=f"tel:{i}", field="total", value=v)
        for i, v in enumerate(["12.00", "9.99"])
    )
    operator.post(
        reverse("admin:submissions_merchantmemory_changelist"),
        {"action": "forget", "_selected_action": [forgotten.pk]},
    )
    # No entry was written: who forgot what a reviewer had taught could not be told.
    entries = [(e.object_id, e.user.username, e.object_repr) for e in LogEntry.objects.all()]
    assert entries == [(str(forgotten.pk), "ops", str(forgotten))]
    assert LogEntry.objects.get().get_change_message() == "Forgot its value 9.99."
    assert MerchantMemory.objects.filter(pk=kept.pk).exists()


def test_the_memory_list_offers_the_remembered_fields_without_reading_every_row(operator, company):
    MerchantMemory.objects.bulk_create(
        MerchantMemory(company=company, key=f"tel:{i}", field=field, value="Kedai")
        for i in range(300)
        for field in REMEMBERED_FIELDS
    )
    listed = reverse("admin:submissions_merchantmemory_changelist")
    # The field filter's choices were every row's field (SELECT DISTINCT), read on each
    # page load of a table that grows with every correction.
    with CaptureQueriesContext(connection) as done:
        page = operator.get(listed)
    assert not [q["sql"] for q in done if "DISTINCT" in q["sql"]]
    # ... and counted it twice (the page's count, then the same again as the total).
    scans = [q["sql"] for q in done if 'FROM "submissions_merchantmemory"' in q["sql"]]
    assert len([sql for sql in scans if "LIMIT" not in sql]) == 1, scans
    assert all(f"?field={field}" in page.content.decode() for field in REMEMBERED_FIELDS)
    chosen = operator.get(listed, {"field": REMEMBERED_FIELDS[0]})
    assert chosen.context["cl"].result_count == 300


def _memories_of_one_shop(company) -> tuple[MerchantMemory, MerchantMemory, MerchantMemory]:
    """One value remembered under two keys of a shop (one of them held another value
    before), and another value of the same field, which a forget leaves alone."""
    chosen = MerchantMemory.objects.create(
        company=company, key="tel:1", field="merchantName", value="KEDAI ALI"
    )
    MerchantMemory.objects.create(
        company=company,
        key="reg:9",
        field="merchantName",
        value="KEDAI ALI",
        previous=[{"value": "ALI STORE", "times_right": 1, "times_wrong": 0}],
    )
    other = MerchantMemory.objects.create(
        company=company, key="tel:2", field="merchantName", value="KEDAI BOB"
    )
    return chosen, MerchantMemory.objects.get(key="reg:9"), other


def test_a_memorys_delete_page_lists_every_row_the_delete_forgets_and_forgets_them(
    operator, company
):
    chosen, sibling, other = _memories_of_one_shop(company)
    page = reverse("admin:submissions_merchantmemory_delete", args=[chosen.pk])
    asked = " ".join(operator.get(page).content.decode().split())
    # The page listed the one row; the delete forgot the value under every key.
    assert "forgets the value under every key of the company that holds it" in asked
    assert "merchantName under tel:1 (KEDAI ALI): deleted" in asked
    assert "merchantName under reg:9 (KEDAI ALI): goes back to ALI STORE" in asked
    assert "tel:2" not in asked
    done = operator.post(page, {"post": "yes"}, follow=True)
    said = [str(m) for m in done.context["messages"]]
    assert "Forgot 2 memory row(s): the value under every key that held it." in said
    assert list(MerchantMemory.objects.order_by("key").values_list("key", "value")) == [
        ("reg:9", "ALI STORE"),
        ("tel:2", "KEDAI BOB"),
    ]


def test_deleting_selected_memories_lists_every_row_the_delete_forgets(operator, company):
    chosen, _sibling, _other = _memories_of_one_shop(company)
    asked = operator.post(
        reverse("admin:submissions_merchantmemory_changelist"),
        {"action": "delete_selected", "_selected_action": [chosen.pk]},
    )
    said = " ".join(asked.content.decode().split())
    assert "merchantName under reg:9 (KEDAI ALI): goes back to ALI STORE" in said
    assert "tel:2" not in said


def test_forgetting_memories_another_operator_forgot_meanwhile_says_nothing_was_forgotten(
    operator, company
):
    # The second operator's forget of a row the first had already forgotten (deleted)
    # said "Forgot 0 memory row(s)." as its success, and logged nothing it could name.
    memory = MerchantMemory.objects.create(company=company, key="tel:1", field="total", value="9")
    picked = {"action": "forget", "_selected_action": [memory.pk]}
    listed = reverse("admin:submissions_merchantmemory_changelist")
    operator.post(listed, picked, follow=True)  # its messages read
    second = operator.post(listed, picked, follow=True)
    said = [(m.level_tag, str(m)) for m in get_messages(second.wsgi_request)]
    assert said == [
        (
            "warning",
            "None of the 1 selected merchant memories are on this list any more (another "
            "operator deleted or changed them meanwhile): nothing was done.",
        )
    ]
    assert LogEntry.objects.count() == 1  # the first operator's forget only


def kedai_ali_over_ali_store(company):
    """A shop's remembered name, KEDAI ALI, with the older ALI STORE a forget brings back."""
    return MerchantMemory.objects.create(
        company=company,
        key="tel:1",
        field="merchantName",
        value="KEDAI ALI",
        previous=[{"value": "ALI STORE", "times_right": 1, "times_wrong": 0}],
    )


def test_a_forget_of_a_value_another_operator_forgot_meanwhile_leaves_the_older_value_alone(
    operator, company
):
    # Both operators' pages showed KEDAI ALI; the first forget brought back ALI STORE,
    # and the second (same row, read again at its post) forgot ALI STORE, which nobody
    # had chosen and no page had shown.
    memory = kedai_ali_over_ali_store(company)
    listed = reverse("admin:submissions_merchantmemory_changelist")
    page = operator.get(listed).content.decode()
    shown = f'name="shown-value-{memory.pk}" value="KEDAI ALI"'
    assert shown in page  # the page carries the value it showed into the forget
    picked = {
        "action": "forget",
        "_selected_action": [memory.pk],
        f"shown-value-{memory.pk}": "KEDAI ALI",
    }
    operator.post(listed, picked, follow=True)
    assert MerchantMemory.objects.get().value == "ALI STORE"
    second = operator.post(listed, picked, follow=True)
    said = [(m.level_tag, str(m)) for m in get_messages(second.wsgi_request)]
    assert said == [
        (
            "warning",
            f"{memory} holds ALI STORE now, not KEDAI ALI as your page showed (another "
            "operator or a correction changed it meanwhile): left alone. Reload the list "
            "and choose again.",
        )
    ]
    assert MerchantMemory.objects.get().value == "ALI STORE"
    assert LogEntry.objects.count() == 1  # the first operator's forget only


def test_a_delete_confirmed_after_another_operators_forget_leaves_the_older_value_alone(
    operator, company
):
    memory = kedai_ali_over_ali_store(company)
    page = reverse("admin:submissions_merchantmemory_delete", args=[memory.pk])
    assert (
        f'name="shown-value-{memory.pk}" value="KEDAI ALI"' in operator.get(page).content.decode()
    )
    yes = {"post": "yes", f"shown-value-{memory.pk}": "KEDAI ALI"}
    operator.post(page, yes, follow=True)
    assert MerchantMemory.objects.get().value == "ALI STORE"
    second = operator.post(page, yes, follow=True)
    said = [(m.level_tag, str(m)) for m in get_messages(second.wsgi_request)]
    assert said == [
        (
            "warning",
            f"{memory} holds ALI STORE now, not KEDAI ALI as your page "
            "showed (another operator or a correction changed it meanwhile): left "
            "alone. Reload the list and choose again.",
        )
    ]
    assert MerchantMemory.objects.get().value == "ALI STORE"


def test_deleting_selected_memories_one_of_which_changed_meanwhile_forgets_only_the_others(
    operator, company
):
    changed = MerchantMemory.objects.create(
        company=company,
        key="tel:1",
        field="total",
        value="9.00",
        previous=[{"value": "8.00", "times_right": 1, "times_wrong": 0}],
    )
    kept = MerchantMemory.objects.create(company=company, key="tel:2", field="total", value="7.00")
    listed = reverse("admin:submissions_merchantmemory_changelist")
    asked = operator.post(
        listed, {"action": "delete_selected", "_selected_action": [changed.pk, kept.pk]}
    ).content.decode()
    assert f'name="shown-value-{changed.pk}" value="9.00"' in asked
    MerchantMemory.objects.filter(pk=changed.pk).update(value="8.00", previous=None)
    done = operator.post(
        listed,
        {
            "action": "delete_selected",
            "post": "yes",
            "_selected_action": [changed.pk, kept.pk],
            f"shown-value-{changed.pk}": "9.00",
            f"shown-value-{kept.pk}": "7.00",
        },
        follow=True,
    )
    said = [(m.level_tag, str(m)) for m in get_messages(done.wsgi_request)]
    assert (
        "warning",
        f"{changed} holds 8.00 now, not 9.00 as your page showed (another "
        "operator or a correction changed it meanwhile): left alone. Reload the list "
        "and choose again.",
    ) in said
    # Django's own count and history named the changed row as deleted too.
    assert ("success", "Successfully deleted 1 merchant memory.") in said
    assert [e.object_id for e in LogEntry.objects.all()] == [str(kept.pk)]
    assert list(MerchantMemory.objects.values_list("value", flat=True)) == ["8.00"]


def test_a_submissions_page_text_is_shown_as_lines_in_a_block_that_wraps_its_long_lines(
    operator,
):
    """The text read was one line of JSON ("[\"KEDAI\\nX…") in the field's row: a line with
    no space to break at (a scan's barcode, a run of dots) ran past the row's edge, where
    the admin hides it. Each page is its own block, lines as read, styled (css/admin.css)
    to wrap anywhere and to scroll down past a screenful."""
    long_line = "X" * 400
    submission = SubmissionFactory(pages_text=[f"KEDAI <b>\n{long_line}", "TOTAL 9.99"])
    html = operator.get(
        reverse("admin:submissions_submission_change", args=[submission.pk])
    ).content.decode()
    blocks = re.findall(r'<pre class="page-text"[^>]*>(.*?)</pre>', html, re.S)
    assert blocks == [f"KEDAI &lt;b&gt;\n{long_line}", "TOTAL 9.99"]
    assert "&quot;KEDAI" not in html  # not as JSON too
    assert '<link href="/static/css/admin.css"' in html
    css = (settings.BASE_DIR / "static" / "css" / "admin.css").read_text()
    rule = re.search(r"pre\.page-text\s*\{([^}]*)\}", css)
    assert rule is not None
    assert "overflow-wrap: anywhere" in rule[1] and "white-space: pre-wrap" in rule[1]


@pytest.mark.parametrize("table", ["submissions_submissionevent", "submissions_submissionfile"])
def test_the_event_and_file_lists_read_no_submission_nor_its_version(operator, table):
    # Listed as an object, the submission made Django join every required foreign key:
    # each row read its submission whole (its pages' text, extracted data and evidence)
    # and its workflow version (the output schema), to print an id held by the row.
    submissions = many_submissions(150, companies=2)
    with CaptureQueriesContext(connection) as done:
        page = operator.get(reverse(f"admin:{table}_changelist"))
    assert page.status_code == 200
    read = [q["sql"] for q in done if f'FROM "{table}"' in q["sql"]]
    assert read
    assert not [sql for sql in read if "pages_text" in sql or "steve_workflowversion" in sql]
    assert sum(submission.pk in page.content.decode() for submission in submissions) >= 100
