"""The known-fraud list in the admin: rows are reviewers' resolutions, only deleted."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fraud.models import FalsePositivePair, KnownFraud
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
