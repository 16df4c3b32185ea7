"""The known-fraud list in the admin: rows are reviewers' resolutions, only deleted."""

import pytest

from fraud.models import KnownFraud
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
