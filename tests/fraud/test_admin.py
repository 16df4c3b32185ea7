"""The known-fraud list in the admin: rows are reviewers' resolutions, only deleted."""

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fraud.models import FalsePositivePair, KnownFraud
from submissions.models import SubmissionEvent
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_known_fraud_row_keeps_its_environment_in_the_admin(admin_client):
    submission = factories.SubmissionFactory(environment="sandbox")
    row = KnownFraud.objects.create(
        company=submission.company, environment="sandbox", submission=submission
    )
    page = f"/admin/fraud/knownfraud/{row.pk}/change/"
    assert admin_client.get(page).status_code == 200
    admin_client.post(page, {"environment": "production"})
    row.refresh_from_db()
    assert row.environment == "sandbox"


def test_the_match_list_takes_a_bounded_number_of_queries_at_1000_submissions(
    admin_client, django_assert_max_num_queries
):
    submissions = factories.many_submissions(1000)
    # The target submission is nullable, so never joined: it was read once per row.
    with django_assert_max_num_queries(15):
        page = admin_client.get("/admin/fraud/fraudmatch/")
    assert page.status_code == 200
    shown = page.content.decode()
    # A page of 100 matches names their submissions, the targets too.
    assert sum(submission.pk in shown for submission in submissions) > 100


@pytest.mark.parametrize("table", ["fraud_knownfraud", "fraud_falsepositivepair"])
def test_the_resolution_lists_read_no_submission_and_count_once(admin_client, table):
    submissions = factories.many_submissions(150, companies=2)
    KnownFraud.objects.bulk_create(
        KnownFraud(company=s.company, environment=s.environment, submission=s) for s in submissions
    )
    FalsePositivePair.objects.bulk_create(
        FalsePositivePair(company=first.company, first=first, second=second)
        for first, second in zip(submissions[2:], submissions, strict=False)
    )
    # Each row's submissions were joined whole (with their workflow and version) to
    # print their ids, and a search counted the whole list a second time.
    with CaptureQueriesContext(connection) as done:
        page = admin_client.get(reverse(f"admin:{table}_changelist"), {"q": "sub"})
    assert page.status_code == 200
    read = [q["sql"] for q in done if f'FROM "{table}"' in q["sql"]]
    assert not [sql for sql in read if "submissions_submission" in sql]
    assert len([sql for sql in read if "LIMIT" not in sql]) == 1, read
    assert sum(submission.pk in page.content.decode() for submission in submissions) >= 100


def _known_fraud(company=None) -> KnownFraud:
    submission = factories.SubmissionFactory(**({"company": company} if company else {}))
    return KnownFraud.objects.create(
        company=submission.company,
        environment=submission.environment,
        submission=submission,
        confirmed_by="Ann",
    )


def _false_positive(company=None) -> FalsePositivePair:
    first = factories.SubmissionFactory(**({"company": company} if company else {}))
    second = factories.SubmissionFactory(company=first.company)
    return FalsePositivePair.objects.create(
        company=first.company, first=first, second=second, resolved_by="Ann"
    )


def _removals(submission_id: str, type_: str) -> list[tuple[str, dict]]:
    events = SubmissionEvent.objects.filter(submission_id=submission_id, type=type_)
    return list(events.values_list("actor_label", "details"))


def test_deleting_a_known_fraud_row_in_the_admin_is_on_its_submissions_timeline(admin_client):
    # Deleted directly, the row went with no trace on the submission: its uploads' twins
    # were no longer blocked at once, and nobody could tell who had decided that.
    row = _known_fraud()
    page = reverse("admin:fraud_knownfraud_delete", args=[row.pk])
    assert admin_client.post(page, {"post": "yes"}).status_code == 302
    assert not KnownFraud.objects.exists()
    assert _removals(row.submission_id, "known_fraud_removed") == [
        ("admin", {"confirmedBy": "Ann"})
    ]


def test_deleting_known_fraud_rows_in_bulk_records_each_on_its_submission(admin_client):
    rows = [_known_fraud(), _known_fraud()]
    bulk = {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"}
    assert admin_client.post(reverse("admin:fraud_knownfraud_changelist"), bulk).status_code == 302
    assert not KnownFraud.objects.exists()
    for row in rows:
        assert _removals(row.submission_id, "known_fraud_removed") == [
            ("admin", {"confirmedBy": "Ann"})
        ]


def test_deleting_a_false_positive_pair_in_the_admin_is_on_both_timelines(admin_client):
    pair = _false_positive()
    page = reverse("admin:fraud_falsepositivepair_delete", args=[pair.pk])
    assert admin_client.post(page, {"post": "yes"}).status_code == 302
    assert not FalsePositivePair.objects.exists()
    for this, other in ((pair.first_id, pair.second_id), (pair.second_id, pair.first_id)):
        assert _removals(this, "false_positive_removed") == [
            ("admin", {"otherSubmissionId": other, "resolvedBy": "Ann"})
        ]


def test_deleting_false_positive_pairs_in_bulk_records_each_on_both_timelines(admin_client):
    pairs = [_false_positive(), _false_positive()]
    bulk = {"action": "delete_selected", "_selected_action": [p.pk for p in pairs], "post": "yes"}
    listed = reverse("admin:fraud_falsepositivepair_changelist")
    assert admin_client.post(listed, bulk).status_code == 302
    assert not FalsePositivePair.objects.exists()
    for pair in pairs:
        for this in (pair.first_id, pair.second_id):
            assert len(_removals(this, "false_positive_removed")) == 1


def test_deleting_resolutions_names_their_submissions_on_the_question_and_in_the_log(
    admin_client,
):
    # They were "KnownFraud 1" and "FalsePositivePair 1": the operator could not tell
    # which resolution the question was about, nor the history which one went.
    first, second = factories.SubmissionFactory(), factories.SubmissionFactory()
    known = KnownFraud.objects.create(
        company=first.company, environment=first.environment, submission=first
    )
    pair = FalsePositivePair.objects.create(company=first.company, first=second, second=first)
    for row, table, names in [
        (known, "fraud_knownfraud", [first.pk]),
        (pair, "fraud_falsepositivepair", [second.pk, first.pk]),
    ]:
        delete = reverse(f"admin:{table}_delete", args=[row.pk])
        question = admin_client.get(delete).content.decode()
        assert all(name in question for name in names)
        admin_client.post(delete, {"post": "yes"})
        assert not type(row).objects.filter(pk=row.pk).exists()
        logged = LogEntry.objects.get(object_id=str(row.pk), action_flag=DELETION)
        assert all(name in logged.object_repr for name in names)


def test_deleting_rows_another_operator_deleted_meanwhile_says_nothing_was_deleted(
    admin_client,
):
    # Two operators confirm the same deletion: the second's Yes found none of its rows
    # and Django's action returned to the list without a word, as if it had worked.
    rows = [_known_fraud(), _known_fraud()]
    bulk = {"action": "delete_selected", "_selected_action": [r.pk for r in rows], "post": "yes"}
    listed = reverse("admin:fraud_knownfraud_changelist")
    admin_client.post(listed, bulk, follow=True)  # its messages read
    second = admin_client.post(listed, bulk, follow=True)
    assert second.status_code == 200
    said = [(m.level_tag, str(m)) for m in get_messages(second.wsgi_request)]
    assert said == [
        (
            "warning",
            "None of the 2 selected known frauds are on this list any more (another "
            "operator deleted or changed them meanwhile): nothing was done.",
        )
    ]
