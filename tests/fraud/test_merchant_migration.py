"""Migration fraud 0011: data rows stored when names lost their letters beyond ASCII are
recomputed, so an earlier receipt of a shop named partly in another script is found."""

import importlib

import pytest
from django.apps import apps

from fraud.models import DataFingerprint, FraudMatch
from fraud.services import fraud_run_checks
from tests.fraud.helpers import make_submission

pytestmark = pytest.mark.django_db

migration = importlib.import_module("fraud.migrations.0011_merchant_names_in_any_script")
FIELDS = {"totalAmount": 42.5, "date": "2024-05-03", "time": "14:02"}


def checked(submission, name):
    fields = {**FIELDS, "merchantName": name}
    submission.extracted_data = fields
    submission.save(update_fields=["extracted_data"])
    return fraud_run_checks(submission_id=submission.pk, pages=[], fields=fields, text="")


@pytest.mark.parametrize(
    ("name", "stored_before"),
    [
        ("MR. D.I.Y. (Магазин)", "MR D I Y"),
        ("Søstrene Grene", "SSTRENE GRENE"),
    ],
)
def test_a_row_stored_without_its_names_other_letters_is_recomputed_and_found(
    company, name, stored_before
):
    earlier, _ = make_submission(company)
    checked(earlier, name)
    DataFingerprint.objects.filter(submission=earlier).update(merchant=stored_before)
    ascii_only, _ = make_submission(company)
    checked(ascii_only, "Kedai Runcit Ah Seng")
    ascii_before = DataFingerprint.objects.get(submission=ascii_only).merchant

    migration.recompute_merchants(apps, None)

    assert DataFingerprint.objects.get(submission=ascii_only).merchant == ascii_before
    copy, _ = make_submission(company)
    checked(copy, name)
    match = FraudMatch.objects.get(submission=copy, target_submission=earlier)
    assert match.check_type == "data" and match.details["merchantSimilarity"] == 1.0
