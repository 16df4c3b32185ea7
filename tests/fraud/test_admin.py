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
